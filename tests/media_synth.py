"""Synthetic equirectangular media with known features, made by the tests themselves (Pillow, PyAV).

Picture convention (scenes/panorama_spec.py, panorama.frag): column u from 0 to 1 is yaw -180 to
+180 degrees (the centre is yaw 0, positive to the right); row v from 0 (top) to 1 is elevation +90
to -90 degrees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def directions(width: int, height: int) -> np.ndarray:
    """(H, W, 3) unit world directions of each texel's centre, for a picture shown at yaw_deg = 0
    (x right, y up, -z ahead)."""
    u = (np.arange(width) + 0.5) / width
    v = (np.arange(height) + 0.5) / height
    yaw = (u - 0.5) * 2.0 * np.pi
    elevation = (0.5 - v) * np.pi
    yaw, elevation = np.meshgrid(yaw, elevation)
    return np.stack([np.cos(elevation) * np.sin(yaw), np.sin(elevation), -np.cos(elevation) * np.cos(yaw)], axis=-1)


def smooth_colour(d: np.ndarray) -> np.ndarray:
    """A colour that varies smoothly with direction (no seam, no pole singularity), 0..255 float."""
    return 40.0 + 170.0 * (0.5 + 0.5 * np.stack([d[..., 0], d[..., 1], d[..., 2] * 0.8 + 0.1 * d[..., 0]], axis=-1))


def smooth_field(width: int, height: int) -> np.ndarray:
    return np.clip(smooth_colour(directions(width, height)), 0, 255).astype(np.uint8)


def marker_picture(
    width: int, height: int, yaw_deg: float, pitch_deg: float = 0.0, colour=(255, 40, 40), radius_deg: float = 6.0
) -> np.ndarray:
    """A dim blue-grey world with one bright disc centred at (yaw, pitch)."""
    d = directions(width, height)
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    centre = np.array([np.cos(pitch) * np.sin(yaw), np.sin(pitch), -np.cos(pitch) * np.cos(yaw)])
    inside = np.degrees(np.arccos(np.clip(d @ centre, -1.0, 1.0))) < radius_deg
    picture = np.empty((height, width, 3), dtype=np.uint8)
    picture[:] = (30, 36, 48)
    picture[inside] = colour
    return picture


def stereo_markers(layout: str, eye_width: int, eye_height: int, yaw_deg: float = 0.0) -> np.ndarray:
    """Left eye's marker red, right eye's green, laid out as `layout` says."""
    left = marker_picture(eye_width, eye_height, yaw_deg, colour=(255, 40, 40))
    right = marker_picture(eye_width, eye_height, yaw_deg, colour=(40, 255, 40))
    return np.concatenate([left, right], axis=0 if layout == "top-bottom" else 1)


def write_image(path: Path, picture: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(picture).save(path)
    return path


def write_video(path: Path, frames, fps: int = 30, codec: str = "libx264", faststart: bool = False) -> Path:
    """Encodes an iterable of (H, W, 3) uint8 frames (even sizes) as yuv420p; faststart puts an MP4's
    index first, so that a copy cut short still opens."""
    import av

    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = None
        for picture in frames:
            if stream is None:
                stream = container.add_stream(codec, rate=fps)
                stream.width, stream.height = picture.shape[1], picture.shape[0]
                stream.pix_fmt = "yuv420p"
                if codec == "libx264":
                    stream.options = {"preset": "ultrafast", "crf": "18"}
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def level_frames(width: int, height: int, levels) -> list[np.ndarray]:
    """Uniform grey frames, one per level (0..255): the picture's brightness over time."""
    return [np.full((height, width, 3), int(level), dtype=np.uint8) for level in levels]


def scene_folder(root: Path, name: str, media_name: str, **keys) -> Path:
    """A panorama scene folder `name` under `root` whose scene.toml names `media_name` (written by the caller)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    kind = "video" if Path(media_name).suffix in (".mp4", ".webm", ".mov") else "image"
    lines = [
        f'id = "{name}"',
        'title = "Test panorama"',
        'description = "made by the test"',
        'postures = ["seated", "supine", "prone"]',
        'kind = "panorama"',
        f'{kind} = "{media_name}"',
    ] + [f"{key} = {value!r}".replace("'", '"') for key, value in keys.items()]
    (folder / "scene.toml").write_text("\n".join(lines) + "\n")
    return folder
