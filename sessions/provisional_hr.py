"""A provisional heart rate from the raw beats, for the first seconds of a session.

The corrector releases its first verdicts only after a 30-beat warm-up (sensors/correction.py) and
the live HR window needs 10 s of corrected beats after that, so the corrected rate appears 25-30 s
into a session. Until then the therapist sees this one, marked provisional: the median interval of
the in-range raw beats of the last PROVISIONAL_WINDOW_S (the median, so one ectopic or missed beat
does not move it). It is never logged, never feeds calm, pace or alerts, and is not an HRV number.
"""

from __future__ import annotations

import math
from collections import deque

from tidewell.sensors.correction import MAX_RR_MS, MIN_RR_MS

PROVISIONAL_WINDOW_S = 10.0
MIN_PROVISIONAL_BEATS = 3  # the median of three intervals is the first that one bad beat cannot move
STALE_S = 5.0  # no beat for this long: no provisional rate (the sensor went silent)


class ProvisionalHeartRate:
    def __init__(self):
        self._beats: deque[tuple[float, float]] = deque()

    def add(self, t_s: float, rr_ms: float) -> None:
        if math.isfinite(rr_ms) and MIN_RR_MS <= rr_ms <= MAX_RR_MS:
            self._beats.append((t_s, rr_ms))

    def bpm(self, now_s: float) -> float | None:
        while self._beats and self._beats[0][0] < now_s - PROVISIONAL_WINDOW_S:
            self._beats.popleft()
        if len(self._beats) < MIN_PROVISIONAL_BEATS or now_s - self._beats[-1][0] > STALE_S:
            return None
        intervals = sorted(rr for _, rr in self._beats)
        middle = len(intervals) // 2
        median = intervals[middle] if len(intervals) % 2 else (intervals[middle - 1] + intervals[middle]) / 2
        return 60000.0 / median
