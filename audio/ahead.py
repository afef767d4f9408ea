"""Sound rendered a little ahead of the sound card, so that its callback only copies.

A producer thread keeps `lead` frames rendered in a ring; the PortAudio callback takes what it
needs from the ring. The callback's own work is then a copy of one block (microseconds) instead
of the synth (a tenth of a millisecond and more), so a thread stalled for a moment by the machine
rarely lands inside the sound card's deadline. The cost is `lead` frames of extra latency
(20 ms by default), which the breathing guide, changing over seconds, does not notice.

No library fits here: the ring has one writer and one reader, each advancing its own counter, and
neither ever waits for the other or takes a lock (a queue.Queue would take one in the callback).
Under the GIL the counters are read and written whole.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from tidewell.audio import controls as c

POLL_S = 0.002  # how often the producer looks for room in the ring


class RenderAhead:
    def __init__(self, block: c.SharedBlock, synth, channels: int, chunk: int, lead: int):
        if lead < chunk:
            raise ValueError(f"the render lead ({lead} frames) must hold at least one chunk ({chunk} frames)")
        self.block, self.synth = block, synth
        self.chunk, self.lead = chunk, lead
        self.capacity = 4 * (lead + chunk)  # also room for a callback that asks for more than usual
        self.ring = np.zeros((self.capacity, channels), dtype=np.float32)
        self.controls = np.zeros(c.SIZE)
        self.have_controls = False
        self.written = 0  # frames; only the producer advances it
        self.read = 0  # frames; only the callback advances it
        self.renders = int(block.stats[c.RENDERS])
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="tidewell-render-ahead", daemon=True)

    def start(self) -> None:
        self._fill()  # the first callback finds its lead ready
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    # -- callback --------------------------------------------------------------------------
    def take_into(self, out: np.ndarray) -> bool:
        """Copy the next len(out) frames into out. False when the producer has fallen behind:
        out then holds what there was, then silence."""
        frames = out.shape[0]
        available = self.written - self.read
        if self.error is not None:
            available = 0
        taken = min(frames, available)
        start = self.read % self.capacity
        first = min(taken, self.capacity - start)
        out[:first] = self.ring[start:start + first]
        if taken > first:
            out[first:taken] = self.ring[:taken - first]
        if taken < frames:
            out[taken:] = 0.0
        self.read += taken
        return taken == frames

    # -- producer --------------------------------------------------------------------------
    def _produce(self) -> None:
        while not self._stop.is_set():
            self._fill()
            time.sleep(POLL_S)  # releases the GIL to the callback

    def _fill(self) -> None:
        while self.written - self.read < self.lead and self.error is None:
            begin = time.perf_counter()
            start = self.written % self.capacity
            frames = min(self.chunk, self.capacity - start)
            target = self.ring[start:start + frames]
            if self.block.read_controls(self.controls):
                self.have_controls = True
            if not self.have_controls:
                target.fill(0.0)
            else:
                try:
                    self.synth.render_controls_into(self.controls, target)
                except Exception as error:  # reported by the main thread, which then ends the process
                    target.fill(0.0)
                    self.error = error
            self.written += frames
            self.block.render_s[self.renders % c.COMPUTE_RING] = time.perf_counter() - begin
            self.renders += 1
            self.block.stats[c.RENDERS] = self.renders
