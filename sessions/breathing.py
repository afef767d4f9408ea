"""The breathing guide: a pattern of inhale, hold, exhale and hold, and a pacer that glides between them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tidewell.core.frame_state import BreathStage


@dataclass(frozen=True)
class BreathPattern:
    inhale_s: float
    hold_in_s: float
    exhale_s: float
    hold_out_s: float

    @classmethod
    def from_rate(cls, rate_bpm: float, ratio: float) -> BreathPattern:
        """`ratio` is inhale:exhale, e.g. 0.42 gives about 3 s in and 7 s out at 6 breaths/min."""
        cycle = 60.0 / rate_bpm
        inhale = cycle * ratio / (1.0 + ratio)
        return cls(inhale, 0.0, cycle - inhale, 0.0)

    def at_rate(self, rate_bpm: float) -> BreathPattern:
        """The same shape (proportions of in, hold, out, hold) at another rate."""
        scale = (60.0 / rate_bpm) / self.cycle_s
        return BreathPattern(
            self.inhale_s * scale, self.hold_in_s * scale, self.exhale_s * scale, self.hold_out_s * scale
        )

    @property
    def cycle_s(self) -> float:
        return self.inhale_s + self.hold_in_s + self.exhale_s + self.hold_out_s

    @property
    def rate_bpm(self) -> float:
        return 60.0 / self.cycle_s

    def toward(self, target: BreathPattern, fraction: float) -> BreathPattern:
        mix = lambda a, b: a + (b - a) * fraction  # noqa: E731
        return BreathPattern(
            mix(self.inhale_s, target.inhale_s),
            mix(self.hold_in_s, target.hold_in_s),
            mix(self.exhale_s, target.exhale_s),
            mix(self.hold_out_s, target.hold_out_s),
        )

    def close_to(self, other: BreathPattern, tolerance_s: float = 0.05) -> bool:
        return all(
            abs(a - b) <= tolerance_s
            for a, b in zip(
                (self.inhale_s, self.hold_in_s, self.exhale_s, self.hold_out_s),
                (other.inhale_s, other.hold_in_s, other.exhale_s, other.hold_out_s),
            )
        )

    def stage_at(self, phase: float) -> tuple[BreathStage, float]:
        """The stage at cycle position `phase` (0..1) and the breath level 0..1 there."""
        t = phase * self.cycle_s
        if t < self.inhale_s:
            return BreathStage.INHALE, _ease(t / self.inhale_s)
        t -= self.inhale_s
        if t < self.hold_in_s:
            return BreathStage.HOLD_IN, 1.0
        t -= self.hold_in_s
        if t < self.exhale_s:
            return BreathStage.EXHALE, 1.0 - _ease(t / self.exhale_s)
        return BreathStage.HOLD_OUT, 0.0


def _ease(x: float) -> float:
    """Raised cosine: a breath starts and ends slowly, with no corner in the guide."""
    return 0.5 - 0.5 * math.cos(math.pi * min(max(x, 0.0), 1.0))


class BreathPacer:
    """Advances the breath cycle. A new target is approached one breath at a time, so the pace
    glides over several breaths and the cycle never jumps mid-breath."""

    GLIDE_PER_BREATH = 0.5  # fraction of the remaining difference covered each breath
    MAX_STEP_BPM = 1.0  # and never more than this change of rate from one breath to the next

    def __init__(self, pattern: BreathPattern):
        self.pattern = pattern
        self.target = pattern
        self.phase = 0.0
        self.breaths = 0

    def set_target(self, target: BreathPattern) -> None:
        self.target = target

    def advance(self, dt: float) -> tuple[float, BreathStage, float]:
        self.phase += dt / self.pattern.cycle_s
        while self.phase >= 1.0:
            # Cycle boundary: the level is 0 here, so changing the pattern is seamless.
            self.phase = (self.phase - 1.0) * self._next_cycle_ratio()
            self.breaths += 1
        stage, level = self.pattern.stage_at(self.phase)
        return self.phase, stage, level

    def _glide_fraction(self) -> float:
        current, target = self.pattern.cycle_s, self.target.cycle_s
        if abs(target - current) < 1e-9:
            return self.GLIDE_PER_BREATH
        step = self.MAX_STEP_BPM if self.target.rate_bpm > self.pattern.rate_bpm else -self.MAX_STEP_BPM
        limit_cycle = 60.0 / (self.pattern.rate_bpm + step)
        return min(self.GLIDE_PER_BREATH, (limit_cycle - current) / (target - current))

    def _next_cycle_ratio(self) -> float:
        old_cycle = self.pattern.cycle_s
        if not self.pattern.close_to(self.target):
            self.pattern = self.pattern.toward(self.target, self._glide_fraction())
        else:
            self.pattern = self.target
        return old_cycle / self.pattern.cycle_s
