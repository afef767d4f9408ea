"""The provisional heart rate: within 10 s of the first beat, marked provisional, robust to one bad
beat, gone when the sensor is silent, and never logged or used as the corrected rate."""

import numpy as np
import pytest

from tidewell.engine.console.hub import ConsoleHub
from tidewell.engine.session import RunOptions, run_session
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.provisional_hr import ProvisionalHeartRate
from tidewell.sessions.runner import SessionRunner
from tidewell.sessions.store import SessionStore


def test_three_beats_give_a_rate_and_one_bad_beat_does_not_move_it():
    rate = ProvisionalHeartRate()
    assert rate.bpm(0.0) is None
    for t in (0.8, 1.6):
        rate.add(t, 800.0)
    assert rate.bpm(1.7) is None  # two intervals: not yet
    rate.add(3.2, 1600.0)  # a missed beat
    assert rate.bpm(3.3) == pytest.approx(75.0)
    rate.add(3.5, 300.0)  # an extra one
    rate.add(4.3, 800.0)
    assert rate.bpm(4.4) == pytest.approx(75.0)
    rate.add(4.4, float("nan"))
    rate.add(4.5, 5000.0)  # out of range: ignored
    assert rate.bpm(4.6) == pytest.approx(75.0)
    assert rate.bpm(4.3 + 5.1) is None  # silent for more than 5 s: no rate


def test_a_session_shows_a_provisional_rate_within_10_s_and_logs_only_the_corrected_one(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    states = []
    options = RunOptions(
        client="C-1", virtual_time=True, headless=True, seed=2, say=lambda _: None, on_frame=states.append
    )
    result = run_session(load_program(resolve_program("taster")).scaled_to(1.5), options, store)
    first_beat = store.beats(result.session_id)[0]["t_s"]
    shown = next(s for s in states if s.provisional_hr_bpm is not None)
    assert shown.t_s - first_beat <= 10.0
    corrected = next(s for s in states if s.hr_bpm is not None)
    assert corrected.t_s - first_beat > 10.0  # the corrector's warm-up: why the provisional rate exists
    assert shown.hr_bpm is None
    assert all(s.provisional_hr_bpm is None for s in states if s.hr_bpm is not None)  # one or the other
    early = [s.provisional_hr_bpm for s in states if s.provisional_hr_bpm is not None]
    assert abs(np.median(early) - corrected.hr_bpm) < 8.0  # close to what the corrected rate says next
    logged = store.samples(result.session_id)
    assert all(row["hr_bpm"] is None for row in logged if row["t_s"] < corrected.t_s - 0.5)
    assert "provisional_hr_bpm" not in logged[0].keys()


def test_the_console_receives_the_provisional_rate_beside_the_corrected_one():

    hub = ConsoleHub()
    hub.session_began(1, 1, {"id": "taster", "phases": []})
    runner = SessionRunner(load_program(resolve_program("taster")), SimulatedHeart(seed=1), unattended=True)
    state = None
    for i in range(1, 120):
        state = runner.step(i * 0.1)
    assert state.hr_bpm is None and state.provisional_hr_bpm is not None
    hub.frame(state)
    latest = hub.snapshot()["latest"]
    assert latest["hr"] is None and latest["hr_provisional"] == pytest.approx(state.provisional_hr_bpm, abs=0.05)
