"""One worker thread for work too slow for a frame: the frame thread hands a job over without
waiting and picks up finished results, oldest first, on later frames."""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor


class BackgroundJobs:
    """Jobs run one at a time, in the order submitted, on a single thread started with the first job.

    close() cancels the jobs not yet started, waits for the running one (a few milliseconds) and
    leaves no thread behind; a closed instance takes no more jobs (submit returns False).
    """

    def __init__(self, thread_name: str):
        self.thread_name = thread_name
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()
        self.closed = False

    def submit(self, job: Callable, *args) -> bool:
        """Hand the job over (never waits); False when closed: the caller runs it itself."""
        if self.closed:
            return False
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=self.thread_name, initializer=_below_the_frame_thread
            )
        self._pending.append(self._pool.submit(job, *args))
        return True

    def finished(self) -> Iterator[Future]:
        """The finished jobs, in the order submitted; a later job that finished first waits its turn."""
        while self._pending and self._pending[0].done():
            yield self._pending.popleft()

    @property
    def busy(self) -> bool:
        """Some job handed over has not been collected through finished() yet."""
        return bool(self._pending)

    def close(self) -> None:
        self.closed = True
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _below_the_frame_thread() -> None:
    """On the worker thread: 10 nice steps below the thread that started it, so that on a busy machine
    the frame thread gets the CPU first (Linux, where each thread has its own nice value)."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(os.getpriority(os.PRIO_PROCESS, 0) + 10, 19))
        except OSError:
            pass  # a priority we cannot change costs only speed
