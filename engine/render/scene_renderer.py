"""Draws the frame state's scene (and, during a crossfade, the outgoing one) with moderngl."""
from __future__ import annotations

import re
from functools import lru_cache
from collections.abc import Mapping
from pathlib import Path

import moderngl
import numpy as np

from tidewell.engine.frame_state import FrameState, Posture
from tidewell.engine.render import camera
from tidewell.scenes.catalog import (
    CROSSFADE_FRAGMENT_PATH,
    FULLSCREEN_VERTEX_PATH,
    SceneError,
    SceneInfo,
    available_scenes,
)

# A scene that ignores u_fade could never fade to black at a pause or the end.
REQUIRED_UNIFORMS = ("u_fade",)
# Mesa "0:12(5): error", NVIDIA "0(12) : error", ANGLE/others "ERROR: 0:12: ..."
_LOG_LINE = re.compile(r"^\s*(?:ERROR:\s*)?\d+[:(](\d+)[):(]")


class SceneRenderer:
    def __init__(self, ctx: moderngl.Context, scenes: Mapping[str, SceneInfo] | None = None):
        self.ctx = ctx
        self.scenes = dict(available_scenes() if scenes is None else scenes)
        self._programs: dict[str, moderngl.Program] = {}
        self._vertex_arrays: dict[str, moderngl.VertexArray] = {}
        self._targets: dict[str, tuple[moderngl.Texture, moderngl.Framebuffer]] = {}

    def render(
        self,
        state: FrameState,
        fbo: moderngl.Framebuffer,
        size: tuple[int, int],
        eye_offset_m: float = 0.0,
    ) -> None:
        crossfading = state.previous_scene is not None and state.crossfade < 1.0
        if not crossfading:
            self._draw_scene(state.scene, state, fbo, size, eye_offset_m)
            return
        outgoing = self._offscreen("outgoing", size)
        incoming = self._offscreen("incoming", size)
        self._draw_scene(state.previous_scene, state, outgoing[1], size, eye_offset_m)
        self._draw_scene(state.scene, state, incoming[1], size, eye_offset_m)
        mix_vao = self._vertex_array("<crossfade>", CROSSFADE_FRAGMENT_PATH)
        program = mix_vao.program
        outgoing[0].use(location=0)
        incoming[0].use(location=1)
        program["u_outgoing"].value = 0
        program["u_incoming"].value = 1
        program["u_crossfade"].value = float(np.clip(state.crossfade, 0.0, 1.0))
        fbo.use()
        self.ctx.viewport = (0, 0, *size)
        mix_vao.render(moderngl.TRIANGLES, vertices=3)

    def forget_programs(self) -> None:
        """Drop compiled programs so the next frame reads the shader files again (live reload)."""
        for vao in self._vertex_arrays.values():
            vao.release()
        for program in self._programs.values():
            program.release()
        self._vertex_arrays.clear()
        self._programs.clear()

    def release(self) -> None:
        self.forget_programs()
        for texture, framebuffer in self._targets.values():
            framebuffer.release()
            texture.release()
        self._targets.clear()

    def _draw_scene(
        self, scene_id: str, state: FrameState, fbo: moderngl.Framebuffer,
        size: tuple[int, int], eye_offset_m: float,
    ) -> None:
        scene = self.scenes.get(scene_id)
        if scene is None:
            raise SceneError(f"unknown scene {scene_id!r}; known scenes: {sorted(self.scenes)}")
        vao = self._vertex_array(scene.id, scene.fragment_path)
        width, height = size
        uniforms = {
            "u_time": float(state.t_s),
            "u_breath": float(np.clip(state.breath_level, 0.0, 1.0)),
            "u_calm": float(np.clip(state.calm if state.visual_calm is None else state.visual_calm, 0.0, 1.0)),
            "u_fade": float(np.clip(state.fade * state.brightness, 0.0, 1.0)),
            "u_resolution": (float(width), float(height)),
            **_camera_uniforms(state.posture, eye_offset_m, width / max(height, 1)),
        }
        program = vao.program
        for name, value in uniforms.items():
            if name not in program:
                continue
            if isinstance(value, bytes):
                program[name].write(value)
            else:
                program[name].value = value
        fbo.use()
        self.ctx.viewport = (0, 0, width, height)
        vao.render(moderngl.TRIANGLES, vertices=3)

    def _offscreen(self, name: str, size: tuple[int, int]) -> tuple[moderngl.Texture, moderngl.Framebuffer]:
        """A colour texture and its framebuffer for one side of a crossfade, rebuilt when the size changes."""
        target = self._targets.get(name)
        if target is not None and target[0].size != tuple(size):
            target[1].release()
            target[0].release()
            target = None
        if target is None:
            texture = self.ctx.texture(tuple(size), 4)
            texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
            target = self._targets[name] = (texture, self.ctx.framebuffer(color_attachments=[texture]))
        return target

    def _vertex_array(self, key: str, fragment_path: Path) -> moderngl.VertexArray:
        vao = self._vertex_arrays.get(key)
        if vao is None:
            program = self._compile(fragment_path, is_scene=not key.startswith("<"))
            self._programs[key] = program
            vao = self._vertex_arrays[key] = self.ctx.vertex_array(program, [])
        return vao

    def _compile(self, fragment_path: Path, is_scene: bool) -> moderngl.Program:
        sources = {}
        for stage, path in (("vertex_shader", FULLSCREEN_VERTEX_PATH), ("fragment_shader", fragment_path)):
            try:
                sources[stage] = path.read_text(encoding="utf-8")
            except OSError as error:
                raise SceneError(f"{path}: cannot read: {error.strerror}") from None
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
    for index, line in enumerate(lines):
        if line == "vertex_shader":
            path = FULLSCREEN_VERTEX_PATH
        elif line == "fragment_shader":
            path = fragment_path
        match = _LOG_LINE.match(line)
        if match and "error" in line.lower():
            message = line[match.end():].lstrip(" :")
            return f"{path}:{match.group(1)}: {message}"
    detail = " ".join(line for line in lines if line and not set(line) <= {"="})
    return f"{fragment_path}: shader program failed: {detail}"
