"""The fixed list of intake precautions, with what each makes Tidewell do (sessions/precautions.py applies them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tidewell.core.errors import TidewellError

PACE_FLOOR_BPM = 6.0  # respiratory, pregnancy, post-surgical: never slower than 6 breaths/min ...
GENTLE_RATIO = 1 / 1.5  # ... no holds, and the exhale at most 1.5 times the inhale
MOTION_CROSSFADE_FACTOR = 2.0  # motion sickness: crossfades twice as long ...
MOTION_CROSSFADE_MIN_S = 20.0  # ... and never shorter than this
AUDIO_LED_BREATH_VOLUME = 0.8  # low vision: the breathing sound at least this loud in every phase


PACE_FLOOR_RULE = f"breathing never slower than {PACE_FLOOR_BPM:g}/min, no breath holds, exhale at most 1.5x the inhale"
NO_ADAPTATION_RULE = "heart-rate adaptation off (the program's own paces and a neutral scene); HRV not interpretable"


@dataclass(frozen=True)
class Precaution:
    name: str
    label: str
    rule: str  # what Tidewell does about it, as the console and the report say it
    avoid_tags: tuple[str, ...] = ()


PRECAUTIONS: dict[str, Precaution] = {
    p.name: p
    for p in (
        Precaution(
            "photosensitive",
            "photosensitive (epilepsy, migraine)",
            "stricter comfort guard: luminance low-passed with 1.0 s instead of 0.5 s (a 3 Hz flicker reaches the "
            "eye at 5% instead of 10%), contrast held to 60% around the frame's mean, "
            "the picture at 80% brightness; scenes with stripe-like patterns replaced",
            ("patterned",),
        ),
        Precaution(
            "motion_sickness",
            "motion sickness",
            "no scene motion beyond the head's own (scenes stand still, only the breath light swells); "
            f"crossfades {MOTION_CROSSFADE_FACTOR:g}x as long, at least {MOTION_CROSSFADE_MIN_S:g} s",
        ),
        Precaution("fear_of_water", "fear of water", "scenes showing water replaced", ("water",)),
        Precaution("claustrophobia", "claustrophobia", "scenes showing enclosed spaces replaced", ("enclosed",)),
        Precaution("fear_of_heights", "fear of heights", "scenes showing heights or depths replaced", ("heights",)),
        Precaution("fear_of_dark", "fear of the dark", "dark scenes replaced", ("dark",)),
        Precaution(
            "respiratory",
            "respiratory (asthma, COPD)",
            PACE_FLOOR_RULE,
        ),
        Precaution(
            "pregnancy",
            "pregnancy",
            PACE_FLOOR_RULE,
        ),
        Precaution(
            "post_surgical",
            "post-surgical",
            PACE_FLOOR_RULE,
        ),
        Precaution(
            "arrhythmia_or_pacemaker",
            "arrhythmia or pacemaker",
            NO_ADAPTATION_RULE,
        ),
        Precaution(
            "beta_blockers",
            "beta blockers",
            NO_ADAPTATION_RULE,
        ),
        Precaution(
            "hearing_impaired",
            "hearing impaired",
            "visual guidance: scenes whose guide is mainly heard are replaced",
            ("audio_led",),
        ),
        Precaution(
            "low_vision",
            "low vision",
            f"audio-led guidance: the breathing sound at least {AUDIO_LED_BREATH_VOLUME:g} in every phase",
        ),
    )
}
PACE_FLOOR_PRECAUTIONS = ("respiratory", "pregnancy", "post_surgical")
NO_ADAPTATION = {
    "arrhythmia_or_pacemaker": "arrhythmia or pacemaker: RMSSD, SDNN and the spectrum follow the rhythm disorder or "
    "the pacemaker, not vagal tone",
    "beta_blockers": "beta blockers blunt heart-rate responses and raise HRV",
}


class PrecautionError(TidewellError, ValueError):
    """A precaution that is not on the list; the message lists the known ones."""


def checked_precautions(names: Iterable[str]) -> tuple[str, ...]:
    """Known names, each once, in the list's order; PrecautionError names an unknown one."""
    names = list(names)
    for name in names:
        if name not in PRECAUTIONS:
            raise PrecautionError(f"unknown precaution {name!r}: expected one of {', '.join(PRECAUTIONS)}")
    return tuple(name for name in PRECAUTIONS if name in names)


def hrv_note(precaution_details: Iterable[str]) -> str | None:
    """Why a session's HRV is not interpretable, from the precaution events it logged; None when it is."""
    details = list(precaution_details)
    notes = [reason for name, reason in NO_ADAPTATION.items() if any(d.startswith(name) for d in details)]
    return "; ".join(notes) or None
