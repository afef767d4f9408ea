"""What a client's precautions hold every session to, whatever the program says (sessions/precautions.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionRules:
    comfort: str = "standard"  # the render's comfort guard profile (core.constants.COMFORT_PROFILES)
    scene_motion: bool = True  # False: scenes' own motion stands still
    guidance: str = "both"  # core.constants.GUIDANCE
    adapt_to_heart: bool = True  # False: calm rests at neutral and the pace follows the program only
    pace_floor_bpm: float | None = None  # the guide never breathes slower than this
    hrv_note: str | None = None  # why the session's HRV numbers are not interpretable, where they are not
    changes: tuple[str, ...] = ()  # what the precautions changed, one sentence each: logged as the session starts

    @property
    def hrv_interpretable(self) -> bool:
        return self.hrv_note is None
