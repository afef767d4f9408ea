"""What a session does when the headset stops showing it, and when it shows it again.

Taken off (or hidden by the runtime): the session pauses (phase timers stop, the log says why) and the
sound either plays on, for a client who listens with eyes closed, or fades out, as the program's
operator chose. Put back on: the session resumes, and light and sound ramp back up over RAMP_S, so
the first thing the client sees is never a full-brightness frame.
"""

from __future__ import annotations

import queue
from dataclasses import replace

from tidewell.core.frame_state import FrameState
from tidewell.sessions.controls import Control, Controls

RAMP_S = 3.0
SOUND_CHOICES = ("continue", "fade")


class HeadsetPresence:
    """Taken off and put on become "pause" and "resume" Controls on the session's queue (sessions/controls.py),
    marked as the headset's: the runner lifts only a pause the headset made, so a therapist's pause stays."""

    def __init__(self, sound_when_off: str = "continue", controls: Controls | None = None):
        if sound_when_off not in SOUND_CHOICES:
            raise ValueError(
                f"sound when the headset is off must be one of {', '.join(SOUND_CHOICES)}, got {sound_when_off!r}"
            )
        self.sound_when_off = sound_when_off
        self.controls: Controls = controls if controls is not None else queue.SimpleQueue()
        self.on = True
        self.light = 1.0
        self.sound = 1.0
        self._last_t: float | None = None

    def taken_off(self) -> None:
        self.on = False
        self.controls.put(Control("pause", by="headset"))

    def put_on(self) -> None:
        self.on = True
        self.light = 0.0  # nothing was seen meanwhile: ramp up from dark
        self.controls.put(Control("resume", by="headset"))

    def step(self, now: float) -> None:
        dt = 0.0 if self._last_t is None else max(now - self._last_t, 0.0)
        self._last_t = now
        rate = dt / RAMP_S
        self.light = min(self.light + rate, 1.0) if self.on else 0.0
        sound_target = 1.0 if self.on or self.sound_when_off == "continue" else 0.0
        if self.sound < sound_target:
            self.sound = min(self.sound + rate, sound_target)
        else:
            self.sound = max(self.sound - rate, sound_target)

    def for_light(self, state: FrameState) -> FrameState:
        return state if self.light >= 1.0 else replace(state, fade=state.fade * self.light)

    def for_sound(self, state: FrameState) -> FrameState:
        return state if self.sound >= 1.0 else replace(state, fade=state.fade * self.sound)
