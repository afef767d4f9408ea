"""Adaptation: turns live heart metrics into a calm index relative to this client's own baseline."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass
class Baseline:
    hr_bpm: float
    rmssd_ms: float | None


class CalmEstimator:
    """calm = 0.5 + HR drop below baseline (2 per unit of relative drop) + RMSSD rise (0.25 per
    doubling), clipped to 0..1 and smoothed with a `smoothing_s` time constant, so visuals and
    sound drift instead of jumping. Before a baseline exists calm rests at `neutral`. The baseline is
    the baseline phase's HR and RMSSD as every per-phase table shows them (sessions/hrv.span_hrv)."""

    def __init__(self, neutral: float = 0.4, smoothing_s: float = 20.0):
        self.neutral = neutral
        self.smoothing_s = smoothing_s
        self.calm = neutral
        self.baseline: Baseline | None = None  # set by the runner when the baseline phase is measured

    def target(self, hr_bpm: float | None, rmssd_ms: float | None) -> float:
        if self.baseline is None or hr_bpm is None:
            return self.neutral
        score = 0.5 + 2.0 * (self.baseline.hr_bpm - hr_bpm) / self.baseline.hr_bpm
        if rmssd_ms and self.baseline.rmssd_ms:
            score += 0.25 * math.log2(rmssd_ms / self.baseline.rmssd_ms)
        return min(max(score, 0.0), 1.0)

    def update(self, dt: float, hr_bpm: float | None, rmssd_ms: float | None, hold: bool = False) -> float:
        """`hold` keeps the last value, e.g. while the sensor is gone."""
        if not hold:
            alpha = 1.0 - math.exp(-dt / self.smoothing_s)
            self.calm += (self.target(hr_bpm, rmssd_ms) - self.calm) * alpha
        return self.calm


class HeartRateTrend:
    """Is HR rising? Compares the newest HR with the lowest of the last `window_s` seconds."""

    def __init__(self, window_s: float = 30.0, rise_bpm: float = 3.0):
        self.window_s = window_s
        self.rise_bpm = rise_bpm
        self._history: deque[tuple[float, float]] = deque()
        self._last_t = -1e9

    def update(self, now: float, hr_bpm: float | None) -> bool:
        if hr_bpm is not None and now - self._last_t >= 1.0:  # one sample a second is plenty
            self._history.append((now, hr_bpm))
            self._last_t = now
        while self._history and self._history[0][0] < now - self.window_s:
            self._history.popleft()
        if len(self._history) < 2:
            return False
        return self._history[-1][1] - min(hr for _, hr in self._history) >= self.rise_bpm


class AdaptivePace:
    """The breathing guide's rate. During the baseline phase it follows the client's own breathing
    (estimated from RSA) so the guide starts where the client is; afterwards it slows toward the
    phase's target by at most SLOWING_BPM_PER_MIN and holds while HR rises. Toward a faster target
    (reorienting) it moves at up to SPEEDING_BPM_PER_MIN. Rates stay within MIN_BPM..MAX_BPM."""

    SLOWING_BPM_PER_MIN = 0.5
    SPEEDING_BPM_PER_MIN = 2.0
    FOLLOW_BPM_PER_MIN = 2.0
    MIN_BPM, MAX_BPM = 4.0, 14.0

    def __init__(self, start_bpm: float, floor_bpm: float | None = None):
        """floor_bpm: never slower than this (a client's precaution), whatever the client breathes."""
        self.floor_bpm = floor_bpm or 0.0
        self.min_bpm = max(self.MIN_BPM, self.floor_bpm)
        self.rate = max(start_bpm, self.floor_bpm)

    def follow_client(self, dt: float, breath_rate_bpm: float | None) -> float:
        if breath_rate_bpm is not None:
            goal = min(max(breath_rate_bpm, self.min_bpm), self.MAX_BPM)
            self._move(goal, dt, self.FOLLOW_BPM_PER_MIN, self.FOLLOW_BPM_PER_MIN)
        return self.rate

    def toward(self, dt: float, target_bpm: float, hr_rising: bool) -> float:
        slowing = 0.0 if hr_rising else self.SLOWING_BPM_PER_MIN
        self._move(max(target_bpm, self.floor_bpm), dt, slowing, self.SPEEDING_BPM_PER_MIN)
        return self.rate

    def _move(self, goal: float, dt: float, down_per_min: float, up_per_min: float) -> None:
        if goal < self.rate:
            self.rate = max(goal, self.rate - down_per_min * dt / 60.0)
        else:
            self.rate = min(goal, self.rate + up_per_min * dt / 60.0)
