"""Streaming beat cleaning: which RR intervals are NN intervals fit for metrics."""
from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from typing import Literal

from tidewell.sensors.source import RawRR

Quality = Literal["ok", "out_of_range", "ectopic"]


@dataclass(frozen=True, slots=True)
class Beat:
    t_s: float
    rr_ms: float
    quality: Quality

    @property
    def is_nn(self) -> bool:
        return self.quality == "ok"


class BeatCleaner:
    """A minimal streaming rule, one beat at a time and without look-ahead.

    - RR outside min_rr_ms..max_rr_ms (273-2000 ms, 30-220 bpm) is not a beat: "out_of_range".
    - RR more than max_deviation (20%) from the median of the previous `window` (11) accepted
      beats is "ectopic" (this flags both the premature beat and its compensatory pause).
    The first `warmup` beats in range are accepted unjudged: a median of fewer is no reference.
    When `relearn_after` (5) deviating beats in a row agree with each other, the rhythm itself
    has changed (e.g. the client turned over): the fifth is accepted and the reference restarts
    from them, so one odd beat early on cannot lock the cleaner out for the rest of the session.

    This is not the Kubios-style correction (Lipponen & Tarvainen 2019: thresholds from the
    quartile deviation, classes ectopic/long/short/missed/extra, interpolation); that comes in a
    later issue. Nothing is corrected or interpolated here: rejected beats just break NN pairs.
    """

    def __init__(
        self,
        min_rr_ms: float = 273.0,
        max_rr_ms: float = 2000.0,
        max_deviation: float = 0.20,
        window: int = 11,
        warmup: int = 3,
        relearn_after: int = 5,
    ):
        if warmup < 1 or relearn_after < 2 or window < warmup:
            raise ValueError("need 1 <= warmup <= window and relearn_after >= 2")
        self.min_rr_ms, self.max_rr_ms, self.max_deviation = min_rr_ms, max_rr_ms, max_deviation
        self.warmup = warmup
        self._accepted: deque[float] = deque(maxlen=window)
        self._rejected_run: deque[float] = deque(maxlen=relearn_after - 1)

    def push(self, raw: RawRR) -> Beat:
        rr = raw.rr_ms
        if not self.min_rr_ms <= rr <= self.max_rr_ms:
            return Beat(raw.t_s, rr, "out_of_range")
        if len(self._accepted) >= self.warmup and self._deviates(rr, self._accepted):
            run = self._rejected_run
            if len(run) < run.maxlen or self._deviates(rr, run):
                run.append(rr)
                return Beat(raw.t_s, rr, "ectopic")
            self._accepted.clear()  # a new rhythm: the beats it rejected become the reference
            self._accepted.extend(run)
        self._accepted.append(rr)
        self._rejected_run.clear()
        return Beat(raw.t_s, rr, "ok")

    def _deviates(self, rr: float, reference_beats: deque[float]) -> bool:
        reference = statistics.median(reference_beats)
        return abs(rr - reference) > self.max_deviation * reference
