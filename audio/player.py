"""The audio process: one PortAudio output stream, fed by a render process of its own.

    python -m tidewell.audio.player --fd FD [--device QUERY] [--seed N] [--retry] ...

Started by audio/device.py (DeviceOutput), never by hand. Sound runs in a process of its own
for two reasons:
- When a JACK server dies under an open stream, PortAudio hangs closing that stream and aborts
  the process if re-initialised meanwhile. Only a fresh process gets the device back, and the
  session must not be that process.
- The callback needs the GIL; in the session's process it waits behind rendering and metrics.
For the same reason the synth runs in a third process (audio/renderer.py, started here) that
keeps sound rendered ahead in a shared ring (audio/ahead.py); the callback copies from it.

It writes callback statistics to the shared block whose file descriptor it inherits
(audio/controls.py; the render process reads the controls from it). It reports on stdout, one
JSON object per line:
    {"opened": "sound device NAME (48000 Hz, 2 ch)", "scheduling": "real-time scheduling (FIFO 10)"}
    {"unavailable": "why"}            the device cannot be opened (only without --retry)
    {"lost": "why"}                   the stream stopped; the process exits right after
It plays until stdin says "stop" or closes (the session ended or died). It ignores Ctrl-C: the
session decides when sound ends, and fades it out first.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np

from tidewell.audio import controls as c
from tidewell.audio.ahead import RenderRing

RETRY_S = 2.0  # how often a missing device is looked for again (--retry)
WATCH_S = 0.1
CLOSE_WAIT_S = 1.0
DEFAULT_LEAD_S = 0.02  # audio/ahead.py
SWITCH_INTERVAL_S = 0.0005  # a thread holding the GIL hands it to the callback within this
REALTIME_PRIORITY = 10  # SCHED_FIFO, low among real-time threads (JACK itself runs at 70+)


def find_output_device(sd, query: str | int | None) -> int | None:
    """The PortAudio index for `--audio-device`: None is the system default; a string of digits is
    an index; other text picks the first output device whose "name, host API" contains it
    (case-insensitive; an exact name wins). Raises ValueError saying what is available."""
    if query is None:
        sd.query_devices(kind="output")  # raises when there is no default output
        return None
    devices = sd.query_devices()
    outputs = [d for d in devices if d["max_output_channels"] > 0]
    available = "; ".join(f"{d['index']}: {d['name']}" for d in outputs) or "none"
    if isinstance(query, int) or query.strip().isdigit():
        index = int(query)
        if not any(d["index"] == index for d in outputs):
            raise ValueError(f"no output device with index {index} (output devices: {available})")
        return index
    text = query.strip().lower()
    if not text:
        raise ValueError("the audio device name is empty")
    host_apis = sd.query_hostapis()
    for exact in (True, False):
        for d in outputs:
            label = f"{d['name']}, {host_apis[d['hostapi']]['name']}".lower()
            if (d["name"].lower() == text) if exact else (text in label):
                return int(d["index"])
    raise ValueError(f"no output device matching {query!r} (output devices: {available})")


class Player:
    def __init__(self, block: c.SharedBlock, sample_rate: int, channels: int, blocksize: int, seed: int, lead_s: float):
        self.block = block
        self.sample_rate, self.channels, self.blocksize, self.seed = sample_rate, channels, blocksize, seed
        chunk = sample_rate // 100  # 10 ms
        self.ring = RenderRing.create(chunk, max(chunk, chunk * round(lead_s * 100)), channels)
        self.renderer: subprocess.Popen | None = None
        self.finished = False
        self.stream = None
        # Counting continues from an earlier audio process of the same session.
        self.callbacks = int(block.stats[c.CALLBACKS])

    def start_renderer(self) -> None:
        """The render process (audio/ahead.py), once the ring holds its first lead. Raises
        RuntimeError saying why when it does not get there."""
        ring = self.ring
        self.renderer = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tidewell.audio.renderer",
                "--fd",
                str(self.block.fileno()),
                "--ring-fd",
                str(ring.fileno()),
                "--chunk",
                str(ring.chunk),
                "--lead",
                str(ring.lead),
                "--sample-rate",
                str(self.sample_rate),
                "--channels",
                str(self.channels),
                "--seed",
                str(self.seed),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            pass_fds=(self.block.fileno(), ring.fileno()),
        )
        ready = self.renderer.stdout.readline()  # blocks until ready, or the renderer ends
        if "ready" not in ready:
            self.stop_renderer()
            raise RuntimeError(f"the render process ended (exit code {self.renderer.returncode})")

    def stop_renderer(self) -> None:
        if self.renderer is not None and self.renderer.poll() is None:
            self.renderer.kill()
            self.renderer.wait(timeout=5.0)

    def open(self, sd, index: int | None) -> str:
        stream = sd.OutputStream(
            samplerate=self.sample_rate,
            channels=self.channels,
            dtype="float32",
            device=index,
            blocksize=self.blocksize,
            callback=self.callback,
            finished_callback=self._finished,
        )
        info = sd.query_devices(stream.device)
        stream.start()
        self.stream = stream
        return f"sound device {info['name']} ({self.sample_rate} Hz, {self.channels} ch)"

    def callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        start = time.perf_counter()
        stats = self.block.stats
        if status:
            stats[c.STATUS_FLAGS] += 1
            if status.output_underflow:
                stats[c.UNDERFLOWS] += 1
        if not self.ring.take_into(outdata):
            stats[c.STARVED] += 1
        self.block.compute_s[self.callbacks % c.COMPUTE_RING] = time.perf_counter() - start
        stats[c.BLOCK_FRAMES] = frames
        self.callbacks += 1
        stats[c.CALLBACKS] = self.callbacks

    def _finished(self) -> None:
        self.finished = True

    def loss_reason(self) -> str | None:
        if self.ring.failed or self.renderer.poll() is not None:
            return f"synth error in the audio process: the render process ended (exit code {self.renderer.poll()})"
        if self.finished or not self.stream.active:
            return "the stream stopped"
        return None


def _say(**message) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _watch_stdin(stop: threading.Event) -> None:
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    stop.set()


def _open_portaudio(args, stop: threading.Event):
    """sounddevice and the device index; retries every RETRY_S with --retry, else reports why not."""
    while True:
        try:
            import sounddevice as sd
        except OSError as error:  # sounddevice raises OSError when the PortAudio library is missing
            reason = f"PortAudio: {one_line(error)}"
            if args.retry:
                return None, None  # nothing will change by waiting
        except ImportError as error:
            reason = f"sounddevice not installed: {one_line(error)}"
            if args.retry:
                return None, None
        else:
            try:
                return sd, find_output_device(sd, args.device)
            except Exception as error:  # PortAudioError, ValueError
                reason = "PortAudio: no output device" if args.device is None else f"PortAudio: {one_line(error)}"
        if not args.retry:
            _say(unavailable=reason)
            return None, None
        if stop.wait(RETRY_S):
            return None, None
        # PortAudio lists devices (and finds a JACK server) only when initialised.
        if sd._initialized:
            sd._terminate()
        sd._initialize()


def request_realtime() -> str:
    """Ask for real-time scheduling for this process, so that the threads PortAudio starts for the
    callback inherit it and other work cannot delay a block. Allowed for root, or for users with
    an rtprio limit (Debian's jackd2 offers one to the audio group). TIDEWELL_AUDIO_REALTIME=0 opts out."""
    if os.environ.get("TIDEWELL_AUDIO_REALTIME", "1") == "0":
        return "normal scheduling (TIDEWELL_AUDIO_REALTIME=0)"
    if not hasattr(os, "sched_setscheduler"):
        return "normal scheduling (no real-time scheduling here)"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
    except OSError as error:
        return f"normal scheduling (real-time refused: {error.strerror})"
    return f"real-time scheduling (FIFO {REALTIME_PRIORITY})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tidewell.audio.player")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--device")
    parser.add_argument("--sample-rate", type=int, default=48000)
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--blocksize", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lead-s", type=float, default=DEFAULT_LEAD_S, help="sound rendered ahead of the device")
    parser.add_argument("--retry", action="store_true", help="wait for the device instead of giving up")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    block = c.SharedBlock.attach(args.fd)
    stop = threading.Event()
    threading.Thread(target=_watch_stdin, args=(stop,), name="stdin", daemon=True).start()
    sd, index = _open_portaudio(args, stop)
    if sd is None:
        return 0 if stop.is_set() else 1
    player = Player(block, args.sample_rate, args.channels, args.blocksize, args.seed, args.lead_s)
    try:
        player.start_renderer()
    except RuntimeError as error:
        _say(**{"lost" if args.retry else "unavailable": f"sound renderer: {error}"})
        return 1
    scheduling = request_realtime()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # The callback creates no reference cycles; a cyclic collection triggered inside it would
    # walk every object of the process (milliseconds). What exists now is kept out of reach.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        description = player.open(sd, index)
    except Exception as error:  # PortAudioError, or OSError from the driver
        player.stop_renderer()
        if args.retry:
            _say(lost=f"PortAudio: {one_line(error)}")
        else:
            _say(unavailable=f"PortAudio: {one_line(error)}")
        os._exit(1)
    _say(opened=description, scheduling=scheduling, lead_s=player.ring.lead / args.sample_rate)
    while not stop.wait(WATCH_S):
        try:
            reason = player.loss_reason()
        except Exception as error:  # PortAudioError from a vanished device
            reason = f"PortAudio: {one_line(error)}"
        if reason is not None:
            _say(lost=reason)
            player.stop_renderer()
            os._exit(2)  # closing a stream whose server died can hang: leave it to the kernel
    # The session has faded to silence by now. A close that hangs in the driver is not waited for:
    # exiting frees the device all the same.
    player.stop_renderer()
    closer = threading.Thread(target=_close, args=(player.stream,), daemon=True)
    closer.start()
    closer.join(timeout=CLOSE_WAIT_S)
    os._exit(0)  # skips sounddevice's exit handler, whose Pa_Terminate can hang after a loss


def _close(stream) -> None:
    try:
        stream.abort()
        stream.close()
    except Exception:
        pass  # the process ends next; nothing to save


def one_line(error: BaseException) -> str:
    """An error as one line of text, for logs and messages."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
