"""One session's frames, from the first to the log's last row.

The loop is short and explicit: display → clock → runner.step (which first applies the queued
controls) → log, audio, render → wait for the next frame. The display (engine/render/protocols.py
LiveTarget: a window, the headset, or NothingShown) never changes the session itself: what it asks
for (a closed window, a runtime that exits, a headset taken off) goes on the controls queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidewell.core.frame_state import FrameState
from tidewell.engine.session_outputs import ContactFrames, EventFanOut, clock_text
from tidewell.sessions.controls import Control
from tidewell.sessions.program import Program
from tidewell.sessions.runner import SessionRunner

if TYPE_CHECKING:
    from tidewell.engine.render.protocols import LiveTarget
    from tidewell.engine.xr.presence import HeadsetPresence

SAMPLE_INTERVAL_S = 0.25  # frame-state samples in the log: 4 Hz
XR_LOST_NOTE = (
    "; the session goes on with sound only, and every record so far is kept (end it with Ctrl-C or from the console)"
)


class NothingShown:
    """The display of a session nobody watches live (simulated, or drawn offscreen for the contact sheet
    only): the frame as planned is the frame as seen."""

    description = "nothing shown live"
    closed = False
    end_request = None

    def wait_frame(self) -> bool:
        return True

    def drain_events(self) -> list[tuple[str, str]]:
        return []

    def render(self, state: FrameState) -> None:
        pass

    def drain_problems(self) -> list[str]:
        return []

    def as_seen(self, state: FrameState) -> FrameState:
        return state

    def dispatch_events(self) -> None:
        pass

    def snapshot(self, state: FrameState, size: tuple[int, int]) -> None:
        return None

    def render_snapshot(self, state: FrameState, size: tuple[int, int]) -> None:
        return None

    def end(self) -> None:
        pass

    def close(self) -> None:
        pass


class SessionLoop:
    def __init__(
        self,
        program: Program,
        capture: ContactFrames,
        live: LiveTarget | None,
        presence: HeadsetPresence | None,
        on_frame=None,
        frame_rate: float = 30.0,
    ):
        self.program = program
        self.writer = None  # the session log's writer and the events' fan-out: log_to()
        self.events: EventFanOut | None = None
        self.capture = capture
        self.live: LiveTarget = live if live is not None else NothingShown()
        self.presence = presence
        self.on_frame = on_frame
        self.frame_dt = 1.0 / frame_rate
        self.runner: SessionRunner | None = None  # what run() plays with
        self.audio = self.source = self.clock = None
        self.status = "interrupted"  # until the loop ends as the program or a therapist wanted
        self.stopped_by = None  # the signal that stopped it (StopRequest)
        self.state: FrameState | None = None
        self.last_t = 0.0
        self._next_sample = 0.0
        self._replaced_scenes: set[int] = set()  # phases whose scene could not be drawn (the safe scene was)

    def log_to(self, writer, events: EventFanOut) -> None:
        """The session log's writer (closed by close_log) and the fan-out of every event."""
        self.writer, self.events = writer, events
        self.capture.on_scene_problem = lambda t_s, problem, phase: events.emit(t_s, "scene_problem", problem, phase)

    def run(self, runner: SessionRunner, audio, source, clock, stop) -> str:
        """Frames until the program ends, a therapist ends it, or `stop` (a StopRequest) is asked for;
        returns the session's status."""
        self.runner, self.audio, self.source, self.clock = runner, audio, source, clock
        while not runner.finished:
            if stop.requested:
                self.events.say(f"stopped ({stop.reason}): the session is kept and marked interrupted")
                self.stopped_by = stop.signal
                return self.status
            self.frame()
        self.status = "completed" if runner.reached_end else "ended_early"
        return self.status

    def frame(self) -> None:
        runner, writer, live, events = self.runner, self.writer, self.live, self.events
        live.wait_frame()  # a headset's runtime paces the loop
        now = self.clock.now()
        self._hear_display(now)
        self.state = state = runner.step(now)
        if self.on_frame is not None:
            self.on_frame(state)
        self._log_runner()
        writer.beats(runner.drain_beats())
        self._log_write_problems(now)
        writer.packets(self.source.drain_packets())
        heard = state if self.presence is None else self.presence.for_sound(state)
        self.audio.advance(heard, now - self.last_t)
        self.last_t = now
        for kind, detail in self.audio.drain_events():
            events.emit(now, kind, detail, state.phase_index)
        lit = state if self.presence is None else self.presence.for_light(state)
        live.render(lit)
        for problem in live.drain_problems():  # it drew the last good scene instead, never black
            events.emit(now, "scene_problem", problem, state.phase_index)
        seen = live.as_seen(lit)
        if seen.scene != state.scene and state.phase_index not in self._replaced_scenes:
            self._replaced_scenes.add(state.phase_index)
            writer.phase_scene(state.phase_index, seen.scene)
        if now >= self._next_sample:  # after drawing: the log keeps what the client saw and heard
            writer.sample(seen, 0.0 if self.audio.lost else heard.fade)
            self._next_sample += SAMPLE_INTERVAL_S
        live.dispatch_events()
        self.capture.offer(state)
        self.clock.sleep_until(now + self.frame_dt)

    def _hear_display(self, now: float) -> None:
        """Log what happened to the display since the last frame; what it asks of the session (pause,
        resume, end) goes on the controls queue, which this frame's step applies."""
        runner = self.runner
        for kind, _detail in self._log_display(now):
            if kind == "headset_off":
                self.presence.taken_off()
            elif kind == "headset_on":
                self.presence.put_on()
        reason = self.live.end_request
        if reason is not None and runner.end_requested_s is None:
            runner.controls.put(Control("end", reason))
        if self.presence is not None:
            self.presence.step(now)

    def _log_display(self, now: float) -> list[tuple[str, str]]:
        display_events = self.live.drain_events()
        phase = self.runner.phase_index if self.runner is not None else 0
        for kind, detail in display_events:
            self.events.emit(now, kind, detail, phase, XR_LOST_NOTE if kind == "xr_lost" else "")
        return display_events

    def _log_runner(self) -> None:
        events, writer, program = self.events, self.writer, self.program
        for event in self.runner.drain_events():
            events.emit(event.t_s, event.kind, event.detail, event.phase_index)
            if event.kind == "phase_start":
                phase = program.phases[event.phase_index]
                writer.phase_start(event.phase_index, phase, event.t_s)
                events.say(
                    f"  {clock_text(event.t_s)}  phase {event.phase_index + 1}/{len(program.phases)}: "
                    f"{phase.name} ({phase.scene}, {phase.posture.value}, "
                    f"{phase.breathing.rate_bpm:.1f} breaths/min)"
                )
            elif event.kind == "phase_end":
                writer.phase_end(event.phase_index, event.t_s)

    def _log_write_problems(self, now: float, closed: bool = False) -> None:
        """The log refused rows even after retries: the therapist is told (terminal and console), and the
        session ends gently with everything written so far kept. Once the writer has `closed`, the session
        is over: only the terminal and the console hear of it."""
        phase = self.runner.phase_index if self.runner is not None else 0
        for kind, detail in self.writer.drain_problems():
            self.events.emit(
                now,
                kind,
                detail,
                phase,  # the row lands if the disk recovers
                terminal_note="; what was logged before is kept",
                log=not closed,
            )
            if not closed and self.runner is not None:
                self.runner.controls.put(Control("end", "the session log cannot be written"))

    # -- the end: ExitStack callbacks of engine/session.py run_session, in this order ------------------
    def finish_capture(self) -> None:
        """The contact sheet's frame of the phase the session ended in, drawn now."""
        if self.state is not None:
            self.capture.finish(self.state)

    def close_log(self) -> None:
        """The session's last rows, then its status: the beats the corrector still held, the last events,
        the display's leaving (a headset's STOPPING and EXITING), and what the log refused."""
        if self.writer is None:  # the session stopped before its log was opened
            return
        if self.runner is not None:  # the session played (a failure before its first frame has nothing more)
            self.runner.flush_beats()
            self.writer.beats(self.runner.drain_beats())
            self._log_runner()
            self.live.end()
            self._log_display(self.last_t)
        self._log_write_problems(self.last_t)  # while the log still takes their rows
        self.writer.close(self.status)
        self._log_write_problems(self.last_t, closed=True)  # its last commits: told, not logged
