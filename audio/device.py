"""Live output through a PortAudio stream (sounddevice), surviving the loss and return of the device."""
from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from tidewell.audio.synth import BreathSynth
from tidewell.engine.frame_state import FrameState

RETRY_S = 2.0  # how often a lost device is looked for again
WATCH_S = 0.25  # how often the watcher checks the stream
STALL_S = 1.0  # a running stream with no callback for this long counts as lost
COMPUTE_RING = 8192  # callback compute times kept for stats() (~80 s of 10 ms blocks)


def find_output_device(query: str | int | None) -> int | None:
    """The PortAudio index for `--audio-device`: None is the system default; an int or a string of
    digits is an index; other text picks the first output device whose "name, host API" contains
    it (case-insensitive; an exact name wins). Raises ValueError saying what is available."""
    import sounddevice

    if query is None:
        sounddevice.query_devices(kind="output")  # raises when there is no default output
        return None
    devices = sounddevice.query_devices()
    outputs = [d for d in devices if d["max_output_channels"] > 0]
    available = "; ".join(f"{d['index']}: {d['name']}" for d in outputs) or "none"
    if isinstance(query, int) or (isinstance(query, str) and query.strip().isdigit()):
        index = int(query)
        if not any(d["index"] == index for d in outputs):
            raise ValueError(f"no output device with index {index} (output devices: {available})")
        return index
    text = str(query).strip().lower()
    if not text:
        raise ValueError("the audio device name is empty")
    host_apis = sounddevice.query_hostapis()
    for exact in (True, False):
        for d in outputs:
            label = f"{d['name']}, {host_apis[d['hostapi']]['name']}".lower()
            if (d["name"].lower() == text) if exact else (text in label):
                return int(d["index"])
    raise ValueError(f"no output device matching {query!r} (output devices: {available})")


