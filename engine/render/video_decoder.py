"""A panorama video decoded with PyAV (FFmpeg) in a thread of its own, ahead of the session clock.

The thread keeps a few frames ready (AHEAD) as yuv420p planes and waits when they are not taken;
the frame loop takes the newest frame whose time has come and never waits on the decoder. At the
end of the file it seeks back to the start: frame times keep rising (loop * duration + pts), so the
loop is just more frames. Hardware decoding is used where the loaded FFmpeg offers a device; any
failure to open one falls back to software.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from tidewell.core.errors import TidewellError
from tidewell.scenes.media_probe import colour_matrix

AHEAD = 4  # decoded frames kept ready: ~130 ms at 30 fps, 4 x 11 MB at 4K
HARDWARE_DEVICES = ("cuda", "vaapi", "videotoolbox", "d3d11va", "qsv")
FIRST_FRAME_TIMEOUT_S = 20.0


class VideoError(TidewellError):
    """A video that cannot be played; the message names the file."""


@dataclass(frozen=True, slots=True)
class VideoFrame:
    t_s: float  # media time: loop * duration + the frame's own time
    loop: int
    planes: tuple[np.ndarray, np.ndarray, np.ndarray]  # Y (H, W), U and V (ceil(H/2), ceil(W/2)), uint8
    full_range: bool  # JPEG range (0-255) rather than video range (16-235)
    bt601: bool  # the colour matrix: BT.601 (SD) rather than BT.709 (HD, 360-degree footage)


class VideoDecoder:
    def __init__(self, path: Path, max_size: int, hardware: bool = True):
        import av

        self.path = Path(path)
        self.hardware = None
        self.container = self._open(av, hardware)
        streams = self.container.streams.video
        if not streams:
            self.container.close()
            raise VideoError(f"{self.path}: no video stream in the file")
        self.stream = streams[0]
        self.stream.thread_type = "AUTO"
        context = self.stream.codec_context
        if not context.width or not context.height:
            self.container.close()
            raise VideoError(f"{self.path}: FFmpeg cannot tell the video's size (codec {context.name})")
        self.source_size = (context.width, context.height)
        self.size = fitted_size(self.source_size, max_size)
        rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(30)
        self.fps = float(rate)
        self.duration_s = self._duration()
        self.dropped = 0  # decoded frames never shown: superseded before their turn, or late
        self.error: str | None = None
        self._frames: deque[VideoFrame] = deque()
        self._changed = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"video {self.path.name}", daemon=True)
        self._thread.start()

    def _open(self, av, hardware: bool):
        if hardware:
            from av.codec.hwaccel import HWAccel, hwdevices_available

            for device in (d for d in HARDWARE_DEVICES if d in hwdevices_available()):
                try:
                    container = av.open(str(self.path), hwaccel=HWAccel(device, allow_software_fallback=True))
                except (av.FFmpegError, OSError, ValueError):
                    continue  # no such device on this machine
                streams = container.streams.video
                if streams and streams[0].codec_context.is_hwaccel:
                    self.hardware = device
                    return container
                container.close()  # FFmpeg knows the device type, but the machine has none: it fell back
        try:
            return av.open(str(self.path))
        except av.FFmpegError as error:
            raise VideoError(f"{self.path}: FFmpeg cannot read it: {error}") from None
        except OSError as error:
            raise VideoError(f"{self.path}: cannot open: {error.strerror or error}") from None

    def _duration(self) -> float | None:
        """The video stream's length as declared (corrected at the first loop's end: the last frame's end)."""
        if self.stream.duration and self.stream.time_base:
            return float(self.stream.duration * self.stream.time_base)
        if self.stream.frames:
            return self.stream.frames / self.fps
        if self.container.duration and len(self.container.streams) == 1:  # not a sound track's length
            return self.container.duration / 1_000_000
        return self._last_frame_end()

    def _last_frame_end(self) -> float | None:
        """Where the video stream ends, from its last packets (WebM and MKV declare no stream length, and
        the file's length may be a longer sound track's); None when the file cannot tell."""
        import av

        base, start, end = self.stream.time_base, self.stream.start_time or 0, None
        try:
            if self.container.duration:  # near the end: the last keyframe before it
                self.container.seek(self.container.duration, backward=True, any_frame=False)
            for packet in self.container.demux(self.stream):
                if packet.pts is not None:
                    end = max(end or 0.0, float((packet.pts - start + (packet.duration or 0)) * base))
            self.container.seek(0, stream=self.stream)
        except (av.FFmpegError, OSError, ValueError):
            return None
        return end

    def first_frame(self, timeout_s: float = FIRST_FRAME_TIMEOUT_S) -> VideoFrame:
        """The first decoded frame (waits for it): what is shown before the clock reaches any other."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._frames or self.error, timeout=timeout_s):
                raise VideoError(f"{self.path}: no frame decoded within {timeout_s:g} s")
            if not self._frames:
                raise VideoError(self.error)
            return self._frames[0]

    def take(self, media_t: float, wait: bool = False) -> VideoFrame | None:
        """The newest decoded frame due by `media_t` (None when none is due); older due frames are dropped.
        wait=True (offline renders, where the picture must not depend on the machine's speed) waits
        until the decoder has passed `media_t`."""
        with self._changed:
            due = None
            while True:
                while self._frames and self._frames[0].t_s <= media_t:
                    if due is not None:
                        self.dropped += 1
                    due = self._frames.popleft()
                    self._changed.notify_all()
                if not wait or self._frames or self.error or self._stop:
                    return due
                if not self._changed.wait(timeout=FIRST_FRAME_TIMEOUT_S):
                    return due

    def close(self) -> None:
        with self._changed:
            self._stop = True
            self._changed.notify_all()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        loop, offset, last_end, decoded = 0, 0.0, 0.0, False
        start = self.stream.start_time or 0
        try:
            while not self._stop:
                for frame in self.container.decode(self.stream):
                    if frame.pts is None:
                        continue
                    t = float((frame.pts - start) * frame.time_base)
                    last_end = max(last_end, t + 1.0 / self.fps)
                    frame_of_loop = VideoFrame(
                        offset + t, loop, self._planes(frame), _full_range(frame), self._bt601(frame)
                    )
                    if not self._put(frame_of_loop):
                        return
                    decoded = True
                if not decoded:
                    raise VideoError(
                        f"{self.path}: the video holds no frame"
                        if loop == 0
                        else f"{self.path}: cannot read it again from the start"
                    )
                # The video's own end, not the file's: a sound track may run on after the last frame.
                self.duration_s = last_end
                offset += last_end
                loop += 1
                decoded = False
                self.container.seek(0, stream=self.stream)
        except Exception as error:  # FFmpeg errors mid-file: the last frame stays on screen
            with self._changed:
                self.error = str(error) if isinstance(error, VideoError) else f"{self.path}: decoding stopped: {error}"
                self._changed.notify_all()
        finally:
            self.container.close()

    def _planes(self, frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        width, height = self.size
        if frame.format.name not in ("yuv420p", "yuvj420p") or (frame.width, frame.height) != self.size:
            frame = frame.reformat(width=width, height=height, format="yuv420p")
        planes = []
        for plane in frame.planes:  # rows padded to line_size: cut to the plane's own width
            rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            planes.append(np.ascontiguousarray(rows[:, : plane.width]))
        return tuple(planes)

    def _bt601(self, frame) -> bool:
        """The frame's colour matrix tag, else the stream's, else by its height (as the importer reads it)."""
        tag = _colorspace_name(frame) or _colorspace_name(self.stream.codec_context)
        return colour_matrix(tag, self.source_size[1]) == "bt601"

    def _put(self, frame: VideoFrame) -> bool:
        with self._changed:
            self._changed.wait_for(lambda: self._stop or len(self._frames) < AHEAD)
            if self._stop:
                return False
            self._frames.append(frame)
            self._changed.notify_all()
            return True


def fitted_size(size: tuple[int, int], max_size: int) -> tuple[int, int]:
    """`size` as it is when it fits `max_size` on its longer side, else scaled down to fit (even sides)."""
    width, height = size
    if max(width, height) <= max_size:
        return width, height
    scale = max_size / max(width, height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


# FFmpeg's AVColorSpace codes, as PyAV's VideoFrame.colorspace gives them, by FFmpeg's names
_COLORSPACES = {1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc", 10: "bt2020c"}


def _colorspace_name(tagged) -> str | None:
    """A frame's or codec context's colour matrix tag, None when untagged."""
    try:
        return _COLORSPACES.get(int(getattr(tagged, "colorspace", 2) or 2))
    except (TypeError, ValueError):
        return None


def _full_range(frame) -> bool:
    return frame.format.name.startswith("yuvj") or getattr(frame, "color_range", 0) == 2  # AVCOL_RANGE_JPEG
