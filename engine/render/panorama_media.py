"""The picture of a panorama scene on the GPU, top row first, for scenes/common/panorama.frag.

StillPanorama holds a photo as one mipmapped RGB texture; VideoPanorama (video_panorama.py) a
video's current frame as mipmapped Y, U and V planes that the shader turns into RGB per pixel.
"""

from __future__ import annotations

import math

import moderngl
import numpy as np
from PIL import Image

from tidewell.engine.render.panorama_parts import check_layout, eye_texels, mipmapped
from tidewell.engine.render.video_decoder import fitted_size
from tidewell.engine.render.video_panorama import VideoPanorama
from tidewell.scenes.catalog import SceneError
from tidewell.scenes.panorama_spec import LAYOUT_CODES, PanoramaSpec
from tidewell.scenes.picture_file import PictureError, read_rgb_picture


def open_panorama(ctx: moderngl.Context, spec: PanoramaSpec):
    """The scene's picture on the GPU; SceneError saying what is wrong with the file otherwise."""
    max_size = int(ctx.info.get("GL_MAX_TEXTURE_SIZE", 8192))
    if spec.is_video:
        return VideoPanorama(ctx, spec, max_size)
    return StillPanorama(ctx, spec, max_size)


def bind_panorama(media: PanoramaMedia, spec: PanoramaSpec, state, eye_offset_m: float, eye=None) -> dict:
    """Binds `media`'s textures (brought up to date before the frame's framebuffer was bound) and
    returns panorama.frag's uniforms."""
    if eye is not None:  # a headset eye: left when it sits left of the head along the eye's own right axis
        right_of_head = float(np.dot(eye.eye_pos - eye.head_pos, eye.eye_to_world[:3, 0]))
    else:
        right_of_head = eye_offset_m
    return {
        **media.bind(),
        "u_layout": LAYOUT_CODES[spec.layout],
        "u_eye_index": int(right_of_head > 0.0),
        "u_yaw": math.radians(spec.yaw_deg),
        "u_media_texels": media.eye_texels,
    }


class StillPanorama:
    def __init__(self, ctx: moderngl.Context, spec: PanoramaSpec, max_size: int):
        try:
            picture, self.problems = read_rgb_picture(spec.media)
        except PictureError as error:
            raise SceneError(str(error)) from None
        check_layout(spec.media, picture.size, spec.layout)
        if max(picture.size) > max_size:
            fitted = fitted_size(picture.size, max_size)
            self.problems.append(
                f"{spec.media}: {picture.size[0]}x{picture.size[1]} is larger than this GPU's largest texture "
                f"({max_size}); shown at {fitted[0]}x{fitted[1]}"
            )
            picture = picture.resize(fitted, Image.LANCZOS)
        self.texture = mipmapped(ctx.texture(picture.size, 3, picture.tobytes(), alignment=1))
        self.eye_texels = eye_texels(picture.size, spec.layout)

    def update(self, state, pixel_angle: float | None = None) -> None:
        pass

    def bind(self) -> dict:
        self.texture.use(location=0)
        return {"u_panorama": 0, "u_yuv": False}

    def drain_problems(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems

    def release(self) -> None:
        self.texture.release()


PanoramaMedia = StillPanorama | VideoPanorama
