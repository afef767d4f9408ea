"""Scene thumbnails for the console's program chooser.

Rendered offscreen once, before the console serves anything (one GL context, on the main
thread, released before any session opens its own), and cached on disk by the scene files'
sizes and times. A scene that cannot be rendered gets a swatch of its palette instead.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from tidewell.core.private_files import private_folder, write_private
from tidewell.engine.render.scene_states import scene_state
from tidewell.scenes.catalog import SceneInfo, available_scenes
from tidewell.sessions.store import data_dir

SIZE = (320, 180)


def scene_thumbnails(say: Callable[[str], None], cache: Path | None = None) -> dict[str, bytes]:
    """{scene id: PNG bytes} for every available scene."""
    cache = cache or data_dir() / "thumbnails"
    scenes = available_scenes()
    thumbnails: dict[str, bytes] = {}
    missing: list[tuple[SceneInfo, Path]] = []
    for scene_id, info in sorted(scenes.items()):
        path = cache / f"{scene_id}-{_fingerprint(info.folder)}.png"
        try:
            thumbnails[scene_id] = path.read_bytes()
        except OSError:
            missing.append((info, path))
    if not missing:
        return thumbnails
    from tidewell.engine.render.targets import NullTarget, open_target

    target, message = open_target(prefer_window=False, size=SIZE)
    try:
        for info, path in missing:
            pixels = None
            if not isinstance(target, NullTarget):
                target.render(
                    scene_state(info.id, info.postures[0] if info.postures else "seated", calm=0.7, breath=0.6)
                )
                pixels = target.read_rgb()
                for problem in target.renderer.drain_problems():
                    say(f"thumbnail of {info.id}: {problem}")
            if pixels is None:
                say(f"thumbnail of {info.id}: a palette swatch ({message})")
                thumbnails[info.id] = _png(_swatch(info.palette))
                continue
            thumbnails[info.id] = png = _png(pixels)
            try:
                private_folder(path.parent)
                write_private(path, png)
            except OSError as error:
                say(f"thumbnail of {info.id} not cached: {error.strerror or error}")
    finally:
        target.close()
    return thumbnails


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*")):
        if file.is_file():
            stat = file.stat()
            digest.update(f"{file.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _swatch(palette: tuple[str, ...]) -> np.ndarray:
    colours = [_rgb(c) for c in palette if _rgb(c) is not None] or [(20, 24, 32), (60, 70, 90)]
    stops = np.linspace(0.0, 1.0, len(colours)) if len(colours) > 1 else np.array([0.0])
    x = np.linspace(0.0, 1.0, SIZE[0])
    row = np.stack(
        [
            np.interp(x, stops, [c[k] for c in colours]) if len(colours) > 1 else np.full(SIZE[0], colours[0][k])
            for k in range(3)
        ],
        axis=1,
    )
    return np.repeat(row[None, :, :], SIZE[1], axis=0).astype(np.uint8)


def _rgb(text: str) -> tuple[int, int, int] | None:
    text = text.strip().lstrip("#")
    if len(text) != 6:
        return None
    try:
        return tuple(int(text[i : i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        return None


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
