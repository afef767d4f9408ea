"""Comfort rules the engine enforces whatever a scene does.

Large-area luminance must not change by more than 10% faster than 1 Hz (flicker and flashes are
what startle, and what shines through closed eyelids). After each frame the target measures the
frame's mean luminance on a small downsampled copy; LuminanceGuard divides out the engine's own
ramps (fade, brightness) to get the scene's content luminance, low-pass filters it with a time
constant of TAU_S, and returns an exposure gain for this same frame, applied by ExposurePass as
the scene's image is copied out, so that what reaches the eye follows the filtered value. Slow changes (breathing lights at ~0.1 Hz, fades over seconds) pass
almost untouched; a 3 Hz flicker is cut to about a tenth. The camera itself never moves on its
own: view and projection come only from posture and eye (engine/render/camera.py).
"""
from __future__ import annotations

import math

import moderngl
import numpy as np

TAU_S = 0.5  # cut-off ~0.3 Hz: 0.1 Hz breathing passes at 95%, 3 Hz flicker at ~10%
MIN_GAIN, MAX_GAIN = 0.25, 2.0
MEASURE_SIZE = (32, 18)
MEASURABLE = 0.01  # below this engine fade x brightness, the frame is too dark to measure


class LuminanceGuard:
    def __init__(self):
        self.gain = 1.0
        self._filtered: float | None = None
        self._last_t: float | None = None

    def update(self, t_s: float, frame_luminance: float, engine_level: float) -> float:
        """`frame_luminance`: mean luminance (0..1) of the scene as drawn, before any exposure gain;
        `engine_level`: the fade x brightness it was drawn with. Returns the gain for this frame."""
        dt = None if self._last_t is None else t_s - self._last_t
        self._last_t = t_s
        if engine_level < MEASURABLE:
            return self.gain  # dark: nothing to judge, keep the gain
        content = frame_luminance / engine_level
        if dt is None or not 0 < dt <= 1.0 or self._filtered is None:
            self._filtered = content  # a new sequence (first frame, a jump in time): start afresh
            self.gain = 1.0
            return self.gain
        self._filtered += (content - self._filtered) * (1.0 - math.exp(-dt / TAU_S))
        self.gain = 1.0 if content <= 1e-4 else min(max(self._filtered / content, MIN_GAIN), MAX_GAIN)
        return self.gain


class LuminanceMeter:
    """Mean luminance of a framebuffer from a small nearest-sampled copy (a 32x18 grid of samples)."""

    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self._small = ctx.framebuffer(color_attachments=[ctx.texture(MEASURE_SIZE, 4)])

    def measure(self, fbo: moderngl.Framebuffer) -> float:
        self.ctx.copy_framebuffer(self._small, fbo)
        rgb = np.frombuffer(self._small.read(components=3, alignment=1), dtype=np.uint8).reshape(-1, 3) / 255.0
        return float((rgb @ np.array([0.2126, 0.7152, 0.0722])).mean())

    def release(self) -> None:
        self._small.color_attachments[0].release()
        self._small.release()


EXPOSURE_SHADERS = {
    "vertex_shader": """
        #version 330 core
        out vec2 v_uv;
        void main() {
            vec2 corner = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
            v_uv = corner;
            gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
        }""",
    "fragment_shader": """
        #version 330 core
        in vec2 v_uv;
        out vec4 frag_color;
        uniform sampler2D u_image;
        uniform float u_gain;
        void main() { frag_color = vec4(texture(u_image, v_uv).rgb * u_gain, 1.0); }""",
}


class GuardedFrame:
    """The scene is drawn into a texture of its own (at the scene's render_scale), measured, and
    copied to the output with the guard's gain: one extra full-screen pass, and no frame of lag."""

    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self.guard = LuminanceGuard()
        self.meter = LuminanceMeter(ctx)
        self._program = ctx.program(**EXPOSURE_SHADERS)
        self._vao = ctx.vertex_array(self._program, [])
        self._scene: moderngl.Framebuffer | None = None

    def render(self, renderer, state, out: moderngl.Framebuffer, size: tuple[int, int]) -> None:
        scale = renderer.render_scale(state) if hasattr(renderer, "render_scale") else 1.0
        inner = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
        if self._scene is None or self._scene.size != inner:
            self._release_scene()
            texture = self.ctx.texture(inner, 4)
            texture.filter = (moderngl.LINEAR, moderngl.LINEAR)  # the upscale in the exposure pass
            texture.repeat_x = texture.repeat_y = False
            self._scene = self.ctx.framebuffer(color_attachments=[texture])
        renderer.render(state, self._scene, inner)
        gain = self.guard.update(state.t_s, self.meter.measure(self._scene), state.fade * state.brightness)
        self._scene.color_attachments[0].use(location=0)
        self._program["u_image"].value = 0
        self._program["u_gain"].value = gain
        out.use()
        self.ctx.viewport = (0, 0, *size)
        self._vao.render(moderngl.TRIANGLES, vertices=3)

    def _release_scene(self) -> None:
        if self._scene is not None:
            self._scene.color_attachments[0].release()
            self._scene.release()
            self._scene = None

    def release(self) -> None:
        self._release_scene()
        self.meter.release()
        self._vao.release()
        self._program.release()
