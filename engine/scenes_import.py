"""`tidewell scenes import FILE --id NAME`: a panorama scene folder from a 360-degree photo or video.

It checks the file (readable, its aspect fits the layout), measures it against the comfort rules
(scenes/media_probe.py, scenes/media_comfort.py: warnings, never a refusal), and writes the folder
(the media copied in, thumbnail.png, scene.toml) into a temporary folder beside the destination,
which takes its place only once the catalog has loaded the scene from it. Whatever the author
can get wrong is one line and exit 2 (a UsageError or another TidewellError), with nothing written.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from tidewell.core.data_folder import imported_scenes_folder
from tidewell.core.errors import OutputFileError, UsageError
from tidewell.core.frame_state import Posture
from tidewell.core.private_files import new_private_folder, private_folder, replacing
from tidewell.scenes.catalog import SCENES_FOLDER, USER, USER_SCENES_ENV, load_scene, user_scene_folders
from tidewell.scenes.media_comfort import comfort_warnings, figures, is_dark, summary
from tidewell.scenes.media_probe import MAX_MEASURED_S, Footage, MediaHeader, clock, left_eye, measure, read_header
from tidewell.scenes.panorama_spec import (
    ASPECT_TOLERANCE,
    IMAGE_SUFFIXES,
    LAYOUT_ASPECTS,
    MIN_EYE_HEIGHT,
    RATIO_TEXT,
    VIDEO_SUFFIXES,
    layout_problem,
)

SCENE_ID = re.compile(r"^[a-z0-9_]{1,64}$")
RESERVED_IDS = ("common",)  # the catalog's folder of shared shaders, never a scene
DEFAULT_POSTURES = ("prone", "supine", "seated")
DEFAULT_AUDIO = {"drone": 0.3, "breath": 0.6}  # quiet: the picture is the scene
THUMBNAIL_SIZE = (320, 180)
THUMBNAIL_VIEW_DEG = 120.0  # the thumbnail shows this much of the forward view, across
PALETTE_COLOURS = 5
PALETTE_MIN_SHARE = 0.03  # a colour covering less of the picture than this is left out
TEXTURE_LIMIT = 16384  # GL_MAX_TEXTURE_SIZE of most desktop GPUs (8192 on some)
LAYOUT_HINTS = {
    "top-bottom": "--layout top-bottom (1:1, left eye on top)",
    "side-by-side": "--layout side-by-side (4:1, left eye left)",
    "mono": "--layout mono (2:1)",
}


def scenes_import(
    file: str | Path,
    scene_id: str,
    layout: str = "mono",
    yaw_deg: float = 0.0,
    title: str | None = None,
    postures: str | None = None,
    into: str | Path | None = None,
    force: bool = False,
) -> int:
    """Makes the scene folder and prints what it measured and where it wrote; warnings on stderr."""
    source, is_video = checked_source(Path(file))
    checked_options(scene_id, layout, yaw_deg)
    chosen = checked_postures(postures)
    parent, hint = destination(into)
    target = parent / scene_id
    checked_target(target, force)
    header = read_header(source, is_video)
    checked_size(header, layout)
    footage = measure(header, layout)
    warnings = size_warnings(header) + comfort_warnings(footage)
    print(f"measured {source.name}: {_what(header, layout)}; {_measured_part(footage)}")
    for line in figures(footage):
        print(f"  {line}")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    scene = {
        "id": scene_id,
        "title": (title or _title_from(source)).strip() or scene_id,
        "description": description(footage, layout),
        "kind": "panorama",
        "video" if is_video else "image": scene_id + source.suffix.lower(),
        "layout": layout,
        "yaw_deg": float(yaw_deg),
        "postures": list(chosen),
        "tags": ["dark"] if is_dark(footage) else [],
        "palette": palette(left_eye(footage.picture, layout)),
        "audio": dict(DEFAULT_AUDIO),
    }
    write_scene(target, source, scene, thumbnail(left_eye(footage.picture, layout), yaw_deg), force)
    print(f"wrote {target.absolute()} (scene.toml, {scene['video' if is_video else 'image']}, thumbnail.png)")
    tags = ", ".join(scene["tags"]) or "none"
    print(f"  tags: {tags} (add water, enclosed, heights or patterned to scene.toml if it shows them)")
    if hint:
        print(f"the catalog reads the scene folders named in {USER_SCENES_ENV}; to use this one:\n  {hint}")
    print(f"check it: tidewell scenes render {target.absolute()} --out {scene_id}.png --eye both")
    return 0


def checked_source(path: Path) -> tuple[Path, bool]:
    """(the file, whether it is a video) or UsageError saying what it is instead."""
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: a folder, not a photo or video file")
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
        raise UsageError(
            f"{path}: unsupported file type {suffix or '(no extension)'!r}: expected a photo "
            f"({', '.join(IMAGE_SUFFIXES)}) or a video ({', '.join(VIDEO_SUFFIXES)})"
        )
    if not os.access(path, os.R_OK):
        raise UsageError(f"{path}: cannot read it (permission denied)")
    return path, suffix in VIDEO_SUFFIXES


def checked_options(scene_id: str, layout: str, yaw_deg: float) -> None:
    if not SCENE_ID.match(scene_id) or scene_id in RESERVED_IDS:
        raise UsageError(
            f"--id: expected a folder name of 1 to 64 lower-case letters, digits and _ (not 'common'), got {scene_id!r}"
        )
    if layout not in LAYOUT_ASPECTS:
        raise UsageError(f"--layout: expected one of {', '.join(LAYOUT_ASPECTS)}, got {layout!r}")
    if not math.isfinite(yaw_deg) or not -360.0 <= yaw_deg <= 360.0:
        raise UsageError(f"--yaw: expected degrees from -360 to 360, got {yaw_deg}")


def checked_postures(text: str | None) -> tuple[str, ...]:
    if text is None:
        return DEFAULT_POSTURES
    known = [p.value for p in Posture]
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    if not chosen or any(p not in known for p in chosen):
        raise UsageError(f"--postures: expected a comma-separated list drawn from {', '.join(known)}, got {text!r}")
    return tuple(dict.fromkeys(chosen))


def destination(into: str | Path | None) -> tuple[Path, str | None]:
    """(the folder of scene folders to write into, the shell line that puts it on the catalog's
    path, None when it is on it): --into, else the first TIDEWELL_SCENES_DIR folder, else the data
    folder's scenes/ (which the catalog reads)."""
    folders = user_scene_folders()
    if into is not None:
        parent = Path(into).expanduser()
    elif folders:
        parent = folders[0]
    else:
        parent = imported_scenes_folder()
    if parent.resolve() == SCENES_FOLDER:
        raise UsageError(f"--into {parent}: the built-in scenes' folder; import into a folder of your own")
    if any(os.path.abspath(parent) == os.path.abspath(folder) for folder in (imported_scenes_folder(), *folders)):
        return parent, None
    quoted = shlex.quote(str(parent.absolute()))
    if folders:
        return parent, f'export {USER_SCENES_ENV}="${USER_SCENES_ENV}"{os.pathsep}{quoted}'
    return parent, f"export {USER_SCENES_ENV}={quoted}"


