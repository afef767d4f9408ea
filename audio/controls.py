"""What the sound needs from a frame state, as a vector of floats, and the shared memory that
carries it from the frame loop to the audio process.

The audio callback runs in a process of its own (audio/player.py), so the frame loop cannot hand
it a Python object. Instead it writes each frame's controls into one of SLOTS slots of a shared
memory block and then publishes that slot's number: one store, the cross-process form of a
reference swap. Each slot carries a sequence number that is odd while the slot is being written;
the callback copies a slot and keeps it only if the number was even and unchanged around the copy,
otherwise it keeps playing the controls it already has. Neither side ever waits for the other.

The same block carries the audio process's statistics back (counts, and rings of callback and
render times), which only the audio process writes.
"""

from __future__ import annotations

import mmap
import os
import tempfile

import numpy as np

from tidewell.core.constants import AUDIO_LAYERS, SWELLS
from tidewell.core.frame_state import BreathStage, FrameState

LAYERS = AUDIO_LAYERS
SWELL_NAMES = SWELLS  # index 0 is the default
BREATH_SWELLS = dict(zip(SWELL_NAMES, ((18.0, 0.5), (24.0, 1.0), (36.0, 1.4))))  # (depth dB, tone share)
STAGES = (BreathStage.INHALE, BreathStage.HOLD_IN, BreathStage.EXHALE, BreathStage.HOLD_OUT)

# The control vector.
LEVEL, CALM, MASTER, SWELL, STAGE, PHASE = range(6)
VOLUME = 6  # one target volume per layer, in LAYERS order
SIZE = VOLUME + len(LAYERS)

SLOTS = 4
COMPUTE_RING = 8192  # callback compute and render times kept (~80 s of 10 ms blocks)

# The shared block, in float64 words.
_PUBLISHED = 0  # 1 + the slot last published; 0 before the first frame
_SLOT_BASE = 1  # each slot: sequence number, then SIZE controls
_SLOT_WORDS = 1 + SIZE
_STATS_BASE = _SLOT_BASE + SLOTS * _SLOT_WORDS
CALLBACKS, STATUS_FLAGS, UNDERFLOWS, BLOCK_FRAMES, RENDERS, STARVED = range(6)
_STATS_WORDS = 6
_RING_BASE = _STATS_BASE + _STATS_WORDS
_RENDER_RING_BASE = _RING_BASE + COMPUTE_RING
_WORDS = _RENDER_RING_BASE + COMPUTE_RING


def _unit(value: float) -> float:
    """Clamp to 0..1; NaN counts as 0 so a bad frame value goes quiet instead of loud."""
    if not value == value:  # NaN
        return 0.0
    return min(1.0, max(0.0, float(value)))


def controls_from_state(state: FrameState, out: np.ndarray) -> None:
    """Write the state's sound controls into out (length SIZE)."""
    out[LEVEL] = _unit(state.breath_level)
    out[CALM] = _unit(state.calm)
    out[MASTER] = _unit(state.fade * state.volume)
    swell = state.breath_swell
    out[SWELL] = SWELL_NAMES.index(swell) if swell in BREATH_SWELLS else 0
    out[STAGE] = STAGES.index(state.breath_stage) if state.breath_stage in STAGES else 0
    out[PHASE] = state.phase_index
    out[VOLUME:] = 0.0
    if not state.audio_layers:
        out[VOLUME] = 1.0  # no program layers: the plain breathing guide
    for name, volume in state.audio_layers:
        if name in LAYERS:  # unknown layers are ignored
            out[VOLUME + LAYERS.index(name)] = _unit(volume)


class SharedBlock:
    """The controls mailbox and the callback statistics in one shared memory block.

    The frame loop's process creates it (create()) and passes fileno() to the audio process, which
    maps the same memory (attach()). Only the frame loop writes controls; only the audio process
    writes statistics.
    """

    def __init__(self, fd: int):
        self._fd = fd
        self._map = mmap.mmap(fd, _WORDS * 8)
        self.words = np.frombuffer(self._map, dtype=np.float64)
        self._slots = self.words[_SLOT_BASE:_STATS_BASE].reshape(SLOTS, _SLOT_WORDS)
        self.stats = self.words[_STATS_BASE:_RING_BASE]
        self.compute_s = self.words[_RING_BASE:_RENDER_RING_BASE]  # time inside each callback
        self.render_s = self.words[_RENDER_RING_BASE:]  # time to render each block ahead of it
        self._written = 0
        self._accepted = 0.0  # sequence number of the controls last read
        self._scratch = np.zeros(SIZE)
        self._state_controls = np.zeros(SIZE)

    @classmethod
    def create(cls) -> SharedBlock:
        """A zeroed block backed by an anonymous memory file (no name, nothing left behind)."""
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("tidewell-audio")  # the audio process gets it through pass_fds
        else:
            handle = tempfile.TemporaryFile()
            fd = os.dup(handle.fileno())
            handle.close()
        os.ftruncate(fd, _WORDS * 8)
        return cls(fd)

    @classmethod
    def attach(cls, fd: int) -> SharedBlock:
        return cls(fd)

    def fileno(self) -> int:
        return self._fd

    # -- frame loop ------------------------------------------------------------------------
    def publish(self, state: FrameState) -> None:
        controls_from_state(state, self._state_controls)
        self.publish_controls(self._state_controls)

    def publish_controls(self, controls: np.ndarray) -> None:
        slot = self._written % SLOTS
        row = self._slots[slot]
        # Sequence numbers are set, never incremented, so a write cut short (Ctrl-C) cannot leave
        # a slot marked as being written for good.
        row[0] = 2 * self._written + 1  # odd: being written
        row[1:] = controls
        row[0] = 2 * self._written + 2  # even: complete
        self.words[_PUBLISHED] = slot + 1  # the swap
        self._written += 1

    # -- audio callback --------------------------------------------------------------------
    def read_controls(self, out: np.ndarray) -> bool:
        """Copy the newest complete controls into out; False (out untouched) when there is nothing
        newer than the last copy, or the slot changed under the copy. Allocates no arrays."""
        published = int(self.words[_PUBLISHED])
        if published == 0:
            return False
        row = self._slots[published - 1]
        before = row[0]
        if int(before) % 2 or before <= self._accepted:
            # Being written, or not newer than what we hold: a slot written after the published
            # one and copied first would otherwise step the sound back by a frame.
            return False
        np.copyto(self._scratch, row[1:])
        if row[0] != before:
            return False
        np.copyto(out, self._scratch)
        self._accepted = before
        return True

    def close(self) -> None:
        self.words = self._slots = self.stats = self.compute_s = self.render_s = None
        release_mapping(self._map, self._fd)
        self._fd = -1


def release_mapping(mapping: mmap.mmap, fd: int) -> None:
    """Unmap a shared block and close its file descriptor (fd < 0: already closed)."""
    try:
        mapping.close()
    except BufferError:
        pass  # a view is still alive somewhere; the mapping goes with the process
    if fd >= 0:
        os.close(fd)
