"""Intake precautions: a fixed list, each mapped to rules applied to every session of the client,
whatever the program says. apply_precautions() returns the program as it will be played, the rules
the runner and the render hold it to, and one sentence per change for the log, console and report;
a program that cannot be played safely is refused (PrecautionRefusal) with the reason."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from tidewell.core.errors import TidewellError
from tidewell.scenes.catalog import SceneInfo
from tidewell.sessions.breathing import BreathPattern
from tidewell.sessions.precaution_list import (
    AUDIO_LED_BREATH_VOLUME,
    GENTLE_RATIO,
    MOTION_CROSSFADE_FACTOR,
    MOTION_CROSSFADE_MIN_S,
    NO_ADAPTATION,
    PACE_FLOOR_BPM,
    PACE_FLOOR_PRECAUTIONS,
    PRECAUTIONS,
    checked_precautions,
)
from tidewell.sessions.program import Pace, Phase, Program
from tidewell.sessions.resonance import is_assessment
from tidewell.sessions.session_rules import SessionRules

# Scenes tried in this order when one must be replaced (then any other, by id): calm, even light first.
REPLACEMENT_ORDER = ("ember", "room_light", "dusk_ocean", "eyes_closed", "forest_canopy", "aurora_night", "sea_floor")


class PrecautionRefusal(TidewellError):
    """A program that cannot be played safely for this client; the message says why."""


@dataclass(frozen=True)
class Applied:
    program: Program  # as it will be played, with program.rules set
    changes: tuple[str, ...]  # one sentence per change, "precaution: what changed"


def apply_precautions(program: Program, names: Iterable[str], scenes: Mapping[str, SceneInfo]) -> Applied:
    names = checked_precautions(names)
    changes: list[str] = []
    phases = list(program.phases)
    _refuse_unsafe(program, names)
    for name in names:
        for tag in PRECAUTIONS[name].avoid_tags:
            phases = [_without_tag(phase, i, tag, name, names, scenes, changes) for i, phase in enumerate(phases)]
    floor = PACE_FLOOR_BPM if any(n in names for n in PACE_FLOOR_PRECAUTIONS) else None
    if floor is not None:
        which = "/".join(n for n in PACE_FLOOR_PRECAUTIONS if n in names)
        phases = [_gentle_breathing(phase, i, floor, which, changes) for i, phase in enumerate(phases)]
    adapt = not any(n in names for n in NO_ADAPTATION)
    if not adapt:
        which = "/".join(n for n in NO_ADAPTATION if n in names)
        phases = [replace(phase, pace=Pace.FIXED) for phase in phases]
        changes.append(f"{which}: heart-rate adaptation off; every phase breathes at the program's own pace")
    if "motion_sickness" in names:
        phases = [_longer_crossfade(phase) for phase in phases]
        changes.append(
            f"motion_sickness: scenes stand still; crossfades {MOTION_CROSSFADE_FACTOR:g}x, "
            f"at least {MOTION_CROSSFADE_MIN_S:g} s"
        )
    if "photosensitive" in names:
        changes.append("photosensitive: stricter comfort guard (slower light changes, lower contrast)")
    guidance = _guidance(names)
    if guidance == "audio":
        phases = [_breath_sound_led(phase, i, changes) for i, phase in enumerate(phases)]
    rules = SessionRules(
        comfort="photosensitive" if "photosensitive" in names else "standard",
        scene_motion="motion_sickness" not in names,
        guidance=guidance,
        adapt_to_heart=adapt,
        pace_floor_bpm=floor,
        hrv_note="; ".join(NO_ADAPTATION[n] for n in names if n in NO_ADAPTATION) or None,
        changes=tuple(changes),
    )
    return Applied(replace(program, phases=tuple(phases), rules=rules), tuple(changes))


def _refuse_unsafe(program: Program, names: tuple[str, ...]) -> None:
    if not is_assessment(program):
        return
    for name in names:
        if name in PACE_FLOOR_PRECAUTIONS:
            raise PrecautionRefusal(
                f"{program.title} is not safe for this client ({PRECAUTIONS[name].label}): it breathes as slowly "
                f"as {min(p.breathing.rate_bpm for p in program.phases):g}/min by design, and the precaution "
                f"holds breathing at {PACE_FLOOR_BPM:g}/min or faster"
            )
        if name in NO_ADAPTATION:
            raise PrecautionRefusal(
                f"{program.title} cannot be used for this client ({PRECAUTIONS[name].label}): it chooses a pace "
                f"from HRV, which is not interpretable here ({NO_ADAPTATION[name]})"
            )


def _without_tag(
    phase: Phase, index: int, tag: str, name: str, names: tuple[str, ...], scenes: Mapping[str, SceneInfo], changes
) -> Phase:
    info = scenes.get(phase.scene)
    if info is None or tag not in info.tags:
        return phase
    avoided = {t for n in names for t in PRECAUTIONS[n].avoid_tags}
    ordered = sorted(scenes, key=lambda s: (REPLACEMENT_ORDER.index(s) if s in REPLACEMENT_ORDER else 99, s))
    for candidate in ordered:
        other = scenes[candidate]
        if phase.posture in other.postures and not avoided & set(other.tags):
            changes.append(
                f"{name}: phase {index + 1} ({phase.name!r}): scene {phase.scene} ({tag}) replaced by {candidate}"
            )
            return replace(phase, scene=candidate)
    raise PrecautionRefusal(
        f"phase {index + 1} ({phase.name!r}) cannot be shown safely: scene {phase.scene} shows {tag} "
        f"({PRECAUTIONS[name].label}) and no installed scene for the {phase.posture.value} posture is free of "
        f"{', '.join(sorted(avoided))}"
    )


def _gentle_breathing(phase: Phase, index: int, floor: float, which: str, changes) -> Phase:
    pattern = phase.breathing
    ratio = pattern.inhale_s / pattern.exhale_s
    holds = pattern.hold_in_s > 0 or pattern.hold_out_s > 0
    if pattern.rate_bpm >= floor - 1e-9 and ratio >= GENTLE_RATIO - 1e-9 and not holds:
        return phase
    gentle = BreathPattern.from_rate(max(pattern.rate_bpm, floor), max(ratio, GENTLE_RATIO))
    changes.append(
        f"{which}: phase {index + 1} ({phase.name!r}): breathing {_describe(pattern)} -> {_describe(gentle)}"
    )
    return replace(phase, breathing=gentle, resonance=False)


def _describe(pattern: BreathPattern) -> str:
    holds = (
        f", holds {pattern.hold_in_s:.1f}/{pattern.hold_out_s:.1f} s" if pattern.hold_in_s or pattern.hold_out_s else ""
    )
    return f"{pattern.rate_bpm:.1f}/min, in {pattern.inhale_s:.1f} s out {pattern.exhale_s:.1f} s{holds}"


def _longer_crossfade(phase: Phase) -> Phase:
    return replace(phase, crossfade_s=max(phase.crossfade_s * MOTION_CROSSFADE_FACTOR, MOTION_CROSSFADE_MIN_S))


def _guidance(names: tuple[str, ...]) -> str:
    hearing, vision = "hearing_impaired" in names, "low_vision" in names
    if hearing == vision:
        return "both"
    return "visual" if hearing else "audio"


def _breath_sound_led(phase: Phase, index: int, changes) -> Phase:
    layers = dict(phase.audio)
    if layers.get("breath", 0.0) >= AUDIO_LED_BREATH_VOLUME:
        return phase
    changes.append(
        f"low_vision: phase {index + 1} ({phase.name!r}): breathing sound {layers.get('breath', 0.0):g} -> "
        f"{AUDIO_LED_BREATH_VOLUME:g}"
    )
    layers["breath"] = AUDIO_LED_BREATH_VOLUME
    return replace(phase, audio=tuple(layers.items()))


EYES_CLOSED_SCENE = "eyes_closed"


def eyes_closed_variant(program: Program) -> Program:
    """Every phase in the eyes-closed scene (the course suggests it after a high cybersickness score)."""
    return replace(program, phases=tuple(replace(p, scene=EYES_CLOSED_SCENE) for p in program.phases))


def program_for_client(program: Program, client, intake, scenes: Mapping[str, SceneInfo], eyes_closed=False) -> Program:
    """The program as a session plays it for this client (the engine at the start, the console's preview):
    the eyes-closed variant if asked, the client's resonance pace where the program asks for it (client:
    the store's row, or None), then the precautions of the intake (a store Intake, or None), whose
    changes are in the result's rules. PrecautionRefusal where it cannot be played safely."""
    if eyes_closed:
        program = eyes_closed_variant(program)
    if uses_resonance(program, client):
        program = program.for_client(client["resonance_bpm"])
    if intake is None or not intake.precautions:
        return program
    return apply_precautions(program, intake.precautions, scenes).program


def uses_resonance(program: Program, client) -> bool:
    """The program asks for the client's resonance pace and an assessment found one (client: the store's row)."""
    return client is not None and bool(client["resonance_bpm"]) and any(p.resonance for p in program.phases)
