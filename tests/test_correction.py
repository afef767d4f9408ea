"""Kubios-style RR artefact correction on synthetic RR series with artefacts at known beats."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest

from tidewell.sensors.correction import CorrectedBeat, RRCorrector, correct_series


def clean_rr(n: int = 600, seed: int = 0, mean_ms: float = 850.0) -> np.ndarray:
    """A resting rhythm: respiratory sinus arrhythmia (0.25 Hz, +-35 ms), a slower 0.09 Hz
    oscillation (+-20 ms) and beat-to-beat noise (sd 8 ms); RMSSD comes out near 33 ms."""
    rng = np.random.default_rng(seed)
    rsa_phase, lf_phase = rng.uniform(0, 2 * np.pi, 2)
    rr = np.empty(n)
    t_s = 0.0
    for i in range(n):
        rr[i] = (
            mean_ms
            + 35 * np.sin(2 * np.pi * 0.25 * t_s + rsa_phase)
            + 20 * np.sin(2 * np.pi * 0.09 * t_s + lf_phase)
            + rng.normal(0, 8)
        )
        t_s += rr[i] / 1000
    return rr


@dataclass
class Recording:
    rr: np.ndarray  # what the sensor reports
    truth: np.ndarray  # the clean rhythm underneath
    expected: dict[int, set[str]]  # reported index -> acceptable verdicts

    @property
    def t_s(self) -> np.ndarray:
        return np.cumsum(self.rr) / 1000


def inject(clean: np.ndarray, artefacts: dict[int, str]) -> Recording:
    """Damage `clean` at the given indices (into `clean`): "ectopic" (premature beat at 70 %
    followed by the compensatory pause), "missed" (beat i and i+1 reported as one interval),
    "extra" (beat i reported as two intervals of 45 % and 55 %), "long" (x1.4), "short" (x0.65).
    An isolated long or short beat may also be judged "ectopic": the rules call it so when the
    rhythm's own dRR next to it happens to lean the opposite way."""
    rr: list[float] = []
    expected: dict[int, set[str]] = {}
    i = 0
    while i < clean.size:
        kind = artefacts.get(i)
        if kind == "ectopic":
            premature = 0.7 * clean[i]
            expected[len(rr)] = expected[len(rr) + 1] = {"ectopic"}
            rr += [premature, clean[i] + clean[i + 1] - premature]
            i += 2
            continue
        if kind == "missed":
            expected[len(rr)] = {"missed"}
            rr.append(clean[i] + clean[i + 1])
            i += 2
            continue
        if kind == "extra":
            expected[len(rr)] = expected[len(rr) + 1] = {"extra"}
            rr += [0.45 * clean[i], 0.55 * clean[i]]
        elif kind == "long":
            expected[len(rr)] = {"long", "ectopic"}
            rr.append(1.4 * clean[i])
        elif kind == "short":
            expected[len(rr)] = {"short", "ectopic"}
            rr.append(0.65 * clean[i])
        else:
            rr.append(clean[i])
        i += 1
    return Recording(np.array(rr), clean, expected)


def rmssd(rr: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.diff(rr) ** 2)))


def corrected_series(beats: list[CorrectedBeat]) -> np.ndarray:
    return np.array([b.corrected_rr_ms for b in beats if b.corrected_rr_ms is not None])


def received(beats: list[CorrectedBeat]) -> list[CorrectedBeat]:
    """One beat per reported interval (drops the beats inserted into missed intervals)."""
    return [b for b in beats if not b.inserted]


def flagged(beats: list[CorrectedBeat], near: int | None = None) -> dict[int, str]:
    """Verdicts other than "ok" by reported index; only within 10 beats of `near` if given
    (clean rhythms raise a rare false alarm elsewhere, see the false-alarm test)."""
    return {
        i: b.quality
        for i, b in enumerate(received(beats))
        if b.quality != "ok" and (near is None or abs(i - near) <= 10)
    }


MIXED = {
    80: "ectopic",
    140: "missed",
    200: "extra",
    260: "long",
    320: "short",
    380: "ectopic",
    440: "missed",
    500: "extra",
    550: "ectopic",
}


# --- clean rhythm ----------------------------------------------------------------------------


def test_clean_series_is_all_ok_and_unchanged():
    rr = clean_rr(seed=0)
    beats = correct_series(np.cumsum(rr) / 1000, rr)
    assert len(beats) == rr.size
    assert {b.quality for b in beats} == {"ok"}
    assert [b.corrected_rr_ms for b in beats] == [b.rr_ms for b in beats] == rr.tolist()
    assert not any(b.inserted for b in beats)


def test_false_alarms_on_clean_rhythms_are_rare():
    n_flagged = sum(
        len(flagged(correct_series(np.cumsum(rr) / 1000, rr))) for rr in (clean_rr(seed=s) for s in range(20))
    )
    assert n_flagged <= 0.005 * 20 * 600


