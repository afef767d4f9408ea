"""The therapist's alert: heart rate well above the client's baseline during deep work, for a while."""

from __future__ import annotations

from tidewell.sessions.adaptation import Baseline
from tidewell.sessions.program import Phase, PhaseKind

ALERT_SUSTAIN_S = 10.0  # HR must stay high this long before an alert
ALERT_COOLDOWN_S = 120.0


class DeepWorkAlert:
    """HR well above baseline during deep work may mean guarding or pain: tell the therapist."""

    def __init__(self, rise_bpm: float):
        self.rise_bpm = rise_bpm
        self._high_since: float | None = None
        self._quiet_until = 0.0

    def check(self, now: float, hr: float | None, baseline: Baseline | None, phase: Phase, marker: str | None):
        """The alert's text when one is due now, else None."""
        if (
            phase.kind is not PhaseKind.DEEP_WORK
            or baseline is None
            or hr is None
            or hr - baseline.hr_bpm < self.rise_bpm
        ):
            self._high_since = None
            return None
        if self._high_since is None:
            self._high_since = now
        if now - self._high_since < ALERT_SUSTAIN_S or now < self._quiet_until:
            return None
        self._quiet_until = now + ALERT_COOLDOWN_S
        last = f"; last marker: {marker}" if marker else ""
        return (
            f"HR {hr:.0f} bpm, {hr - baseline.hr_bpm:+.0f} over baseline {baseline.hr_bpm:.0f} in {phase.name!r}{last}"
        )
