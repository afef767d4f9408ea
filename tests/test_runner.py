"""The session runner: phases, fades, crossfades, pause and calm, driven by a virtual clock."""

import dataclasses
import math

import pytest

from tidewell.core.clock import VirtualClock
from tidewell.core.frame_state import BreathStage, Posture
from tidewell.sensors.replay import RRReplay
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sensors.source import RawRR
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.runner import FADE_IN_S, GENTLE_END_S, RECENTER_HALF_S, SessionRunner

SCENES = {"dusk_ocean", "ember", "sea_floor", "eyes_closed", "aurora_night", "forest_canopy"}
DT = 1 / 30


def program(name="taster"):
    return load_program(resolve_program(name), SCENES)


def run_until(runner, clock, t_end, on_state=None):
    states = []
    while clock.now() <= t_end and not runner.finished:
        state = runner.step(clock.now())
        states.append(state)
        if on_state:
            on_state(state)
        clock.advance(DT)
    return states


def test_frame_state_is_immutable():
    runner = SessionRunner(program(), SimulatedHeart(), unattended=True)
    state = runner.step(0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.calm = 1.0


def test_phases_follow_the_program_and_therapist_phases_wait_unless_unattended():
    prog = program()
    clock = VirtualClock()
    runner = SessionRunner(prog, SimulatedHeart(), unattended=True)
    states = run_until(runner, clock, prog.minutes * 60 + 30)
    assert runner.finished and runner.reached_end
    starts = {}
    for s in states:
        starts.setdefault(s.phase_index, s.t_s)
    expected = 0.0
    for i, phase in enumerate(prog.phases):
        assert starts[i] == pytest.approx(expected, abs=2 * DT)
        expected += phase.duration_s
    kinds = [e.kind for e in runner.drain_events()]
    assert kinds.count("phase_start") == len(prog.phases) and "auto_advance" in kinds

    clock = VirtualClock()
    attended = SessionRunner(prog, SimulatedHeart(), unattended=False)
    turn_over = next(i for i, p in enumerate(prog.phases) if p.advance.value == "therapist")
    run_until(attended, clock, sum(p.duration_s for p in prog.phases[: turn_over + 1]) + 60)
    assert attended.phase_index == turn_over  # still waiting for the therapist
    attended.next_phase(clock.now())
    assert attended.step(clock.now()).phase_index == turn_over + 1


def test_fade_in_crossfade_posture_and_fade_to_dark_at_the_end():
    prog = program()
    clock = VirtualClock()
    runner = SessionRunner(prog, SimulatedHeart(), unattended=True)
    states = run_until(runner, clock, prog.minutes * 60 + 30)
    assert states[0].fade == 0.0
    assert states[int(FADE_IN_S / DT) + 2].fade == pytest.approx(1.0)
    fades = [s.fade for s in states]
    steepest = max(1 / GENTLE_END_S, math.pi / (2 * RECENTER_HALF_S))  # end fade, or the recentering dip
    assert max(abs(a - b) for a, b in zip(fades, fades[1:])) <= DT * steepest + 1e-6
    turns = [b for a, b in zip(states, states[1:]) if a.posture != b.posture]
    assert turns and all(t.fade < 0.01 for t in turns)  # the world turns with the body only in the dark
    assert states[-1].fade == pytest.approx(0.0, abs=0.02)
    # phase 1 (ember) -> phase 2 (sea_floor): a crossfade over the phase's crossfade_s
    change = next(s for s in states if s.phase_index == 1)
    assert change.previous_scene == "ember" and change.scene == "sea_floor" and change.crossfade < 0.05
    mid = next(s for s in states if s.phase_index == 1 and s.t_s - change.t_s >= prog.phases[1].crossfade_s / 2)
    assert 0.4 < mid.crossfade < 0.6
    done = next(s for s in states if s.phase_index == 1 and s.t_s - change.t_s > prog.phases[1].crossfade_s + 0.1)
    assert done.previous_scene is None and done.crossfade == 1.0
    assert {s.posture for s in states} == {Posture.PRONE, Posture.SUPINE, Posture.SEATED}


def test_breath_guide_in_the_frame_state_matches_the_phase_pattern():
    prog = program("full_body_60")
    clock = VirtualClock()
    runner = SessionRunner(prog, SimulatedHeart(), unattended=True)
    states = run_until(runner, clock, 120)
    assert {s.breath_stage for s in states} >= {BreathStage.INHALE, BreathStage.EXHALE}
    # in the settle phase the guide follows the client, who here follows the guide: it stays close
    assert states[-1].pace_bpm == pytest.approx(prog.phases[0].breathing.rate_bpm, abs=0.6)
    levels = [s.breath_level for s in states]
    assert min(levels) == pytest.approx(0.0, abs=0.01) and max(levels) == pytest.approx(1.0, abs=0.01)
    assert all(0.0 <= s.breath_phase < 1.0 for s in states)


def test_pause_stops_the_phase_clock_but_not_the_breathing_guide():
    prog = program()
    clock = VirtualClock()
    runner = SessionRunner(prog, SimulatedHeart(), unattended=True)
    run_until(runner, clock, 5)
    runner.toggle_pause(clock.now())
    paused = run_until(runner, clock, 25)
    assert paused[-1].paused
    assert paused[-1].phase_elapsed_s == pytest.approx(paused[0].phase_elapsed_s, abs=DT)
    assert len({round(s.breath_level, 3) for s in paused}) > 50
    runner.toggle_pause(clock.now())
    assert not run_until(runner, clock, 26)[-1].paused


def test_gentle_end_fades_out_over_five_seconds_then_finishes():
    clock = VirtualClock()
    runner = SessionRunner(program(), SimulatedHeart(), unattended=True)
    run_until(runner, clock, 40)
    runner.request_end(clock.now())
    t0 = clock.now()
    states = run_until(runner, clock, 60)
    assert runner.finished and not runner.reached_end
    assert states[-1].t_s - t0 == pytest.approx(GENTLE_END_S, abs=2 * DT)
    assert states[len(states) // 2].fade == pytest.approx(0.5, abs=0.05)
    assert states[-1].ending


def test_calm_rises_as_the_heart_relaxes_below_its_baseline():
    prog = program("full_body_60")
    clock = VirtualClock()
    runner = SessionRunner(prog, SimulatedHeart(seed=1, start_hr=80, relaxed_hr=60, relax_tau_s=600), unattended=True)
    states = run_until(runner, clock, 25 * 60)
    settle_end = next(s for s in states if s.phase_index == 1).t_s
    at_baseline = next(s for s in states if s.t_s >= settle_end + 1)
    assert states[-1].hr_bpm < at_baseline.hr_bpm - 5
    assert states[-1].calm > at_baseline.calm + 0.2
    calms = [s.calm for s in states]
    assert max(abs(a - b) for a, b in zip(calms, calms[1:])) < 0.01  # calm drifts, never jumps
    assert states[0].hr_bpm is None and states[-1].rmssd_ms is not None


def test_sensor_silence_is_an_event_and_calm_holds():
    beats = []
    t = 0.0
    while t < 200:
        t += 0.85
        beats.append(RawRR(t, 850.0))
    clock = VirtualClock()
    runner = SessionRunner(program("full_body_60"), RRReplay(beats), unattended=True)
    states = run_until(runner, clock, 240)
    kinds = [e.kind for e in runner.drain_events()]
    assert "sensor_lost" in kinds
    lost_at = next(s for s in states if s.t_s > 206)
    assert states[-1].calm == pytest.approx(lost_at.calm)
    assert states[-1].breath_level != lost_at.breath_level or states[-2].breath_level != lost_at.breath_level


class ScriptedSensor:
    """Beats every 0.85 s and sensor states at given times, the way a Bluetooth source reports them."""

    name = "scripted"
    description = "scripted sensor"
    finished = False

    def __init__(self, events):
        from tidewell.sensors.packets import SensorEvent

        self.t = 0.0
        self.pending = [SensorEvent(t, kind) for t, kind in events]
        self.status = []
        self.silent = set()

    def poll(self, now_s, breath_level=0.5):
        while self.pending and self.pending[0].t_s <= now_s:
            event = self.pending.pop(0)
            self.status.append(event)
        beats = []
        while self.t + 0.85 <= now_s:
            self.t += 0.85
            lost = any(e.kind in ("disconnected", "contact_lost") for e in self.status[-1:])
            if not lost:
                beats.append(RawRR(self.t, 850.0 + 30.0 * ((int(self.t / 0.85)) % 2)))
        return beats

    def drain_status(self):
        events, self.status = self.status, []
        return events


def test_disconnect_and_contact_loss_are_states_that_hold_calm_and_are_logged():
    sensor = ScriptedSensor(
        [
            (0.5, "connected"),
            (200.0, "disconnected"),
            (230.0, "connected"),
            (300.0, "contact_lost"),
            (320.0, "contact_back"),
        ]
    )
    clock = VirtualClock()
    runner = SessionRunner(program("full_body_60"), sensor, unattended=True)
    states = {round(s.t_s, 1): s for s in run_until(runner, clock, 340)}
    logged = [(round(e.t_s), e.kind) for e in runner.drain_events() if e.kind.startswith("sensor_")]
    assert (200, "sensor_disconnected") in logged and (230, "sensor_connected") in logged
    assert (300, "sensor_contact_lost") in logged and (320, "sensor_contact_back") in logged
    assert states[100.0].sensor == "ok" and states[210.0].sensor == "lost" and states[310.0].sensor == "no_contact"
    assert states[229.0].calm == pytest.approx(states[201.0].calm)  # adaptation holds its last state
    assert states[210.0].breath_level != states[212.0].breath_level  # the guide goes on
    assert states[240.0].sensor == "ok" and states[330.0].sensor == "ok"


# -- controls: one queue, read by the runner at the start of each step --------------------------------
def test_a_control_put_from_another_thread_reaches_the_runner_at_its_next_step():
    import queue
    import threading

    from tidewell.sessions.controls import Control

    controls = queue.SimpleQueue()
    runner = SessionRunner(program(), SimulatedHeart(), unattended=True, controls=controls)
    runner.step(0.0)
    sender = threading.Thread(
        target=lambda: [controls.put(Control("marker", "left calf")), controls.put(Control("next", 0))]
    )
    sender.start()
    sender.join()
    assert runner.phase_index == 0 and runner.last_marker is None, "nothing happens between steps"
    state = runner.step(1.0)
    assert state.phase_index == 1 and runner.last_marker == "left calf" and controls.empty()
    logged = [(e.kind, e.detail, e.t_s) for e in runner.drain_events() if e.kind in ("marker", "therapist_next")]
    assert logged == [("marker", "left calf", 1.0), ("therapist_next", "settle", 1.0)]
    controls.put(Control("next", 0))  # a repeat from the phase already left changes nothing
    assert runner.step(2.0).phase_index == 1


def test_an_unknown_control_is_rejected_with_a_clear_message():
    from tidewell.sessions.controls import Control

    with pytest.raises(
        ValueError,
        match=r"unknown control 'jump': expected one of next, pause, resume, "
        r"toggle_pause, end, marker",
    ):
        Control("jump")
    with pytest.raises(ValueError, match="a control comes from one of therapist, headset, not 'tablet'"):
        Control("pause", by="tablet")
    runner = SessionRunner(program(), SimulatedHeart(), unattended=True)
    runner.controls.put(("next", None))  # the old tuple form: a bug, said as such
    with pytest.raises(TypeError, match=r"a session control must be a sessions.controls.Control, got \('next', None\)"):
        runner.step(0.0)


def test_the_headset_lifts_only_its_own_pause_and_the_therapist_lifts_any():
    runner = SessionRunner(program(), SimulatedHeart(), unattended=True)
    runner.pause(1.0, by="headset")
    runner.resume(2.0, by="headset")
    assert not runner.paused
    runner.pause(3.0)
    runner.pause(3.5, by="headset")  # already paused: stays the therapist's pause
    runner.resume(4.0, by="headset")
    assert runner.paused and runner.paused_by == "therapist"
    runner.pause(4.5)  # a second pause changes nothing, and logs nothing
    runner.resume(5.0)
    assert not runner.paused
    kinds = [(e.kind, e.t_s) for e in runner.drain_events() if e.kind in ("pause", "resume")]
    assert kinds == [("pause", 1.0), ("resume", 2.0), ("pause", 3.0), ("resume", 5.0)]
