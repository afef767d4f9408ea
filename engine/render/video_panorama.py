"""A panorama video's frames on the GPU as mipmapped Y, U and V planes, on the scene's own clock.

The media clock runs only while the scene is drawn, the session is not paused and the scene may
move. The frame loop never waits for the decoder (engine/render/video_decoder.py) and never shows a
half-uploaded frame: the planes of the next frame go up a strip at a time into a second set of
textures over the frames before it is due (all at once only when it is already late), and the two
sets swap when it is complete. panorama.frag turns Y, U and V into RGB per drawn pixel, which costs
far less than converting every texel of a 4K frame (a full-size pass took ~100 ms per frame on a
software renderer). In the last LOOP_FADE_S of each loop the picture fades into the video's first
frame (a third set, kept), which is where the next loop starts: the loop never jumps.
"""

from __future__ import annotations

import math

import moderngl
import numpy as np

from tidewell.engine.render.panorama_parts import check_layout, eye_texels, mipmapped
from tidewell.engine.render.video_decoder import VideoDecoder, VideoError, VideoFrame
from tidewell.scenes.catalog import SceneError
from tidewell.scenes.panorama_spec import PanoramaSpec

LOOP_FADE_S = 1.0
UPLOAD_STRIPS = 2  # a frame's planes go up in this many strips, one per drawn frame
MAX_STEP_S = 0.5  # a longer gap between draws (a stall, a scene shown again) moves the media clock this much
BEHIND_WARNING_S = 2.0  # the picture this far behind its clock: the machine cannot decode the video in time


