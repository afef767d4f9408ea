"""Adaptation: calm, the adaptive breathing pace, HR-rise hold, curves, alerts and the resonance pace."""

import pytest

from tidewell.core.clock import VirtualClock
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions.adaptation import AdaptivePace, HeartRateTrend
from tidewell.sessions.program import Curve, PhaseKind, ProgramError, load_program, resolve_program
from tidewell.sessions.runner import SessionRunner

SCENES = {"dusk_ocean", "ember", "sea_floor", "eyes_closed", "aurora_night", "forest_canopy"}
DT = 1 / 30


def run(runner, clock, until_s):
    states = []
    while clock.now() <= until_s and not runner.finished:
        states.append(runner.step(clock.now()))
        clock.advance(DT)
    return states


def test_pace_slows_at_most_half_a_breath_per_minute_and_holds_while_hr_rises():
    pace = AdaptivePace(10.0)
    for _ in range(60):
        pace.toward(1.0, 6.0, hr_rising=False)
    assert pace.rate == pytest.approx(9.5)
    for _ in range(120):
        pace.toward(1.0, 6.0, hr_rising=True)
    assert pace.rate == pytest.approx(9.5)  # held
    for _ in range(600):
        pace.toward(1.0, 6.0, hr_rising=False)
    assert pace.rate == pytest.approx(6.0)  # reaches the target, never below
    pace.follow_client(30.0, 13.0)
    assert pace.rate == pytest.approx(7.0)  # follows the client's own rate at 2 breaths/min per minute


def test_heart_rate_trend_sees_a_rise_within_30_s():
    trend = HeartRateTrend()
    assert not any(trend.update(t, 70.0) for t in range(60))
    rising = [trend.update(60 + t, 70.0 + 0.2 * t) for t in range(30)]
    assert not rising[5] and rising[-1]


def test_curves_interpolate_and_bad_curves_are_rejected(tmp_path):
    curve = Curve(((0.0, 1.0), (0.5, 0.9), (1.0, 0.6)))
    assert curve(0.0) == 1.0 and curve(0.25) == pytest.approx(0.95) and curve(1.0) == pytest.approx(0.6)
    base = resolve_program("taster").read_text()
    path = tmp_path / "p.toml"
    path.write_text(base + "\n[curves]\nbrightness = [[0, 1.0], [1, 0.7]]\n[alerts]\nhr_rise_bpm = 12\n")
    program = load_program(path, SCENES)
    assert program.curves["brightness"](1.0) == pytest.approx(0.7) and program.alert_hr_rise_bpm == 12
    path.write_text(base + "\n[curves]\nbrightness = [[1, 1.0], [0, 0.7]]\n")
    with pytest.raises(ProgramError, match="brightness.*calm rising"):
        load_program(path, SCENES)
    path.write_text(base + "\n[curves]\nsparkle = [[0, 1.0], [1, 0.7]]\n")
    with pytest.raises(ProgramError, match="sparkle.*visual_calm"):
        load_program(path, SCENES)


def test_guide_starts_near_the_clients_rate_then_slows_gently_toward_the_target():
    program = load_program(resolve_program("full_body_60"), SCENES)
    clock = VirtualClock()
    runner = SessionRunner(program, SimulatedHeart(seed=2), unattended=True)
    states = run(runner, clock, 20 * 60)
    warm_up_start = next(s for s in states if s.phase_index == 1)
    assert warm_up_start.pace_bpm == pytest.approx(10.0, abs=0.6)  # the client followed the settle guide
    after_settle = states.index(warm_up_start)
    minute = int(60 / DT)
    per_minute = [states[i].pace_bpm - states[i - minute].pace_bpm for i in range(after_settle + minute, len(states))]
    # never slows faster than 0.5 breaths/min per minute; the guide takes a new rate at the start of
    # a breath, so a one-minute window can hold up to one extra breath (~10 s) of change
    assert min(per_minute) >= -0.5 * 70 / 60
    assert states[-1].pace_bpm < warm_up_start.pace_bpm - 2  # and it does slow
    assert states[-1].target_pace_bpm == pytest.approx(6.0)


