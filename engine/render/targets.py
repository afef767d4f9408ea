"""Where frames go: a pyglet window, an offscreen EGL framebuffer, or nowhere.

`open_target` picks the first that works and says why, so a machine without a display or GL
driver still runs a session.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace

import moderngl
import numpy as np
import pyglet

from tidewell.core.frame_state import FrameState
from tidewell.core.keymap import default_keymap, from_pyglet
from tidewell.engine.render.comfort import GuardedFrame
from tidewell.engine.render.framebuffers import read_rgb, release_framebuffer, sized_framebuffer
from tidewell.engine.render.live_view import LiveView
from tidewell.engine.render.scene_renderer import SceneRenderer
from tidewell.scenes.catalog import SceneInfo

# moderngl can leave a GL error flag set that pyglet's debug checks would raise on later; pyglet reads
# this option when pyglet.gl is first imported, so it is set here, before any window module loads.
pyglet.options["debug_gl"] = False


def draw_snapshot(
    ctx: moderngl.Context,
    renderer: SceneRenderer,
    state: FrameState,
    size: tuple[int, int],
    frame: moderngl.Framebuffer | None,
    eye_offset_m: float = 0.0,
) -> tuple[np.ndarray, moderngl.Framebuffer]:
    """`state` drawn at `size` into a framebuffer of its own (`frame`, made again when the size
    changes) with the caller's context, and read back: (pixels, the framebuffer to keep)."""
    frame = sized_framebuffer(ctx, frame, size)
    renderer.render(state, frame, tuple(size), eye_offset_m=eye_offset_m)
    return read_rgb(frame), frame


def _renderer_name(ctx: moderngl.Context) -> str:
    return ctx.info.get("GL_RENDERER", "unknown GL").split(" (")[0]


