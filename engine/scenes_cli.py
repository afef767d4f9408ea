"""`tidewell scenes list | validate | render`: the scene author's commands (the preview is in
engine/render/preview.py). Each returns an exit status and prints its problems as "file:line: ...".
"""
from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from tidewell.core.frame_state import BreathStage, FrameState, Posture
from tidewell.core.private_files import private_folder, replacing
from tidewell.scenes.catalog import (
    BUILT_IN,
    FLOAT_FIELDS,
    SceneError,
    SceneInfo,
    find_scene,
    key_line,
    load_scene,
    scan_scenes,
)

EYE_OFFSET_M = 0.032  # half a typical interpupillary distance
EYE_OFFSETS = {"center": (0.0,), "left": (-EYE_OFFSET_M,), "right": (EYE_OFFSET_M,),
               "both": (-EYE_OFFSET_M, EYE_OFFSET_M)}
STATE_ALIASES = {"breath": "breath_level", "t": "t_s", "time": "t_s"}
STATE_LIMIT = 1e6  # --state values: finite, and small enough for a shader's float arithmetic
VALIDATE_SIZE = (64, 36)
# Validation: a scene at fade 1 has some pixel above this (0..255); at fade 0 none is above the second.
VISIBLE_MIN = 3
FADED_MAX = 1


def scene_state(scene: str, posture: Posture | str = Posture.SEATED, *, t_s: float = 10.0,
                breath: float = 0.5, calm: float = 0.5, fade: float = 1.0, **fields) -> FrameState:
    """A still frame state for previews, renders and golden images."""
    state = FrameState(
        t_s=t_s, phase_index=0, phase_name="preview", phase_elapsed_s=t_s, phase_progress=0.5,
        breath_phase=0.25, breath_stage=BreathStage.INHALE, breath_level=breath, pace_bpm=6.0,
        calm=calm, posture=Posture(posture), scene=scene, previous_scene=None, crossfade=1.0, fade=fade,
    )
    return replace(state, **fields) if fields else state


def parse_state(text: str | None) -> dict[str, float]:
    """"calm=0.8,breath=0.3" -> {"calm": 0.8, "breath_level": 0.3}; raises ValueError with the reason."""
    values: dict[str, float] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, equals, number = item.partition("=")
        name = STATE_ALIASES.get(name.strip(), name.strip())
        if not equals:
            raise ValueError(f"--state: expected name=value pairs like calm=0.8,breath=0.3, got {item.strip()!r}")
        if name not in FLOAT_FIELDS:
            raise ValueError(
                f"--state: unknown field {name!r}: expected one of breath, t, {', '.join(FLOAT_FIELDS)}"
            )
        try:
            value = float(number)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or abs(value) > STATE_LIMIT:
            raise ValueError(f"--state: {name} expected a number from -{STATE_LIMIT:g} to {STATE_LIMIT:g}, "
                             f"got {number.strip()!r}")
        values[name] = value
    return values


def parse_size(text: str) -> tuple[int, int]:
    width, x, height = text.lower().partition("x")
    try:
        size = (int(width), int(height)) if x else None
    except ValueError:
        size = None
    if size is None or not all(0 < v <= 8192 for v in size):
        raise ValueError(f"--size: expected WIDTHxHEIGHT like 960x540 (1..8192 each), got {text!r}")
    return size


class _OffscreenRenderer:
    """An EGL context, a framebuffer and a strict renderer for still frames."""

    def __init__(self, scenes: dict[str, SceneInfo]):
        import moderngl

        from tidewell.engine.render.scene_renderer import SceneRenderer

        self.ctx = moderngl.create_context(standalone=True, backend="egl")
        self.renderer = SceneRenderer(self.ctx, scenes, strict=True)
        self._fbo = None

    def draw(self, state: FrameState, size: tuple[int, int], eye_offset_m: float = 0.0) -> np.ndarray:
        """HxWx3 uint8, top row first."""
        if self._fbo is None or self._fbo.size != tuple(size):
            if self._fbo is not None:
                self._fbo.release()
            self._fbo = self.ctx.simple_framebuffer(tuple(size))
        self.renderer.render(state, self._fbo, tuple(size), eye_offset_m=eye_offset_m)
        data = self._fbo.read(components=3, alignment=1)
        return np.flipud(np.frombuffer(data, np.uint8).reshape(size[1], size[0], 3)).copy()

    def close(self) -> None:
        self.renderer.release()
        if self._fbo is not None:
            self._fbo.release()
        self.ctx.release()


