"""`tidewell scenes preview SCENE`: a window showing one scene, with keys to sweep calm, breath
and posture, and live reload of the scene folder's files.

Keys: C / V sweep calm down / up (hold), B switches between an automatic breath cycle (6 per
minute) and manual breath, N / M move breath down / up (hold; manual mode), 1 / 2 / 3 posture
seated / supine / prone, Esc quits. On an edit the scene.toml is checked and the shader rebuilt;
when either is broken the last good version stays on screen and the error ("file:line: ...")
is shown over it until the files are fixed.
"""

from __future__ import annotations

import math
import os
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import moderngl
import numpy as np
import pyglet
from PIL import Image, ImageDraw, ImageFont

from tidewell.core.frame_state import Posture
from tidewell.engine.render.framebuffers import read_rgb, sized_framebuffer
from tidewell.engine.render.scene_renderer import SceneRenderer
from tidewell.engine.render.scene_states import parse_size, scene_state
from tidewell.scenes.catalog import SceneError, available_scenes, load_scene

pyglet.options["debug_gl"] = False

BREATH_PERIOD_S = 10.0  # 6 breaths per minute
SWEEP_PER_S = 0.3  # how fast held C/V and N/M move calm and breath
POLL_INTERVAL_S = 0.5
FRAME_S = 1.0 / 60.0
POSTURE_KEYS = {"_1": Posture.SEATED, "_2": Posture.SUPINE, "_3": Posture.PRONE}
ERROR_COLOUR = (255, 170, 140, 255)
STATUS_COLOUR = (200, 196, 188, 255)
PANEL_COLOUR = (0, 0, 0, 170)

_OVERLAY_VERTEX = """#version 330 core
in vec2 in_pos;
out vec2 v_uv;
uniform vec4 u_rect;  // x, y, width, height in clip space
void main() {
    v_uv = vec2(in_pos.x, 1.0 - in_pos.y);
    gl_Position = vec4(u_rect.xy + in_pos * u_rect.zw, 0.0, 1.0);
}
"""
_OVERLAY_FRAGMENT = """#version 330 core
in vec2 v_uv;
out vec4 frag_color;
uniform sampler2D u_text;
void main() { frag_color = texture(u_text, v_uv); }
"""


