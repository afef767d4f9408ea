"""Small pieces both kinds of panorama media use: the layout check, each eye's texel size, mipmaps,
and how much of the world one pixel of a view spans."""

from __future__ import annotations

import math

import moderngl

from tidewell.engine.render import camera
from tidewell.scenes.catalog import SceneError
from tidewell.scenes.panorama_spec import layout_problem


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
