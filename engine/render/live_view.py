"""The console's live view: what the client's left eye sees, small (about 480 px wide) and a few times
a second, as JPEG, taken from the GPU without stalling the frame loop.

A target calls `offer(texture_or_framebuffer, drawn)` right after it drew the eye. At most every
`period_s` the live view draws the drawn rectangle scaled down into a small framebuffer of its own (one
GPU pass, a box filter) and starts reading it into a pixel buffer object: the read is asynchronous. On
a later offer (a frame or more later: by then the GPU is done) it maps that buffer and hands the bytes to
one worker thread, which flips the rows, encodes the JPEG and calls `on_jpeg(bytes)`. The frame thread
only ever draws one small pass and copies ~400 kB; it never waits on the GPU or the encoder.

The images go to `on_jpeg` only (the console's memory, engine/console/hub.py): nothing here writes a
file or the session log, so no live-view image can reach a report or an export (`--anonymize` or not).

No exception leaves `offer`: a failure (GL, encoder, `on_jpeg`) turns the live view off, with one
message in `problems`, and the session goes on.
"""

from __future__ import annotations

import io
import math
import queue
import threading
import time
from collections.abc import Callable

import moderngl
import numpy as np

from tidewell.engine.render.framebuffers import release_framebuffer, sized_framebuffer

LIVE_WIDTH = 480
LIVE_PERIOD_S = 0.33
JPEG_QUALITY = 70
MAX_TAPS = 4  # bilinear taps per axis: a box of up to 8x8 source texels per output pixel

_SHADERS = {
    "vertex_shader": """
        #version 330 core
        out vec2 v_uv;
        void main() {
            vec2 corner = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);  // one triangle over the frame
            v_uv = corner;
            gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
        }""",
    "fragment_shader": """
        #version 330 core
        in vec2 v_uv;
        out vec4 frag_color;
        uniform sampler2D u_eye;
        uniform vec2 u_extent;       // the drawn rectangle, as a part of the texture
        uniform vec2 u_footprint;    // one output pixel, in texture coordinates
        uniform int u_taps;          // bilinear taps per axis over the footprint
        uniform bool u_encode_srgb;  // an sRGB texture is decoded to linear when sampled
        void main() {
            vec2 base = v_uv * u_extent - 0.5 * u_footprint;
            vec3 sum = vec3(0.0);
            for (int y = 0; y < u_taps; ++y) {
                for (int x = 0; x < u_taps; ++x) {
                    vec2 at = base + (vec2(x, y) + 0.5) / float(u_taps) * u_footprint;
                    sum += texture(u_eye, clamp(at, vec2(0.0), u_extent)).rgb;
                }
            }
            vec3 c = clamp(sum / float(u_taps * u_taps), 0.0, 1.0);
            if (u_encode_srgb) {
                c = mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
            }
            frag_color = vec4(c, 1.0);
        }""",
}


def live_size(drawn: tuple[int, int], width: int = LIVE_WIDTH) -> tuple[int, int]:
    """The live image's size for an eye drawn at `drawn`: `width` wide (never wider than drawn), same aspect."""
    out_w = max(1, min(int(width), int(drawn[0])))
    return out_w, max(1, round(out_w * int(drawn[1]) / max(int(drawn[0]), 1)))


def encode_jpeg(rgb_bottom_up: bytes, size: tuple[int, int], quality: int = JPEG_QUALITY) -> bytes:
    """RGB rows as GL reads them (bottom row first) as a JPEG, top row first."""
    from PIL import Image

    width, height = size
    rows = np.frombuffer(rgb_bottom_up, dtype=np.uint8, count=width * height * 3).reshape(height, width, 3)
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rows[::-1])).save(out, "JPEG", quality=quality)
    return out.getvalue()


