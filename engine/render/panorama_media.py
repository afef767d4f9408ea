"""The picture of a panorama scene on the GPU, top row first, for scenes/common/panorama.frag.

StillPanorama holds a photo as one mipmapped RGB texture; VideoPanorama (video_panorama.py) a
video's current frame as mipmapped Y, U and V planes that the shader turns into RGB per pixel.
"""

from __future__ import annotations

import math

import moderngl
import numpy as np

from tidewell.engine.render import camera
from tidewell.engine.render.video_decoder import fitted_size
from tidewell.scenes.catalog import SceneError
from tidewell.scenes.panorama_spec import LAYOUT_CODES, PanoramaSpec, layout_problem


def open_panorama(ctx: moderngl.Context, spec: PanoramaSpec):
    """The scene's picture on the GPU; SceneError saying what is wrong with the file otherwise."""
    max_size = int(ctx.info.get("GL_MAX_TEXTURE_SIZE", 8192))
    if spec.is_video:
        from tidewell.engine.render.video_panorama import VideoPanorama

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


def pixel_angle(size: tuple[int, int], eye=None) -> float:
    """About how many radians one pixel of a view of `size` spans (vertically, at its centre)."""
    if eye is not None:  # proj[1, 1] = 2 / (tan(up) - tan(down))
        return 2.0 * math.atan(1.0 / float(eye.proj[1, 1])) / max(size[1], 1)
    return math.radians(camera.DEFAULT_FOV_Y_DEG) / max(size[1], 1)


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


def mipmapped(texture: moderngl.Texture) -> moderngl.Texture:
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


PanoramaMedia = StillPanorama  # or engine/render/video_panorama.VideoPanorama: update(), bind(), release()
