"""Injected clocks: real time for live sessions, virtual time for simulation and tests."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    virtual: bool

    def now(self) -> float:
        """Seconds since the clock started."""

    def sleep_until(self, t: float) -> None:
        """Return once now() >= t."""


class RealClock:
    virtual = False

    def __init__(self, time_fn=time.monotonic, sleep_fn=time.sleep):
        self._time = time_fn
        self._sleep = sleep_fn
        self._start = time_fn()

    def now(self) -> float:
        return self._time() - self._start

    def sleep_until(self, t: float) -> None:
        remaining = t - self.now()
        if remaining > 0:
            self._sleep(remaining)


class VirtualClock:
    """Time that moves only when the loop asks it to, so an hour runs in seconds."""

    virtual = True

    def __init__(self, start: float = 0.0):
        self._now = start

    def now(self) -> float:
        return self._now

    def sleep_until(self, t: float) -> None:
        if t > self._now:
            self._now = t

    def advance(self, dt: float) -> None:
        if dt < 0:
            raise ValueError("virtual time cannot run backwards")
        self._now += dt