class LiveView:
    def __init__(
        self,
        ctx: moderngl.Context,
        width: int = LIVE_WIDTH,
        period_s: float = LIVE_PERIOD_S,
        on_jpeg: Callable[[bytes], None] | None = None,
        *,
        srgb_source: bool = False,
        clock: Callable[[], float] = time.monotonic,
        quality: int = JPEG_QUALITY,
    ):
        """`srgb_source`: the offered textures are sRGB (an OpenXR swapchain's GL_SRGB8_ALPHA8), so the
        pass encodes what sampling decodes. `clock`: seconds, for the period (tests inject their own)."""
        self.ctx = ctx
        self.width = int(width)
        self.period_s = float(period_s)
        self.on_jpeg = on_jpeg
        self.srgb_source = srgb_source
        self.quality = quality
        self.problems: list[str] = []
        self.enabled = True
        self.reads = 0  # read-backs started (GPU)
        self.images = 0  # JPEGs handed to on_jpeg
        self.offer_s = 0.0  # time spent in offer on the frame thread, all offers together (benchmarks)
        self.offer_max_s = 0.0
        self._clock = clock
        self._next_s = -math.inf
        self._offers = 0
        self._pending: tuple[tuple[int, int], int] | None = None  # (size, offer it started at)
        self._program = self._vao = self._fbo = self._pbo = self._copy = self._sampler = None
        self._lock = threading.Lock()
        try:  # compiled now, not at the first offer: a shader compile would cost a frame (llvmpipe: ~100 ms)
            self._program = ctx.program(**_SHADERS)
            self._vao = ctx.vertex_array(self._program, [])
        except Exception as error:
            self._fail(f"live view off: {type(error).__name__}: {error}")
        self._queue: queue.Queue[tuple[bytes, tuple[int, int]] | None] = queue.Queue(maxsize=1)
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="tidewell-live-view", daemon=True)
        self._worker.start()

    # -- the frame thread ---------------------------------------------------------------------
    def offer(self, source: moderngl.Texture | moderngl.Framebuffer, drawn: tuple[int, int] | None = None) -> None:
        """The eye just drawn: a texture or a framebuffer, and the rectangle drawn at its bottom-left
        corner (all of it when None). Never raises."""
        if not self.enabled or self._closed:
            return
        began = time.perf_counter()
        try:
            self._offers += 1
            if self._pending is not None and self._pending[1] < self._offers:
                self._collect()
            now = self._clock()
            if now >= self._next_s and self._pending is None:
                self._next_s = now + self.period_s
                self._start_read(source, drawn)
        except Exception as error:  # GL state, a driver: the live view goes, the session stays
            self._fail(f"live view off: {type(error).__name__}: {error}")
        spent = time.perf_counter() - began
        self.offer_s += spent
        self.offer_max_s = max(self.offer_max_s, spent)

    def _start_read(self, source, drawn) -> None:
        texture = self._texture_of(source)
        drawn = tuple(int(v) for v in (drawn or texture.size))
        size = live_size(drawn, self.width)
        self._fbo = sized_framebuffer(self.ctx, self._fbo, size)
        if self._pbo is None or self._pbo.size != size[0] * size[1] * 3:
            if self._pbo is not None:
                self._pbo.release()
            self._pbo = self.ctx.buffer(reserve=size[0] * size[1] * 3)
        scale = max(drawn[0] / size[0], drawn[1] / size[1])
        bound, viewport = self.ctx.fbo, self.ctx.viewport  # the target's: given back after the pass
        if self._sampler is None:  # its own sampling, not the texture's: the eye's owner keeps its filter
            self._sampler = self.ctx.sampler(filter=(moderngl.LINEAR, moderngl.LINEAR), repeat_x=False, repeat_y=False)
        texture.use(location=0)
        self._sampler.use(location=0)
        self._fbo.use()
        self.ctx.viewport = (0, 0, *size)
        self._program["u_eye"].value = 0
        self._program["u_extent"].value = (drawn[0] / texture.size[0], drawn[1] / texture.size[1])
        self._program["u_footprint"].value = (scale / texture.size[0], scale / texture.size[1])
        self._program["u_taps"].value = max(1, min(MAX_TAPS, math.ceil(scale / 2)))
        self._program["u_encode_srgb"].value = self.srgb_source
        self._vao.render(moderngl.TRIANGLES, vertices=3)
        self._sampler.clear(location=0)
        self._fbo.read_into(self._pbo, viewport=(0, 0, *size), components=3, alignment=1)  # into the PBO: async
        if bound is not None:  # a standalone context has no framebuffer of its own until one is used
            bound.use()
            self.ctx.viewport = viewport
        self._pending = (size, self._offers)
        self.reads += 1

    def _texture_of(self, source) -> moderngl.Texture:
        """The texture to sample: the source itself, its colour texture, or (a renderbuffer) a copy."""
        if isinstance(source, moderngl.Texture):
            return source
        attachment = source.color_attachments[0]
        if isinstance(attachment, moderngl.Texture):
            return attachment
        if self._copy is None or self._copy.size != source.size:  # a renderbuffer cannot be sampled
            if self._copy is not None:
                self._copy.release()
            self._copy = self.ctx.texture(source.size, 4)
        self.ctx.copy_framebuffer(self._copy, source)
        return self._copy

    def _collect(self) -> None:
        """Map the read started at an earlier offer (done by now) and hand it to the worker."""
        size, _ = self._pending
        self._pending = None
        data = self._pbo.read(size=size[0] * size[1] * 3)
        try:
            self._queue.get_nowait()  # the worker is behind: the older image goes
            self._queue.task_done()
        except queue.Empty:
            pass
        self._queue.put_nowait((data, size))

    # -- the worker ---------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self.enabled:
                    jpeg = encode_jpeg(item[0], item[1], self.quality)
                    if self.on_jpeg is not None:
                        self.on_jpeg(jpeg)
                    self.images += 1
            except Exception as error:  # the encoder or the receiver: the live view goes
                self._fail(f"live view off: {type(error).__name__}: {error}")
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until the worker has handled every image handed to it (tests)."""
        self._queue.join()

    def _fail(self, message: str) -> None:
        with self._lock:
            if self.enabled:
                self.enabled = False
                self.problems.append(message)

    def drain_problems(self) -> list[str]:
        with self._lock:
            problems, self.problems = self.problems, []
            return problems

    def close(self) -> None:
        """Stop the worker (joined) and release the GL objects; call with the target's context current."""
        if self._closed:
            return
        self._closed = True
        while True:
            try:
                self._queue.get_nowait()
                self._queue.task_done()
            except queue.Empty:
                break
        self._queue.put(None)
        self._worker.join(timeout=5.0)
        release_framebuffer(self._fbo)
        for item in (self._vao, self._program, self._pbo, self._copy, self._sampler):
            if item is not None:
                item.release()
        self._fbo = self._vao = self._program = self._pbo = self._copy = self._sampler = None
