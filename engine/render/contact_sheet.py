"""A PNG grid of rendered frames with a caption under each (for reports and scene review)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tidewell.core.private_files import private_folder, replacing

PADDING_PX = 8
CAPTION_PX = 22
BACKGROUND = (14, 14, 18)
CAPTION_COLOR = (190, 184, 176)


def contact_sheet_size(frame_size: tuple[int, int], count: int, columns: int = 4) -> tuple[int, int]:
    """(width, height) of the sheet for `count` frames of (width, height)."""
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    width, height = frame_size
    return (columns * width + (columns + 1) * PADDING_PX, rows * (height + CAPTION_PX) + (rows + 1) * PADDING_PX)


def write_contact_sheet(frames: list[tuple[str, np.ndarray]], path: Path, columns: int = 4) -> Path:
    """Tiles every (caption, HxWx3 uint8) frame on a dark sheet; tiles take the largest frame's size."""
    if not frames:
        raise ValueError("write_contact_sheet: no frames given")
    if columns < 1:
        raise ValueError(f"write_contact_sheet: columns must be >= 1, got {columns}")
    images = []
    for caption, frame in frames:
        array = np.asarray(frame)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"write_contact_sheet: frame {caption!r} has shape {array.shape}, expected HxWx3")
        images.append((caption, Image.fromarray(array.astype(np.uint8), "RGB")))
    tile = (max(i.width for _, i in images), max(i.height for _, i in images))
    sheet = Image.new("RGB", contact_sheet_size(tile, len(images), columns), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    columns = min(columns, len(images))
    for index, (caption, image) in enumerate(images):
        row, column = divmod(index, columns)
        x = PADDING_PX + column * (tile[0] + PADDING_PX)
        y = PADDING_PX + row * (tile[1] + CAPTION_PX + PADDING_PX)
        sheet.paste(image, (x + (tile[0] - image.width) // 2, y + (tile[1] - image.height) // 2))
        draw.text(
            (x + tile[0] // 2, y + tile[1] + CAPTION_PX // 2), caption, fill=CAPTION_COLOR, font=font, anchor="mm"
        )
    path = Path(path)
    private_folder(path.parent)
    with replacing(path, binary=True) as file:  # owner-only; a full disk leaves no half-written PNG
        sheet.save(file, format="PNG")
    return path