# --- each artefact class ---------------------------------------------------------------------


def test_ectopic_pair_is_flagged_on_both_intervals_and_corrected_to_the_local_rhythm():
    clean = clean_rr(seed=1)
    rec = inject(clean, {300: "ectopic"})
    beats = correct_series(rec.t_s, rec.rr)
    assert flagged(beats, near=300) == {300: "ectopic", 301: "ectopic"}
    for i in (300, 301):
        assert abs(beats[i].corrected_rr_ms - clean[i]) < 60  # RSA swings +-35 ms around it
        assert beats[i].rr_ms == rec.rr[i]


def test_missed_beat_is_split_into_two_halves_with_the_inserted_beat_first():
    clean = clean_rr(seed=2)
    rec = inject(clean, {300: "missed"})
    beats = correct_series(rec.t_s, rec.rr)
    assert flagged(beats, near=300) == {300: "missed"}
    inserted, received_beat = beats[300], beats[301]
    assert inserted.inserted and not received_beat.inserted
    assert inserted.quality == received_beat.quality == "missed"
    assert inserted.rr_ms == received_beat.rr_ms == rec.rr[300]
    assert inserted.corrected_rr_ms == received_beat.corrected_rr_ms == pytest.approx(rec.rr[300] / 2)
    assert inserted.t_s == pytest.approx(rec.t_s[300] - rec.rr[300] / 2000)
    assert received_beat.t_s == rec.t_s[300]
    assert len(corrected_series(beats)) == clean.size
    assert np.allclose(corrected_series(beats)[300:302], clean[300:302], atol=40)


def test_extra_beat_is_merged_into_the_next_one():
    clean = clean_rr(seed=3)
    rec = inject(clean, {300: "extra"})
    beats = correct_series(rec.t_s, rec.rr)
    assert flagged(beats, near=300) == {300: "extra", 301: "extra"}
    assert beats[300].corrected_rr_ms is None
    assert beats[301].corrected_rr_ms == pytest.approx(rec.rr[300] + rec.rr[301])
    assert beats[301].corrected_rr_ms == pytest.approx(clean[300])
    assert np.allclose(corrected_series(beats), clean)


@pytest.mark.parametrize(("kind", "seed"), [("long", 4), ("short", 5)])
def test_isolated_long_and_short_beats_are_flagged_and_replaced_by_the_local_median(kind, seed):
    clean = clean_rr(seed=seed)
    rec = inject(clean, {300: kind})
    beats = correct_series(rec.t_s, rec.rr)
    assert flagged(beats, near=300) == {300: kind}  # ("ectopic" is possible at other RSA phases)
    assert beats[300].corrected_rr_ms == pytest.approx(np.median(rec.rr[292:303]))
    assert abs(beats[300].corrected_rr_ms - clean[300]) < 60


def test_out_of_range_intervals_are_dropped_on_arrival_and_kept_out_of_the_windows():
    rr = clean_rr(seed=6)
    rr[[100, 200, 201, 300]] = [250.0, 2400.0, np.nan, 150.0]
    beats = correct_series(np.cumsum(np.nan_to_num(rr, nan=0.0)) / 1000, rr)
    dropped = [i for i, b in enumerate(beats) if b.quality == "out_of_range"]
    assert dropped == [100, 200, 201, 300]
    assert all(beats[i].corrected_rr_ms is None for i in dropped)
    assert [beats[i].rr_ms for i in (100, 200, 300)] == [250.0, 2400.0, 150.0] and np.isnan(beats[201].rr_ms)
    for i in (100, 200, 300):  # the in-range beats around them are judged among themselves
        assert flagged(beats, near=i) == {j: "out_of_range" for j in dropped if abs(j - i) <= 10}
    assert [b.t_s for b in beats] == sorted(b.t_s for b in beats)

    corrector = RRCorrector()
    for i in range(40):
        corrector.push(i * 0.85, 850.0 + 10 * (i % 3))
    assert corrector.push(40 * 0.85, 100.0) == []  # waits behind the beats awaiting look-ahead
    assert [b.quality for b in corrector.push(41 * 0.85, 850.0)] == ["ok"]
    released = corrector.push(42 * 0.85, 850.0)
    assert [(b.quality, b.t_s) for b in released] == [("ok", 39 * 0.85), ("out_of_range", 40 * 0.85)]


def test_first_beats_are_judged_after_the_warm_up_even_when_the_first_is_bad():
    for warmup in (30, 10):
        corrector = RRCorrector(warmup=warmup)
        rr = clean_rr(seed=7, n=60)
        rr[0] = 0.6 * rr[0]
        out = [corrector.push(float(i), float(v)) for i, v in enumerate(rr)]
        assert [len(o) for o in out[: warmup - 1]] == [0] * (warmup - 1)
        assert len(out[warmup - 1]) == warmup - 2  # all but the two beats awaiting look-ahead
        assert out[warmup - 1][0].quality == "short"
        assert [len(o) for o in out[warmup:]] == [1] * (rr.size - warmup)