class ScenePreview:
    """One window, one scene folder. `draw()` renders a frame to the back buffer, `flip()` shows it."""

    def __init__(
        self,
        folder: Path,
        size: tuple[int, int] = (960, 540),
        clock: Callable[[], float] | None = None,
        poll_interval_s: float = POLL_INTERVAL_S,
    ):
        from pyglet import gl

        self.folder = Path(folder)
        self.scene_id = self.folder.name
        config = gl.Config(major_version=3, minor_version=3, forward_compatible=True, double_buffer=True)
        self.window = pyglet.window.Window(
            width=size[0],
            height=size[1],
            resizable=True,
            caption=f"Tidewell scene preview: {self.scene_id}",
            config=config,
        )
        self.window.push_handlers(
            on_key_press=self.on_key_press, on_key_release=self.on_key_release, on_close=self.close
        )
        self.ctx = moderngl.create_context()
        self.renderer = SceneRenderer(self.ctx, {})
        self._start = time.monotonic()
        self.clock = clock or (lambda: time.monotonic() - self._start)
        self.poll_interval_s = poll_interval_s
        self.calm = 0.5
        self.manual_breath = 0.5
        self.auto_breath = True
        self.posture = Posture.SEATED
        self.closed = False
        self.toml_error: str | None = None
        self._held: set[str] = set()
        self._last_tick = time.monotonic()
        self._last_poll = -math.inf
        self._signature: dict[Path, tuple[int, int]] | None = None
        self._shown_error: str | None = None
        self._frame: moderngl.Framebuffer | None = None
        self._overlay_program = self.ctx.program(vertex_shader=_OVERLAY_VERTEX, fragment_shader=_OVERLAY_FRAGMENT)
        quad = self.ctx.buffer(np.array([0, 0, 1, 0, 0, 1, 1, 1], dtype="f4").tobytes())
        self._overlay_vao = self.ctx.vertex_array(self._overlay_program, [(quad, "2f", "in_pos")])
        self._overlay_cache: dict[str, moderngl.Texture] = {}
        self.overlay_rows = (0, 0)  # pixel rows the last frame's error panel (top) and status (bottom) cover
        self._font = ImageFont.load_default(size=14)
        self.poll(force=True)
        info = self.renderer.scenes.get(self.scene_id)
        if info is not None:
            self.posture = info.postures[0]

    @property
    def error(self) -> str | None:
        """What is wrong with the files on disk now (None when the shown scene is their latest version)."""
        return self.toml_error or self.renderer.scene_error(self.scene_id)

    def poll(self, force: bool = False) -> None:
        """Reloads the scene when any file in its folder changed since the last poll."""
        now = time.monotonic()
        if not force and now - self._last_poll < self.poll_interval_s:
            return
        self._last_poll = now
        signature = _folder_signature(self.folder)
        if signature == self._signature and not force:
            return
        self._signature = signature
        try:
            info = load_scene(self.folder)
        except SceneError as error:
            self.toml_error = str(error)
        else:
            self.toml_error = None
            self.renderer.set_scene(info)

    def breath(self) -> float:
        if self.auto_breath:
            return 0.5 - 0.5 * math.cos(2.0 * math.pi * self.clock() / BREATH_PERIOD_S)
        return self.manual_breath

    def draw(self) -> None:
        if self.closed:
            return
        now = time.monotonic()
        self._sweep(now - self._last_tick)
        self._last_tick = now
        self.poll()
        self.window.switch_to()
        size = tuple(int(v) for v in self.window.get_framebuffer_size())
        self._frame = sized_framebuffer(self.ctx, self._frame, size)
        state = scene_state(self.scene_id, self.posture, t_s=self.clock(), breath=self.breath(), calm=self.calm)
        self.renderer.render(state, self._frame, size)
        self.ctx.copy_framebuffer(self.ctx.screen, self._frame)
        self._report_error()
        self._draw_overlay(size)

    def read_screen(self) -> np.ndarray:
        """The back buffer (what the next flip shows) as HxWx3 uint8, top row first."""
        self.window.switch_to()
        width, height = self.ctx.screen.viewport[2:]
        data = self.ctx.screen.read(components=3, alignment=1)
        return np.flipud(np.frombuffer(data, np.uint8).reshape(height, width, 3)).copy()

    def read_scene(self) -> np.ndarray | None:
        """The scene alone, without the overlay, as HxWx3 uint8."""
        if self._frame is None:
            return None
        return read_rgb(self._frame)

    def flip(self) -> None:
        if not self.closed:
            self.window.flip()

    def run(self, max_frames: int | None = None) -> None:
        frames = 0
        while not self.closed and (max_frames is None or frames < max_frames):
            started = time.monotonic()
            self.window.dispatch_events()
            if self.closed:
                break
            self.draw()
            self.flip()
            frames += 1
            time.sleep(max(0.0, FRAME_S - (time.monotonic() - started)))

    def on_key_press(self, symbol: int, modifiers: int) -> bool:
        from pyglet.window import key

        name = key.symbol_string(symbol)
        if name == "ESCAPE":
            self.close()
        elif name == "B":
            if self.auto_breath:
                self.manual_breath = self.breath()
            self.auto_breath = not self.auto_breath
        elif name in POSTURE_KEYS:
            self.posture = POSTURE_KEYS[name]
        elif name in ("C", "V", "N", "M"):
            self._held.add(name)
        return True

    def on_key_release(self, symbol: int, modifiers: int) -> bool:
        from pyglet.window import key

        self._held.discard(key.symbol_string(symbol))
        return True

    def close(self) -> bool:
        if not self.closed:
            self.closed = True
            self.renderer.release()
            for texture in self._overlay_cache.values():
                texture.release()
            self.window.close()
        return True

    def _sweep(self, dt: float) -> None:
        step = SWEEP_PER_S * min(dt, 0.1)
        direction = {"C": -1, "V": 1}
        self.calm = float(np.clip(self.calm + step * sum(direction.get(k, 0) for k in self._held), 0.0, 1.0))
        if not self.auto_breath:
            direction = {"N": -1, "M": 1}
            moved = self.manual_breath + step * sum(direction.get(k, 0) for k in self._held)
            self.manual_breath = float(np.clip(moved, 0.0, 1.0))

    def _report_error(self) -> None:
        error = self.error
        if error != self._shown_error:
            self._shown_error = error
            print(f"error: {error}" if error else f"reloaded {self.scene_id}: ok", file=sys.stderr, flush=True)

    def _status_line(self) -> str:
        info = self.renderer.scenes.get(self.scene_id)
        listed = "" if info is None or self.posture in info.postures else " (not listed by the scene)"
        breath = "auto" if self.auto_breath else "manual"
        return (
            f"{self.scene_id}  posture {self.posture.value}{listed}  calm {self.calm:.2f} [C/V]  "
            f"breath {self.breath():.2f} {breath} [B, N/M]  postures [1/2/3]  quit [Esc]"
        )

    def _draw_overlay(self, size: tuple[int, int]) -> None:
        panels = [(self._status_line(), STATUS_COLOUR, False)]
        if self.error:
            panels.append((self.error, ERROR_COLOUR, True))
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        self.ctx.screen.use()
        self.ctx.viewport = (0, 0, *size)
        rows = [0, 0]
        for text, colour, at_top in panels:
            texture = self._text_texture(text, colour, size[0])
            width, height = texture.size
            rows[0 if at_top else 1] = height
            x = -1.0
            y = 1.0 - 2.0 * height / size[1] if at_top else -1.0
            self._overlay_program["u_rect"].value = (x, y, 2.0 * width / size[0], 2.0 * height / size[1])
            texture.use(location=0)
            self._overlay_program["u_text"].value = 0
            self._overlay_vao.render(moderngl.TRIANGLE_STRIP)
        self.ctx.disable(moderngl.BLEND)
        self.overlay_rows = (rows[0], rows[1])

    def _text_texture(self, text: str, colour: tuple, max_width_px: int) -> moderngl.Texture:
        key = f"{colour}|{max_width_px}|{text}"
        texture = self._overlay_cache.get(key)
        if texture is not None:
            return texture
        columns = max(20, (max_width_px - 16) // 8)
        lines = [part for line in text.splitlines() for part in (textwrap.wrap(line, columns) or [""])][:12]
        line_px = 18
        image = Image.new("RGBA", (max_width_px, 8 + line_px * len(lines)), PANEL_COLOUR)
        draw = ImageDraw.Draw(image)
        for index, line in enumerate(lines):
            draw.text((8, 4 + index * line_px), line, fill=colour, font=self._font)
        if len(self._overlay_cache) > 32:
            for old in self._overlay_cache.values():
                old.release()
            self._overlay_cache.clear()
        texture = self._overlay_cache[key] = self.ctx.texture(image.size, 4, image.tobytes())
        return texture


def _folder_signature(folder: Path) -> dict[Path, tuple[int, int]]:
    """(mtime, size) of every file in the scene folder: cheap enough to read twice a second."""
    signature = {}
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                stat = path.stat()
                signature[path] = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            continue
    return signature


def resolve_scene_folder(scene_id_or_path: str | Path) -> Path:
    """The folder of a scene given by id or path; the folder need not hold a valid scene yet."""
    path = Path(scene_id_or_path)
    if path.name == "scene.toml":
        path = path.parent
    if path.is_dir() and ((path / "scene.toml").exists() or (path / "scene.frag").exists()):
        return path
    scenes = available_scenes()
    if str(scene_id_or_path) in scenes:
        return scenes[str(scene_id_or_path)].folder
    raise SceneError(
        f"unknown scene {str(scene_id_or_path)!r}: expected a scene id "
        f"({', '.join(sorted(scenes))}) or a folder holding scene.toml"
    )


def scenes_preview(scene_id_or_path: str, size: str = "960x540", frames: int | None = None) -> int:
    """Opens the preview window until Esc (or after `frames` frames, for tests and scripts)."""
    try:
        folder = resolve_scene_folder(scene_id_or_path)
        width_height = parse_size(size)
    except (SceneError, ValueError) as error:
        print(error, file=sys.stderr)
        return 1
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print(
            "scenes preview needs a display (DISPLAY or WAYLAND_DISPLAY is not set); "
            "use `tidewell scenes render` without one",
            file=sys.stderr,
        )
        return 1
    try:
        preview = ScenePreview(folder, width_height)
    except Exception as error:  # pyglet or driver failures: a message, not a traceback
        print(f"cannot open the preview window: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    print(__doc__.split("\n\n")[1].replace("\n", " "), file=sys.stderr)
    try:
        preview.run(frames)
    finally:
        preview.close()
    return 0
