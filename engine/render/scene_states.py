"""Still frame states for previews, renders, thumbnails and golden images, and the `--state` and
`--size` texts that describe them."""

from __future__ import annotations

import math
from dataclasses import replace

from tidewell.core.errors import UsageError
from tidewell.core.frame_state import BreathStage, FrameState, Posture
from tidewell.scenes.catalog import FLOAT_FIELDS

STATE_ALIASES = {"breath": "breath_level", "t": "t_s", "time": "t_s"}
STATE_LIMIT = 1e6  # --state values: finite, and small enough for a shader's float arithmetic
MAX_SIDE = 8192  # pixels, each way


def scene_state(
    scene: str,
    posture: Posture | str = Posture.SEATED,
    *,
    t_s: float = 10.0,
    breath: float = 0.5,
    calm: float = 0.5,
    fade: float = 1.0,
    **fields,
) -> FrameState:
    """A still frame state for previews, renders and golden images."""
    state = FrameState(
        t_s=t_s,
        phase_index=0,
        phase_name="preview",
        phase_elapsed_s=t_s,
        phase_progress=0.5,
        breath_phase=0.25,
        breath_stage=BreathStage.INHALE,
        breath_level=breath,
        pace_bpm=6.0,
        calm=calm,
        posture=Posture(posture),
        scene=scene,
        previous_scene=None,
        crossfade=1.0,
        fade=fade,
    )
    return replace(state, **fields) if fields else state


def parse_state(text: str | None) -> dict[str, float]:
    """ "calm=0.8,breath=0.3" -> {"calm": 0.8, "breath_level": 0.3}; raises UsageError (a ValueError)
    with the reason."""
    values: dict[str, float] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, equals, number = item.partition("=")
        name = STATE_ALIASES.get(name.strip(), name.strip())
        if not equals:
            raise UsageError(f"--state: expected name=value pairs like calm=0.8,breath=0.3, got {item.strip()!r}")
        if name not in FLOAT_FIELDS:
            raise UsageError(f"--state: unknown field {name!r}: expected one of breath, t, {', '.join(FLOAT_FIELDS)}")
        try:
            value = float(number)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or abs(value) > STATE_LIMIT:
            raise UsageError(
                f"--state: {name} expected a number from -{STATE_LIMIT:g} to {STATE_LIMIT:g}, got {number.strip()!r}"
            )
        values[name] = value
    return values


def state_keywords(fields: dict[str, float]) -> dict:
    """parse_state's FrameState fields as scene_state's keywords."""
    renamed = {"t_s": "t_s", "breath_level": "breath", "calm": "calm", "fade": "fade"}
    keywords = {renamed.get(name, name): value for name, value in fields.items()}
    if "t_s" in fields:
        keywords.setdefault("phase_elapsed_s", fields["t_s"])
    return keywords


def parse_size(text: str) -> tuple[int, int]:
    """ "960x540" -> (960, 540); raises UsageError (a ValueError) with the reason."""
    width, x, height = text.lower().partition("x")
    try:
        size = (int(width), int(height)) if x else None
    except ValueError:
        size = None
    if size is None or not all(0 < v <= MAX_SIDE for v in size):
        raise UsageError(f"--size: expected WIDTHxHEIGHT like 960x540 (1..{MAX_SIDE} each), got {text!r}")
    return size
