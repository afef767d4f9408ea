"""Session time for a headset session: the runtime's predicted display times while frames run."""

from __future__ import annotations

import time


class DisplayClock:
    """Session time that follows the runtime's predicted display times while frames run, and the wall
    clock in between; it never runs backwards."""

    virtual = False

    def __init__(self):
        self._start = time.monotonic()
        self._anchor: tuple[int, float] | None = None  # (display time ns, session time) of a frame
        self._last = 0.0

    def frame(self, display_ns: int) -> float:
        if self._anchor is None:
            self._anchor = (display_ns, max(self._last, self._wall()))
        t = self._anchor[1] + (display_ns - self._anchor[0]) / 1e9
        self._last = max(self._last, t)
        return self._last

    def restart(self) -> None:
        """Session time 0 is now (the session loop starts)."""
        self._start = time.monotonic()
        self._anchor = None
        self._last = 0.0

    def pause(self) -> None:
        """Frames stopped: follow the wall clock until they run again."""
        self._anchor = None

    def now(self) -> float:
        if self._anchor is None:
            self._last = max(self._last, self._wall())
        return self._last

    def sleep_until(self, t: float) -> None:
        """Nothing: the runtime paces the loop (XrTarget.wait_frame waits for the next frame, or a
        moment while the runtime wants none)."""

    def _wall(self) -> float:
        return time.monotonic() - self._start
