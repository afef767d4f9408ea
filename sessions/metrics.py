"""Heart-rate and HRV time-domain metrics (formulas in shared/science.md).

The pure functions take one uninterrupted run of NN intervals in ms: every successive
difference they form is taken to be a real pair of adjacent beats.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tidewell.sensors.correction import CorrectedBeat

NN = Sequence[float] | np.ndarray
MIN_HR_BEATS = 3  # ok beats in the HR window for a valid live HR
MIN_RMSSD_PAIRS = 10  # adjacent NN pairs in the RMSSD window for a valid live RMSSD


def mean_hr_bpm(nn: NN) -> float | None:
    """60000 / mean(NN) (not the mean of beat-by-beat HR); None for no values."""
    nn = np.asarray(nn, dtype=float)
    return float(60000.0 / nn.mean()) if nn.size >= 1 else None


def rmssd_ms(nn: NN) -> float | None:
    """sqrt(mean(diff(NN)^2)); None for fewer than 2 values."""
    nn = np.asarray(nn, dtype=float)
    return float(np.sqrt(np.mean(np.diff(nn) ** 2))) if nn.size >= 2 else None


def sdnn_ms(nn: NN) -> float | None:
    """Sample standard deviation (ddof=1); None for fewer than 2 values."""
    nn = np.asarray(nn, dtype=float)
    return float(np.std(nn, ddof=1)) if nn.size >= 2 else None


def pnn50(nn: NN) -> float | None:
    """Percent (0-100) of successive differences over 50 ms, denominator N-1 (neurokit2 uses N);
    None for fewer than 2 values."""
    nn = np.asarray(nn, dtype=float)
    return float(100.0 * np.mean(np.abs(np.diff(nn)) > 50.0)) if nn.size >= 2 else None


@dataclass(frozen=True, slots=True)
class LiveMetrics:
    hr_bpm: float | None  # None when the HR window holds no NN beat
    hr_valid: bool
    rmssd_ms: float | None  # None when the RMSSD window holds no NN pair
    rmssd_valid: bool
    artifact_fraction: float  # rejected / all beats in the RMSSD window; 0 when empty


class RollingMetrics:
    """Live HR and RMSSD over trailing time windows (now_s - window, now_s].

    A window is valid once data has run for the whole window since the first beat and the
    window holds enough beats (MIN_HR_BEATS ok beats, MIN_RMSSD_PAIRS NN pairs).
    Metrics use the corrected series (corrected_rr_ms), as Kubios does; a beat with no corrected
    value (an extra beat merged away, out of range) breaks the chain of successive differences.
    The artifact fraction counts every beat that was not "ok" as received.
    Running sums over deques keep add() and snapshot() O(1) amortised, cheap enough for
    every frame. Beats must arrive in time order and snapshot times must not go backwards.
    """

    def __init__(self, hr_window_s: float = 10.0, rmssd_window_s: float = 60.0):
        self.hr_window_s, self.rmssd_window_s = hr_window_s, rmssd_window_s
        self._first_t_s: float | None = None
        self._previous: float | None = None  # corrected RR of the previous beat, None after a gap
        self._nn: deque[tuple[float, float]] = deque()  # (t_s, rr_ms) of ok beats
        self._nn_sum = 0.0
        self._sq_diffs: deque[tuple[float, float]] = deque()  # (t_s of the later beat, diff^2)
        self._sq_sum = 0.0
        self._all: deque[tuple[float, bool]] = deque()  # (t_s, rejected) of every beat
        self._rejected = 0

    def add(self, beat: CorrectedBeat) -> None:
        if self._first_t_s is None:
            self._first_t_s = beat.t_s
        artifact = beat.quality != "ok"
        self._all.append((beat.t_s, artifact))
        self._rejected += artifact
        rr = beat.corrected_rr_ms
        if rr is not None:
            self._nn.append((beat.t_s, rr))
            self._nn_sum += rr
            if self._previous is not None:
                sq = (rr - self._previous) ** 2
                self._sq_diffs.append((beat.t_s, sq))
                self._sq_sum += sq
        self._previous = rr
        self._evict(beat.t_s)

    def snapshot(self, now_s: float) -> LiveMetrics:
        self._evict(now_s)
        elapsed = now_s - self._first_t_s if self._first_t_s is not None else -1.0
        hr = 60000.0 * len(self._nn) / self._nn_sum if self._nn else None
        rmssd = (max(self._sq_sum, 0.0) / len(self._sq_diffs)) ** 0.5 if self._sq_diffs else None
        return LiveMetrics(
            hr_bpm=hr,
            hr_valid=elapsed >= self.hr_window_s and len(self._nn) >= MIN_HR_BEATS,
            rmssd_ms=rmssd,
            rmssd_valid=elapsed >= self.rmssd_window_s and len(self._sq_diffs) >= MIN_RMSSD_PAIRS,
            artifact_fraction=self._rejected / len(self._all) if self._all else 0.0,
        )

    def _evict(self, now_s: float) -> None:
        hr_cut, rmssd_cut = now_s - self.hr_window_s, now_s - self.rmssd_window_s
        while self._nn and self._nn[0][0] <= hr_cut:
            self._nn_sum -= self._nn.popleft()[1]
        while self._sq_diffs and self._sq_diffs[0][0] <= rmssd_cut:
            self._sq_sum -= self._sq_diffs.popleft()[1]
        while self._all and self._all[0][0] <= rmssd_cut:
            self._rejected -= self._all.popleft()[1]
        if not self._nn:
            self._nn_sum = 0.0  # drop accumulated rounding once a window empties
        if not self._sq_diffs:
            self._sq_sum = 0.0
