"""Batch RR artefact correction for recorded data: the streaming corrector's rules, vectorised.

The decision rules of tidewell.sensors.correction (Lipponen & Tarvainen 2019, as that module's
docstring and shared/science.md describe them), the long-beat floor included, applied to a whole
recording at once: every beat's dRR, thresholds, median and subspaces come from sliding windows
(numpy.lib.stride_tricks.sliding_window_view) and the verdicts are boolean arrays. The one Python
loop walks the extra beats only (rare: whether a beat absorbs the extra one before it depends on
whether that one was itself absorbed, which is sequential). The streaming corrector stays for live
data; this one serves recordings (sessions/hrv.py's raw-RR path, `tidewell hrv`): 2 hours in about
35 ms, against about 1 s beat by beat.

Where batch and streaming decide differently on the same recording, and why (sizes measured in
tests/test_batch_correction.py):
- Centred windows. A recording has its future, so the 91-beat threshold windows and the 11-beat
  median are centred on the beat being judged, as in the paper and neurokit2; the streaming windows
  end at the newest beat received, two beats after it. A borderline beat near a change of rhythm can
  fall on either side of a rule's limit: verdicts differ on 18 of 4684 beats (0.4 %) and 5 of 337
  (1.5 %) of the NSRDB records, on 2 of 28,900 simulated slow-breathing beats, and on no injected
  artefact. Near the ends of a recording a window keeps its length and shifts inwards.
- Runs of ectopic beats. The large dRR values of a bigeminy run are inside a centred window before
  its first pairs are judged, which raises the threshold; the streaming window reaches them later.
  On MIT-BIH-style series the batch corrector catches fewer beats of bigeminy runs (122 against 159
  of 226) and as many or more isolated premature beats (455 against 437 of 608), as neurokit2 does.
- A flagged beat is replaced by the centred median here, by the median of the 11 newest beats there
  (a median difference of about 15 ms on the NSRDB records).
- Th2 normalises each beat's mRR by the quartile deviation of the mRR in its own window; the
  streaming corrector uses the mRR of the beats already judged plus the fresh ones.
- No warm-up: the first beats are judged with the first full window, like every other beat; the
  first beat's dRR is taken against the median of the first 30 beats, as in the streaming corrector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tidewell.sensors.correction import (
    ALPHA,
    C1,
    C2,
    LOCAL_BEATS,
    MAX_RR_MS,
    MEDIAN_BEATS,
    MIN_QD_MS,
    MIN_RR_MS,
    CorrectedBeat,
    holds_two_beats,
    sinus_long,
)

HISTORY_BEATS = 91  # the threshold window, as the streaming corrector's default `history`
FIRST_REFERENCE_BEATS = 30  # the first beat's dRR is taken against their median, as streaming does
# Verdict codes; QUALITIES[code] is the name. Code 0 ("ok") is what an unflagged beat keeps.
QUALITIES = np.array(["ok", "ectopic", "long", "short", "missed", "extra", "out_of_range"])
MERGE_ROUNDS = 8  # rounds of resolving merges and nominations; one or two settle any real recording
OK, ECTOPIC, LONG, SHORT, MISSED, EXTRA, OUT_OF_RANGE = range(7)


@dataclass(frozen=True)
class CorrectedSeries:
    """A corrected recording as arrays, one row per beat in the order correct_series gives them
    (a missed interval becomes two rows: the inserted beat, then the received one)."""

    t_s: np.ndarray
    rr_ms: np.ndarray
    corrected_rr_ms: np.ndarray  # NaN where CorrectedBeat.corrected_rr_ms is None
    quality: np.ndarray  # quality names (str)
    inserted: np.ndarray  # bool

    def __len__(self) -> int:
        return int(self.t_s.size)

    def beats(self) -> list[CorrectedBeat]:
        """The same list of CorrectedBeat that tidewell.sensors.correction.correct_series returns."""
        corrected = [None if c != c else c for c in self.corrected_rr_ms.tolist()]  # NaN -> None
        rows = zip(self.t_s.tolist(), self.rr_ms.tolist(), corrected, self.quality.tolist(), self.inserted.tolist())
        return [CorrectedBeat(t, rr, c, q, i) for t, rr, c, q, i in rows]


def correct_recording(t_s: np.ndarray, rr_ms: np.ndarray) -> CorrectedSeries:
    """Classify and correct a whole recording (beat times in s, intervals in ms) at once."""
    t = np.asarray(t_s, dtype=float)
    rr = np.asarray(rr_ms, dtype=float)
    if t.ndim != 1 or rr.ndim != 1 or t.shape != rr.shape:
        raise ValueError(
            f"correct_recording: t_s and rr_ms must be 1-D arrays of equal length, got shapes {t.shape} and {rr.shape}"
        )
    with np.errstate(invalid="ignore"):
        in_range = np.isfinite(rr) & (rr >= MIN_RR_MS) & (rr <= MAX_RR_MS)
    codes = np.full(rr.size, OUT_OF_RANGE)
    corrected = np.full(rr.size, np.nan)
    if in_range.any():
        codes[in_range], corrected[in_range] = _classify(rr[in_range])
    return _expand_missed(t, rr, codes, corrected)


def correct_series_batch(t_s: np.ndarray, rr_ms: np.ndarray) -> list[CorrectedBeat]:
    """correct_recording as the list of CorrectedBeat that correct_series returns."""
    return correct_recording(t_s, rr_ms).beats()


def _centred(values: np.ndarray, width: int, reduce) -> np.ndarray:
    """reduce(windows) for every beat's `width`-beat window, centred on it and shifted inwards at the
    ends of the series; a series shorter than `width` is one window."""
    n = values.size
    if n <= width:
        return np.broadcast_to(reduce(values[None, :]), (n,))
    per_window = reduce(sliding_window_view(values, width))
    return per_window[np.clip(np.arange(n) - width // 2, 0, n - width)]


def _threshold(values: np.ndarray) -> np.ndarray:
    """ALPHA * quartile deviation of |values| over each beat's HISTORY_BEATS window (floored)."""

    def qd(windows: np.ndarray) -> np.ndarray:
        q1, q3 = np.percentile(windows, [25.0, 75.0], axis=1)
        return np.maximum((q3 - q1) / 2.0, MIN_QD_MS)

    return ALPHA * _centred(np.abs(values), HISTORY_BEATS, qd)


