"""Sound rendered a little ahead of the sound card, in a process of its own, so that the PortAudio
callback only copies.

The render process (audio/renderer.py) keeps `lead` frames, and at least two of the callback's
blocks, rendered in a ring in shared memory; the callback in the audio process takes what it
needs from the ring. Its own work is then a copy of one block (microseconds) instead of the synth
(a tenth of a millisecond and more). The cost is the lead's latency (20 ms by default, or two of
the device's blocks), which the breathing guide, changing over seconds, does not notice.

Why a process and not a thread: the callback is Python and needs the GIL. A render thread in the
audio process holds the GIL a few percent of the time, and when the machine stops that thread's
CPU for tens of milliseconds (a virtual machine's host does), the callback waits as long for the
GIL and misses its period, while a client written in C beside it plays on. In a process of its
own the renderer shares nothing with the callback but memory.

No library fits: one writer and one reader, each advancing its own counter; neither waits for the
other or takes a lock. The counters are aligned 64-bit words, loaded and stored whole; the writer
stores the samples before the counter that publishes them, and x86-64 (the clinic PCs Tidewell
runs on) makes stores visible in that order.
"""

from __future__ import annotations

import mmap
import os
import time

import numpy as np

from tidewell.audio import controls as c

POLL_S = 0.002  # how often the renderer looks for room in the ring
MAX_BLOCK = 8192  # the largest callback block kept whole (JACK's largest period)
FIRST_BLOCK_GUESS = 2048  # until the first callback says its size: the first blocks are never short
WRITTEN, READ, ASKED, FAILED = range(4)  # the ring's counters (int64)
_HEADER_WORDS = 8


class RenderRing:
    """The ring in shared memory: counters, then `capacity` frames of float32 samples.

    The audio process creates it (create()) and passes fileno(), chunk and lead to the render
    process, which maps the same memory (RenderRing(fd, chunk, lead, channels))."""

    def __init__(self, fd: int, chunk: int, lead: int, channels: int):
        if lead < chunk:
            raise ValueError(f"the render lead ({lead} frames) must hold at least one chunk ({chunk} frames)")
        self.chunk, self.lead = chunk, lead
        self.capacity = _capacity(chunk, lead)
        self._fd = fd
        self._map = mmap.mmap(fd, self.nbytes(chunk, lead, channels))
        self.counters = np.frombuffer(self._map, dtype=np.int64, count=_HEADER_WORDS)
        self.frames = np.frombuffer(self._map, dtype=np.float32, offset=8 * _HEADER_WORDS).reshape(
            self.capacity, channels
        )
        self._read = int(self.counters[READ])  # the callback's own copy of its counter

    @classmethod
    def nbytes(cls, chunk: int, lead: int, channels: int) -> int:
        return 8 * _HEADER_WORDS + 4 * _capacity(chunk, lead) * channels

    @classmethod
    def create(cls, chunk: int, lead: int, channels: int) -> RenderRing:
        fd = os.memfd_create("tidewell-render-ring")  # the render process gets it through pass_fds
        os.ftruncate(fd, cls.nbytes(chunk, lead, channels))
        ring = cls(fd, chunk, lead, channels)
        ring.counters[ASKED] = FIRST_BLOCK_GUESS
        return ring

    def fileno(self) -> int:
        return self._fd

    def ready(self) -> int:
        """Frames rendered and not yet taken."""
        return int(self.counters[WRITTEN] - self.counters[READ])

    def target(self) -> int:
        """Frames to keep ready: the lead, and at least two of the callback's blocks."""
        return max(self.lead, 2 * int(self.counters[ASKED]))

    @property
    def failed(self) -> bool:
        return bool(self.counters[FAILED])

    # -- callback --------------------------------------------------------------------------
    def take_into(self, out: np.ndarray) -> bool:
        """Copy the next len(out) frames into out. False when the renderer has fallen behind (or
        failed): out then holds what there was, then silence."""
        frames = out.shape[0]
        counters = self.counters
        counters[ASKED] = min(frames, MAX_BLOCK)
        available = 0 if counters[FAILED] else int(counters[WRITTEN]) - self._read
        taken = min(frames, available)
        start = self._read % self.capacity
        first = min(taken, self.capacity - start)
        out[:first] = self.frames[start : start + first]
        if taken > first:
            out[first:taken] = self.frames[: taken - first]
        if taken < frames:
            out[taken:] = 0.0
        self._read += taken
        counters[READ] = self._read
        return taken == frames

    def close(self) -> None:
        self.counters = self.frames = None
        c.release_mapping(self._map, self._fd)
        self._fd = -1


def _capacity(chunk: int, lead: int) -> int:
    """Frames in the ring: the target at its largest, and two chunks more. Whole chunks, so a chunk
    never splits at the wrap (the synth's samples do not depend on where the ring wraps)."""
    return chunk * (-(-max(lead, 2 * MAX_BLOCK) // chunk) + 2)


class Renderer:
    """The ring's writer: renders chunks from the newest controls until the target is ready."""

    def __init__(self, block: c.SharedBlock, synth, ring: RenderRing):
        self.block, self.synth, self.ring = block, synth, ring
        self.controls = np.zeros(c.SIZE)
        self.have_controls = False
        self.written = int(ring.counters[WRITTEN])  # only the renderer advances it
        self.renders = int(block.stats[c.RENDERS])

    def fill(self) -> None:
        """Render until the target is ready. A synth error marks the ring failed and is raised."""
        ring = self.ring
        while self.written - int(ring.counters[READ]) < ring.target():
            begin = time.perf_counter()
            start = self.written % ring.capacity
            frames = min(ring.chunk, ring.capacity - start)
            target = ring.frames[start : start + frames]
            if self.block.read_controls(self.controls):
                self.have_controls = True
            if not self.have_controls:
                target.fill(0.0)
            else:
                try:
                    self.synth.render_controls_into(self.controls, target)
                except Exception:
                    ring.counters[FAILED] = 1  # the callback plays silence from now on
                    raise
            self.written += frames
            ring.counters[WRITTEN] = self.written  # after the samples: publishes them
            self.block.render_s[self.renders % c.COMPUTE_RING] = time.perf_counter() - begin
            self.renders += 1
            self.block.stats[c.RENDERS] = self.renders
