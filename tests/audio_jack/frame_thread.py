"""What the frame thread's calls into the sound output do, counted instead of timed.

    probe = FrameThreadProbe()
    probe.call(output.advance, state, dt)   # in place of output.advance(state, dt)
    probe.watch(output.drain_events)        # watched for waits only: it returns what it allocates
    probe.waits                  # calls made that can block: locks, conditions, queues, sleeps, I/O, processes
    probe.largest_allocation     # the most memory one call held at once, in bytes (tracemalloc)
    probe.retained               # memory the calls allocated and still held after them, in bytes
    probe.close()

A frame thread that never waits on the device makes none of those calls on any machine, however
slow or busy, and a call that only hands controls over never holds as much as one block of sound.
"""

from __future__ import annotations

import os
import sys
import tracemalloc

# Python code whose functions wait (Lock/Condition/Event wrappers, queue.Queue, processes, sockets).
BLOCKING_FILES = {"threading.py", "queue.py", "subprocess.py", "selectors.py", "socket.py"}
# Built-in functions that wait, by module.
BLOCKING_FUNCTIONS = {
    "time": {"sleep"},
    "select": {"select", "poll", "epoll"},
    "posix": {
        "read",
        "write",
        "readv",
        "writev",
        "pread",
        "pwrite",
        "fsync",
        "fdatasync",
        "wait",
        "waitpid",
        "waitid",
        "sendfile",
    },
    "builtins": {"print", "input", "open"},
}
# Built-in types any of whose methods can wait, and single methods that do.
BLOCKING_TYPES = {
    "_thread.lock",
    "_thread.RLock",
    "_queue.SimpleQueue",
    "_socket.socket",
    "socket.socket",
    "select.epoll",
    "select.poll",
}
BLOCKING_METHODS = {("mmap.mmap", "flush")}


def _blocking_builtin(function) -> str | None:
    owner = getattr(function, "__self__", None)
    name = getattr(function, "__name__", "?")
    if owner is None or isinstance(owner, type(os)):
        module = owner.__name__ if owner is not None else getattr(function, "__module__", None) or "builtins"
        return f"{module}.{name}" if name in BLOCKING_FUNCTIONS.get(module, ()) else None
    kind = f"{type(owner).__module__}.{type(owner).__qualname__}"
    if kind in BLOCKING_TYPES or kind.startswith("_io.") or (kind, name) in BLOCKING_METHODS:
        return f"{kind}.{name}"
    return None


class FrameThreadProbe:
    """Of each function's calls, every other one is watched for waits (a profile hook) and the rest
    are measured for memory (tracemalloc), so neither measure carries the other's overhead."""

    def __init__(self) -> None:
        self.calls = 0
        self._calls_of: dict[object, int] = {}
        self.waits: list[str] = []
        self.largest_allocation = 0
        self.retained = 0
        self._started_tracing = not tracemalloc.is_tracing()
        if self._started_tracing:
            tracemalloc.start()
        self._overhead = 0  # what measuring a call that does nothing shows (the count it reads)
        ballast = bytearray(1 << 12)  # so that the count is not one of Python's cached small ints
        for _ in range(20):
            self._overhead = max(self._overhead, self._measured(lambda: None)[2])
        del ballast

    def _profile(self, frame, event, arg) -> None:
        if event == "call" and os.path.basename(frame.f_code.co_filename) in BLOCKING_FILES:
            self.waits.append(f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_code.co_name}")
        elif event == "c_call":
            blocking = _blocking_builtin(arg)
            if blocking is not None:
                self.waits.append(blocking)

    @staticmethod
    def _measured(function, *args, **kwargs) -> tuple[object, int, int]:
        """(result, bytes held at the call's peak, bytes still held after it)."""
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = function(*args, **kwargs)
        current, peak = tracemalloc.get_traced_memory()
        return result, peak - before, current - before

    def call(self, function, *args, **kwargs):
        self.calls += 1
        key = getattr(function, "__func__", function)
        self._calls_of[key] = self._calls_of.get(key, 0) + 1
        if self._calls_of[key] % 2:
            return self.watch(function, *args, **kwargs)
        result, peak, held = self._measured(function, *args, **kwargs)
        self.largest_allocation = max(self.largest_allocation, peak - self._overhead)
        self.retained += max(0, held - self._overhead)
        return result

    def watch(self, function, *args, **kwargs):
        """Call it watched for waits only (for calls that return what they allocate)."""
        sys.setprofile(self._profile)
        try:
            return function(*args, **kwargs)
        finally:
            sys.setprofile(None)

    def summary(self) -> dict:
        return {
            "calls": self.calls,
            "waits": sorted(set(self.waits)),
            "wait_count": len(self.waits),
            "largest_allocation": self.largest_allocation,
            "retained": self.retained,
        }

    def close(self) -> None:
        if self._started_tracing and tracemalloc.is_tracing():
            tracemalloc.stop()
