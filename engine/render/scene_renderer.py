"""Draws the frame state's scene (and, during a crossfade, the outgoing one) with moderngl.

A running session never goes black because of a bad scene: when a scene cannot be drawn (unknown
id, unreadable or broken shader, missing u_fade), the renderer reports it once in `problems` and
draws the last good program of that scene, or the built-in safe scene (ember) when it has none.
`strict=True` (validation, offline renders) raises SceneError instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import moderngl
import numpy as np

from tidewell.core.frame_state import BreathStage, FrameState, Posture
from tidewell.engine.render import camera
from tidewell.engine.render.framebuffers import release_framebuffer, sized_framebuffer
from tidewell.engine.render.panorama_media import PanoramaMedia, bind_panorama, open_panorama
from tidewell.engine.render.panorama_parts import pixel_angle
from tidewell.scenes.catalog import (
    CROSSFADE_FRAGMENT_PATH,
    FULLSCREEN_VERTEX_PATH,
    SceneError,
    SceneInfo,
    fallback_scene,
    scan_scenes,
)

# A scene that ignores u_fade could never fade to black at a pause or the end.
REQUIRED_UNIFORMS = ("u_fade",)
# Mesa "0:12(5): error", NVIDIA "0(12) : error", ANGLE/others "ERROR: 0:12: ..."
_LOG_LINE = re.compile(r"^\s*(?:ERROR:\s*)?\d+(?::(\d+)(?:\(\d+\))?|\((\d+)\))\s*:?")
_CROSSFADE = "<crossfade>"
_FALLBACK = "<fallback>"
NOTHING_DRAWN = "(none)"  # the scene logged when not even the safe scene could be drawn (dark)


@dataclass
class _Compiled:
    program: moderngl.Program
    vao: moderngl.VertexArray
    info: SceneInfo | None  # the scene description it was compiled for (None: the crossfade pass)
    media: PanoramaMedia | None = None  # a panorama scene's picture

    def release(self) -> None:
        if self.media is not None:
            self.media.release()
        self.vao.release()
        self.program.release()


class SceneRenderer:
    def __init__(self, ctx: moderngl.Context, scenes: Mapping[str, SceneInfo] | None = None, *, strict: bool = False):
        self.ctx = ctx
        self.strict = strict
        self.wait_for_video = False  # offline renders: video frames as of the frame's time, whatever it costs
        self.problems: list[str] = []  # one line per new problem; the session drains and logs them
        self._reported: dict[str, str] = {}
        self._compiled: dict[str, _Compiled] = {}  # the last good program of each scene
        self._errors: dict[str, str] = {}  # why the latest version of a scene could not be used
        self._stale: set[str] = set()  # scenes whose files may have changed: recompile on next use
        self._drawn: dict[str, str] = {}  # scene asked for -> the scene last drawn for it
        if scenes is None:
            scenes, errors = scan_scenes()
            for message in errors:
                self._report("<catalog>" + message, message)
        self.scenes = dict(scenes)
        self._fallback: SceneInfo | None = None
        self._targets: dict[str, moderngl.Framebuffer] = {}  # the two sides of a crossfade

    def render(
        self, state: FrameState, fbo: moderngl.Framebuffer, size: tuple[int, int], eye_offset_m: float = 0.0, eye=None
    ) -> None:
        """`eye` (engine/xr/views.EyeView) gives a headset eye's camera; without it the camera is the
        posture's resting view, offset sideways by eye_offset_m."""
        crossfading = state.previous_scene is not None and state.crossfade < 1.0
        mix = self._usable(_CROSSFADE, None) if crossfading else None
        if mix is None:
            self._draw_scene(state.scene, state, fbo, size, eye_offset_m, eye)
            return
        outgoing = self._offscreen("outgoing", size)
        incoming = self._offscreen("incoming", size)
        self._draw_scene(state.previous_scene, state, outgoing, size, eye_offset_m, eye)
        self._draw_scene(state.scene, state, incoming, size, eye_offset_m, eye)
        program = mix.program
        outgoing.color_attachments[0].use(location=0)
        incoming.color_attachments[0].use(location=1)
        program["u_outgoing"].value = 0
        program["u_incoming"].value = 1
        program["u_crossfade"].value = float(np.clip(state.crossfade, 0.0, 1.0))
        fbo.use()
        self.ctx.viewport = (0, 0, *size)
        mix.vao.render(moderngl.TRIANGLES, vertices=3)

    def prepare(self, scene_ids, size: tuple[int, int] = (64, 64)) -> None:
        """Compile and draw each scene once, off screen, so that no shader is compiled mid-session:
        a compile takes long enough to miss a headset's frames (and drivers compile on first draw)."""
        framebuffer = sized_framebuffer(self.ctx, None, size)
        try:
            for scene_id in dict.fromkeys(scene_ids):
                for previous in (None, scene_id):  # alone, and in a crossfade
                    self.render(still_state(scene_id, previous), framebuffer, size)
            framebuffer.read(components=1)  # wait until the driver has really drawn them
        finally:
            release_framebuffer(framebuffer)

    def set_scene(self, info: SceneInfo) -> None:
        """Add or replace a scene's description (e.g. its scene.toml was edited); its program is
        rebuilt on next use, and the last good one stays in use if that fails."""
        self.scenes[info.id] = info
        self._stale.add(info.id)

    def render_scale(self, state: FrameState) -> float:
        """The larger render scale of the scenes on screen (both, during a crossfade)."""
        ids = [state.scene] + ([state.previous_scene] if state.previous_scene else [])
        return max((self.scenes[i].render_scale for i in ids if i in self.scenes), default=1.0)

    def forget_programs(self) -> None:
        """Read the shader files again on next use (live reload). A scene whose new version does
        not compile keeps drawing its last good program."""
        self._stale.update(self._compiled)
        self._stale.update(self._errors)

    def scene_error(self, scene_id: str) -> str | None:
        """Why the latest version of a scene is not the one drawn ("file:line: ..."), or None."""
        return self._errors.get(scene_id)

    def compiled_program(self, scene_id: str) -> moderngl.Program | None:
        """The program drawn for a scene (its last good one), None before it first compiled."""
        compiled = self._compiled.get(scene_id)
        return None if compiled is None else compiled.program

    def as_drawn(self, state: FrameState) -> FrameState:
        """`state` with the scenes this renderer last drew for it: the safe scene where a scene could not
        be drawn, so the log names what the client saw."""
        scene = self._drawn.get(state.scene, state.scene)
        previous = None if state.previous_scene is None else self._drawn.get(state.previous_scene, state.previous_scene)
        if scene == state.scene and previous == state.previous_scene:
            return state
        return replace(state, scene=scene, previous_scene=previous)

    def drain_problems(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems

    def release(self) -> None:
        for compiled in self._compiled.values():
            compiled.release()
        self._compiled.clear()
        for framebuffer in self._targets.values():
            release_framebuffer(framebuffer)
        self._targets.clear()

    def _draw_scene(
        self,
        scene_id: str,
        state: FrameState,
        fbo: moderngl.Framebuffer,
        size: tuple[int, int],
        eye_offset_m: float,
        eye=None,
    ) -> None:
        compiled = self._scene_program(scene_id)
        self._drawn[scene_id] = NOTHING_DRAWN if compiled is None else compiled.info.id
        width, height = size
        if compiled is not None and compiled.media is not None:  # uploads and builds mipmaps: before fbo.use()
            compiled = self._updated_media(scene_id, compiled, state, pixel_angle(size, eye))
            self._drawn[scene_id] = NOTHING_DRAWN if compiled is None else compiled.info.id
        fbo.use()
        self.ctx.viewport = (0, 0, width, height)
        if compiled is None:  # not even the safe scene compiles: dark, never garbage
            fbo.clear(0.0, 0.0, 0.0, 1.0)
            return
        if not state.scene_motion:  # a client's precaution: nothing moves that the head did not move
            state = replace(state, t_s=0.0, phase_elapsed_s=0.0)
        uniforms = {
            "u_time": float(state.t_s),
            "u_breath": float(np.clip(state.breath_level, 0.0, 1.0)),
            "u_calm": float(np.clip(state.calm if state.visual_calm is None else state.visual_calm, 0.0, 1.0)),
            "u_fade": float(np.clip(state.fade * state.brightness, 0.0, 1.0)),
            "u_resolution": (float(width), float(height)),
            **(
                eye.uniforms()
                if eye is not None
                else _camera_uniforms(state.posture, eye_offset_m, width / max(height, 1))
            ),
        }
        for binding in compiled.info.uniforms:
            uniforms[binding.name] = float(binding.value(state))
        if compiled.media is not None:
            uniforms.update(bind_panorama(compiled.media, compiled.info.panorama, state, eye_offset_m, eye))
            for problem in compiled.media.drain_problems():
                self._report(f"{scene_id}:{problem}", problem)
        program = compiled.program
        for name, value in uniforms.items():
            if name not in program:
                continue
            if isinstance(value, bytes):
                program[name].write(value)
            else:
                program[name].value = value
        compiled.vao.render(moderngl.TRIANGLES, vertices=3)

    def _scene_program(self, scene_id: str) -> _Compiled | None:
        info = self.scenes.get(scene_id)
        if info is None:
            message = f"unknown scene {scene_id!r}; known scenes: {sorted(self.scenes)}"
            if self.strict:
                raise SceneError(message)
            self._report(scene_id, message)
            self._errors[scene_id] = message
            self._stale.discard(scene_id)
        else:
            compiled = self._usable(scene_id, info)
            if compiled is not None:
                return compiled
        if self._fallback is None:
            try:
                self._fallback = fallback_scene()
            except SceneError as error:
                self._report(_FALLBACK, f"the safe scene cannot be loaded: {error}")
                return None
        return self._usable(_FALLBACK, self._fallback)

    def _usable(self, key: str, info: SceneInfo | None) -> _Compiled | None:
        """The program to draw for `key`: freshly compiled when stale, else the last good one."""
        compiled = self._compiled.get(key)
        if key not in self._stale and (compiled is not None or key in self._errors):
            if self.strict and key in self._errors:
                raise SceneError(self._errors[key])
            return compiled
        self._stale.discard(key)
        fragment_path = CROSSFADE_FRAGMENT_PATH if info is None else info.fragment_path
        try:
            program = self._compile(fragment_path, is_scene=info is not None)
            media = self._open_media(program, info)
        except SceneError as error:
            self._errors[key] = str(error)
            if self.strict:
                raise
            kept = "keeping its last good version" if compiled is not None else "showing the safe scene"
            self._report(key, f"{error} ({kept})")
            return compiled
        if compiled is not None:
            compiled.release()
        compiled = self._compiled[key] = _Compiled(program, self.ctx.vertex_array(program, []), info, media)
        self._errors.pop(key, None)
        self._reported.pop(key, None)
        return compiled

    def _open_media(self, program: moderngl.Program, info: SceneInfo | None) -> PanoramaMedia | None:
        if info is None or info.panorama is None:
            return None
        try:
            return open_panorama(self.ctx, info.panorama)
        except Exception as error:  # a picture nobody foresaw must not end the session
            program.release()
            if isinstance(error, SceneError):
                raise
            raise SceneError(f"{info.panorama.media}: cannot be shown: {type(error).__name__}: {error}") from None

    def _updated_media(self, scene_id: str, compiled: _Compiled, state: FrameState, angle: float) -> _Compiled | None:
        """`compiled` with its picture brought up to `state`; the safe scene's program when that failed."""
        try:
            compiled.media.wait_for_frames = self.wait_for_video
            compiled.media.update(state, angle)
            return compiled
        except Exception as error:
            message = f"{compiled.info.panorama.media}: stopped: {type(error).__name__}: {error}"
            if self.strict:
                raise SceneError(message) from None
            self._report(scene_id, f"{message} (showing the safe scene)")
            self._errors[scene_id] = message
            self._compiled.pop(scene_id).release()
            return self._scene_program(scene_id)

    def _report(self, key: str, message: str) -> None:
        """Adds `message` to `problems` unless it is what was last said about `key`."""
        if self._reported.get(key) != message:
            self._reported[key] = message
            self.problems.append(message)

    def _offscreen(self, name: str, size: tuple[int, int]) -> moderngl.Framebuffer:
        """A framebuffer with a colour texture for one side of a crossfade, rebuilt when the size changes."""
        self._targets[name] = sized_framebuffer(
            self.ctx, self._targets.get(name), size, filter=(moderngl.NEAREST, moderngl.NEAREST)
        )
        return self._targets[name]

    def _compile(self, fragment_path: Path, is_scene: bool) -> moderngl.Program:
        sources = {}
        for stage, path in (("vertex_shader", FULLSCREEN_VERTEX_PATH), ("fragment_shader", fragment_path)):
            try:
                sources[stage] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise SceneError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
        try:
            program = self.ctx.program(**sources)
        except moderngl.Error as error:
            raise SceneError(_describe_compile_error(str(error), fragment_path)) from None
        for name in REQUIRED_UNIFORMS if is_scene else ():
            if name not in program:
                program.release()
                raise SceneError(
                    f"{fragment_path}:1: the scene must use uniform {name} "
                    "(master brightness; without it the scene cannot fade out)"
                )
        return program


def still_state(scene_id: str, previous_scene: str | None = None) -> FrameState:
    """A mid-breath frame of `scene_id` (half crossfaded from `previous_scene`), for drawing a scene
    once ahead of time."""
    return FrameState(
        t_s=0.0,
        phase_index=0,
        phase_name="prepare",
        phase_elapsed_s=0.0,
        phase_progress=0.0,
        breath_phase=0.0,
        breath_stage=BreathStage.INHALE,
        breath_level=0.5,
        pace_bpm=6.0,
        calm=0.5,
        posture=Posture.SEATED,
        scene=scene_id,
        previous_scene=previous_scene,
        crossfade=0.5 if previous_scene else 1.0,
        fade=1.0,
    )


@lru_cache(maxsize=64)
def _camera_uniforms(posture: Posture, eye_offset_m: float, aspect: float) -> dict:
    """Camera uniforms depend only on posture, eye and aspect: computed once, not every frame."""
    view, proj = camera.view_projection(posture, eye_offset_m=eye_offset_m, aspect=aspect)
    forward, up = camera.rest_axes(posture)
    return {
        "u_inv_view_proj": np.linalg.inv(proj.astype(np.float64) @ view).astype("f4").T.tobytes(),
        "u_eye_pos": tuple(float(v) for v in camera.eye_position(posture, eye_offset_m)),
        "u_head_pos": tuple(float(v) for v in camera.eye_position(posture, 0.0)),
        "u_rest_forward": tuple(float(v) for v in forward),
        "u_rest_up": tuple(float(v) for v in up),
    }


def _describe_compile_error(log: str, fragment_path: Path) -> str:
    """'file:line: message' for the first error in a moderngl/driver compile log."""
    path = fragment_path
    lines = [line.strip() for line in log.splitlines()]
    for line in lines:
        if line == "vertex_shader":
            path = FULLSCREEN_VERTEX_PATH
        elif line == "fragment_shader":
            path = fragment_path
        match = _LOG_LINE.match(line)
        if match and "error" in line.lower():
            message = line[match.end() :].lstrip(" :")
            return f"{path}:{match.group(1) or match.group(2)}: {message}"
    detail = " ".join(line for line in lines if line and not set(line) <= {"="})
    return f"{fragment_path}: shader program failed: {detail}"