class DeviceOutput:
    """Plays through a PortAudio output stream; the sound card's thread pulls the sound.

    The frame loop and the audio thread share one reference: advance() replaces it with the
    newest frame state (an atomic assignment) and the callback reads it. The callback renders into
    PortAudio's buffer with a synth that allocates nothing, and records its compute time in a
    preallocated ring: no locks, no I/O, no allocation on the audio thread.

    A watcher thread notices a lost device (the stream stopped, a PortAudio error, or no callbacks
    for STALL_S), closes the stream and keeps the session running silently. Every RETRY_S it
    re-initialises PortAudio (the only way to see a JACK server that came back) and reopens the
    device; the sound then fades in from silence. Each loss and return is reported once through
    drain_events().
    """

    def __init__(self, sample_rate: int = 48000, device: str | int | None = None, seed: int = 0,
                 channels: int = 2, blocksize: int = 0):
        import sounddevice  # the caller (open_audio_output) has already checked that this imports

        self._sd = sounddevice
        self.path = None
        self.sample_rate = sample_rate
        self.channels = channels
        self.blocksize = blocksize
        self.seed = seed
        self.device_query = device
        self._state: FrameState | None = None
        self._events: deque[tuple[str, str]] = deque()
        self._compute_s = np.zeros(COMPUTE_RING)
        self._callbacks = 0
        self._status_flags = 0
        self._underflows = 0
        self._last_frames = 0
        self._last_callback = 0.0
        self._callback_error: BaseException | None = None
        self._finished = False
        self.losses = 0
        self.reopens = 0
        self.lost = False
        self.closed = False
        self._stream = None
        self._reaper: threading.Thread | None = None
        self._lock = threading.Lock()  # between the watcher and close(); never taken by the callback
        self._stop = threading.Event()
        self._open()  # the first open raises, so open_audio_output can fall back to a WAV file
        self._watcher = threading.Thread(target=self._watch, name="tidewell-audio-watch", daemon=True)
        self._watcher.start()

    # -- frame thread ---------------------------------------------------------------------
    def advance(self, state: FrameState, dt: float) -> None:
        self._state = state

    def drain_events(self) -> list[tuple[str, str]]:
        events = []
        while self._events:
            events.append(self._events.popleft())
        return events

    @property
    def callback_status_count(self) -> int:
        return self._status_flags

    def stats(self) -> dict:
        """Callback counts, status flags (underflows counted apart) and callback compute times.

        compute_s holds the latest min(callbacks, COMPUTE_RING) compute times in seconds, oldest first.
        """
        count = self._callbacks
        kept = min(count, COMPUTE_RING)
        ring = self._compute_s.copy()
        recent = np.roll(ring, -(count % COMPUTE_RING))[-kept:] if count >= COMPUTE_RING else ring[:kept]
        stats = {
            "callbacks": count, "status_flags": self._status_flags, "underruns": self._underflows,
            "block_frames": self._last_frames, "losses": self.losses, "reopens": self.reopens,
            "lost": self.lost, "device": self.description, "sample_rate": self.sample_rate,
            "compute_s": recent,
        }
        if kept:
            p50, p99 = (float(v) for v in np.percentile(recent, [50, 99]))
            stats.update(compute_p50_ms=1e3 * p50, compute_p99_ms=1e3 * p99, compute_max_ms=1e3 * float(recent.max()))
            if self._last_frames:
                stats["realtime_factor_p99"] = (self._last_frames / self.sample_rate) / max(p99, 1e-9)
        return stats

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        self._watcher.join(timeout=5.0)
        with self._lock:
            self._drop_stream()
            if self._reaping():
                # The lost stream's close is still stuck inside PortAudio; sounddevice's exit
                # handler would call Pa_Terminate, which aborts the process in that state.
                self._sd._initialized = 0

    def __enter__(self) -> DeviceOutput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- audio thread ---------------------------------------------------------------------
    def _callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        start = time.perf_counter()
        if status:
            self._status_flags += 1  # counted, never printed from here
            if status.output_underflow:
                self._underflows += 1
        state = self._state
        if state is None or self._callback_error is not None:
            outdata.fill(0.0)
        else:
            try:
                self._synth.render_into(state, outdata)
            except Exception as error:  # reported by the watcher; the stream keeps running silently
                outdata.fill(0.0)
                self._callback_error = error
        self._compute_s[self._callbacks % COMPUTE_RING] = time.perf_counter() - start
        self._last_frames = frames
        self._last_callback = start
        self._callbacks += 1

    def _stream_finished(self) -> None:
        self._finished = True

    # -- watcher thread -------------------------------------------------------------------
    def _open(self, reinitialise: bool = False) -> None:
        sd = self._sd
        if reinitialise:
            # PortAudio lists devices (and finds a JACK server) only when initialised; safe here
            # because this object's stream is closed and PortAudio holds no other stream of ours.
            if sd._initialized:
                sd._terminate()
            sd._initialize()
        index = find_output_device(self.device_query)
        self._synth = BreathSynth(sample_rate=self.sample_rate, channels=self.channels, seed=self.seed)
        self._callback_error = None
        self._finished = False
        stream = sd.OutputStream(samplerate=self.sample_rate, channels=self.channels, dtype="float32",
                                 device=index, blocksize=self.blocksize, callback=self._callback,
                                 finished_callback=self._stream_finished)
        try:
            info = sd.query_devices(stream.device)
            self.description = f"sound device {info['name']} ({self.sample_rate} Hz, {self.channels} ch)"
            self._last_callback = time.perf_counter()
            stream.start()
        except BaseException:
            stream.close()
            raise
        self._stream = stream

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            _close_quietly(stream)

    def _loss_reason(self) -> str | None:
        if self._callback_error is not None:
            return f"synth error in the audio callback: {_one_line(self._callback_error)}"
        if self._finished or not self._stream.active:
            return f"{self.description}: the stream stopped"
        silent_s = time.perf_counter() - self._last_callback
        if silent_s > STALL_S:
            return f"{self.description}: no audio callbacks for {silent_s:.1f} s"
        return None

    def _watch(self) -> None:
        next_try = 0.0
        while not self._stop.wait(WATCH_S):
            with self._lock:
                if self.closed:
                    return
                if self._stream is not None:
                    try:
                        reason = self._loss_reason()
                    except Exception as error:  # PortAudioError from a vanished device
                        reason = f"{self.description}: PortAudio: {_one_line(error)}"
                    if reason is not None:
                        self.lost = True
                        self.losses += 1
                        self._events.append(("audio_lost", reason + "; continuing silently, retrying every "
                                             f"{RETRY_S:g} s"))
                        self._reap_stream()
                        next_try = time.monotonic() + RETRY_S
                elif time.monotonic() >= next_try and not self._reaping():
                    try:
                        self._open(reinitialise=True)
                    except Exception:
                        next_try = time.monotonic() + RETRY_S
                        continue
                    self.lost = False
                    self.reopens += 1
                    self._events.append(("audio_back", f"playing through {self.description}"))

    def _reap_stream(self) -> None:
        """Close a lost stream on a thread of its own: after a JACK server dies, PortAudio's
        Pa_CloseStream waits (measured: minutes) for a process callback that never comes, and
        Pa_Terminate during that wait aborts the process. So nothing re-initialises PortAudio
        until this thread has finished."""
        stream, self._stream = self._stream, None
        self._reaper = threading.Thread(target=_close_quietly, args=(stream,), name="tidewell-audio-reap",
                                        daemon=True)
        self._reaper.start()

    def _reaping(self) -> bool:
        return self._reaper is not None and self._reaper.is_alive()

def _close_quietly(stream) -> None:
    try:
        stream.abort()
    except Exception:
        pass  # a vanished device may refuse; closing still frees our side
    try:
        stream.close()
    except Exception:
        pass


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__
