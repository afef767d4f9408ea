"""The files of an imported scene folder besides its media: scene.toml, thumbnail.png and the palette
(engine/scenes_import.py writes them)."""

from __future__ import annotations

import json

import numpy as np

THUMBNAIL_SIZE = (320, 180)
THUMBNAIL_VIEW_DEG = 120.0  # the thumbnail shows this much of the forward view, across
PALETTE_COLOURS = 5
PALETTE_MIN_SHARE = 0.03  # a colour covering less of the picture than this is left out


def palette(picture: np.ndarray) -> list[str]:
    """Up to PALETTE_COLOURS "#rrggbb" colours of the picture (median cut), dark to light."""
    from PIL import Image

    small = Image.fromarray(np.ascontiguousarray(picture)).resize((128, 64), Image.BOX)
    quantized = small.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT)
    entries = quantized.getpalette() or []
    total = small.width * small.height
    colours = []
    for count, index in sorted(quantized.getcolors() or [], reverse=True):
        if count >= PALETTE_MIN_SHARE * total or not colours:
            colours.append(tuple(entries[3 * index : 3 * index + 3]))
    colours.sort(key=lambda c: 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])
    return list(dict.fromkeys("#{:02x}{:02x}{:02x}".format(*c) for c in colours))[:8]


def thumbnail(picture: np.ndarray, yaw_deg: float) -> bytes:
    """thumbnail.png: THUMBNAIL_VIEW_DEG of the forward view (yaw_deg ahead), around the horizon."""
    import io

    from PIL import Image

    height, width = picture.shape[:2]
    ahead = int(round((0.5 + yaw_deg / 360.0) * width))
    centred = np.roll(picture, width // 2 - ahead, axis=1)
    crop_w = max(2, int(width * THUMBNAIL_VIEW_DEG / 360.0))
    crop_h = max(2, min(height, int(crop_w * THUMBNAIL_SIZE[1] / THUMBNAIL_SIZE[0] * (height * 2 / width))))
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    view = Image.fromarray(np.ascontiguousarray(centred[top : top + crop_h, left : left + crop_w]))
    buffer = io.BytesIO()
    view.resize(THUMBNAIL_SIZE, Image.LANCZOS).save(buffer, format="PNG")
    return buffer.getvalue()


def scene_toml(scene: dict) -> str:
    lines = []
    for key, value in scene.items():
        if isinstance(value, dict):
            text = "{ " + ", ".join(f"{k} = {v:g}" for k, v in value.items()) + " }"
        else:
            text = _toml_value(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):  # a JSON string is a TOML basic string, once DEL is escaped too
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return repr(value)
