"""Adaptation: turns live heart metrics into a calm index relative to this client's own baseline."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Baseline:
    hr_bpm: float
    rmssd_ms: float | None


class CalmEstimator:
    """calm = 0.5 + HR drop below baseline (4 per unit of relative drop) + RMSSD rise (0.25 per
    doubling), clipped to 0..1 and smoothed with a `smoothing_s` time constant, so visuals and
    sound drift instead of jumping. Before a baseline exists calm rests at `neutral`."""

    def __init__(self, neutral: float = 0.4, smoothing_s: float = 20.0):
        self.neutral = neutral
        self.smoothing_s = smoothing_s
        self.calm = neutral
        self.baseline: Baseline | None = None
        self._hr_sum = 0.0
        self._rmssd_sum = 0.0
        self._hr_n = 0
        self._rmssd_n = 0

    def collect_baseline(self, hr_bpm: float | None, rmssd_ms: float | None) -> None:
        if hr_bpm is not None:
            self._hr_sum += hr_bpm
            self._hr_n += 1
        if rmssd_ms is not None:
            self._rmssd_sum += rmssd_ms
            self._rmssd_n += 1

    def close_baseline(self) -> Baseline | None:
        if self.baseline is None and self._hr_n:
            rmssd = self._rmssd_sum / self._rmssd_n if self._rmssd_n else None
            self.baseline = Baseline(self._hr_sum / self._hr_n, rmssd)
        return self.baseline

    def target(self, hr_bpm: float | None, rmssd_ms: float | None) -> float:
        if self.baseline is None or hr_bpm is None:
            return self.neutral
        score = 0.5 + 4.0 * (self.baseline.hr_bpm - hr_bpm) / self.baseline.hr_bpm
        if rmssd_ms and self.baseline.rmssd_ms:
            score += 0.25 * math.log2(rmssd_ms / self.baseline.rmssd_ms)
        return min(max(score, 0.0), 1.0)

    def update(self, dt: float, hr_bpm: float | None, rmssd_ms: float | None, hold: bool = False) -> float:
        """`hold` keeps the last value, e.g. while the sensor is gone."""
        if not hold:
            alpha = 1.0 - math.exp(-dt / self.smoothing_s)
            self.calm += (self.target(hr_bpm, rmssd_ms) - self.calm) * alpha
        return self.calm
