"""The headset's frame figures (benchmarks/xr_frame.py, tests/xr): frames shown, display periods the
runtime skipped because a frame came late, and each frame's engine, CPU and GL time."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

KEPT = 100_000  # frames of figures kept (18 minutes at 90 Hz)


class FrameTiming:
    """Mixed into XrTarget, which calls _frame_began, _count_skips, _add_gl/_add_wait and _measure_frame."""

    def _start_timing(self) -> None:
        self.frames = 0
        self.missed = 0  # display periods the runtime skipped because a frame came late
        self.missed_at: list[float] = []  # session times of the frames after such a skip
        self.missed_by_engine = 0  # skips after a frame whose engine work took longer than its drawing
        self.engine_s: deque[float] = deque(maxlen=KEPT)  # per frame, runtime waits excluded
        self.engine_cpu_s: deque[float] = deque(maxlen=KEPT)  # per frame, this thread's CPU time
        # per frame, in the GL calls that draw the eyes: the GPU's work, and on a machine without
        # one Mesa's llvmpipe drawing on the CPU
        self.gl_s: deque[float] = deque(maxlen=KEPT)
        self._last_display_ns: int | None = None
        self._frame_started = (0.0, 0.0)
        self._waits = 0.0
        self._gl = 0.0
        self._measure_pending = False

    def _frame_began(self) -> None:
        """xrWaitFrame returned: the frame's engine time starts."""
        self._frame_started = (time.perf_counter(), time.thread_time())
        self._waits = 0.0
        self._gl = 0.0

    def _count_skips(self, display_ns: int, period_ns: int, now: Callable[[], float], counted: bool) -> None:
        """Display periods skipped since the last frame (`counted`: not after the session's end), and
        whose lateness it was: the engine's own work, or drawing (the GPU, or llvmpipe on the CPU)."""
        if self._last_display_ns is not None and period_ns > 0 and counted:
            periods = round((display_ns - self._last_display_ns) / period_ns)
            if periods > 1:
                self.missed += periods - 1
                self.missed_at.append(now())
                if self.engine_s and self.engine_s[-1] >= self.gl_s[-1]:
                    self.missed_by_engine += periods - 1
        self._last_display_ns = display_ns

    def _measure_frame(self) -> None:
        """The last frame's engine time: from xrWaitFrame's return to the next xrWaitFrame call (the
        whole loop: session step, sound, log, both eyes), less runtime waits and GL drawing."""
        if not self._measure_pending:
            return
        self._measure_pending = False
        started, cpu_started = self._frame_started
        self.engine_s.append(time.perf_counter() - started - self._waits - self._gl)
        self.gl_s.append(self._gl)
        self.engine_cpu_s.append(time.thread_time() - cpu_started)
