"""Measure a 360-degree photo or video for `tidewell scenes import`: its size, light and motion.

Only the left eye's picture is measured (the whole picture for mono), downscaled to ANALYSIS_SIZE:
- light: the mean relative luminance of each decoded frame (Rec. 709 weights on linearised sRGB,
  0 black to 1 white), weighted by each row's area on the sphere, so the stretched poles of an
  equirectangular picture do not count more than the horizon. Every frame is measured, so a
  one-frame flash is seen.
- motion, MOTION_FPS times a second: the mean absolute difference of consecutive grey frames, and
  how far the whole picture turned over the last second (phase correlation with numpy's FFT; the
  columns of an equirectangular picture wrap around, so a turn of the camera is a circular shift).
At most MAX_MEASURED_S of a video is measured. Its frames are turned into RGB with the colour matrix
the renderer uses (colour_matrix: the frame's tag, else BT.709 for HD and BT.601 below); photos are
read with scenes/picture_file.py, as the renderer reads them.
"""

from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from tidewell.core.errors import TidewellError
from tidewell.scenes.picture_file import MAX_PIXELS, PictureError, picture_size, read_rgb_picture

ANALYSIS_SIZE = (256, 128)  # one eye's picture as measured: width, height
MOTION_FPS = 10.0
MAX_MEASURED_S = 60.0
PICTURE_WIDTH = 2048  # the still kept for the thumbnail and palette: at most this wide
SHORT_BY_S = 0.5  # a video whose frames end more than this and SHORT_BY_SHARE before its declared
SHORT_BY_SHARE = 0.1  # duration is cut short or damaged
HD_ROWS = 720  # untagged video at least this high is taken as BT.709, lower as BT.601 (as FFmpeg's players do)
# FFmpeg's names of the colour matrices (av_color_space_name) that say which one a video uses
BT709_TAGS = frozenset({"bt709", "smpte240m", "bt2020nc", "bt2020c", "bt2020_ncl", "bt2020_cl"})
BT601_TAGS = frozenset({"bt470bg", "smpte170m", "fcc", "bt601", "bt470"})
AVCOL_SPC_NAMES = {1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc", 10: "bt2020c"}
FLAT_GREY_STD = 0.01  # a frame with less contrast than this (0..1 grey) has no motion to measure
WHOLE_PICTURE_FIT = 0.7  # a turn must leave at most this much of the difference between the frames
MIN_CORRELATION = 0.08  # phase correlation peaks below this are no shift of the whole picture


class MediaError(TidewellError):
    """A photo or video that cannot be read; the message names the file."""


@dataclass(frozen=True, slots=True)
class MediaHeader:
    path: Path
    is_video: bool
    size: tuple[int, int]  # width, height of the whole picture (every eye)
    fps: float = 0.0
    duration_s: float = 0.0
    codec: str = ""


@dataclass(slots=True)
class Footage:
    """What `measure` found. Times are seconds from the start of the file."""

    header: MediaHeader
    picture: np.ndarray  # (H, W, 3) uint8 first frame, whole layout, at most PICTURE_WIDTH wide
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))  # each decoded frame's time
    luminance: np.ndarray = field(default_factory=lambda: np.zeros(0))  # its mean relative luminance
    motion_times: np.ndarray = field(default_factory=lambda: np.zeros(0))  # MOTION_FPS samples
    difference: np.ndarray = field(default_factory=lambda: np.zeros(0))  # mean |grey change| since the last
    turn_deg_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # whole-picture turn over the last second
    measured_s: float = 0.0
    problem: str | None = None  # FFmpeg stopped reading part way
    stops_at_s: float | None = None  # the frames end well before the declared duration, without an error
    notes: list[str] = field(default_factory=list)  # what reading a photo changed (transparency, frames)

    @property
    def mean_luminance(self) -> float:
        return float(self.luminance.mean()) if self.luminance.size else 0.0


def _srgb_to_linear() -> np.ndarray:
    c = np.arange(256) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


LINEAR = _srgb_to_linear()
REC709 = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W) relative luminance 0..1 of (H, W, 3) uint8 sRGB: Rec. 709 weights on linear light."""
    return LINEAR[rgb] @ REC709


def sphere_mean(values: np.ndarray) -> float:
    """The mean of an equirectangular (H, W) picture over the sphere: rows weighted by cos(latitude)."""
    height = values.shape[0]
    weights = np.cos((0.5 - (np.arange(height) + 0.5) / height) * np.pi)
    return float((values.mean(axis=1) * weights).sum() / weights.sum())


def left_eye(picture: np.ndarray, layout: str) -> np.ndarray:
    height, width = picture.shape[:2]
    if layout == "top-bottom":
        return picture[: height // 2]
    if layout == "side-by-side":
        return picture[:, : width // 2]
    return picture


def layout_size(layout: str) -> tuple[int, int]:
    """The whole picture's size that gives one eye ANALYSIS_SIZE."""
    width, height = ANALYSIS_SIZE
    return {"top-bottom": (width, height * 2), "side-by-side": (width * 2, height)}.get(layout, (width, height))


