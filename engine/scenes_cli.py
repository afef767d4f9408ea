"""`tidewell scenes list | validate | render`: the scene author's commands (the preview is in
engine/render/preview.py, `scenes import` of a 360-degree photo or video in engine/scenes_import.py). Each returns an exit status and prints its problems as "file:line: ...".
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tidewell.core.errors import UsageError
from tidewell.core.frame_state import FrameState, Posture
from tidewell.core.private_files import private_folder, replacing
from tidewell.engine.render.scene_states import parse_size, parse_state, scene_state, state_keywords
from tidewell.scenes.catalog import BUILT_IN, SceneError, SceneInfo, find_scene, key_line, load_scene, scan_scenes

if TYPE_CHECKING:
    from tidewell.engine.render.targets import OffscreenTarget

EYE_OFFSET_M = 0.032  # half a typical interpupillary distance
EYE_OFFSETS = {
    "center": (0.0,),
    "left": (-EYE_OFFSET_M,),
    "right": (EYE_OFFSET_M,),
    "both": (-EYE_OFFSET_M, EYE_OFFSET_M),
}
VALIDATE_SIZE = (64, 36)
# Validation: a scene at fade 1 has some pixel above this (0..255); at fade 0 none is above the second.
VISIBLE_MIN = 3
FADED_MAX = 1


def _open_offscreen(scenes: dict[str, SceneInfo]) -> OffscreenTarget | None:
    """A strict offscreen target for still frames of `scenes` (snapshots, which the comfort guard does
    not touch); None, said on stderr, when there is no EGL context."""
    from tidewell.engine.render.targets import OffscreenTarget

    try:
        return OffscreenTarget(comfort=False, scenes=scenes, strict=True)
    except Exception as error:  # any EGL/driver failure: say so instead of a traceback
        print(f"cannot render offscreen: no EGL OpenGL 3.3 context ({' '.join(str(error).split())})", file=sys.stderr)
        return None


def render_stereo(offscreen: OffscreenTarget, state: FrameState, size: tuple[int, int], eye: str) -> np.ndarray:
    frames = [offscreen.snapshot(state, size, offset) for offset in EYE_OFFSETS[eye]]
    return np.concatenate(frames, axis=1)


def scenes_list() -> int:
    """Prints every scene (id, title, postures, palette, source); 1 when a scene folder is broken."""
    scenes, errors = scan_scenes()
    rows = [("ID", "TITLE", "POSTURES", "PALETTE", "SOURCE")]
    for info in sorted(scenes.values(), key=lambda s: s.id):
        source = BUILT_IN if info.source == BUILT_IN else f"user: {info.folder}"
        rows.append(
            (info.id, info.title, ",".join(p.value for p in info.postures), " ".join(info.palette) or "-", source)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    for message in errors:
        print(f"not loaded: {message}", file=sys.stderr)
    return 1 if errors else 0


def scene_folders(path: Path) -> tuple[list[Path], list[str]]:
    """The scene folders at `path` (a scene folder, its scene.toml, or a folder of scene folders)."""
    path = Path(path)
    if path.name == "scene.toml" and path.is_file():
        path = path.parent
    if not path.is_dir():
        return [], [f"{path}: no such folder"]
    if (path / "scene.toml").exists() or (path / "scene.frag").exists():
        return [path], []
    folders = sorted(
        p for p in path.iterdir() if p.is_dir() and ((p / "scene.toml").exists() or (p / "scene.frag").exists())
    )
    if not folders:
        return [], [f"{path}: no scene.toml here or in its subfolders"]
    return folders, []


def scenes_validate(path: str | Path) -> int:
    """Loads, compiles and renders every scene at `path`; prints "ok ..." or "file:line: ..." lines."""
    folders, errors = scene_folders(Path(path))
    loaded: list[SceneInfo] = []
    for folder in folders:
        try:
            loaded.append(load_scene(folder))
        except SceneError as error:
            errors.append(str(error))
    offscreen = _open_offscreen({info.id: info for info in loaded}) if loaded else None
    if loaded and offscreen is None:
        errors.append("shaders not checked: no EGL context")
    if offscreen is not None:
        try:
            for info in loaded:
                problems = _check_rendering(offscreen, info)
                errors.extend(problems)
                if not problems:
                    postures = ", ".join(p.value for p in info.postures)
                    print(f"ok  {info.id}  ({info.folder}; postures: {postures})")
        finally:
            offscreen.close()
    for message in errors:
        print(message)
    return 1 if errors else 0


def _check_rendering(offscreen: OffscreenTarget, info: SceneInfo) -> list[str]:
    problems = []
    for posture in info.postures:
        try:
            lit = offscreen.snapshot(scene_state(info.id, posture), VALIDATE_SIZE)
            dark = offscreen.snapshot(scene_state(info.id, posture, fade=0.0), VALIDATE_SIZE)
        except SceneError as error:
            return [str(error)]
        if lit.max() < VISIBLE_MIN:
            problems.append(
                f"{info.fragment_path}:1: {posture.value}: the frame is black at u_fade = 1 "
                f"(brightest channel {lit.max()}/255, expected >= {VISIBLE_MIN})"
            )
        if dark.max() > FADED_MAX:
            problems.append(
                f"{info.fragment_path}:1: {posture.value}: the frame is not black at u_fade = 0 "
                f"(brightest channel {dark.max()}/255): multiply the final colour by u_fade"
            )
    program = offscreen.renderer.compiled_program(info.id)
    for binding in info.uniforms:
        uniform = program.get(binding.name, None) if program is not None else None
        line = key_line(info.toml_path, "uniforms", binding.name)
        if uniform is None:
            problems.append(
                f"{info.toml_path}:{line}: key 'uniforms.{binding.name}': expected a float uniform "
                f"{binding.name} used by scene.frag, got none (declared but unused uniforms "
                "are removed by the compiler)"
            )
        elif uniform.fmt != "1f" or uniform.array_length != 1:
            problems.append(
                f"{info.toml_path}:{line}: key 'uniforms.{binding.name}': expected "
                f"'uniform float {binding.name};' in scene.frag, got type {uniform.fmt}"
            )
    return problems


def scenes_render(
    scene: str,
    out: str | Path,
    state: str | None = None,
    posture: str | None = None,
    eye: str = "center",
    size: str = "960x540",
) -> int:
    """Writes one frame of `scene` (an id or a folder) as PNG; eye "both" puts the eyes side by side."""
    from PIL import Image

    try:
        info = find_scene(scene)
        fields = parse_state(state)
        width_height = parse_size(size)
        if eye not in EYE_OFFSETS:
            raise UsageError(f"--eye: expected one of {', '.join(EYE_OFFSETS)}, got {eye!r}")
        if posture is not None and posture not in [p.value for p in Posture]:
            raise UsageError(f"--posture: expected one of {', '.join(p.value for p in Posture)}, got {posture!r}")
    except (SceneError, ValueError) as error:
        print(error, file=sys.stderr)
        return 1
    chosen = Posture(posture) if posture else info.postures[0]
    if chosen not in info.postures:
        print(
            f"note: {info.id} does not list posture {chosen.value} "
            f"(it lists {', '.join(p.value for p in info.postures)})",
            file=sys.stderr,
        )
    offscreen = _open_offscreen({info.id: info})
    if offscreen is None:
        return 1
    try:
        image = render_stereo(offscreen, scene_state(info.id, chosen, **state_keywords(fields)), width_height, eye)
    except SceneError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        offscreen.close()
    out = Path(out)
    try:
        private_folder(out.parent)
        with replacing(out, binary=True) as file:
            Image.fromarray(image, "RGB").save(file, format="PNG")
    except (OSError, ValueError) as error:
        print(f"{out}: cannot write the PNG: {getattr(error, 'strerror', None) or error}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({image.shape[1]}x{image.shape[0]}, {info.id}, {chosen.value}, eye {eye})")
    return 0
