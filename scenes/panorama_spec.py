"""scene.toml's panorama keys: a 360-degree photo or video drawn instead of a scene.frag.

    kind = "panorama"
    image = "lake.jpg"      # an equirectangular JPEG, PNG or WebP in the scene's folder, or
    video = "lake.mp4"      # an MP4, WebM or MOV (exactly one of image and video)
    layout = "mono"         # mono (2:1), top-bottom (1:1, left eye on top) or side-by-side (4:1, left eye left)
    yaw_deg = 0.0           # the yaw in the picture (0 = its centre, + to the right) shown straight ahead

Everything else (postures, tags, palette, audio, the breathing guide, fades and the comfort guard)
is as for any scene; scenes/common/panorama.frag draws it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PANORAMA_KEYS = ("kind", "image", "video", "layout", "yaw_deg")
KINDS = ("shader", "panorama")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov")
# layout -> the whole picture's width / height when each eye's part is 2:1 equirectangular
LAYOUT_ASPECTS = {"mono": 2.0, "top-bottom": 1.0, "side-by-side": 4.0}
LAYOUT_CODES = {"mono": 0, "top-bottom": 1, "side-by-side": 2}  # panorama.frag's u_layout


@dataclass(frozen=True, slots=True)
class PanoramaSpec:
    media: Path
    is_video: bool
    layout: str = "mono"
    yaw_deg: float = 0.0


def read_panorama(data: dict, folder: Path, fail: Callable[..., Exception]) -> PanoramaSpec | None:
    """The panorama a scene.toml describes, None for a shader scene. `fail(key_path, expected, got)`
    makes the "file:line: key ..." error raised for a bad key."""
    kind = data.get("kind", "shader")
    if kind not in KINDS:
        raise fail(("kind",), " or ".join(f'"{k}"' for k in KINDS), kind)
    if kind == "shader":
        for key in PANORAMA_KEYS[1:]:
            if key in data:
                raise fail((key,), 'kind = "panorama" for a panorama key')
        return None
    has = [key for key in ("image", "video") if key in data]
    if len(has) != 1:
        raise fail((has[1] if has else "kind",), "exactly one of image = FILE and video = FILE for a panorama")
    key = has[0]
    name = data[key]
    suffixes = IMAGE_SUFFIXES if key == "image" else VIDEO_SUFFIXES
    if not isinstance(name, str) or Path(name).suffix.lower() not in suffixes:
        raise fail((key,), f"a file name ending in {', '.join(suffixes)}", name)
    media = folder / name
    inside = Path(name).name == name and media.resolve().parent == folder.resolve()
    if not inside:  # a scene folder holds its own picture: no path out of it, no link to elsewhere
        raise fail((key,), "the name of a file in the scene's folder (no folders, no link out of it)", name)
    if not media.is_file():
        raise fail((key,), f"a file in the scene's folder ({media} not found)", name)
    layout = data.get("layout", "mono")
    if layout not in LAYOUT_ASPECTS:
        raise fail(("layout",), " | ".join(LAYOUT_ASPECTS), layout)
    yaw = data.get("yaw_deg", 0.0)
    if isinstance(yaw, bool) or not isinstance(yaw, (int, float)) or not -360.0 <= yaw <= 360.0:
        raise fail(("yaw_deg",), "degrees from -360 to 360", yaw)
    return PanoramaSpec(media=media, is_video=key == "video", layout=layout, yaw_deg=float(yaw))


ASPECT_TOLERANCE = 0.02  # how far width / height may stray from the layout's aspect
MIN_EYE_HEIGHT = 32  # texels: below this a panorama is a blur, surely not what the author meant
RATIO_TEXT = {"mono": "2:1", "top-bottom": "1:1", "side-by-side": "4:1"}


def layout_problem(size: tuple[int, int], layout: str) -> str | None:
    """What makes a picture of `size` (width, height) unfit for `layout`, None when it fits: its
    aspect within ASPECT_TOLERANCE of LAYOUT_ASPECTS[layout], and each eye MIN_EYE_HEIGHT rows high."""
    width, height = size
    expected = LAYOUT_ASPECTS[layout]
    if width < 1 or height < 1 or abs(width / height / expected - 1.0) > ASPECT_TOLERANCE:
        return (
            f"{width}x{height} pixels is not an equirectangular {layout} panorama: "
            f"expected width:height {RATIO_TEXT[layout]} (e.g. {int(2048 * expected)}x2048)"
        )
    eye_height = height // 2 if layout == "top-bottom" else height
    if eye_height < MIN_EYE_HEIGHT:
        return f"{width}x{height} pixels is too small for a panorama (at least {MIN_EYE_HEIGHT * 2}x{MIN_EYE_HEIGHT} per eye)"
    return None
