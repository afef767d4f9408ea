"""The therapist's desktop mirror of a headset session: the client's left eye in a window, with the
same keys as the session window (core/keymap.py).

The window's GL context is the one the headset session draws with (the GLX binding of OpenXR), so
the mirror costs one textured quad per frame and no read-back.
"""

from __future__ import annotations

from collections.abc import Callable

import moderngl
import numpy as np
import pyglet

from tidewell.core.keymap import default_keymap, from_pyglet

pyglet.options["debug_gl"] = False

_MIRROR_SHADERS = {
    "vertex_shader": """
        #version 330 core
        uniform vec2 u_scale;  // the eye's aspect kept inside the window
        out vec2 v_uv;
        void main() {
            vec2 corner = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
            v_uv = corner;
            gl_Position = vec4((corner * 2.0 - 1.0) * u_scale, 0.0, 1.0);
        }""",
    "fragment_shader": """
        #version 330 core
        in vec2 v_uv;
        out vec4 frag_color;
        uniform sampler2D u_eye;
        uniform vec2 u_extent;       // the part of the image the eye was drawn in
        uniform bool u_encode_srgb;  // an sRGB swapchain image is decoded to linear when sampled
        void main() {
            // The one triangle covers the picture and more: outside the picture is the black border.
            if (any(greaterThan(v_uv, vec2(1.0)))) { frag_color = vec4(0.0, 0.0, 0.0, 1.0); return; }
            vec2 uv = min(v_uv * u_extent, u_extent - 0.5 / vec2(textureSize(u_eye, 0)));  // not past the rect
            vec3 c = clamp(texture(u_eye, uv).rgb, 0.0, 1.0);
            if (u_encode_srgb) {
                c = mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
            }
            frag_color = vec4(c, 1.0);
        }""",
}


class _WindowContext:
    """pyopenxr's context-provider interface over the pyglet window's GL context."""

    def __init__(self, window: pyglet.window.Window):
        self._window = window

    def make_current(self) -> None:
        self._window.switch_to()

    def done_current(self) -> None:
        pass

    def destroy(self) -> None:
        pass  # the window is closed by MirrorWindow.close()


class MirrorWindow:
    def __init__(
        self,
        size: tuple[int, int] = (960, 540),
        on_key: Callable[[str], None] | None = None,
        key_map: dict[str, str] | None = None,
        srgb_source: bool = True,
    ):
        from pyglet import gl
        from pyglet.window import key

        config = gl.Config(major_version=3, minor_version=3, forward_compatible=True, double_buffer=True)
        self._window = pyglet.window.Window(
            width=int(size[0]),
            height=int(size[1]),
            vsync=False,
            caption="Tidewell - headset mirror (left eye)",
            config=config,
            resizable=True,
        )
        self._key = key
        self.on_key = on_key
        self.key_map = key_map if key_map is not None else default_keymap()
        self.srgb_source = srgb_source
        self.capture = False  # keep what each show() drew (tests, screenshots)
        self.last_image = None
        self.closed = False
        self.shown = 0
        self._window.push_handlers(on_key_press=self._on_key_press, on_close=self._on_close)
        self._window.switch_to()
        self.ctx: moderngl.Context | None = None
        self._program = self._vao = None

    def context_provider(self) -> _WindowContext:
        return _WindowContext(self._window)

    def attach(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self._program = ctx.program(**_MIRROR_SHADERS)
        self._vao = ctx.vertex_array(self._program, [])

    def show(self, eye: moderngl.Texture, drawn: tuple[int, int] | None = None) -> None:
        """Draw the eye's image (the swapchain texture, still acquired) into the window: all of it,
        or the `drawn` rectangle at its bottom-left corner (the layer's image rect)."""
        if self.closed or self.ctx is None:
            return
        width, height = self._window.get_framebuffer_size()
        drawn = drawn or eye.size
        eye_aspect = drawn[0] / max(drawn[1], 1)
        window_aspect = width / max(height, 1)
        scale = (eye_aspect / window_aspect, 1.0) if eye_aspect < window_aspect else (1.0, window_aspect / eye_aspect)
        screen = self.ctx.screen
        screen.use()
        self.ctx.viewport = (0, 0, width, height)
        screen.clear(0.0, 0.0, 0.0, 1.0)
        eye.filter = (moderngl.LINEAR, moderngl.LINEAR)
        eye.use(location=0)
        self._program["u_eye"].value = 0
        self._program["u_scale"].value = scale
        self._program["u_extent"].value = (drawn[0] / eye.size[0], drawn[1] / eye.size[1])
        self._program["u_encode_srgb"].value = self.srgb_source
        self._vao.render(moderngl.TRIANGLES, vertices=3)
        if self.capture:  # the window's size now, which the screen framebuffer's own size does not follow
            data = screen.read(viewport=(0, 0, width, height), components=3, alignment=1)
            self.last_image = np.flipud(np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)).copy()
        self._window.flip()
        self.shown += 1

    def dispatch_events(self) -> None:
        if not self.closed:
            self._window.dispatch_events()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for item in (self._vao, self._program):
                if item is not None:
                    item.release()
            self._window.close()

    def _on_key_press(self, symbol: int, modifiers: int) -> bool:
        name = self.key_map.get(from_pyglet(self._key.symbol_string(symbol)))
        if name is not None and self.on_key is not None:
            self.on_key(name)
        return True  # Escape must not close the mirror and end a client's session by accident

    def _on_close(self) -> bool:
        # Closing the mirror is not ending the client's session: the headset keeps playing.
        self.close()
        return True