def checked_target(target: Path, force: bool) -> None:
    if force:
        return
    if (SCENES_FOLDER / target.name / "scene.toml").exists():
        raise UsageError(
            f"--id {target.name}: a built-in scene has that id; choose another, or --force to "
            "override the built-in scene with this one"
        )
    if target.exists() or target.is_symlink():
        raise UsageError(f"{target} exists already: choose another --id, or --force to replace it")
    for folder in user_scene_folders():
        other = folder / target.name
        if (other / "scene.toml").exists() and os.path.abspath(other) != os.path.abspath(target):
            raise UsageError(
                f"--id {target.name}: {other} has that id already; choose another, or --force "
                f"(the folder later in {USER_SCENES_ENV} wins)"
            )


def ratio_text(width: int, height: int) -> str:
    if height < 1:
        return f"{width}:{height}"
    ratio = Fraction(width, height).limit_denominator(16)
    if abs(ratio.numerator / ratio.denominator / (width / height) - 1.0) < 0.005:
        return f"{ratio.numerator}:{ratio.denominator}"
    return f"{width / height:.2f}:1"


def checked_size(header: MediaHeader, layout: str) -> None:
    """The picture is big enough for a panorama and has its layout's aspect; else a UsageError that
    names the layouts it would fit."""
    width, height = header.size
    name = header.path.name
    problem = layout_problem(header.size, layout)
    if problem is None:
        return
    if abs(width / max(height, 1) / LAYOUT_ASPECTS[layout] - 1.0) <= ASPECT_TOLERANCE:
        raise UsageError(f"{name}: {problem}")  # the aspect is right: too small
    fits = [other for other in LAYOUT_ASPECTS if layout_problem(header.size, other) is None]
    if not fits and (width < 2 * MIN_EYE_HEIGHT or height < MIN_EYE_HEIGHT):
        raise UsageError(
            f"{name}: {width}x{height} pixels is too small for a panorama "
            f"(at least {2 * MIN_EYE_HEIGHT}x{MIN_EYE_HEIGHT} per eye)"
        )
    kind = "mono" if layout == "mono" else f"{layout} stereo"
    message = (
        f"{name}: {width}x{height} is {ratio_text(width, height)}; a {kind} equirectangular panorama is "
        f"{RATIO_TEXT[layout]} (e.g. {int(2048 * LAYOUT_ASPECTS[layout])}x2048)"
    )
    if fits:
        message += "; it fits " + " or ".join(LAYOUT_HINTS[other] for other in fits)
    elif layout == "mono":
        message += f"; for stereo use {LAYOUT_HINTS['top-bottom']} or {LAYOUT_HINTS['side-by-side']}"
    raise UsageError(message)


