"""The session loop's seam with its display: what a window or headset asks of the session (an end, a
pause while the headset is off) reaches the runner as Controls on the queue, and the runner decides.
A real session log (SQLite), WAV output and simulated heart; the display is scripted."""

from __future__ import annotations

import types

from tidewell.audio.output import WavOutput
from tidewell.core.clock import VirtualClock
from tidewell.engine.session_loop import NothingShown, SessionLoop
from tidewell.engine.session_outputs import ContactFrames, EventFanOut
from tidewell.engine.xr.presence import HeadsetPresence
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.runner import GENTLE_END_S, SessionRunner
from tidewell.sessions.store import SessionStore


class ScriptedDisplay(NothingShown):
    """Says (kind, detail) at the given frames, and asks for the end from `end_at_frame` on."""

    def __init__(self, script: dict[int, tuple[str, str]], end_at_frame: int | None = None, reason: str = ""):
        self.script, self.end_at_frame, self.reason, self.frames = script, end_at_frame, reason, 0

    def wait_frame(self) -> bool:
        self.frames += 1
        return True

    def drain_events(self) -> list[tuple[str, str]]:
        return [self.script[self.frames]] if self.frames in self.script else []

    @property
    def end_request(self) -> str | None:
        return self.reason if self.end_at_frame is not None and self.frames >= self.end_at_frame else None


def _play(tmp_path, display, presence=None):
    store = SessionStore(tmp_path / "tidewell.db")
    program = load_program(resolve_program("taster"))
    session_id = store.begin(
        program_id=program.id,
        program_title=program.title,
        program_minutes=program.minutes,
        client="C-1",
        sensor="sim",
        virtual_time=True,
        seed=0,
    )
    writer = store.writer(session_id)
    said: list[str] = []
    loop = SessionLoop(program, ContactFrames(program, said.append), display, presence, frame_rate=10.0)
    loop.log_to(writer, EventFanOut(writer, said.append))
    controls = presence.controls if presence is not None else None
    runner = SessionRunner(program, SimulatedHeart(), unattended=True, controls=controls)
    audio = WavOutput(tmp_path / "breath.wav")
    try:
        status = loop.run(runner, audio, SimulatedHeart(), VirtualClock(), types.SimpleNamespace(requested=False))
    finally:
        audio.close()
        loop.close_log()
    events = [(row["kind"], row["detail"], round(row["t_s"], 3)) for row in store.events(session_id)]
    return status, events, said


def test_a_display_that_asks_for_the_end_ends_the_session_gently_through_the_queue(tmp_path):
    status, events, _ = _play(tmp_path, ScriptedDisplay({}, end_at_frame=31, reason="window closed"))
    ends = [(detail, t_s) for kind, detail, t_s in events if kind == "gentle_end"]
    assert ends == [("window closed", 3.0)], "asked once, applied by the step of the frame that asked"
    assert status == "ended_early" and events[-1][0] == "program_end" and events[-1][2] >= 3.0 + GENTLE_END_S


def test_a_headset_taken_off_pauses_through_the_queue_and_put_on_resumes(tmp_path):
    display = ScriptedDisplay(
        {11: ("headset_off", "taken off"), 21: ("headset_on", "put on")},
        end_at_frame=41,
        reason="the headset runtime asked the session to exit",
    )
    status, events, said = _play(tmp_path, display, HeadsetPresence("continue"))
    kinds = [(kind, t_s) for kind, _, t_s in events if kind in ("headset_off", "pause", "headset_on", "resume")]
    assert kinds == [("headset_off", 1.0), ("pause", 1.0), ("headset_on", 2.0), ("resume", 2.0)]
    assert ("gentle_end", "the headset runtime asked the session to exit", 4.0) in events
    assert status == "ended_early"


def test_every_target_has_what_the_session_loop_asks_of_it():
    """The loop never asks which kind of target it holds (no hasattr probes): each kind has every method."""
    import inspect

    from tidewell.engine.render.protocols import LiveTarget, RenderTarget
    from tidewell.engine.render.targets import NullTarget, OffscreenTarget, WindowTarget
    from tidewell.engine.xr.target import XrTarget

    def methods(protocol) -> set[str]:
        return {
            name for name, value in vars(protocol).items() if not name.startswith("_") and inspect.isfunction(value)
        }

    every = methods(RenderTarget)  # `closed` and `description` are attributes of some kinds: not checked here
    live = every | methods(LiveTarget) | {"end_request"}
    assert {"render", "drain_problems", "close"} <= every and {"wait_frame", "end_request", "as_seen"} <= live
    for kind, wanted in (
        (OffscreenTarget, every),
        (NullTarget, every),
        (WindowTarget, live),
        (XrTarget, live),
        (NothingShown, live),
    ):
        missing = sorted(name for name in wanted if not hasattr(kind, name))
        assert not missing, f"{kind.__name__} lacks {missing}"