def _open_offscreen(scenes: dict[str, SceneInfo]) -> _OffscreenRenderer | None:
    try:
        return _OffscreenRenderer(scenes)
    except Exception as error:  # any EGL/driver failure: say so instead of a traceback
        print(f"cannot render offscreen: no EGL OpenGL 3.3 context ({' '.join(str(error).split())})", file=sys.stderr)
        return None


def render_stereo(offscreen: _OffscreenRenderer, state: FrameState, size: tuple[int, int], eye: str) -> np.ndarray:
    frames = [offscreen.draw(state, size, offset) for offset in EYE_OFFSETS[eye]]
    return np.concatenate(frames, axis=1)


def scenes_list() -> int:
    """Prints every scene (id, title, postures, palette, source); 1 when a scene folder is broken."""
    scenes, errors = scan_scenes()
    rows = [("ID", "TITLE", "POSTURES", "PALETTE", "SOURCE")]
    for info in sorted(scenes.values(), key=lambda s: s.id):
        source = BUILT_IN if info.source == BUILT_IN else f"user: {info.folder}"
        rows.append((info.id, info.title, ",".join(p.value for p in info.postures),
                     " ".join(info.palette) or "-", source))
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
    folders = sorted(p for p in path.iterdir() if p.is_dir() and ((p / "scene.toml").exists() or (p / "scene.frag").exists()))
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


def _check_rendering(offscreen: _OffscreenRenderer, info: SceneInfo) -> list[str]:
    problems = []
    for posture in info.postures:
        try:
            lit = offscreen.draw(scene_state(info.id, posture), VALIDATE_SIZE)
            dark = offscreen.draw(scene_state(info.id, posture, fade=0.0), VALIDATE_SIZE)
        except SceneError as error:
            return [str(error)]
        if lit.max() < VISIBLE_MIN:
            problems.append(f"{info.fragment_path}:1: {posture.value}: the frame is black at u_fade = 1 "
                            f"(brightest channel {lit.max()}/255, expected >= {VISIBLE_MIN})")
        if dark.max() > FADED_MAX:
            problems.append(f"{info.fragment_path}:1: {posture.value}: the frame is not black at u_fade = 0 "
                            f"(brightest channel {dark.max()}/255): multiply the final colour by u_fade")
    program = offscreen.renderer.compiled_program(info.id)
    for binding in info.uniforms:
        uniform = program.get(binding.name, None) if program is not None else None
        line = key_line(info.toml_path, "uniforms", binding.name)
        if uniform is None:
            problems.append(f"{info.toml_path}:{line}: key 'uniforms.{binding.name}': expected a float uniform "
                            f"{binding.name} used by scene.frag, got none (declared but unused uniforms "
                            "are removed by the compiler)")
        elif uniform.fmt != "1f" or uniform.array_length != 1:
            problems.append(f"{info.toml_path}:{line}: key 'uniforms.{binding.name}': expected "
                            f"'uniform float {binding.name};' in scene.frag, got type {uniform.fmt}")
    return problems


def scenes_render(scene: str, out: str | Path, state: str | None = None, posture: str | None = None,
                  eye: str = "center", size: str = "960x540") -> int:
    """Writes one frame of `scene` (an id or a folder) as PNG; eye "both" puts the eyes side by side."""
    from PIL import Image

    try:
        info = find_scene(scene)
        fields = parse_state(state)
        width_height = parse_size(size)
        if eye not in EYE_OFFSETS:
            raise ValueError(f"--eye: expected one of {', '.join(EYE_OFFSETS)}, got {eye!r}")
        if posture is not None and posture not in [p.value for p in Posture]:
            raise ValueError(f"--posture: expected one of {', '.join(p.value for p in Posture)}, got {posture!r}")
    except (SceneError, ValueError) as error:
        print(error, file=sys.stderr)
        return 1
    chosen = Posture(posture) if posture else info.postures[0]
    if chosen not in info.postures:
        print(f"note: {info.id} does not list posture {chosen.value} "
              f"(it lists {', '.join(p.value for p in info.postures)})", file=sys.stderr)
    offscreen = _open_offscreen({info.id: info})
    if offscreen is None:
        return 1
    try:
        image = render_stereo(offscreen, scene_state(info.id, chosen, **_state_kwargs(fields)), width_height, eye)
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


def _state_kwargs(fields: dict[str, float]) -> dict:
    """parse_state's FrameState fields as scene_state's keywords."""
    renamed = {"t_s": "t_s", "breath_level": "breath", "calm": "calm", "fade": "fade"}
    kwargs = {renamed.get(name, name): value for name, value in fields.items()}
    if "t_s" in fields:
        kwargs.setdefault("phase_elapsed_s", fields["t_s"])
    return kwargs