class OffscreenTarget:
    """An EGL context and a framebuffer of `size`. `scenes` and `strict` go to its SceneRenderer
    (still frames and validation: the scenes given, and a SceneError for one that cannot be drawn)."""

    def __init__(
        self,
        size: tuple[int, int] = (640, 360),
        comfort: bool = True,
        scenes: Mapping[str, SceneInfo] | None = None,
        strict: bool = False,
    ):
        self.size = (int(size[0]), int(size[1]))
        self.ctx = moderngl.create_context(standalone=True, backend="egl")
        self.fbo = self.ctx.simple_framebuffer(self.size)
        self.renderer = SceneRenderer(self.ctx, scenes, strict=strict)
        self.renderer.wait_for_video = True  # nobody watches live: every frame shows the video as of its time
        self.comfort = GuardedFrame(self.ctx) if comfort else None
        self._snapshot: moderngl.Framebuffer | None = None
        self.live_view: LiveView | None = None  # the console's live view (render/live_view.py), offered each frame
        self.closed = False

    @property
    def description(self) -> str:
        return f"EGL, {_renderer_name(self.ctx)}"

    def render(self, state: FrameState) -> None:
        if self.comfort is None:
            self.renderer.render(state, self.fbo, self.size)
        else:
            self.comfort.render(self.renderer, state, self.fbo, self.size)
        if self.live_view is not None:
            self.live_view.offer(self.fbo)

    def read_rgb(self) -> np.ndarray:
        """The last frame as HxWx3 uint8, top row first."""
        return read_rgb(self.fbo)

    def snapshot(self, state: FrameState, size: tuple[int, int], eye_offset_m: float = 0.0) -> np.ndarray:
        """`state` drawn at `size` (an eye `eye_offset_m` sideways) into a frame of its own, as HxWx3
        uint8, top row first; the target's own frame is not touched."""
        pixels, self._snapshot = draw_snapshot(self.ctx, self.renderer, state, size, self._snapshot, eye_offset_m)
        return pixels

    def drain_problems(self) -> list[str]:
        return self.renderer.drain_problems()

    def dispatch_events(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self.renderer.release()
            if self.comfort is not None:
                self.comfort.release()
            release_framebuffer(self._snapshot)
            if self.live_view is not None:
                self.live_view.close()
            self.fbo.release()
            self.ctx.release()
            self.closed = True


class WindowTarget:
    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        on_key: Callable[[str], None] | None = None,
        key_map: dict[str, str] | None = None,
    ):
        pyglet.options["debug_gl"] = False
        from pyglet import gl
        from pyglet.window import key

        config = gl.Config(major_version=3, minor_version=3, forward_compatible=True, double_buffer=True, depth_size=24)
        self._window = pyglet.window.Window(
            width=int(size[0]), height=int(size[1]), caption="Tidewell", config=config, resizable=True
        )
        self.on_key = on_key
        self.key_map = key_map if key_map is not None else default_keymap()
        self._closed = False
        self._key = key
        self._window.push_handlers(on_key_press=self._on_key_press, on_close=self._on_close)
        self.ctx = moderngl.create_context()
        self.renderer = SceneRenderer(self.ctx)
        self.comfort = GuardedFrame(self.ctx)
        self._frame: moderngl.Framebuffer | None = None
        self._snapshot: moderngl.Framebuffer | None = None
        self.live_view: LiveView | None = None  # the console's live view (render/live_view.py), offered each frame

    @property
    def description(self) -> str:
        return f"window, {_renderer_name(self.ctx)}"

    @property
    def closed(self) -> bool:
        return self._closed

    def render(self, state: FrameState) -> None:
        if self._closed:
            return
        self._window.switch_to()
        size = tuple(int(v) for v in self._window.get_framebuffer_size())
        # Drawn offscreen, then copied: the back buffer is undefined after flip, and read_rgb needs the frame.
        # Colour only: a blit that also copies depth fails (GL_INVALID_OPERATION) when the depth
        # formats of the frame and the window differ, and the window would stay black.
        self._frame = sized_framebuffer(self.ctx, self._frame, size)
        self.comfort.render(self.renderer, state, self._frame, size)
        self.ctx.copy_framebuffer(self.ctx.screen, self._frame)
        if self.live_view is not None:
            self.live_view.offer(self._frame)
        self._window.flip()

    def read_rgb(self) -> np.ndarray | None:
        """The last frame drawn as HxWx3 uint8, top row first (None before the first frame)."""
        if self._frame is None:
            return None
        return read_rgb(self._frame)

    def snapshot(self, state: FrameState, size: tuple[int, int]) -> np.ndarray:
        """Render `state` at `size` into a frame of its own and read it; the window is not touched.
        Uses the window's own GL context: a second (EGL) context in the same process can leave
        the window's default framebuffer unusable."""
        self._window.switch_to()
        pixels, self._snapshot = draw_snapshot(self.ctx, self.renderer, state, size, self._snapshot)
        return pixels

    def render_snapshot(self, state: FrameState, size: tuple[int, int]) -> np.ndarray:
        return self.snapshot(state, size)  # a window draws its snapshots at once

    def drain_problems(self) -> list[str]:
        return self.renderer.drain_problems()

    def as_seen(self, state: FrameState) -> FrameState:
        """The frame as drawn; a closed window showed nothing."""
        seen = self.renderer.as_drawn(state)
        return replace(seen, fade=0.0) if self._closed and seen.fade != 0.0 else seen

    def wait_frame(self) -> bool:
        return True  # the session's clock paces a window

    def drain_events(self) -> list[tuple[str, str]]:
        return []

    @property
    def end_request(self) -> str | None:
        return "window closed" if self._closed else None

    def end(self) -> None:
        pass

    def dispatch_events(self) -> None:
        if not self._closed:
            self._window.dispatch_events()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.renderer.release()
            self.comfort.release()
            if self.live_view is not None:
                self.live_view.close()
            for frame in (self._frame, self._snapshot):
                release_framebuffer(frame)
            self._window.close()

    def _on_key_press(self, symbol: int, modifiers: int) -> bool:
        name = self.key_map.get(from_pyglet(self._key.symbol_string(symbol)))
        if name is not None and self.on_key is not None:
            self.on_key(name)
        return True  # keeps pyglet's default Escape-closes-window from ending the session abruptly

    def _on_close(self) -> bool:
        self.close()  # the session reads end_request and ends gently
        return True


class NullTarget:
    """Renders nothing; used when neither a window nor EGL is available."""

    description = "no rendering"
    closed = False

    def render(self, state: FrameState) -> None:
        pass

    def read_rgb(self) -> None:
        return None

    def drain_problems(self) -> list[str]:
        return []

    def dispatch_events(self) -> None:
        pass

    def close(self) -> None:
        pass


def open_target(
    prefer_window: bool, size: tuple[int, int] = (1280, 720)
) -> tuple[WindowTarget | OffscreenTarget | NullTarget, str]:
    """The best target that opens, and one line saying what was chosen and why. Never raises."""
    reason = "window not requested"
    if prefer_window:
        display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        if not display:
            reason = "no display"
        else:
            try:
                window = WindowTarget(size)
                return window, f"window {size[0]}x{size[1]} on {display} ({window.description})"
            except Exception as error:  # any pyglet/driver failure means: fall back
                reason = f"window on {display} failed ({_short(error)})"
    try:
        offscreen = OffscreenTarget(size)
        return offscreen, f"{reason}: rendering offscreen ({offscreen.description})"
    except Exception as error:
        return NullTarget(), f"{reason} and EGL failed ({_short(error)}): not rendering"


def _short(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."
