"""Where the synthesised sound goes: a sound device when the machine has one, otherwise a WAV file."""

from __future__ import annotations

import contextlib
import os
import struct
import wave
from pathlib import Path
from typing import Protocol

import numpy as np

from tidewell.audio.device import DeviceOutput, DeviceUnavailable
from tidewell.audio.player import one_line
from tidewell.audio.synth import BreathSynth
from tidewell.core.frame_state import FrameState
from tidewell.core.private_files import open_private, private_folder

# A session's WAV stops while this much room is still left on its disk, kept for the session log
# (a few MB an hour), which comes first: the WAV takes about 350 MB an hour.
LOG_ROOM_BYTES = 64 * 2**20
ROOM_CHECK_S = 0.5  # how often the WAV looks at the room left


class AudioOutput(Protocol):
    description: str
    path: Path | None  # the file being written, None for a sound device
    lost: bool  # a sound device that went away: nothing was heard since (a file is never lost)

    def advance(self, state: FrameState, dt: float) -> None:
        """Called once per frame with the frame's state and its duration in seconds."""

    def close(self) -> None:
        """Stop and release; safe to call more than once."""

    def drain_events(self) -> list[tuple[str, str]]:
        """(kind, detail) pairs that happened since the last call, e.g. ("audio_lost", "...")."""


class WavOutput:
    """Renders exactly dt seconds of sound per frame into a 16-bit PCM WAV file (owner-only).

    The header is rewritten after every frame and the file flushed, so the file stays readable
    (holding everything up to the last frame) even if the process is interrupted before close().
    A file that cannot be written on (a full disk), or a disk with less than `keep_free_bytes` left,
    stops the WAV, never the session: the file is cut back to the last whole frame, `failure` says
    why, and drain_events() hands out one ("sound_file_stopped", ...). `path` is None when no file could be made.
    """

    def __init__(
        self,
        path: Path | str,
        sample_rate: int = 24000,
        channels: int = 2,
        seed: int = 0,
        keep_free_bytes: int = LOG_ROOM_BYTES,
    ):
        self.path: Path | None = Path(path)
        self.sample_rate = sample_rate
        self.channels = channels
        self.keep_free_bytes = keep_free_bytes
        self.description = f"WAV file {self.path} ({sample_rate} Hz, {channels} ch)"
        self._synth = BreathSynth(sample_rate=sample_rate, channels=channels, seed=seed)
        self._driven_s = 0.0
        self.frames_written = 0
        self.closed = False
        self.lost = False
        self.failure: str | None = None
        self._events: list[tuple[str, str]] = []
        self._next_room_check = 0
        self._file = self._wav = None
        try:
            private_folder(self.path.parent)
            self._file = open_private(self.path, binary=True)
            self._wav = wave.open(self._file, "wb")
            self._wav.setnchannels(channels)
            self._wav.setsampwidth(2)
            self._wav.setframerate(sample_rate)
            self._wav.writeframes(b"")  # a valid empty file from the start
            self._file.flush()
        except OSError as error:
            made = self._file is not None
            self._stop(f"cannot write it ({error.strerror or error})")
            if not made:
                self.path = None

    def advance(self, state: FrameState, dt: float) -> None:
        if self.closed:
            raise RuntimeError(f"{self.description} is closed; advance() came after close()")
        if not dt >= 0:
            raise ValueError(f"audio frame duration must be >= 0 seconds, got {dt!r}")
        self._driven_s += dt
        if self.failure is not None:
            return
        # Counting from the total driven time keeps the file length exact over any number of frames.
        n = round(self._driven_s * self.sample_rate) - self.frames_written
        if n <= 0:
            return
        if self.frames_written >= self._next_room_check and self.keep_free_bytes > 0:
            self._next_room_check = self.frames_written + round(ROOM_CHECK_S * self.sample_rate)
            room = self._room()
            if room is not None and room < self.keep_free_bytes:
                self._stop(f"only {room / 2**20:.0f} MB left on its disk, kept for the session log")
                return
        block = self._synth.render(state, n)
        pcm = np.round(block * 32767.0).astype("<i2")
        try:
            self._wav.writeframes(pcm.tobytes())  # also patches the header's lengths
            self._file.flush()
        except OSError as error:
            self._stop(f"cannot write it ({error.strerror or error})")
            return
        self.frames_written += n

    def _room(self) -> int | None:
        try:
            st = os.statvfs(self.path.parent)
        except OSError:
            return None
        return st.f_bavail * st.f_frsize

    def _stop(self, reason: str) -> None:
        """Stop writing and leave a whole WAV of the frames written so far."""
        self.failure = reason
        seconds = self.frames_written / self.sample_rate
        name = self.path.name if self.path is not None else "the WAV"
        self._events.append(
            (
                "sound_file_stopped",
                f"{name} stops at {int(seconds // 60):02d}:{int(seconds % 60):02d}: "
                f"{reason}; the session and its log go on",
            )
        )
        for closing in (self._wav, self._file):
            if closing is not None:
                with contextlib.suppress(OSError, ValueError):
                    closing.close()
        if self._file is None:
            return
        data_bytes = self.frames_written * self.channels * 2
        with contextlib.suppress(OSError):  # rewriting bytes already on the disk needs no new room
            with open(self.path, "r+b") as f:
                f.truncate(44 + data_bytes)
                f.seek(4)
                f.write(struct.pack("<I", 36 + data_bytes))
                f.seek(40)
                f.write(struct.pack("<I", data_bytes))

    def drain_events(self) -> list[tuple[str, str]]:
        events, self._events = self._events, []
        return events

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.failure is not None:
            return
        try:
            self._wav.close()
        except OSError as error:
            self._stop(f"cannot write it ({error.strerror or error})")
        finally:
            with contextlib.suppress(OSError):
                self._file.close()

    def __enter__(self) -> WavOutput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_audio_output(
    wav_path: Path, device: str | int | None = None, prefer_device: bool = True, seed: int = 0
) -> tuple[AudioOutput, str]:
    """Play through the sound device when there is one, otherwise write wav_path.

    Returns the output and a one-line message saying which. A missing PortAudio library, no
    output device, or a device that refuses to open all fall back to the WAV file.
    """
    wav_path = Path(wav_path)
    if not prefer_device:
        return WavOutput(wav_path, seed=seed), f"sound device not requested: writing {wav_path.name}"
    try:
        output = DeviceOutput(device=device, seed=seed)
    except DeviceUnavailable as error:
        reason = str(error)
    except OSError as error:  # the audio process could not be started
        reason = f"audio process: {one_line(error)}"
    else:
        return output, f"playing through {output.description}"
    return WavOutput(wav_path, seed=seed), f"no sound device ({reason}): writing {wav_path.name}"
