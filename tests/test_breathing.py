"""The breathing guide: pattern shape, stage timing and gliding pace changes."""

import numpy as np
import pytest

from tidewell.core.frame_state import BreathStage
from tidewell.sessions.breathing import BreathPacer, BreathPattern


def test_rate_and_ratio_give_the_expected_seconds():
    pattern = BreathPattern.from_rate(6.0, 0.42)
    assert pattern.cycle_s == pytest.approx(10.0)
    assert pattern.inhale_s == pytest.approx(2.958, abs=0.01)
    assert pattern.exhale_s == pytest.approx(7.042, abs=0.01)


def test_stages_follow_inhale_hold_exhale_hold():
    pattern = BreathPattern(4.0, 1.0, 6.0, 1.0)
    times = {0.5: BreathStage.INHALE, 4.5: BreathStage.HOLD_IN, 6.0: BreathStage.EXHALE, 11.5: BreathStage.HOLD_OUT}
    for t, stage in times.items():
        assert pattern.stage_at(t / pattern.cycle_s)[0] is stage
    assert pattern.stage_at(4.5 / 12)[1] == 1.0
    assert pattern.stage_at(11.5 / 12)[1] == 0.0
    assert pattern.stage_at(2.0 / 12)[1] == pytest.approx(0.5)


def test_pacer_level_is_continuous_and_pace_glides_over_several_breaths():
    pacer = BreathPacer(BreathPattern.from_rate(12.0, 0.7))
    dt = 1 / 30
    for _ in range(int(20 / dt)):
        pacer.advance(dt)
    pacer.set_target(BreathPattern.from_rate(6.0, 0.5))
    levels, rates = [], []
    for _ in range(int(120 / dt)):
        _, _, level = pacer.advance(dt)
        levels.append(level)
        rates.append(pacer.pattern.rate_bpm)
    steps = np.abs(np.diff(levels))
    assert steps.max() < 0.05  # no jump in the guide, even across pattern changes
    changes = np.flatnonzero(np.abs(np.diff(rates)) > 1e-9)
    assert len(changes) >= 4  # the change is spread over several breaths
    assert np.abs(np.diff(rates)).max() < 2.0  # each breath moves the pace by under 2 breaths/min
    assert rates[-1] == pytest.approx(6.0)
