"""Framebuffers drawn into and read back: one way to make them at a size, and to read their pixels."""

from __future__ import annotations

import moderngl
import numpy as np


def sized_framebuffer(
    ctx: moderngl.Context,
    current: moderngl.Framebuffer | None,
    size: tuple[int, int],
    *,
    repeat: bool = True,
    filter: tuple[int, int] | None = None,
) -> moderngl.Framebuffer:
    """`current` when it is already `size`, else a new framebuffer with one RGBA colour texture of that
    size (`current` and its texture released). `repeat` and `filter` set up the new texture's sampling."""
    size = (int(size[0]), int(size[1]))
    if current is not None and current.size == size:
        return current
    release_framebuffer(current)
    texture = ctx.texture(size, 4)
    if not repeat:
        texture.repeat_x = texture.repeat_y = False
    if filter is not None:
        texture.filter = filter
    return ctx.framebuffer(color_attachments=[texture])


def release_framebuffer(framebuffer: moderngl.Framebuffer | None) -> None:
    """Releases a framebuffer made by sized_framebuffer and its colour texture."""
    if framebuffer is not None:
        framebuffer.color_attachments[0].release()
        framebuffer.release()


def read_rgb(framebuffer: moderngl.Framebuffer, size: tuple[int, int] | None = None) -> np.ndarray:
    """A framebuffer's colour as HxWx3 uint8, top row first: all of it, or its bottom-left `size`."""
    width, height = size or framebuffer.size
    data = framebuffer.read(viewport=(0, 0, width, height), components=3, alignment=1)
    return np.flipud(np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)).copy()