class VideoPanorama:
    def __init__(self, ctx: moderngl.Context, spec: PanoramaSpec, max_size: int):
        self.ctx = ctx
        self.spec = spec
        self.problems: list[str] = []
        try:
            self.decoder = VideoDecoder(spec.media, max_size)
        except VideoError as error:
            raise SceneError(str(error)) from None
        try:
            self._open(spec, max_size)
        except BaseException as error:  # the decoder's thread must not outlive a picture that failed
            self.decoder.close()
            self._release_planes()
            if isinstance(error, (SceneError, VideoError)):
                raise SceneError(str(error)) from None
            raise

    def _open(self, spec: PanoramaSpec, max_size: int) -> None:
        self._sets: list[list[moderngl.Texture]] = []
        check_layout(spec.media, self.decoder.source_size, spec.layout)
        first = self.decoder.first_frame()
        if self.decoder.size != self.decoder.source_size:
            (sw, sh), (w, h) = self.decoder.source_size, self.decoder.size
            self.problems.append(
                f"{spec.media}: {sw}x{sh} is larger than this GPU's largest texture ({max_size}); shown at {w}x{h}"
            )
        self.eye_texels = eye_texels(self.decoder.size, spec.layout)
        self._sets = [self._plane_set() for _ in range(3)]  # shown, being uploaded, the first frame
        self.media_t = 0.0
        self.behind_s = 0.0  # how far the picture is behind the media clock (the decoder falling behind)
        self.wait_for_frames = False  # offline renders: each frame shows the video as of its time
        self.frames_shown = 0
        self.minified = True  # until a view says otherwise: mipmaps for every new frame
        self._shown_t = 0.0
        self._full_range, self._bt601 = first.full_range, first.bt601
        self._blend = 0.0
        self._last_t: float | None = None
        self._pending: VideoFrame | None = None
        self._uploaded_rows = 0
        self._reported: set[str] = set()
        self._upload(first, self._sets[2], whole=True)
        for plane in self._sets[2]:
            mipmapped(plane)
        self._show(first, whole=True)

    def _plane_set(self) -> list[moderngl.Texture]:
        width, height = self.decoder.size
        chroma = ((width + 1) // 2, (height + 1) // 2)
        return [self.ctx.texture(size, 1, alignment=1) for size in ((width, height), chroma, chroma)]

    def update(self, state, pixel_angle: float | None = None) -> None:
        """Advance the media clock to `state` and bring the picture up to date (once per drawn frame).
        `pixel_angle` (radians per pixel of the view drawn) says whether the picture is shrunk there:
        only then are mipmaps built for new frames (a headset's eye magnifies even 4K footage; building
        them costs ~40 ms a frame on a software renderer)."""
        if pixel_angle is not None:
            self.minified = pixel_angle * self.eye_texels[1] / math.pi > 1.0
        if self._last_t is not None and state.t_s == self._last_t:
            return  # the other eye of the same frame
        step = 0.0 if self._last_t is None else min(max(state.t_s - self._last_t, 0.0), MAX_STEP_S)
        self._last_t = state.t_s
        if not state.paused and state.scene_motion:
            self.media_t += step
        if self._pending is None:
            self._pending = self.decoder.take(self.media_t, wait=self.wait_for_frames)
            self._uploaded_rows = 0
        if self._pending is not None:
            late = self.wait_for_frames or self.media_t - self._pending.t_s > 1.0 / self.decoder.fps
            self._show(self._pending, whole=late)
        self.behind_s = max(0.0, self.media_t - self._shown_t - 2.0 / self.decoder.fps)
        self._say_problems()

    def _say_problems(self) -> None:
        if self.decoder.error and "error" not in self._reported:
            self._reported.add("error")
            self.problems.append(f"{self.decoder.error} (the last frame stays on screen)")
        if self.behind_s > BEHIND_WARNING_S and "behind" not in self._reported:
            self._reported.add("behind")
            w, h = self.decoder.size
            self.problems.append(
                f"{self.spec.media}: this machine cannot decode the {w}x{h} video in time (the picture is "
                f"{self.behind_s:.1f} s behind; it slows down but never jumps): a smaller or lower-rate copy would play smoothly"
            )

    def _show(self, frame: VideoFrame, whole: bool) -> None:
        if not self._upload(frame, self._sets[1], whole):
            return
        for plane in self._sets[1]:
            if self.minified:
                mipmapped(plane)
            else:  # textureLod reads the full-size level of a texture without mipmaps
                plane.filter = (moderngl.LINEAR, moderngl.LINEAR)
                plane.repeat_y = False
        self._sets[0], self._sets[1] = self._sets[1], self._sets[0]
        self._blend = self._loop_blend(frame)
        self._full_range, self._bt601 = frame.full_range, frame.bt601
        self._shown_t = frame.t_s
        self._pending = None
        self.frames_shown += 1

    def _upload(self, frame: VideoFrame, planes: list[moderngl.Texture], whole: bool) -> bool:
        """Uploads the next strip of `frame` into `planes` (all of it when `whole`); True when complete."""
        height = self.decoder.size[1]
        top = 0 if whole else self._uploaded_rows
        bottom = height if whole else min(height, top + math.ceil(height / UPLOAD_STRIPS / 2) * 2)
        for index, (plane, source) in enumerate(zip(planes, frame.planes)):
            first, last = (top, bottom) if index == 0 else (top // 2, (bottom + 1) // 2)
            last = min(last, source.shape[0])
            if last > first:
                plane.write(
                    np.ascontiguousarray(source[first:last]), viewport=(0, first, source.shape[1], last - first)
                )
        self._uploaded_rows = bottom
        return bottom >= height

    def bind(self) -> dict:
        for unit, plane in enumerate(self._sets[0] + self._sets[2]):
            plane.use(location=unit)
        return {
            "u_yuv": True,
            "u_y": 0,
            "u_u": 1,
            "u_v": 2,
            "u_first_y": 3,
            "u_first_u": 4,
            "u_first_v": 5,
            "u_loop_blend": self._blend,
            "u_full_range": self._full_range,
            "u_bt601": self._bt601,
        }

    def drain_problems(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems

    def _loop_blend(self, frame: VideoFrame) -> float:
        duration = self.decoder.duration_s
        if not duration or self.frames_shown == 0:
            return 0.0
        fade = min(LOOP_FADE_S, duration / 4.0)
        x = min(max((frame.t_s - frame.loop * duration - (duration - fade)) / fade, 0.0), 1.0)
        return x * x * (3.0 - 2.0 * x)

    def release(self) -> None:
        self.decoder.close()
        self._release_planes()

    def _release_planes(self) -> None:
        for planes in getattr(self, "_sets", []):
            for plane in planes:
                plane.release()
        self._sets = []
