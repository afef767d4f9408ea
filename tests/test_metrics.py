"""HRV formulas against hand-computed values, and the live rolling windows."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tidewell.sensors.correction import CorrectedBeat, RRCorrector
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions.metrics import RollingMetrics, mean_hr_bpm, pnn50, rmssd_ms, sdnn_ms

# diffs 50, -60, 110, -40; mean 840; deviations -40, 10, -50, 60, 20
NN = [800.0, 850.0, 790.0, 900.0, 860.0]


def test_time_domain_metrics_match_hand_computed_values():
    assert mean_hr_bpm(NN) == pytest.approx(60000 / 840)  # 71.43 bpm
    assert rmssd_ms(NN) == pytest.approx(math.sqrt((2500 + 3600 + 12100 + 1600) / 4))  # 70.36
    assert sdnn_ms(NN) == pytest.approx(math.sqrt((1600 + 100 + 2500 + 3600 + 400) / 4))  # 45.28
    assert pnn50(NN) == pytest.approx(50.0)  # 60 and 110 exceed 50; exactly 50 does not
    assert pnn50(np.array([1000.0, 1000.0, 1000.0])) == 0.0


def test_metrics_return_none_below_their_minimum_length():
    assert mean_hr_bpm([]) is None and mean_hr_bpm([1000.0]) == pytest.approx(60.0)
    for metric in (rmssd_ms, sdnn_ms, pnn50):
        assert metric([800.0]) is None and metric([]) is None
    assert rmssd_ms([800.0, 830.0]) == pytest.approx(30.0)
    assert sdnn_ms([800.0, 830.0]) == pytest.approx(math.sqrt(450.0))


def Beat(t_s: float, rr_ms: float, quality: str = "ok") -> CorrectedBeat:
    """A beat as the corrector hands it on: good beats keep their RR, removed ones have none."""
    return CorrectedBeat(t_s, rr_ms, rr_ms if quality == "ok" else None, quality)


def steady_beats(start_s: float, count: int, rr_ms: float, quality: str = "ok") -> list[CorrectedBeat]:
    return [Beat(start_s + (i + 1) * rr_ms / 1000, rr_ms, quality) for i in range(count)]


def test_rmssd_becomes_valid_only_after_60_seconds_of_data():
    metrics = RollingMetrics()
    rrs = [1000.0, 1040.0] * 40  # alternating: every successive difference is 40 ms
    t = 0.0
    for rr in rrs:
        t += rr / 1000
        metrics.add(Beat(t, rr, "ok"))
        live = metrics.snapshot(t)
        data_s = t - 1.0  # the first beat ends at 1.0 s
        assert live.rmssd_valid == (data_s >= 60.0)
        assert live.hr_valid == (data_s >= 10.0)
        if data_s >= 2.0:
            assert live.rmssd_ms == pytest.approx(40.0)
    assert live.hr_bpm == pytest.approx(60000 / 1020, rel=0.01) and live.artifact_fraction == 0.0


def test_windows_empty_and_turn_invalid_when_beats_stop_arriving():
    metrics = RollingMetrics()
    for beat in steady_beats(0.0, 90, 1000.0):
        metrics.add(beat)
    assert metrics.snapshot(90.0).rmssd_valid
    dropout = metrics.snapshot(105.0)  # sensor silent for 15 s
    assert dropout.hr_bpm is None and not dropout.hr_valid
    assert dropout.rmssd_valid  # 45 s of pairs still in the 60 s window
    gone = metrics.snapshot(151.0)
    assert gone.rmssd_ms is None and not gone.rmssd_valid


def test_a_removed_beat_breaks_the_successive_difference():
    beats = steady_beats(0.0, 40, 1000.0) + [Beat(40.6, 150.0, "out_of_range")] + steady_beats(40.6, 40, 800.0)
    metrics = RollingMetrics()
    for beat in beats:
        metrics.add(beat)
    live = metrics.snapshot(beats[-1].t_s)
    # every real pair of adjacent NN beats is equal; pairing across the ectopic beat would add 200 ms
    assert live.rmssd_ms == 0.0 and live.rmssd_valid
    assert rmssd_ms([b.rr_ms for b in beats if b.is_nn]) > 20.0  # what a naive pairing reports
    assert live.artifact_fraction == pytest.approx(1 / len([b for b in beats if b.t_s > beats[-1].t_s - 60]))


def test_live_rmssd_agrees_with_the_formula_on_a_simulated_session():
    heart, corrector, metrics = SimulatedHeart(seed=5, ectopic_rate=0.02), RRCorrector(), RollingMetrics()
    beats: list[CorrectedBeat] = []
    for step in range(1, 6001):  # 5 minutes at 20 Hz
        t = step * 0.05
        for raw in heart.poll(t, 0.5 - 0.5 * math.cos(2 * math.pi * t / 10)):
            for beat in corrector.push(raw.t_s, raw.rr_ms):
                beats.append(beat)
                metrics.add(beat)
    live = metrics.snapshot(300.0)

    in_window = [b for b in beats if b.t_s > 240.0]
    pairs = [(a.corrected_rr_ms, b.corrected_rr_ms) for a, b in zip(beats, beats[1:])
             if a.corrected_rr_ms is not None and b.corrected_rr_ms is not None and b.t_s > 240.0]
    expected = math.sqrt(np.mean([(b - a) ** 2 for a, b in pairs]))
    assert live.rmssd_ms == pytest.approx(expected) and live.rmssd_valid
    assert live.hr_bpm == pytest.approx(mean_hr_bpm([b.corrected_rr_ms for b in beats
                                                     if b.corrected_rr_ms is not None and b.t_s > 290.0]))
    assert live.artifact_fraction == pytest.approx(sum(not b.is_nn for b in in_window) / len(in_window))
    assert 0.0 < live.artifact_fraction < 0.15