def test_early_ectopic_pair_is_caught_after_the_default_warm_up():
    for seed in range(10):
        rec = inject(clean_rr(seed=40 + seed, n=80), {12: "ectopic", 25: "missed"})
        assert flagged(correct_series(rec.t_s, rec.rr), near=18) == {12: "ectopic", 13: "ectopic", 25: "missed"}


def test_a_recording_shorter_than_the_warm_up_is_judged_on_flush():
    rec = inject(clean_rr(seed=8, n=20), {8: "missed"})
    corrector = RRCorrector()
    assert [corrector.push(float(t), float(v)) for t, v in zip(rec.t_s, rec.rr)] == [[]] * rec.rr.size
    beats = corrector.flush()
    assert len(received(beats)) == rec.rr.size and flagged(beats) == {8: "missed"}


# --- whole recordings ------------------------------------------------------------------------


def test_correction_restores_rmssd_of_an_artefact_laden_recording():
    for seed in range(5):
        clean = clean_rr(seed=10 + seed)
        rec = inject(clean, MIXED)
        beats = correct_series(rec.t_s, rec.rr)
        truth, raw, fixed = rmssd(clean), rmssd(rec.rr), rmssd(corrected_series(beats))
        assert abs(fixed - truth) < 0.10 * truth, (seed, truth, raw, fixed)
        assert raw > 2.5 * truth
        assert set(flagged(beats)) >= set(rec.expected)
        for i, acceptable in rec.expected.items():
            assert flagged(beats)[i] in acceptable


def test_streaming_beat_by_beat_equals_batch():
    rec = inject(clean_rr(seed=20), MIXED)
    rr = rec.rr.copy()
    rr[123] = 5000.0
    batch = correct_series(rec.t_s, rr)
    corrector = RRCorrector()
    streamed: list[CorrectedBeat] = []
    for t, v in zip(rec.t_s, rr):
        released = corrector.push(float(t), float(v))
        assert all(b.t_s <= t for b in released)  # nothing from the future
        streamed += released
    streamed += corrector.flush()
    assert streamed == batch
    assert corrector.flush() == []


def test_longer_lookahead_still_finds_the_injected_artefacts():
    rec = inject(clean_rr(seed=21), MIXED)
    beats = correct_series(rec.t_s, rec.rr, lookahead=4)
    for i, acceptable in rec.expected.items():
        assert flagged(beats).get(i) in acceptable


def test_per_beat_cost_is_small():
    rr = np.tile(clean_rr(seed=22), 5)
    corrector = RRCorrector()
    start = time.perf_counter()
    for i, v in enumerate(rr.tolist()):
        corrector.push(i * 0.85, v)
    per_beat_us = (time.perf_counter() - start) / rr.size * 1e6
    assert per_beat_us < 1000, per_beat_us  # one beat arrives every ~800 ms


def test_bad_arguments_get_clear_messages():
    with pytest.raises(ValueError, match="lookahead"):
        RRCorrector(lookahead=1)
    with pytest.raises(ValueError, match="history"):
        RRCorrector(history=5)
    with pytest.raises(ValueError, match="warmup"):
        RRCorrector(warmup=200)
    with pytest.raises(ValueError, match="beat time"):
        RRCorrector().push(float("nan"), 800.0)
    with pytest.raises(ValueError, match="equal length"):
        correct_series(np.arange(3.0), np.arange(4.0))


# --- against neurokit2's batch implementation (optional test dependency) ----------------------


def neurokit_flags(rr: np.ndarray) -> dict[int, str]:
    """Verdicts of neurokit2's signal_fixpeaks(method="Kubios", iterative=False), per interval."""
    import warnings

    nk = pytest.importorskip("neurokit2")
    peaks = np.concatenate([[0], np.cumsum(np.round(rr).astype(int))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info, _ = nk.signal_fixpeaks(peaks, sampling_rate=1000, iterative=False, method="Kubios")
    # neurokit's peak i ends interval i - 1 of rr.
    return {int(i) - 1: kind for kind in ("ectopic", "missed", "extra", "longshort") for i in info[kind]}


def test_agrees_with_neurokit2_on_the_injected_artefacts():
    ours_hit = theirs_hit = total = 0
    for seed in range(5):
        rec = inject(clean_rr(seed=30 + seed), MIXED)
        ours = flagged(correct_series(rec.t_s, rec.rr))
        theirs = neurokit_flags(rec.rr)
        for i in rec.expected:
            total += 1
            ours_hit += i in ours
            theirs_hit += any(j in theirs for j in (i - 1, i, i + 1))
    assert ours_hit == total
    assert theirs_hit == total