def size_warnings(header: MediaHeader) -> list[str]:
    width, height = header.size
    if max(width, height) <= TEXTURE_LIMIT:
        return []
    return [
        f"{header.path.name}: {width}x{height} is wider than the largest texture of most GPUs "
        f"(GL_MAX_TEXTURE_SIZE {TEXTURE_LIMIT}, 8192 on some): it will be shown downscaled there"
    ]


def _what(header: MediaHeader, layout: str) -> str:
    what = f"{header.size[0]}x{header.size[1]} {layout}"
    if header.is_video:
        what += f", {header.codec} {header.fps:.3g} fps, {clock(header.duration_s)} long"
    return what


def _measured_part(footage: Footage) -> str:
    if not footage.header.is_video:
        return "the whole photo measured"
    part = f"measured 00:00-{clock(footage.measured_s)}"
    if footage.header.duration_s > MAX_MEASURED_S + 1.0:
        part += f" (the first {MAX_MEASURED_S:g} s)"
    return part + f" ({len(footage.times)} frames for light, {len(footage.motion_times) + 1} for motion)"


def description(footage: Footage, layout: str) -> str:
    header = footage.header
    measured = f"measured 00:00-{clock(footage.measured_s)}" if header.is_video else "measured"
    return f"Imported from {header.path.name} ({_what(header, layout)}); {measured}: {summary(footage)}."


def _title_from(path: Path) -> str:
    words = re.sub(r"[\s_\-.]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.stem


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


def write_scene(target: Path, source: Path, scene: dict, png: bytes, force: bool) -> None:
    """Writes the folder beside `target`, loads it as the catalog would, then moves it into place."""
    try:
        private_folder(target.parent)
        staging = new_private_folder(target.parent / f".import-{os.getpid()}")
    except OSError as error:
        raise OutputFileError(
            f"{target.parent}: cannot write there: {getattr(error, 'strerror', None) or error}"
        ) from None
    folder = staging / target.name
    try:
        os.mkdir(folder, 0o700)
        media = folder / (scene.get("image") or scene["video"])
        with source.open("rb") as original, replacing(media, binary=True) as copy:
            shutil.copyfileobj(original, copy, 1 << 20)
        with replacing(folder / "thumbnail.png", binary=True) as file:
            file.write(png)
        with replacing(folder / "scene.toml") as file:
            file.write(scene_toml(scene))
        load_scene(folder, source=USER)  # a SceneError here is a bug: it keeps its traceback
        _move_into_place(folder, target, force)
    except OSError as error:
        raise OutputFileError(
            f"{target}: cannot write the scene: {getattr(error, 'strerror', None) or error}"
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(folder: Path, target: Path, force: bool) -> None:
    if force and (target.exists() or target.is_symlink()):
        old = folder.parent / f"{target.name}.old"
        os.replace(target, old)
    os.rename(folder, target)
