"""Comfort rules the engine enforces whatever a scene does.

Large-area luminance must not change by more than 10% faster than 1 Hz (flicker and flashes are
what startle, and what shines through closed eyelids). GuardedFrame draws the scene into a texture
of its own, and on the GPU, without reading anything back (no stall, no frame of lag):
  1. builds the texture's mipmaps; the top level is the frame's mean colour;
  2. divides out the engine's own ramps (fade x brightness) to get the scene's content luminance,
     low-pass filters it with a time constant of TAU_S in a 1x1 state texture (ping-pong), and
     computes gain = filtered / content;
  3. copies the scene to the output multiplied by that gain (and scaled up from render_scale).
What reaches the eye follows the filtered luminance: slow changes (breathing lights at ~0.1 Hz,
fades over seconds) pass almost untouched; a 3 Hz flicker is cut to about a tenth. The camera
itself never moves on its own: view and projection come only from posture and eye (camera.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import moderngl

from tidewell.engine.render.framebuffers import release_framebuffer, sized_framebuffer

TAU_S = 0.5  # cut-off ~0.3 Hz: 0.1 Hz breathing passes at 95%, 3 Hz flicker at ~10%
MIN_GAIN, MAX_GAIN = 0.25, 2.0


@dataclass(frozen=True)
class ComfortProfile:
    tau_s: float  # the luminance low-pass's time constant
    contrast: float  # 1: the scene as drawn; less pulls every pixel toward the frame's mean colour
    brightness: float  # the whole picture scaled by this (a clamp would clip bright frames and flicker)


# photosensitive (a client's precaution, sessions/precautions.py; WCAG 2.3.1 / ITU-R BT.1702 count a
# "general flash" from a 10% change of relative luminance): a 1.0 s time constant passes a 3 Hz flicker
# at 5% (1 / sqrt(1 + (2 pi 3 Hz 1.0 s)^2)) instead of 10%, and 6/min breathing light at 85% instead of
# 95%; contrast at 60% keeps stripes and edges at most 0.6 of their drawn depth; the picture at 80%.
PROFILES = {
    "standard": ComfortProfile(TAU_S, 1.0, 1.0),
    "photosensitive": ComfortProfile(1.0, 0.6, 0.8),
}
MEASURABLE = 0.01  # below this engine fade x brightness, the frame is too dark to measure


_FULLSCREEN_VERTEX = """
    #version 330 core
    out vec2 v_uv;
    void main() {
        vec2 corner = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
        v_uv = corner;
        gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
    }"""

GUARD_UPDATE_SHADERS = {
    "vertex_shader": _FULLSCREEN_VERTEX,
    "fragment_shader": f"""
        #version 330 core
        out vec4 state;               // x: filtered content luminance, y: gain, z: content luminance
        uniform sampler2D u_image;    // the scene, with mipmaps
        uniform sampler2D u_previous; // last frame's state
        uniform float u_top_level;
        uniform float u_engine_level; // fade x brightness the scene was drawn with
        uniform float u_blend;        // 1 - exp(-dt / TAU_S)
        uniform bool u_reset;
        void main() {{
            vec4 previous = texelFetch(u_previous, ivec2(0), 0);
            if (u_engine_level < {MEASURABLE}) {{ state = previous; return; }}  // dark: keep the gain
            vec3 mean = textureLod(u_image, vec2(0.5), u_top_level).rgb;
            float content = dot(mean, vec3(0.2126, 0.7152, 0.0722)) / u_engine_level;
            if (u_reset) {{ state = vec4(content, 1.0, content, 1.0); return; }}
            float filtered = mix(previous.x, content, u_blend);
            float gain = content <= 1e-4 ? 1.0 : clamp(filtered / content, {MIN_GAIN}, {MAX_GAIN});
            state = vec4(filtered, gain, content, 1.0);
        }}""",
}

EXPOSURE_SHADERS = {
    "vertex_shader": _FULLSCREEN_VERTEX,
    "fragment_shader": """
        #version 330 core
        in vec2 v_uv;
        out vec4 frag_color;
        uniform sampler2D u_image;
        uniform sampler2D u_state;
        uniform bool u_keep_alpha;  // overlay scenes in AR: premultiplied colour over the real room
        uniform float u_top_level;
        uniform float u_contrast;   // the profile's: 1 leaves the scene as drawn
        uniform float u_brightness;
        void main() {
            float gain = texelFetch(u_state, ivec2(0), 0).y;
            vec4 scene = textureLod(u_image, v_uv, 0.0);
            vec3 mean = textureLod(u_image, vec2(0.5), u_top_level).rgb;
            vec3 colour = u_contrast >= 1.0 ? scene.rgb : mix(mean * clamp(scene.a, 0.0, 1.0), scene.rgb, u_contrast);
            frag_color = vec4(colour * gain * u_brightness, u_keep_alpha ? clamp(scene.a, 0.0, 1.0) : 1.0);
        }""",
}


class GuardedFrame:
    """The scene drawn at its render_scale into a texture of its own, guarded on the GPU as the
    module says, and copied to the output: two small passes and one full-screen pass per frame."""

    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self._update = ctx.program(**GUARD_UPDATE_SHADERS)
        self._update_vao = ctx.vertex_array(self._update, [])
        self._exposure = ctx.program(**EXPOSURE_SHADERS)
        self._exposure_vao = ctx.vertex_array(self._exposure, [])
        self._states = [ctx.framebuffer(color_attachments=[ctx.texture((1, 1), 4, dtype="f4")]) for _ in range(2)]
        self._current = 0
        self._scene: moderngl.Framebuffer | None = None
        self._last_t: float | None = None

    def render(
        self,
        renderer,
        state,
        out: moderngl.Framebuffer,
        size: tuple[int, int],
        eye=None,
        keep_alpha: bool = False,
        upscale: bool = True,
    ) -> tuple[int, int]:
        """Returns the size drawn in `out`: all of `size`, or with upscale=False only the scene's own
        render size at the bottom-left corner (a headset's compositor scales that rectangle itself)."""
        scale = renderer.render_scale(state)
        inner = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
        self._scene = sized_framebuffer(self.ctx, self._scene, inner, repeat=False)
        renderer.render(state, self._scene, inner, eye=eye)
        texture = self._scene.color_attachments[0]
        texture.build_mipmaps()
        texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)

        profile = PROFILES.get(state.comfort, PROFILES["photosensitive"])  # unknown: the stricter one
        dt = None if self._last_t is None else state.t_s - self._last_t
        self._last_t = state.t_s
        previous, self._current = self._current, 1 - self._current
        texture.use(location=0)
        self._states[previous].color_attachments[0].use(location=1)
        self._update["u_image"].value = 0
        self._update["u_previous"].value = 1
        self._update["u_top_level"].value = float(math.floor(math.log2(max(inner))))
        self._update["u_engine_level"].value = float(state.fade * state.brightness)
        self._update["u_reset"].value = dt is None or not 0 < dt <= 1.0  # a new sequence: start afresh
        self._update["u_blend"].value = 1.0 - math.exp(-(dt or 0.0) / profile.tau_s)
        self._states[self._current].use()
        self.ctx.viewport = (0, 0, 1, 1)
        self._update_vao.render(moderngl.TRIANGLES, vertices=3)

        self._states[self._current].color_attachments[0].use(location=1)
        self._exposure["u_image"].value = 0
        self._exposure["u_state"].value = 1
        self._exposure["u_keep_alpha"].value = keep_alpha
        self._exposure["u_top_level"].value = self._update["u_top_level"].value
        self._exposure["u_contrast"].value = profile.contrast
        self._exposure["u_brightness"].value = profile.brightness
        out.use()
        drawn = size if upscale else inner
        self.ctx.viewport = (0, 0, *drawn)
        self._exposure_vao.render(moderngl.TRIANGLES, vertices=3)
        return drawn

    def reset(self) -> None:
        """The next frame starts a new sequence: the filter takes its luminance as it is."""
        self._last_t = None

    def release(self) -> None:
        release_framebuffer(self._scene)
        self._scene = None
        for fbo in self._states:
            release_framebuffer(fbo)
        for item in (self._update_vao, self._update, self._exposure_vao, self._exposure):
            item.release()