def read_header(path: Path, is_video: bool) -> MediaHeader:
    """The file's kind and size from its header; MediaError when Pillow or FFmpeg cannot read it."""
    return _video_header(path) if is_video else _image_header(path)


def _image_header(path: Path) -> MediaHeader:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # what is too large is said below, in words
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            width, height = picture_size(path)
    except PictureError as error:
        if isinstance(error.__context__, UnidentifiedImageError):
            raise MediaError(f"{path}: not an image Pillow can read (expected a JPEG, PNG or WebP)") from None
        raise MediaError(str(error)) from None
    if width * height > MAX_PIXELS:
        raise MediaError(f"{path}: {width}x{height} is too large to read (at most 32768x16384 pixels)")
    return MediaHeader(path, False, (width, height), codec=path.suffix.lstrip(".").upper())


def _open_container(path: Path):
    import av

    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise MediaError(f"{path}: FFmpeg cannot read it as a video ({reason})") from None


def _video_header(path: Path) -> MediaHeader:
    container = _open_container(path)
    try:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["nothing"]
            raise MediaError(f"{path}: no video stream in the file (it holds {', '.join(kinds)})")
        stream = container.streams.video[0]
        context = stream.codec_context
        if not context.width or not context.height:
            raise MediaError(f"{path}: FFmpeg cannot tell the video's size (codec {context.name})")
        fps = float(stream.average_rate or stream.guessed_rate or Fraction(30))
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = (container.duration or 0) / 1_000_000
        return MediaHeader(path, True, (context.width, context.height), fps, duration, context.name)
    finally:
        container.close()


def measure(header: MediaHeader, layout: str, max_seconds: float = MAX_MEASURED_S) -> Footage:
    return _measure_video(header, layout, max_seconds) if header.is_video else _measure_image(header, layout)


def _measure_image(header: MediaHeader, layout: str) -> Footage:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture, notes = read_rgb_picture(header.path)
    except PictureError as error:
        raise MediaError(str(error)) from None
    if picture.width > PICTURE_WIDTH:
        picture = picture.resize((PICTURE_WIDTH, max(1, round(picture.height * PICTURE_WIDTH / picture.width))))
    rgb = np.asarray(picture)
    small = np.asarray(picture.resize(layout_size(layout), Image.BOX))
    luminance = np.array([sphere_mean(relative_luminance(left_eye(small, layout)))])
    return Footage(header, rgb, times=np.zeros(1), luminance=luminance, notes=notes)


class _MotionMeter:
    """Motion samples at MOTION_FPS: the grey difference to the last sample, and the turn since the
    sample a second before (0 in the first second: a shorter span makes a tenth of a pixel too much)."""

    def __init__(self):
        self.recent: deque[tuple[float, np.ndarray, np.ndarray | None]] = deque(maxlen=int(MOTION_FPS) + 1)
        self.next_t = 0.0
        self.times: list[float] = []
        self.difference: list[float] = []
        self.turn: list[float] = []
        height = ANALYSIS_SIZE[1]
        self.window = np.hanning(height + 2)[1:-1, None]  # rows: the poles do not wrap; columns do

    def add(self, t: float, grey: np.ndarray) -> None:
        if t + 1e-6 < self.next_t:
            return
        self.next_t = t + 1.0 / MOTION_FPS
        spectrum = np.fft.fft2((grey - grey.mean()) * self.window) if grey.std() >= FLAT_GREY_STD else None
        if self.recent:
            last_t, last_grey, _ = self.recent[-1]
            first_t, first_grey, first_spectrum = self.recent[0]
            self.times.append(t)
            self.difference.append(float(np.abs(grey - last_grey).mean()))
            turn = 0.0
            if spectrum is not None and first_spectrum is not None and t - first_t > 0.95:
                dx, dy = picture_shift(first_spectrum, spectrum)
                if not moves_the_whole(first_grey, grey, dx, dy):
                    dx = dy = 0.0
                width, height = grey.shape[1], grey.shape[0]
                turn = float(np.hypot(dx * 360.0 / width, dy * 180.0 / height) / (t - first_t))
            self.turn.append(turn)
        self.recent.append((t, grey, spectrum))