def test_hr_rise_in_deep_work_raises_one_alert_with_phase_and_marker():
    program = load_program(resolve_program("taster"), SCENES).scaled_to(12)
    deep = next(i for i, p in enumerate(program.phases) if p.kind is PhaseKind.DEEP_WORK)
    deep_start = sum(p.duration_s for p in program.phases[:deep])

    class StressedHeart(SimulatedHeart):
        def heart_rate_bpm(self, t_s):  # guarding: HR jumps 25 bpm a minute into deep work
            return 70.0 + (25.0 if deep_start + 60 < t_s < deep_start + 90 else 0.0)

    clock = VirtualClock()
    runner = SessionRunner(program, StressedHeart(seed=1, start_hr=70, relaxed_hr=70), unattended=True)
    run(runner, clock, deep_start + 30)
    runner.add_marker(clock.now(), "deep work: left trapezius")
    run(runner, clock, deep_start + program.phases[deep].duration_s)
    alerts = [e for e in runner.drain_events() if e.kind == "alert"]
    assert len(alerts) == 1
    assert program.phases[deep].name in alerts[0].detail and "left trapezius" in alerts[0].detail
    assert alerts[0].phase_index == deep and alerts[0].t_s > deep_start + 60


def test_fixed_pace_phases_breathe_exactly_at_their_rate():
    program = load_program(resolve_program("resonance_assessment"), SCENES)
    clock = VirtualClock()
    runner = SessionRunner(program, SimulatedHeart(), unattended=True)
    states = run(runner, clock, program.phases[0].duration_s + 90)
    assert states[-1].phase_name == "pace 6.5/min" and states[-1].pace_bpm == pytest.approx(6.5)


def test_adaptation_on_replayed_real_data():
    """pyhrv's 60-minute sinus-rhythm record (MIT-BIH NSR, shipped in the pyhrv package) played
    into a 30-minute program: the engine copes with a real heart, not only the simulated one."""
    import importlib.util
    from pathlib import Path

    import numpy as np

    from tidewell.sensors.replay import RRReplay
    from tidewell.sensors.source import RawRR

    spec = importlib.util.find_spec("pyhrv")
    if spec is None:
        pytest.fail("pyhrv (a test dependency, installed by bash .ci/install --dev) is missing")
    nn = np.load(Path(spec.submodule_search_locations[0]) / "files" / "SampleNNISeriesLong.npy")
    t = np.cumsum(nn) / 1000.0
    replay = RRReplay([RawRR(float(a), float(b)) for a, b in zip(t, nn)], description="pyhrv NSR record")
    program = load_program(resolve_program("full_body_60"), SCENES).scaled_to(30)
    clock = VirtualClock()
    runner = SessionRunner(program, replay, unattended=True)
    states = run(runner, clock, 30 * 60 + 10)
    assert runner.finished
    hr = np.array([s.hr_bpm for s in states if s.hr_bpm is not None])
    assert abs(np.median(hr) - 60000 / np.median(nn)) < 5  # live HR follows the recording
    calms = np.array([s.calm for s in states])
    assert calms.min() >= 0 and calms.max() <= 1 and np.abs(np.diff(calms)).max() < 0.01
    assert len(set(np.round(calms, 2))) > 5  # calm responds to the real heart
    rates = [s.breath_rate_bpm for s in states if s.breath_rate_bpm is not None]
    assert rates and all(2 < r < 25 for r in rates)
    paces = np.array([s.pace_bpm for s in states])
    assert paces.min() >= 4.0 and paces.max() <= 14.0
    beats = []
    while True:
        chunk = runner.drain_beats()
        if not chunk:
            break
        beats += chunk
    assert sum(b.quality != "ok" for b in beats) / len(beats) < 0.1  # clean record: few corrections
