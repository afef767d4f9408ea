"""`tidewell scenes import FILE --id NAME`: a panorama scene folder from a 360-degree photo or video.

It checks the file (readable, its aspect fits the layout), measures it against the comfort rules
(scenes/media_probe.py, scenes/media_comfort.py: warnings, never a refusal), and writes the folder
(the media copied in, thumbnail.png, scene.toml) into a temporary folder beside the destination,
which takes its place only once the catalog has loaded the scene from it. Whatever the author
can get wrong is one line and exit 2 (a UsageError or another TidewellError), with nothing written.
"""

from __future__ import annotations

import errno
import math
import os
import re
import shlex
import shutil
import sys
from fractions import Fraction
from pathlib import Path

from tidewell.core.data_folder import imported_scenes_folder
from tidewell.core.errors import OutputFileError, UsageError
from tidewell.core.frame_state import Posture
from tidewell.core.private_files import new_private_folder, private_folder, replacing
from tidewell.engine.scenes_import_files import palette, scene_toml, thumbnail
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
    """Makes the scene folder and prints what it measured and where it wrote; warnings on stderr.
    Ctrl-C leaves nothing behind: one line, exit 130."""
    parent = None
    try:
        source, is_video = checked_source(Path(file))
        checked_options(scene_id, layout, yaw_deg)
        chosen = checked_postures(postures)
        parent, hint = destination(into)
        target = parent / scene_id
        checked_target(target, force)
        header = read_header(source, is_video)
        checked_size(header, layout)
        checked_writable(parent)
        footage = measure(header, layout)
        scene = _measured_scene(source, footage, scene_id, layout, yaw_deg, title, chosen)
        write_scene(target, source, scene, thumbnail(left_eye(footage.picture, layout), yaw_deg), force)
    except KeyboardInterrupt:
        if parent is not None:
            _remove_staging(parent)
        print("import interrupted: nothing was written", file=sys.stderr)
        return 130
    print(f"wrote {target.absolute()} (scene.toml, {scene['video' if is_video else 'image']}, thumbnail.png)")
    tags = ", ".join(scene["tags"]) or "none"
    print(f"  tags: {tags} (add water, enclosed, heights or patterned to scene.toml if it shows them)")
    if hint:
        print(f"the catalog reads the scene folders named in {USER_SCENES_ENV}; to use this one:\n  {hint}")
    check = shlex.quote(str(target.absolute()))
    print(f"check it: tidewell scenes render {check} --out {shlex.quote(scene_id + '.png')} --eye both")
    return 0


def _measured_scene(source, footage, scene_id, layout, yaw_deg, title, chosen) -> dict:
    """Prints what was measured (warnings on stderr) and returns the scene.toml's keys."""
    header = footage.header
    warnings = size_warnings(header) + footage.notes + comfort_warnings(footage)
    print(f"measured {source.name}: {_what(header, layout)}; {_measured_part(footage)}")
    for line in figures(footage):
        print(f"  {line}")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return {
        "id": scene_id,
        "title": (title or _title_from(source)).strip() or scene_id,
        "description": description(footage, layout),
        "kind": "panorama",
        "video" if header.is_video else "image": scene_id + source.suffix.lower(),
        "layout": layout,
        "yaw_deg": float(yaw_deg),
        "postures": list(chosen),
        "tags": ["dark"] if is_dark(footage) else [],
        "palette": palette(left_eye(footage.picture, layout)),
        "audio": dict(DEFAULT_AUDIO),
    }


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


def _reason(error: OSError) -> str:
    if error.errno == errno.ENOENT:  # the folder is there, yet a folder made in it is not: /proc, /sys
        return "it takes no new folders (a system folder?)"
    return (getattr(error, "strerror", None) or str(error)).lower()


def checked_writable(parent: Path) -> None:
    """The folder of scene folders is a folder (or can be made one) that takes a new folder: a
    staging folder is made in it (in the nearest folder that exists) and removed at once, so that
    a destination that cannot be written is said before the file is measured."""
    existing = parent
    while not existing.exists() and not existing.is_symlink() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is not a folder" if existing == parent else f"cannot be made: {existing} is not a folder"
        raise OutputFileError(f"{parent}: {what}")
    probe = existing / f".import-{os.getpid()}"
    try:
        os.mkdir(probe, 0o700)
    except FileExistsError:
        return  # a staging folder of this process: it can write there
    except OSError as error:
        raise OutputFileError(f"{parent}: cannot write there: {_reason(error)}") from None
    os.rmdir(probe)


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


def write_scene(target: Path, source: Path, scene: dict, png: bytes, force: bool) -> None:
    """Writes the folder beside `target`, loads it as the catalog would, then moves it into place."""
    try:
        private_folder(target.parent)
        staging = new_private_folder(target.parent / f".import-{os.getpid()}")
    except OSError as error:
        raise OutputFileError(f"{target.parent}: cannot write there: {_reason(error)}") from None
    folder = staging / target.name
    keep = False  # True when the old scene is left in the staging folder, having failed to go back
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
    except OldSceneKept:
        keep = True
        raise
    except OSError as error:
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR) and target.exists():
            raise OutputFileError(
                f"{target} appeared while importing (another import of the same id?): nothing was written"
            ) from None
        raise OutputFileError(
            f"{target}: cannot write the scene: {getattr(error, 'strerror', None) or error}"
        ) from None
    finally:
        if not keep:
            old = staging / f"{target.name}.old"
            if old.is_dir() and not (target.exists() or target.is_symlink()):
                os.rename(old, target)  # interrupted between moving the old scene aside and the new one in
            shutil.rmtree(staging, ignore_errors=True)


class OldSceneKept(OutputFileError):
    """The new scene could not take the old one's place, nor the old one go back: it is kept aside."""


def _move_into_place(folder: Path, target: Path, force: bool) -> None:
    """Moves the new scene folder to `target`. With --force an old one is moved aside first, and back
    when the new one cannot take its place; it is deleted (with the staging folder) only once the
    new one is in place; OldSceneKept when the old one could not be moved back."""
    if not (force and (target.exists() or target.is_symlink())):
        os.rename(folder, target)
        return
    old = folder.parent / f"{target.name}.old"
    os.rename(target, old)
    try:
        os.rename(folder, target)
    except BaseException:
        try:
            os.rename(old, target)
        except OSError as error:
            raise OldSceneKept(
                f"{target}: cannot write the scene, nor put the old one back ({error.strerror or error}): "
                f"the old scene is at {old}"
            ) from None
        raise


def _remove_staging(parent: Path) -> None:
    """Removes this process's staging folders (.import-PID, .import-PID.2, ...) from `parent` and
    from the nearest folder above it that exists."""
    folder = parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    name = re.compile(rf"^\.import-{os.getpid()}(\.\d+)?$")
    for place in {folder, parent} if parent.is_dir() else {folder}:
        for path in place.iterdir():
            if name.match(path.name):
                shutil.rmtree(path, ignore_errors=True)
