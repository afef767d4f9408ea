"""Batch RR correction (sensors/batch_correction.py) against the streaming corrector and neurokit2.

Recorded series: pyhrv's sample NN series from the MIT-BIH Normal Sinus Rhythm Database (5 min, 337
beats; 60 min, 4684 beats; read from the installed package folder without importing pyhrv, as
tests/test_hrv.py does), simulated relaxed adults breathing at 4-7 breaths/min, and the synthetic
rhythms of tests/test_correction.py with artefacts injected at known beats.

"Flagged" counts received beats whose quality is not "ok" (a beat inserted into a missed interval is
not counted). neurokit2's count is its default signal_fixpeaks(method="Kubios", iterative=True): the
artefacts its last accepted pass found.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tidewell.sensors import correction
from tidewell.sensors.batch_correction import CorrectedSeries, correct_recording, correct_series_batch
from tidewell.sensors.correction import CorrectedBeat, correct_series
from tidewell.sessions.hrv import analyze


def _sibling(name: str):
    """A module of this folder (the tests are not a package; pytest imports them by path)."""
    spec = importlib.util.spec_from_file_location(f"_tidewell_tests_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_streaming_tests = _sibling("test_correction")  # the synthetic rhythms and artefacts of the streaming tests
MIXED, clean_rr, flagged, inject = (getattr(_streaming_tests, n) for n in ("MIXED", "clean_rr", "flagged", "inject"))
RECORDS = {"5 min": "SampleNNISeriesShort.npy", "60 min": "SampleNNISeriesLong.npy"}
CORRECTORS = {"streaming": correct_series, "batch": correct_series_batch}


def real_nn(record: str) -> np.ndarray:
    spec = importlib.util.find_spec("pyhrv")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pyhrv's sample records are a test dependency: pip install pyhrv")
    return np.load(Path(next(iter(spec.submodule_search_locations))) / "files" / RECORDS[record]).astype(float)


def n_flagged(beats: list[CorrectedBeat]) -> int:
    return sum(1 for b in beats if not b.inserted and b.quality != "ok")


def neurokit_count(rr: np.ndarray) -> int:
    """Artefacts of neurokit2's default Kubios correction (iterative=True) on the same intervals."""
    nk = pytest.importorskip("neurokit2")
    peaks = np.concatenate([[0], np.cumsum(np.round(rr).astype(int))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info, _ = nk.signal_fixpeaks(peaks, sampling_rate=1000, method="Kubios")
    return sum(len(info[kind]) for kind in ("ectopic", "missed", "extra", "longshort"))


def rules_without_the_floor(monkeypatch) -> None:
    """The paper's rules as they were before the long-beat floor (correction.py's docstring)."""
    monkeypatch.setattr(correction, "LONG_FLOOR", 0.0)
    monkeypatch.setattr(correction, "MISSED_FLOOR", 0.0)


def slow_breathing_rr(breaths_per_min: float, swing_ms: float, hr_bpm: float, seed: int) -> np.ndarray:
    """Ten minutes of a relaxed adult breathing with the guide: RR = 60000 / HR + RSA + a slow wave
    (+-15 ms, 0.05 Hz) + AR(1) noise (sd 10 ms). RSA follows lung volume 0.5 s late (vagal latency):
    30 % of each breath in, 70 % out (about 3 s in and 7 s out at 6/min, Van Diest 2014); a full lung
    shortens RR, an empty one lengthens it by swing_ms peak to trough. Every beat is a sinus beat,
    the long ones of each exhale included."""
    rng = np.random.default_rng(seed)
    period_s = 60.0 / breaths_per_min
    offset_s, lf_phase = rng.uniform(0, period_s), rng.uniform(0, 2 * np.pi)
    rr: list[float] = []
    t_s = noise = 0.0
    while t_s < 600.0:
        phase = ((t_s - 0.5 + offset_s) % period_s) / period_s
        if phase < 0.3:
            lung = 0.5 - 0.5 * math.cos(math.pi * phase / 0.3)
        else:
            lung = 0.5 + 0.5 * math.cos(math.pi * (phase - 0.3) / 0.7)
        noise = 0.5 * noise + math.sqrt(0.75) * 10.0 * rng.standard_normal()
        beat = 60000.0 / hr_bpm - swing_ms * (lung - 0.5) + 15.0 * math.sin(0.1 * math.pi * t_s + lf_phase) + noise
        rr.append(beat)
        t_s += beat / 1000.0
    return np.array(rr)


SLOW_BREATHING = [(b, s, hr) for b in (4, 5, 6, 7) for s in (60, 120, 200) for hr in (55, 65)]


@functools.cache
def slow_breathing() -> tuple[np.ndarray, ...]:
    """Two relaxed adults for each breathing rate, RSA swing and heart rate: 48 recordings, 8 hours."""
    return tuple(
        slow_breathing_rr(*case, seed=1000 * rep + i) for rep in (0, 1) for i, case in enumerate(SLOW_BREATHING)
    )


def arrhythmia_rr(seed: int, n: int = 1000) -> tuple[np.ndarray, dict[int, str]]:
    """Sinus rhythm (RSA +-30 ms, slow wave +-20 ms, noise sd 8 ms, 800 ms) with MIT-BIH-style ectopy:
    premature ventricular beats (coupling 55-75 %, full compensatory pause), premature atrial beats
    (65-85 %, the next beat about normal), couplets and runs of 3-7 bigeminal pairs. Returns the RR
    and the index of every premature beat with its kind."""
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0, 2 * np.pi, 2)
    rr: list[float] = []
    truth: dict[int, str] = {}

    def sinus() -> float:
        t_s = sum(rr) / 1000.0
        wave = 30 * np.sin(0.5 * np.pi * t_s + phases[0]) + 20 * np.sin(0.16 * np.pi * t_s + phases[1])
        return 800.0 + wave + rng.normal(0, 8)

    while len(rr) < n:
        base, u = sinus(), rng.random() if len(rr) > 20 else 1.0
        c = rng.uniform(0.55, 0.75)
        if u < 0.03:
            truth[len(rr)] = "pvc"
            rr += [c * base, (2 - c) * base]
        elif u < 0.06:
            c = rng.uniform(0.65, 0.85)
            truth[len(rr)] = "pac"
            rr += [c * base, base * rng.uniform(1.0, 1.1)]
        elif u < 0.065:
            for _ in range(rng.integers(3, 8)):
                coupling = c + rng.normal(0, 0.02)
                truth[len(rr)] = "bigeminy"
                rr += [coupling * base, (2 - coupling) * base]
                base = sinus()
        elif u < 0.07:
            truth[len(rr)] = truth[len(rr) + 1] = "couplet"
            rr += [c * base, c * base, (3 - 2 * c) * base]
        else:
            rr.append(base)
    return np.array(rr), truth


# -- the same output as correct_series ----------------------------------------------------------


def test_batch_gives_the_list_correct_series_gives():
    rec = inject(clean_rr(seed=20), MIXED)
    rr = rec.rr.copy()
    rr[[123, 124]] = [5000.0, np.nan]
    t = np.cumsum(np.nan_to_num(rr)) / 1000.0
    streamed, series = correct_series(t, rr), correct_recording(t, rr)
    batch = series.beats()
    assert isinstance(series, CorrectedSeries) and len(series) == len(batch) == len(streamed)
    assert all(isinstance(b, CorrectedBeat) for b in batch)
    assert [(b.t_s, b.quality, b.inserted) for b in batch] == [(b.t_s, b.quality, b.inserted) for b in streamed]
    assert [b.rr_ms for b in batch][:123] == [b.rr_ms for b in streamed][:123]
    for ours, theirs in zip(batch, streamed):
        if ours.quality in ("ok", "missed", "extra", "out_of_range"):
            assert ours.corrected_rr_ms == pytest.approx(theirs.corrected_rr_ms, nan_ok=True)
        else:  # replaced by the local median: centred 11 beats here, the 11 newest there
            assert abs(ours.corrected_rr_ms - theirs.corrected_rr_ms) < 40
    assert [repr(b) for b in correct_series_batch(t, rr)] == [repr(b) for b in batch]  # NaN != NaN


def test_short_and_empty_recordings():
    assert correct_recording(np.array([]), np.array([])).beats() == []
    one = correct_recording(np.array([0.8]), np.array([800.0])).beats()
    assert one == [CorrectedBeat(0.8, 800.0, 800.0, "ok")]
    rec = inject(clean_rr(seed=8, n=20), {8: "missed"})  # shorter than every window
    assert flagged(correct_series_batch(rec.t_s, rec.rr)) == {8: "missed"}
    none_in_range = correct_recording(np.array([1.0, 2.0]), np.array([100.0, 3000.0]))
    assert none_in_range.quality.tolist() == ["out_of_range"] * 2 and np.isnan(none_in_range.corrected_rr_ms).all()
    with pytest.raises(ValueError, match="equal length"):
        correct_recording(np.arange(3.0), np.arange(4.0))


def test_offline_analysis_of_raw_rr_uses_the_batch_corrector():
    rec = inject(clean_rr(seed=9), MIXED)
    result = analyze(rec.t_s, rec.rr)
    series = correct_recording(rec.t_s, rec.rr)
    received = series.quality[~series.inserted]
    assert "batch_correction" in result.method
    assert result.artifact_pct == pytest.approx(100.0 * np.count_nonzero(received != "ok") / received.size)
    assert result.n_beats == np.count_nonzero(np.isfinite(series.corrected_rr_ms))


def test_batch_is_vectorised():
    rr = np.tile(clean_rr(seed=22), 16)  # ~2 h 15 min
    t = np.cumsum(rr) / 1000.0
    correct_recording(t, rr)
    start = time.perf_counter()
    correct_recording(t, rr)
    per_beat_us = (time.perf_counter() - start) / rr.size * 1e6
    assert per_beat_us < 50, per_beat_us  # measured ~4 us; the streaming corrector takes ~100 us


# -- batch against streaming on recorded series: how much and why they differ -------------------


@pytest.mark.parametrize(("record", "max_share"), [("60 min", 0.005), ("5 min", 0.02)])
def test_batch_and_streaming_verdicts_differ_on_few_beats_of_real_records(record, max_share):
    """Measured: 18 of 4684 beats (0.4 %) and 5 of 337 (1.5 %). The reasons (batch_correction.py's
    docstring): centred windows against windows ending two beats ahead, so the thresholds and the
    median of a beat near a change of rhythm differ; a borderline beat then falls on either side of a
    rule's limit. The 5-min record is hit harder: its variability rises in the second half, which
    the centred windows see coming and the streaming ones do not (4 long beats at beats 141-301 flagged
    by streaming only)."""
    rr = real_nn(record)
    t = np.cumsum(rr) / 1000.0
    streamed = np.array([b.quality for b in correct_series(t, rr) if not b.inserted])
    series = correct_recording(t, rr)
    batch = series.quality[~series.inserted]
    assert np.count_nonzero(streamed != batch) <= max_share * rr.size


def test_batch_and_streaming_agree_on_injected_artefacts_and_slow_breathing():
    """Verdicts (beat, quality) that one of them gives and the other does not: at most one per
    synthetic recording with artefacts (measured: 2 in 5 recordings of 600 beats, clean beats near a
    rule's limit), at most 3 on simulated slow breathing (measured: 2 in 28,900 beats, a short and an
    ectopic verdict near the limit). Every injected artefact is flagged by both."""
    for seed in range(5):
        rec = inject(clean_rr(seed=10 + seed), MIXED)
        ours, theirs = flagged(correct_series_batch(rec.t_s, rec.rr)), flagged(correct_series(rec.t_s, rec.rr))
        assert len(set(ours.items()) ^ set(theirs.items())) <= 1
    differ = 0
    for rr in slow_breathing():
        t = np.cumsum(rr) / 1000.0
        differ += len(set(flagged(correct_series_batch(t, rr)).items()) ^ set(flagged(correct_series(t, rr)).items()))
    assert differ <= 3


# -- clean hearts stay clean ------------------------------------------------------------------------


@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("corrector", CORRECTORS)
def test_clean_records_flag_at_most_1_2x_neurokit2(record, corrector):
    """Measured (streaming / batch / neurokit2): 60 min 31 / 33 / 39 of 4684 beats, 5 min 6 / 3 / 5 of
    337. Before the long-beat floor the streaming corrector flagged 85 and 11."""
    rr = real_nn(record)
    ours = n_flagged(CORRECTORS[corrector](np.cumsum(rr) / 1000.0, rr))
    assert ours <= 1.2 * neurokit_count(rr)


def test_the_paper_rules_alone_flag_the_real_long_beats(monkeypatch):
    """Why the floor: without it both correctors flag about twice neurokit2's count on the 60-min record."""
    rr = real_nn("60 min")
    nk_count = neurokit_count(rr)
    rules_without_the_floor(monkeypatch)
    for fn in CORRECTORS.values():
        beats = fn(np.cumsum(rr) / 1000.0, rr)
        assert n_flagged(beats) > 2 * nk_count
        assert Counter(b.quality for b in beats if not b.inserted)["long"] > nk_count


def verdicts(fn, recordings) -> Counter:
    return Counter(b.quality for rr in recordings for b in fn(np.cumsum(rr) / 1000.0, rr) if not b.inserted)


@pytest.mark.parametrize("corrector", CORRECTORS)
def test_slow_breathing_with_large_rsa_is_left_alone(corrector, monkeypatch):
    """48 simulated relaxed adults (8 h, 28,900 beats), 4-7 breaths/min, 60-200 ms RSA swing, 55 or
    65 bpm: no long or missed verdict at all, and no more flags than 1.2x neurokit2's. Measured:
    streaming 2 (short, in the steep shortening of an inhalation), batch 2 (a short and an ectopic one),
    neurokit2 4; the paper's rules alone flagged 5 and 6, 3 and 4 of them long expiratory beats."""
    recordings = slow_breathing()
    nk_count = sum(neurokit_count(rr) for rr in recordings)
    ours = verdicts(CORRECTORS[corrector], recordings)
    assert ours["long"] == ours["missed"] == 0
    assert sum(ours.values()) - ours["ok"] <= 1.2 * nk_count
    rules_without_the_floor(monkeypatch)
    before = verdicts(CORRECTORS[corrector], recordings)
    assert before["long"] >= 3 and sum(before.values()) - before["ok"] > 1.2 * nk_count


# -- ... and artefacts stay caught ------------------------------------------------------------------


def caught(fn, rec) -> set[int]:
    return set(flagged(fn(rec.t_s, rec.rr))) & set(rec.expected)


def injected_recordings() -> list:
    kinds = ["long", "short", "ectopic", "missed", "extra"]
    recs = [inject(clean_rr(seed=100 + seed), MIXED) for seed in range(8)]
    for seed in range(8):
        clean = clean_rr(seed=200 + seed, mean_ms=700.0 + 40 * seed)
        recs.append(inject(clean, {i: kinds[(i // 37 + seed) % 5] for i in range(40, 560, 37)}))
    for seed, case in enumerate(SLOW_BREATHING[::3]):
        clean = slow_breathing_rr(*case, seed=300 + seed)
        recs.append(inject(clean, {i: kinds[(i // 23 + seed) % 5] for i in range(40, clean.size - 20, 23)}))
    return recs


@pytest.mark.parametrize("corrector", CORRECTORS)
def test_every_injected_artefact_caught_before_the_floor_is_still_caught(corrector, monkeypatch):
    """Long x1.4, short x0.65, ectopic pairs, missed and extra beats on resting and slow-breathing
    rhythms: all of them are caught, with the floor and without it."""
    fn = CORRECTORS[corrector]
    recs = injected_recordings()
    with_floor = [caught(fn, rec) for rec in recs]
    rules_without_the_floor(monkeypatch)
    before = [caught(fn, rec) for rec in recs]
    assert all(b <= w for b, w in zip(before, with_floor))
    assert sum(map(len, with_floor)) == sum(len(rec.expected) for rec in recs)


def premature_beats_caught(recordings) -> dict[str, set[tuple[int, int, str]]]:
    """(recording, beat, kind) of every premature beat each corrector flags."""
    out: dict[str, set[tuple[int, int, str]]] = {}
    for name, fn in CORRECTORS.items():
        out[name] = set()
        for r, (rr, truth) in enumerate(recordings):
            received = [b for b in fn(np.cumsum(rr) / 1000.0, rr) if not b.inserted]
            out[name] |= {(r, i, kind) for i, kind in truth.items() if received[i].quality != "ok"}
    return out


def test_mit_bih_style_arrhythmia_detection_is_kept(monkeypatch):
    """Every premature beat that the rules caught before the floor is still caught, by both correctors.
    Between them (batch_correction.py's docstring): the batch corrector catches more isolated premature
    beats (PVC, PAC, couplet: 455 against 437 of 608 here) and fewer beats of bigeminy runs (122
    against 159 of 226): a run's large dRR values are inside a centred window before its first pairs
    are judged. neurokit2's non-iterative pass, centred like the paper, catches 460 and 118."""
    recordings = [arrhythmia_rr(seed) for seed in range(10)]
    now = premature_beats_caught(recordings)
    rules_without_the_floor(monkeypatch)
    before = premature_beats_caught(recordings)
    for name in CORRECTORS:
        assert before[name] <= now[name]
    count = {name: Counter(kind for _, _, kind in hits) for name, hits in now.items()}
    isolated = ("pvc", "pac", "couplet")
    assert sum(count["batch"][k] for k in isolated) >= sum(count["streaming"][k] for k in isolated)
    assert count["batch"]["bigeminy"] >= 0.7 * count["streaming"]["bigeminy"]
