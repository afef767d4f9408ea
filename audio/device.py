"""Live output through a sound device, played by an audio process (audio/player.py) that this
module starts, watches and replaces when the device is lost."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections import deque

import numpy as np

from tidewell.audio import controls as c
from tidewell.audio.player import DEFAULT_LEAD_S
from tidewell.core.errors import TidewellError
from tidewell.core.frame_state import FrameState

COMPUTE_RING = c.COMPUTE_RING
WATCH_S = 0.25  # how often the watcher checks the audio process
STALL_S = 1.0  # a playing stream with no callback for this long counts as lost
OPEN_TIMEOUT_S = 30.0  # the first open: start-up, imports and the sound beds take ~1.5 s
REOPEN_TIMEOUT_S = 60.0  # a waiting audio process that says nothing for this long is replaced
STOP_TIMEOUT_S = 3.0


class DeviceUnavailable(TidewellError, RuntimeError):
    """The sound device cannot be opened; the message says why."""


class DeviceOutput:
    """Plays through a PortAudio output stream in an audio process of its own.

    advance() writes each frame's sound controls into shared memory and returns at once
    (audio/controls.py); the audio process's callback reads them without locks or allocation.

    A watcher thread notices a lost device (the audio process says so, exits, or its callback
    count stops moving for STALL_S), kills that process and keeps the session running silently.
    A new audio process then waits for the device and plays again when it returns; the sound
    fades in from silence. Each loss and return is reported once through drain_events().
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        device: str | int | None = None,
        seed: int = 0,
        channels: int = 2,
        blocksize: int = 0,
        lead_s: float = DEFAULT_LEAD_S,
    ):
        self.path = None
        self.sample_rate = sample_rate
        self.channels = channels
        self.blocksize = blocksize
        self.lead_s = lead_s  # sound rendered ahead of the device (audio/ahead.py): extra latency
        self.seed = seed
        self.device_query = None if device is None else str(device)
        self.description = "sound device"
        self.losses = 0
        self.reopens = 0
        self.lost = False
        self.closed = False
        self._events: deque[tuple[str, str]] = deque()
        self._block = c.SharedBlock.create()
        self._stop = threading.Event()
        self._process: subprocess.Popen | None = None
        self._messages: queue.Queue = queue.Queue()
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._start_process(retry=False)
        try:
            message = self._next_message(OPEN_TIMEOUT_S)
            if "opened" not in message:
                raise DeviceUnavailable(message.get("unavailable") or message.get("lost") or self._exit_reason(message))
        except BaseException:
            self._kill_process()
            self._block.close()
            raise
        self.description = message["opened"]
        self.scheduling = message.get("scheduling", "")
        self.lead_s = float(message.get("lead_s", self.lead_s))
        self._watcher = threading.Thread(target=self._watch, name="tidewell-audio-watch", daemon=True)
        self._watcher.start()

    # -- frame thread ---------------------------------------------------------------------
    def advance(self, state: FrameState, dt: float) -> None:
        self._block.publish(state)

    def drain_events(self) -> list[tuple[str, str]]:
        events = []
        while self._events:
            events.append(self._events.popleft())
        return events

    def stats(self) -> dict:
        """Callback counts, status flags (underflows counted apart), callback compute times, and the
        render process's render times and the callbacks it left short ("starved").

        compute_s / render_s hold the latest min(count, COMPUTE_RING) times in seconds, oldest first.
        """
        shared = self._block.stats.copy()
        count = int(shared[c.CALLBACKS])
        recent = _latest(self._block.compute_s.copy(), count)
        kept = len(recent)
        block_frames = int(shared[c.BLOCK_FRAMES])
        stats = {
            "callbacks": count,
            "status_flags": int(shared[c.STATUS_FLAGS]),
            "underruns": int(shared[c.UNDERFLOWS]),
            "starved": int(shared[c.STARVED]),
            "renders": int(shared[c.RENDERS]),
            "lead_s": self.lead_s,
            "block_frames": block_frames,
            "losses": self.losses,
            "reopens": self.reopens,
            "lost": self.lost,
            "device": self.description,
            "sample_rate": self.sample_rate,
            "scheduling": self.scheduling,
            "compute_s": recent,
            "render_s": _latest(self._block.render_s.copy(), int(shared[c.RENDERS])),
        }
        if kept:
            p50, p99 = (float(v) for v in np.percentile(recent, [50, 99]))
            stats.update(compute_p50_ms=1e3 * p50, compute_p99_ms=1e3 * p99, compute_max_ms=1e3 * float(recent.max()))
            if block_frames:
                stats["realtime_factor_p99"] = (block_frames / self.sample_rate) / max(p99, 1e-9)
        return stats

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        self._watcher.join(timeout=5.0)
        process = self._process
        if process is not None:
            try:
                process.stdin.write("stop\n")
                process.stdin.flush()
                process.wait(timeout=STOP_TIMEOUT_S)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
            self._kill_process()
        self._block.close()

    def __enter__(self) -> DeviceOutput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the audio process ----------------------------------------------------------------
    def _start_process(self, retry: bool) -> None:
        command = [
            sys.executable,
            "-m",
            "tidewell.audio.player",
            "--fd",
            str(self._block.fileno()),
            "--sample-rate",
            str(self.sample_rate),
            "--channels",
            str(self.channels),
            "--blocksize",
            str(self.blocksize),
            "--seed",
            str(self.seed),
            "--lead-s",
            str(self.lead_s),
        ]
        if self.device_query is not None:
            command += ["--device", self.device_query]
        if retry:
            command.append("--retry")
        self._messages = queue.Queue()
        # Its own session: a Ctrl-C at the terminal reaches the session, which fades the sound out,
        # and never cuts the sound off directly.
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=(self._block.fileno(),),
            start_new_session=True,
        )
        threading.Thread(
            target=_read_messages, args=(process, self._messages), name="tidewell-audio-messages", daemon=True
        ).start()
        threading.Thread(
            target=_read_lines, args=(process.stderr, self._stderr_tail), name="tidewell-audio-stderr", daemon=True
        ).start()
        self._process = process

    def _next_message(self, timeout_s: float) -> dict:
        """The audio process's next message; {"exited": code} when it ends without one."""
        try:
            return self._messages.get(timeout=timeout_s)
        except queue.Empty:
            return {"silent_s": timeout_s}

    def _exit_reason(self, message: dict) -> str:
        if "silent_s" in message:
            return f"the audio process did not answer within {message['silent_s']:g} s"
        tail = " | ".join(line for line in self._stderr_tail if line.strip())[-300:]
        return f"the audio process ended (exit code {message.get('exited')})" + (f": {tail}" if tail else "")

    def _kill_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()  # it may be stuck inside PortAudio; the kernel frees what it held
        try:
            process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
        for stream in (process.stdin, process.stdout, process.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass

    # -- watcher thread -------------------------------------------------------------------
    def _watch(self) -> None:
        seen_callbacks, moved_at = int(self._block.stats[c.CALLBACKS]), time.monotonic()
        waiting_since = 0.0
        while not self._stop.wait(WATCH_S):
            now = time.monotonic()
            try:
                message = self._messages.get_nowait()
            except queue.Empty:
                message = None
            if not self.lost:
                callbacks = int(self._block.stats[c.CALLBACKS])
                if callbacks != seen_callbacks:
                    seen_callbacks, moved_at = callbacks, now
                reason = None
                if message is not None and "lost" in message:
                    reason = f"{self.description}: {message['lost']}"
                elif message is not None and "exited" in message:
                    reason = f"{self.description}: {self._exit_reason(message)}"
                elif now - moved_at > STALL_S:
                    reason = f"{self.description}: no audio callbacks for {now - moved_at:.1f} s"
                if reason is not None:
                    self.lost = True
                    self.losses += 1
                    self._events.append(("audio_lost", reason + "; continuing silently until it returns"))
                    self._kill_process()
                    self._start_process(retry=True)
                    waiting_since = now
            elif message is not None and "opened" in message:
                self.lost = False
                self.reopens += 1
                self.description = message["opened"]
                seen_callbacks, moved_at = int(self._block.stats[c.CALLBACKS]), now
                self._events.append(("audio_back", f"playing through {self.description}"))
            elif message is not None or now - waiting_since > REOPEN_TIMEOUT_S:
                # The waiting process failed or hangs: start another.
                self._kill_process()
                self._start_process(retry=True)
                waiting_since = now


def _latest(ring: np.ndarray, count: int) -> np.ndarray:
    """The last min(count, len(ring)) values written round the ring, oldest first."""
    if count >= len(ring):
        return np.roll(ring, -(count % len(ring)))
    return ring[:count]


def _read_messages(process: subprocess.Popen, messages: queue.Queue) -> None:
    try:
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue  # not one of ours (a library writing to stdout)
            if isinstance(message, dict):
                messages.put(message)
    except (OSError, ValueError):
        pass
    try:
        code = process.wait(timeout=2.0)
    except subprocess.TimeoutExpired:
        code = None
    messages.put({"exited": code})


def _read_lines(stream, tail: deque) -> None:
    try:
        for line in stream:
            tail.append(line.rstrip())
    except (OSError, ValueError):
        pass
