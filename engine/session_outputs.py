"""What a session writes besides its frames: every event to the log, the console and the terminal
(EventFanOut), and one frame per phase for the contact sheet (ContactFrames)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from tidewell.core import event_kinds
from tidewell.core.frame_state import FrameState
from tidewell.engine.render.protocols import LiveTarget
from tidewell.sessions.program import Program

CONTACT_FRAME_SIZE = (480, 270)


def clock_text(t_s: float) -> str:
    return f"{int(t_s // 60):02d}:{int(t_s % 60):02d}"


class EventFanOut:
    """Every session event goes through here: to the log, to the console (on_event), and to the
    terminal as core/event_kinds.py says."""

    def __init__(self, writer, say, on_event=None):
        self.writer = writer
        self.say = say
        self.on_event = on_event
        self.counts: dict[str, int] = {}

    def emit(
        self, t_s: float, kind: str, detail: str, phase: int | None, terminal_note: str = "", log: bool = True
    ) -> None:
        entry = event_kinds.kind(kind)
        if log:
            self.writer.event(t_s, kind, detail, phase)
        if self.on_event is not None:
            self.on_event(t_s, kind, detail, phase)
        if entry.terminal == event_kinds.SAMPLED:
            self.counts[kind] = count = self.counts.get(kind, 0) + 1
            if count <= 3 or count % 100 == 0:  # every one is in the log; the terminal gets a sample
                self.say(f"  {clock_text(t_s)}  {entry.label} #{count}: {detail}")
        elif entry.terminal == event_kinds.LINE:
            self.say(f"  {clock_text(t_s)}  {entry.label}: {detail}{terminal_note}")


class ContactFrames:
    """One frame per phase, taken at the middle of the phase, for the contact sheet."""

    def __init__(self, program: Program, say, live: LiveTarget | None = None):
        """live: the window or headset the session shows (drawn with its own GL context); without one,
        or once it is closed, frames are drawn offscreen."""
        self.program = program
        self.say = say
        self.frames: dict[int, tuple[str, np.ndarray]] = {}
        self._last: dict[int, FrameState] = {}
        self.live = live
        self._target = None
        self._failed = False
        self.on_scene_problem = lambda t_s, problem, phase: say(f"  scene problem: {problem}")

    def offer(self, state: FrameState) -> None:
        index = state.phase_index
        if index in self.frames:
            return
        previous = self._last.get(index - 1)
        if previous is not None and index - 1 not in self.frames:
            self._grab(previous, now=True)
        self._last[index] = state
        if state.phase_progress >= 0.5 and (state.previous_scene is None):
            self._grab(state)

    def finish(self, state: FrameState) -> None:
        if state.phase_index not in self.frames:
            self._grab(state, now=True)

    def _grab(self, state: FrameState, now: bool = False) -> None:
        """now: the picture is needed at once (a headset otherwise hands over its next frame's eye)."""
        shown = replace(state, fade=1.0)  # the sheet shows the scene, not the fade
        if self.live is not None and not self.live.closed:
            if now:
                pixels = self.live.render_snapshot(shown, CONTACT_FRAME_SIZE)
            else:
                pixels = self.live.snapshot(shown, CONTACT_FRAME_SIZE)
        else:
            target = self._offscreen()
            if target is None:
                return
            target.render(shown)
            for problem in target.drain_problems():
                self.on_scene_problem(state.t_s, problem, state.phase_index)
            pixels = target.read_rgb()
        if pixels is not None:
            label = f"{state.phase_index + 1}. {state.phase_name} ({state.posture.value})"
            self.frames[state.phase_index] = (label, pixels)

    def _offscreen(self):
        if self._target is None and not self._failed:
            from tidewell.engine.render.targets import open_target

            self._target, message = open_target(prefer_window=False, size=CONTACT_FRAME_SIZE)
            if self._target.read_rgb() is None:  # NullTarget: no EGL
                self.say(f"no contact sheet: {message}")
                self._failed = True
                self._target = None
        return self._target

    def write(self, path: Path) -> Path | None:
        if not self.frames:
            return None
        from tidewell.engine.render.contact_sheet import write_contact_sheet

        try:
            write_contact_sheet([self.frames[i] for i in sorted(self.frames)], path)
        except OSError as error:
            self.say(f"no contact sheet: cannot write {path} ({error.strerror or error})")
            return None
        return path

    def close(self) -> None:
        if self._target is not None:
            self._target.close()
