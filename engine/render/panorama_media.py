"""The picture of a panorama scene as one mipmapped RGB texture, top row first, for panorama.frag.

StillPanorama holds a photo. VideoPanorama shows a VideoDecoder's frames on the scene's own media
clock, which runs only while the scene is drawn, the session is not paused and the scene may move.
Its frames reach the GPU without stalling the frame loop: the planes of the next frame are uploaded
a strip at a time over the frames before it is due (all at once only when it is already late), then
one pass turns them into RGB. In the last LOOP_FADE_S of each loop the picture fades into the
video's first frame, which is where the next loop starts: the loop never jumps.
"""

from __future__ import annotations

import math

import moderngl
import numpy as np

from tidewell.engine.render.video_decoder import VideoDecoder, VideoError, VideoFrame, fitted_size
from tidewell.scenes.catalog import SceneError
from tidewell.scenes.panorama_spec import LAYOUT_CODES, PanoramaSpec, layout_problem

LOOP_FADE_S = 1.0
UPLOAD_STRIPS = 2  # a frame's planes go up in this many strips, one per drawn frame
MAX_STEP_S = 0.25  # a longer gap between draws (a stall, a scene shown again) moves the media clock this much

_CONVERT_SHADERS = {
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
        uniform sampler2D u_y;
        uniform sampler2D u_u;
        uniform sampler2D u_v;
        uniform sampler2D u_first;
        uniform float u_loop_blend;
        uniform bool u_full_range;
        void main() {
            float y = texture(u_y, v_uv).r;
            float cb = texture(u_u, v_uv).r - 0.5;
            float cr = texture(u_v, v_uv).r - 0.5;
            if (!u_full_range) {
                y = (y - 16.0 / 255.0) * (255.0 / 219.0);
                cb *= 255.0 / 224.0;
                cr *= 255.0 / 224.0;
            }
            // BT.709, the matrix of HD and 360-degree footage
            vec3 rgb = vec3(y + 1.5748 * cr, y - 0.1873 * cb - 0.4681 * cr, y + 1.8556 * cb);
            rgb = clamp(rgb, 0.0, 1.0);
            frag_color = vec4(mix(rgb, texture(u_first, v_uv).rgb, u_loop_blend), 1.0);
        }""",
}


def open_panorama(ctx: moderngl.Context, spec: PanoramaSpec):
    """The scene's picture on the GPU; SceneError saying what is wrong with the file otherwise."""
    max_size = int(ctx.info.get("GL_MAX_TEXTURE_SIZE", 8192))
    if spec.is_video:
        return VideoPanorama(ctx, spec, max_size)
    return StillPanorama(ctx, spec, max_size)


def bind_panorama(media: PanoramaMedia, spec: PanoramaSpec, state, eye_offset_m: float, eye=None) -> dict:
    """Binds `media`'s texture (brought up to date before the frame's framebuffer was bound) to unit 0
    and returns panorama.frag's uniforms."""
    media.texture.use(location=0)
    if eye is not None:  # a headset eye: left when it sits left of the head along the eye's own right axis
        right_of_head = float(np.dot(eye.eye_pos - eye.head_pos, eye.eye_to_world[:3, 0]))
    else:
        right_of_head = eye_offset_m
    return {
        "u_panorama": 0,
        "u_layout": LAYOUT_CODES[spec.layout],
        "u_eye_index": int(right_of_head > 0.0),
        "u_yaw": math.radians(spec.yaw_deg),
        "u_media_texels": media.eye_texels,
    }


def check_layout(path, size: tuple[int, int], layout: str) -> None:
    problem = layout_problem(size, layout)
    if problem is not None:
        raise SceneError(f"{path}: {problem}")


def eye_texels(size: tuple[int, int], layout: str) -> tuple[float, float]:
    width, height = size
    if layout == "top-bottom":
        return float(width), height / 2.0
    if layout == "side-by-side":
        return width / 2.0, float(height)
    return float(width), float(height)


def _mipmapped(texture: moderngl.Texture) -> moderngl.Texture:
    texture.build_mipmaps()
    texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
    texture.repeat_y = False  # u wraps around the world; v stops at the poles
    return texture


class StillPanorama:
    def __init__(self, ctx: moderngl.Context, spec: PanoramaSpec, max_size: int):
        from PIL import Image, UnidentifiedImageError

        self.problems: list[str] = []
        Image.MAX_IMAGE_PIXELS = None  # a 16k panorama is a large image, not a decompression bomb
        try:
            with Image.open(spec.media) as image:
                image.load()
                picture = image.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError) as error:
            raise SceneError(f"{spec.media}: cannot read the image: {error}") from None
        check_layout(spec.media, picture.size, spec.layout)
        if max(picture.size) > max_size:
            fitted = fitted_size(picture.size, max_size)
            self.problems.append(
                f"{spec.media}: {picture.size[0]}x{picture.size[1]} is larger than this GPU's largest texture "
                f"({max_size}); shown at {fitted[0]}x{fitted[1]}"
            )
            picture = picture.resize(fitted, Image.LANCZOS)
        self.texture = _mipmapped(ctx.texture(picture.size, 3, picture.tobytes(), alignment=1))
        self.eye_texels = eye_texels(picture.size, spec.layout)

    def update(self, state) -> None:
        pass

    def drain_problems(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems

    def release(self) -> None:
        self.texture.release()


class VideoPanorama:
    def __init__(self, ctx: moderngl.Context, spec: PanoramaSpec, max_size: int):
        self.ctx = ctx
        self.problems: list[str] = []
        try:
            self.decoder = VideoDecoder(spec.media, max_size)
        except VideoError as error:
            raise SceneError(str(error)) from None
        try:
            check_layout(spec.media, self.decoder.source_size, spec.layout)
            first = self.decoder.first_frame()
        except (SceneError, VideoError) as error:
            self.decoder.close()
            raise SceneError(str(error)) from None
        if self.decoder.size != self.decoder.source_size:
            self.problems.append(
                f"{spec.media}: {self.decoder.source_size[0]}x{self.decoder.source_size[1]} is larger than this "
                f"GPU's largest texture ({max_size}); shown at {self.decoder.size[0]}x{self.decoder.size[1]}"
            )
        width, height = self.decoder.size
        self.eye_texels = eye_texels(self.decoder.size, spec.layout)
        chroma = (width // 2, height // 2)
        self._planes = [ctx.texture(size, 1, alignment=1) for size in ((width, height), chroma, chroma)]
        for plane in self._planes:
            plane.repeat_x = plane.repeat_y = False
        self._program = ctx.program(**_CONVERT_SHADERS)
        self._vao = ctx.vertex_array(self._program, [])
        self.texture = ctx.texture((width, height), 4)
        self._target = ctx.framebuffer(color_attachments=[self.texture])
        self._first = ctx.texture((width, height), 4)
        self.media_t = 0.0
        self.wait_for_frames = False  # offline renders: each frame shows the video as of its time
        self.frames_shown = 0
        self._last_t: float | None = None
        self._pending: VideoFrame | None = None
        self._uploaded_rows = 0
        self._reported_error = False
        self._show(first, whole=True)
        ctx.copy_framebuffer(self._first, self._target)
        self._show_mipmaps()

    def update(self, state) -> None:
        """Advance the media clock to `state` and bring the picture up to date (once per drawn frame)."""
        if self._last_t is not None and state.t_s == self._last_t:
            return  # the other eye of the same frame
        step = 0.0 if self._last_t is None else min(max(state.t_s - self._last_t, 0.0), MAX_STEP_S)
        self._last_t = state.t_s
        if not state.paused and state.scene_motion:
            self.media_t += step
        if self.decoder.error and not self._reported_error:
            self.problems.append(f"{self.decoder.error} (the last frame stays on screen)")
            self._reported_error = True
        if self._pending is None:
            self._pending = self.decoder.take(self.media_t, wait=self.wait_for_frames)
            self._uploaded_rows = 0
        if self._pending is not None:
            late = self.wait_for_frames or self.media_t - self._pending.t_s > 1.0 / self.decoder.fps
            self._show(self._pending, whole=late)

    def drain_problems(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems

    def _show(self, frame: VideoFrame, whole: bool) -> None:
        width, height = self.decoder.size
        step = height if whole else math.ceil(height / UPLOAD_STRIPS / 2) * 2
        top = self._uploaded_rows
        bottom = min(height, top + step)
        luma = frame.planes[:height]
        self._planes[0].write(np.ascontiguousarray(luma[top:bottom]), viewport=(0, top, width, bottom - top))
        for index, plane in enumerate(
            (frame.planes[height : height + height // 4], frame.planes[height + height // 4 :])
        ):
            rows = plane.reshape(height // 2, width // 2)[top // 2 : bottom // 2]
            self._planes[1 + index].write(
                np.ascontiguousarray(rows), viewport=(0, top // 2, width // 2, bottom // 2 - top // 2)
            )
        self._uploaded_rows = bottom
        if bottom < height:
            return
        self._convert(frame)
        self._pending = None
        self.frames_shown += 1

    def _convert(self, frame: VideoFrame) -> None:
        for location, name in enumerate(("u_y", "u_u", "u_v", "u_first")):
            (self._planes + [self._first])[location].use(location=location)
            self._program[name].value = location
        self._program["u_full_range"].value = frame.full_range
        self._program["u_loop_blend"].value = self._loop_blend(frame)
        self._target.use()
        self.ctx.viewport = (0, 0, *self.decoder.size)
        self._vao.render(moderngl.TRIANGLES, vertices=3)
        self._show_mipmaps()

    def _show_mipmaps(self) -> None:
        _mipmapped(self.texture)

    def _loop_blend(self, frame: VideoFrame) -> float:
        duration = self.decoder.duration_s
        if not duration or self.frames_shown == 0:
            return 0.0
        fade = min(LOOP_FADE_S, duration / 4.0)
        x = min(max((frame.t_s - frame.loop * duration - (duration - fade)) / fade, 0.0), 1.0)
        return x * x * (3.0 - 2.0 * x)

    def release(self) -> None:
        self.decoder.close()
        for item in (*self._planes, self._first, self._target, self.texture, self._vao, self._program):
            item.release()


PanoramaMedia = StillPanorama | VideoPanorama
