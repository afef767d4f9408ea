"""Simulated heart and CSV replay, driven the way the session loop drives them, through the corrector."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tidewell.sensors.correction import RRCorrector, correct_series
from tidewell.sensors.replay import ReplayError, RRReplay, load_rr_csv
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sensors.source import BeatSource, RawRR


def sine_breath(t_s: float, period_s: float = 10.0) -> float:
    return 0.5 - 0.5 * math.cos(2 * math.pi * t_s / period_s)


def run_heart(heart: SimulatedHeart, duration_s: float, period_s: float = 10.0, dt_s: float = 0.05) -> list[RawRR]:
    beats: list[RawRR] = []
    for step in range(1, int(round(duration_s / dt_s)) + 1):
        t = step * dt_s
        beats += heart.poll(t, sine_breath(t, period_s))
    return beats


def rr_swing_at_breath_rate(beats: list[RawRR], period_s: float) -> float:
    """Peak-to-peak RR swing at the breathing frequency (least-squares sine fit)."""
    t = np.array([b.t_s for b in beats])
    rr = np.array([b.rr_ms for b in beats])
    w = 2 * math.pi * t / period_s
    design = np.column_stack([np.sin(w), np.cos(w), np.ones_like(t)])
    (a, b, _), *_ = np.linalg.lstsq(design, rr, rcond=None)
    return 2 * math.hypot(a, b)


# --- simulated heart -------------------------------------------------------------------------


def test_simulated_heart_is_a_beat_source_and_releases_beats_in_order_up_to_now():
    heart = SimulatedHeart(seed=3)
    assert isinstance(heart, BeatSource) and not heart.finished
    beats = run_heart(heart, 120.0)
    times = [b.t_s for b in beats]
    assert times == sorted(times) and times[-1] <= 120.0
    assert np.allclose(np.diff(times), [b.rr_ms / 1000 for b in beats[1:]])
    assert heart.poll(120.0, 0.5) == []  # nothing twice


def test_same_seed_same_beats_other_seed_other_beats():
    a = run_heart(SimulatedHeart(seed=7), 300.0)
    b = run_heart(SimulatedHeart(seed=7), 300.0)
    c = run_heart(SimulatedHeart(seed=8), 300.0)
    assert a == b
    assert [x.rr_ms for x in a[:50]] != [x.rr_ms for x in c[:50]]


def test_heart_rate_relaxes_from_start_toward_relaxed_over_30_minutes():
    beats = run_heart(SimulatedHeart(seed=1), 1800.0)
    first = [b.rr_ms for b in beats if b.t_s <= 60]
    last = [b.rr_ms for b in beats if b.t_s > 1740]
    hr_first, hr_last = 60000 / np.mean(first), 60000 / np.mean(last)
    assert 74.0 < hr_first < 78.0
    expected_last = 63.0 + 13.0 * math.exp(-1770 / 900)  # ~64.8 bpm
    assert abs(hr_last - expected_last) < 1.5
    assert all(273 < b.rr_ms < 2000 for b in beats)


def test_rr_shortens_on_inhale_and_swings_more_with_slow_breathing():
    # start == relaxed: no trend, so RR varies only with breathing and noise
    slow = run_heart(
        SimulatedHeart(seed=2, start_hr=65, relaxed_hr=65, rsa_ms=45, ectopic_rate=0), 300.0, period_s=10.0
    )
    level_at_beat_start = [sine_breath(b.t_s - b.rr_ms / 1000, 10.0) for b in slow]
    r = np.corrcoef(level_at_beat_start, [b.rr_ms for b in slow])[0, 1]
    assert r < -0.5  # full lungs (end of inhale) -> shorter RR -> faster heart

    fast = run_heart(SimulatedHeart(seed=2, start_hr=65, relaxed_hr=65, rsa_ms=45, ectopic_rate=0), 300.0, period_s=4.0)
    slow_swing, fast_swing = rr_swing_at_breath_rate(slow, 10.0), rr_swing_at_breath_rate(fast, 4.0)
    assert 30.0 < slow_swing < 50.0  # close to rsa_ms at 6 breaths/min
    assert fast_swing < 0.75 * slow_swing


def test_ectopic_beats_appear_at_the_configured_rate_and_the_corrector_flags_them():
    heart = SimulatedHeart(seed=4, rsa_ms=45, noise_ms=12, ectopic_rate=0.02)
    beats = run_heart(heart, 1800.0)
    premature = set(heart.ectopic_times_s)
    assert 0.012 < len(premature) / len(beats) < 0.028
    for i, b in enumerate(beats[:-1]):
        if b.t_s in premature:  # ~30% early, then the lost time is made up by the next beat
            trend_rr = 60000 / heart.heart_rate_bpm(b.t_s)
            assert b.rr_ms < 0.8 * trend_rr and beats[i + 1].rr_ms > 1.2 * trend_rr

    corrected = correct_series(np.array([b.t_s for b in beats]), np.array([b.rr_ms for b in beats]))
    flagged = {b.t_s for b in corrected if b.quality != "ok"}
    assert premature <= flagged  # every premature beat is caught
    assert len(flagged) <= 2.5 * len(premature)  # with its compensatory partner, few false alarms
    assert all(c.quality != "out_of_range" for c in corrected)


# --- replay ----------------------------------------------------------------------------------


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_replay_releases_each_beat_when_the_clock_passes_its_time(tmp_path):
    csv_path = write(tmp_path / "rr.csv", "t_s,rr_ms\n0.812,812.0\n1.650,838.0\n2.45,800.5\n3.3,850\n")
    replay, problems = load_rr_csv(csv_path)
    assert problems == [] and len(replay) == 4 and isinstance(replay, BeatSource)
    assert replay.name == "replay:rr.csv" and str(csv_path) in replay.description

    assert replay.poll(0.8, 0.5) == []
    assert replay.poll(0.812, 0.5) == [RawRR(0.812, 812.0)]
    assert replay.poll(1.0, 0.5) == []
    assert replay.poll(2.5, 0.5) == [RawRR(1.65, 838.0), RawRR(2.45, 800.5)]
    assert not replay.finished
    assert replay.poll(10.0, 0.5) == [RawRR(3.3, 850.0)]
    assert replay.finished and replay.poll(11.0, 0.5) == []


def test_replay_skips_bad_rows_reports_their_lines_and_uses_the_good_rows(tmp_path):
    csv_path = write(
        tmp_path / "bad.csv",
        "t_s,rr_ms\n"
        "0.8,800\n"  # line 2 ok
        "abc,810\n"  # 3 not a number
        "1.6\n"  # 4 missing column
        "\n"  # 5 blank: ignored silently
        "2.4,-5\n"  # 6 negative RR
        "2.4,nan\n"  # 7 NaN
        "0.5,800\n"  # 8 time going backwards
        "2.4,800,7\n"  # 9 extra column
        "-1,800\n"  # 10 negative time
        "2.45,850\n",  # 11 ok
    )
    replay, problems = load_rr_csv(csv_path)
    assert [p.split(":")[:2] for p in problems] == [[str(csv_path), str(n)] for n in (3, 4, 6, 7, 8, 9, 10)]
    assert "'abc' is not a number" in problems[0]
    assert "expected 2 columns" in problems[1] and "expected 2 columns" in problems[5]
    assert "not positive" in problems[2] and "not a finite number" in problems[3]
    assert "not after the previous beat" in problems[4] and "negative" in problems[6]
    assert replay.poll(100.0, 0.5) == [RawRR(0.8, 800.0), RawRR(2.45, 850.0)]


def test_replay_without_the_header_is_refused_naming_the_file(tmp_path):
    csv_path = write(tmp_path / "noheader.csv", "0.8,800\n1.6,800\n")
    with pytest.raises(ReplayError, match="noheader.csv:1: expected the header 't_s,rr_ms'"):
        load_rr_csv(csv_path)
    with pytest.raises(ReplayError, match="noheader.csv"):
        load_rr_csv(write(tmp_path / "noheader.csv", "time,rr\n0.8,800\n"))
    with pytest.raises(ReplayError, match="missing.csv: RR file not found"):
        load_rr_csv(tmp_path / "missing.csv")
    with pytest.raises(ReplayError, match="no valid beats"):
        load_rr_csv(write(tmp_path / "empty.csv", "t_s,rr_ms\nx,y\n"))


def test_replayed_beats_flow_through_the_corrector(tmp_path):
    rows = "\n".join(f"{0.8 * (i + 1):.3f},{200 if i == 35 else 800}" for i in range(60))
    replay, _ = load_rr_csv(write(tmp_path / "r.csv", "t_s,rr_ms\n" + rows + "\n"))
    corrector = RRCorrector()
    out = [c for b in replay.poll(60.0, 0.5) for c in corrector.push(b.t_s, b.rr_ms)] + corrector.flush()
    qualities = [c.quality for c in sorted(out, key=lambda c: c.t_s)]
    assert qualities == ["ok"] * 35 + ["out_of_range"] + ["ok"] * 24
    assert isinstance(RRReplay([]), BeatSource) and RRReplay([]).finished
