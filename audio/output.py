"""Where the synthesised sound goes: a sound device when the machine has one, otherwise a WAV file."""
from __future__ import annotations

import wave
from pathlib import Path
from typing import Protocol

import numpy as np

from tidewell.audio.device import DeviceOutput, DeviceUnavailable
from tidewell.audio.player import one_line
from tidewell.audio.synth import BreathSynth
from tidewell.engine.frame_state import FrameState


class AudioOutput(Protocol):
    description: str
    path: Path | None  # the file being written, None for a sound device

    def advance(self, state: FrameState, dt: float) -> None:
        """Called once per frame with the frame's state and its duration in seconds."""

    def close(self) -> None:
        """Stop and release; safe to call more than once."""

    def drain_events(self) -> list[tuple[str, str]]:
        """(kind, detail) pairs that happened since the last call, e.g. ("audio_lost", "...")."""


class WavOutput:
    """Renders exactly dt seconds of sound per frame into a 16-bit PCM WAV file.

    The header is rewritten after every frame and the file flushed, so the file stays readable
    (holding everything up to the last frame) even if the process is interrupted before close().
    """

    def __init__(self, path: Path | str, sample_rate: int = 24000, channels: int = 2, seed: int = 0):
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.channels = channels
        self.description = f"WAV file {self.path} ({sample_rate} Hz, {channels} ch)"
        self._synth = BreathSynth(sample_rate=sample_rate, channels=channels, seed=seed)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")
        try:
            self._wav = wave.open(self._file, "wb")
            self._wav.setnchannels(channels)
            self._wav.setsampwidth(2)
            self._wav.setframerate(sample_rate)
            self._wav.writeframes(b"")  # a valid empty file from the start
            self._file.flush()
        except BaseException:
            self._file.close()
            raise
        self._driven_s = 0.0
        self.frames_written = 0
        self.closed = False

    def advance(self, state: FrameState, dt: float) -> None:
        if self.closed:
            raise RuntimeError(f"{self.description} is closed; advance() came after close()")
        if not dt >= 0:
            raise ValueError(f"audio frame duration must be >= 0 seconds, got {dt!r}")
        self._driven_s += dt
        # Counting from the total driven time keeps the file length exact over any number of frames.
        n = round(self._driven_s * self.sample_rate) - self.frames_written
        if n <= 0:
            return
        block = self._synth.render(state, n)
        pcm = np.round(block * 32767.0).astype("<i2")
        self._wav.writeframes(pcm.tobytes())  # also patches the header's lengths
        self._file.flush()
        self.frames_written += n

    def drain_events(self) -> list[tuple[str, str]]:
        return []

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._wav.close()
        finally:
            self._file.close()

    def __enter__(self) -> WavOutput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_audio_output(wav_path: Path, device: str | int | None = None, prefer_device: bool = True,
                      seed: int = 0) -> tuple[AudioOutput, str]:
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