def _subspaces(x: np.ndarray):
    """Per beat: dRR / Th1 with its neighbours (0, "no change", outside the series), the median,
    mRR / Th2 and Th2."""
    n = x.size
    drr = np.empty(n)
    drr[0] = x[0] - np.median(x[:FIRST_REFERENCE_BEATS])
    drr[1:] = np.diff(x)
    dn = drr / _threshold(drr)
    median = _centred(x, MEDIAN_BEATS, lambda w: np.median(w, axis=1))
    mrr = x - median
    mrr[mrr < 0] *= 2.0
    th2 = _threshold(mrr)
    padded = np.concatenate([[0.0], dn, [0.0, 0.0]])
    prev, nxt, nxt2 = padded[:n], padded[2 : n + 2], padded[3 : n + 3]
    return dn, prev, nxt, nxt2, median, mrr / th2, th2


def _ectopic_centre(dn: np.ndarray, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """The ectopic rule (S12), as correction._is_ectopic_centre, for every beat."""
    up = (dn > 1) & (np.maximum(prev, nxt) < -C1 * dn - C2)
    down = (dn < -1) & (np.minimum(prev, nxt) > -C1 * dn + C2)
    return up | down


def _classify(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Verdict codes and corrected RR of in-range beats x (ms), as RRCorrector._classify decides."""
    dn, prev, nxt, nxt2, median, mn, th2 = _subspaces(x)
    centre = _ectopic_centre(dn, prev, nxt)
    big = np.abs(dn) > 1
    ectopic = centre | (big & (dn * nxt < 0) & np.append(centre[1:], False))
    # The batch rule also checks the beat after a large non-ectopic dRR when its own dRR is smaller
    # than the next one's (Lipponen & Tarvainen 2019, fig. 1).
    next_is_larger = np.abs(dn) < np.abs(nxt)
    s22 = np.where(dn >= 0, np.minimum(nxt, nxt2), np.maximum(nxt, nxt2))
    long_ = (dn > 1) & (s22 < -1)
    short = (dn < -1) & (s22 > 1)
    local = _centred(x, 2 * LOCAL_BEATS + 1, lambda w: np.median(w, axis=1))
    deviant = (long_ | short | (np.abs(mn) > 3)) & ~sinus_long(x, median, local)
    next_rr = np.append(x[1:], np.nan)
    extra = short & (np.abs(x + next_rr - median) < th2)
    missed = long_ & (np.abs(x / 2 - median) < th2) & holds_two_beats(x, local) & ~extra
    longshort = np.where(x > median, LONG, SHORT)

    merged = np.zeros(x.size, bool)
    for _ in range(MERGE_ROUNDS):  # a merge cancels the next beat's nomination, which may change its verdict
        nominated = np.concatenate([[False], big[:-1] & ~ectopic[:-1] & ~merged[:-1] & next_is_larger[1:]])
        flagged = ~ectopic & (big | nominated) & deviant
        codes = np.where(flagged, np.where(extra, EXTRA, np.where(missed, MISSED, longshort)), OK)
        codes[ectopic] = ECTOPIC
        now_merged = _merge_extras(codes)
        if np.array_equal(now_merged, merged):
            break
        merged = now_merged
    merged = _merge_extras(codes)  # the merges of the final verdicts
    codes[merged] = EXTRA

    corrected = np.where(codes == OK, x, median)
    corrected[codes == MISSED] = x[codes == MISSED] / 2
    corrected[codes == EXTRA] = np.nan
    corrected[merged] = x[merged] + x[np.flatnonzero(merged) - 1]
    return codes, corrected


def _merge_extras(codes: np.ndarray) -> np.ndarray:
    """Which beats absorb an extra beat before them. Sequential, over the extra beats only: a beat
    merged into its predecessor is no longer an extra beat itself, so it does not merge onwards."""
    merged = np.zeros(codes.size, bool)
    for i in np.flatnonzero(codes == EXTRA).tolist():
        if not merged[i] and i + 1 < codes.size:
            merged[i + 1] = True
    return merged


def _expand_missed(t: np.ndarray, rr: np.ndarray, codes: np.ndarray, corrected: np.ndarray) -> CorrectedSeries:
    """One row per beat, with an inserted beat ahead of every missed one (halfway through its interval)."""
    missed = codes == MISSED
    rows = np.repeat(np.arange(rr.size), np.where(missed, 2, 1))
    inserted = np.zeros(rows.size, bool)
    inserted[np.flatnonzero(missed[rows][1:] & (rows[1:] == rows[:-1]))] = True  # first row of a pair
    t_out = t[rows] - np.where(inserted, rr[rows] / 2000.0, 0.0)
    return CorrectedSeries(t_out, rr[rows], corrected[rows], QUALITIES[codes[rows]], inserted)