def picture_shift(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """(columns, rows) the picture moved from `before` to `after` (their 2-D FFTs), to a tenth of a
    pixel; (0, 0) when the two share no shifted picture."""
    cross = after * np.conj(before)
    cross /= np.abs(cross) + 1e-12
    correlation = np.fft.ifft2(cross).real
    row, column = np.unravel_index(int(np.argmax(correlation)), correlation.shape)
    if correlation[row, column] < MIN_CORRELATION:
        return 0.0, 0.0
    height, width = correlation.shape

    def offset(minus: float, centre: float, plus: float) -> float:
        """The peak's fraction of a pixel towards its larger neighbour: the correlation of a shifted
        picture is a sampled sinc, whose two largest samples give it exactly (Foroosh et al. 2002)."""
        side = max(minus, plus, 0.0)
        return (side / (side + centre)) * (1.0 if plus >= minus else -1.0)

    dx = column + offset(correlation[row, column - 1], correlation[row, column], correlation[row, (column + 1) % width])
    dy = row + offset(correlation[row - 1, column], correlation[row, column], correlation[(row + 1) % height, column])
    return (dx - width if dx > width / 2 else dx), (dy - height if dy > height / 2 else dy)


def moves_the_whole(before: np.ndarray, after: np.ndarray, dx: float, dy: float) -> bool:
    """Whether shifting `before` by the whole pixels of (dx, dy) makes it much more like `after`: a
    camera turn moves the whole picture, a thing moving in a still picture does not."""
    shift = (int(round(dy)), int(round(dx)))
    if shift == (0, 0):
        return True
    unmoved = np.abs(after - before).mean()
    moved = np.abs(after - np.roll(before, shift, axis=(0, 1))).mean()
    return moved < WHOLE_PICTURE_FIT * unmoved


def _measure_video(header: MediaHeader, layout: str, max_seconds: float) -> Footage:
    import av

    width, height = layout_size(layout)
    times, luminance, picture, problem, at_limit = [], [], None, None, False
    meter = _MotionMeter()
    container = _open_container(header.path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = None
        for index, frame in enumerate(container.decode(stream)):
            t = float(frame.time) if frame.time is not None else index / (header.fps or 30.0)
            start = t if start is None else start
            if t - start >= max_seconds:
                at_limit = True
                break
            matrix = colour_matrix(_tag_name(frame.colorspace, stream.codec_context.colorspace), frame.height)
            if picture is None:
                picture = _first_picture(frame, matrix)
            small = left_eye(to_rgb(frame, width, height, matrix), layout)
            times.append(t - start)
            luminance.append(sphere_mean(relative_luminance(small)))
            meter.add(t - start, small.astype(np.float32) @ (REC709 / 255.0))
    except (av.FFmpegError, OSError, ValueError) as error:
        problem = f"FFmpeg stopped reading at {clock(times[-1] if times else 0.0)}: {error}"
    finally:
        container.close()
    if picture is None:
        raise MediaError(f"{header.path}: FFmpeg cannot decode a frame of it ({problem or 'no frames'})")
    measured = times[-1] + 1.0 / (header.fps or 30.0)
    short = header.duration_s - measured
    stops_short = not at_limit and problem is None and short > max(SHORT_BY_S, SHORT_BY_SHARE * header.duration_s)
    return Footage(
        header,
        picture,
        times=np.array(times),
        luminance=np.array(luminance),
        motion_times=np.array(meter.times),
        difference=np.array(meter.difference),
        turn_deg_s=np.array(meter.turn),
        measured_s=measured,
        problem=problem,
        stops_at_s=measured if stops_short else None,
    )


def colour_matrix(tagged: str | None, height: int) -> str:
    """ "bt709" or "bt601": the YUV-to-RGB matrix of a video frame. `tagged` is FFmpeg's name of the
    colour space the frame or stream is tagged with (av_color_space_name: "bt709", "bt470bg",
    "smpte170m", ...; None, "unknown" or "" when untagged); an untagged video is BT.709 when it is
    at least HD_ROWS (720) rows high, else BT.601. BT.2020 and SMPTE 240M, closest to BT.709, are
    taken as BT.709."""
    name = (tagged or "").strip().lower()
    if name in BT709_TAGS:
        return "bt709"
    if name in BT601_TAGS:
        return "bt601"
    return "bt709" if height >= HD_ROWS else "bt601"


def _tag_name(*tags) -> str | None:
    """FFmpeg's name of the first tagged AVColorSpace among `tags` (ints), None when none is."""
    for tag in tags:
        if tag is not None and int(tag) in AVCOL_SPC_NAMES:
            return AVCOL_SPC_NAMES[int(tag)]
    return None


def to_rgb(frame, width: int, height: int, matrix: str) -> np.ndarray:
    """(height, width, 3) full-range RGB of a decoded frame, its YUV read with `matrix`."""
    source = "ITU709" if matrix == "bt709" else "ITU601"
    if frame.format.name.startswith(("rgb", "bgr", "gbr", "gray")):
        source = None  # no YUV to convert
    rgb = frame.reformat(
        width=width, height=height, format="rgb24", src_colorspace=source, dst_colorspace=source, dst_color_range="JPEG"
    )
    return rgb.to_ndarray()


def _first_picture(frame, matrix: str) -> np.ndarray:
    width, height = frame.width, frame.height
    if width > PICTURE_WIDTH:
        width, height = PICTURE_WIDTH, max(2, round(height * PICTURE_WIDTH / width))
    return to_rgb(frame, width, height, matrix)


def clock(t_s: float) -> str:
    """mm:ss of a time in the video."""
    seconds = int(max(t_s, 0.0))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"
