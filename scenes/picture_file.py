"""Reading a panorama photo as 8-bit RGB the way a viewer shows it, for the renderer and the importer.

Pillow's plain convert("RGB") gets three kinds of file wrong: 16-bit greyscale (mode I;16 / I) is
clipped to white, a camera's EXIF orientation is ignored, and transparency is dropped without a word.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tidewell.core.errors import TidewellError

# The largest picture read at all: 32768 x 16384 (beyond any GPU's texture size; shown downscaled).
# Pillow's own limit (~179 Mpx) would call a 16k panorama a decompression bomb.
MAX_PIXELS = 32768 * 16384


class PictureError(TidewellError, ValueError):
    """A picture file that cannot be read; the message names the file and why."""


def picture_size(path: Path) -> tuple[int, int]:
    """The picture's size as shown (EXIF orientation applied), without decoding its pixels."""
    with _opened(path) as image:
        width, height = image.size
        if _orientation(image) in (5, 6, 7, 8):  # turned by 90 degrees
            return height, width
        return width, height


def read_rgb_picture(path: Path) -> tuple[Image.Image, list[str]]:
    """(the picture as 8-bit RGB, notes on what was changed: transparency, frames after the first)."""
    notes = []
    with _opened(path) as image:
        try:
            image.load()
            if getattr(image, "n_frames", 1) > 1:
                notes.append(f"{path.name}: an animated picture: only its first frame is shown")
            picture = ImageOps.exif_transpose(image)
            if picture.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
                values = np.asarray(picture, dtype=np.float64)
                top = 65535.0 if picture.mode.startswith("I") else max(1.0, float(values.max()))
                picture = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
            if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
                rgba = picture.convert("RGBA")
                if rgba.getextrema()[3][0] < 255:
                    notes.append(f"{path.name}: transparent parts are shown black")
                black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
                picture = Image.alpha_composite(black, rgba)
            return picture.convert("RGB"), notes
        except (OSError, ValueError, SyntaxError) as error:
            raise PictureError(f"{path}: cannot read the image: {error}") from None


def _opened(path: Path) -> Image.Image:
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():  # Pillow warns below its hard limit; the size is checked here
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            image = Image.open(path)
    except Image.DecompressionBombError:
        raise PictureError(f"{path}: too large to read (at most {MAX_PIXELS // 1_000_000} megapixels)") from None
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise PictureError(f"{path}: cannot read the image: {error}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise PictureError(
            f"{path}: {width}x{height} is too large to read (at most {MAX_PIXELS // 1_000_000} megapixels)"
        )
    return image


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except (OSError, ValueError, TypeError):
        return 1
