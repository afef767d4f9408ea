"""Audio test bed: PortAudio on a private JACK dummy server, with the output captured by jack_rec.

Plain helpers (no pytest needed):
    with jack_testbed(tmp_dir) as server:      # jackd -d dummy -r 48000 -p 480, env set, PortAudio re-initialised
        device = portaudio_jack_device()       # PortAudio index of the JACK output device
        capture = start_capture(server, tmp_dir / "out.wav", seconds=5, ports=server.playback_ports())
        ...
        audio, sample_rate = capture.wait()    # float64, shape (frames, channels)
        server.kill(); server.start()          # a crash and a return of the "device"
        server.xruns()                         # jackd's own xrun reports, from its log
        server.xrun_events()                   # the same grouped by time: driver late, clients unfinished
        ControlClient(server)                  # a C client beside the one under test: attribute(events, ...)

Pytest fixtures (import them into a test module, or list this module in `pytest_plugins`):
    jack_server          a fresh server for one test
    jack_server_bare     a fresh server that this process's PortAudio stays out of (to kill and restart)
    jack_server_module   one server shared by a test module

Each server has a private name (JACK_DEFAULT_SERVER), clients never start a server of their own
(JACK_NO_START_SERVER=1), and every process runs in its own process group and is stopped by PID.
A missing tool fails with the Debian package to install (jackd2, libportaudio2); nothing skips.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SAMPLE_RATE = 48000
PERIOD_FRAMES = 480  # 10 ms JACK periods
STARTUP_TIMEOUT_S = 30.0  # deadlines for what must happen, generous for a busy machine
STOP_TIMEOUT_S = 5.0
_names = itertools.count()


class JackTestbedError(RuntimeError):
    """The JACK test bed could not be set up, or a process in it misbehaved."""


def require_tools() -> dict[str, str]:
    tools = {}
    for tool in ("jackd", "jack_lsp", "jack_rec"):
        path = shutil.which(tool)
        if path is None:
            raise JackTestbedError(
                f"{tool} not found: install the Debian package `jackd2` (apt-get install jackd2 libportaudio2)"
            )
        tools[tool] = path
    return tools


class JackServer:
    """One jackd with the dummy driver: real-time pacing, no sound card."""

    def __init__(
        self,
        log_dir: Path,
        name: str | None = None,
        sample_rate: int = SAMPLE_RATE,
        period_frames: int = PERIOD_FRAMES,
        realtime: bool = False,
    ):
        self.tools = require_tools()
        self.name = name or f"tidewell-jack-{os.getpid()}-{next(_names)}"
        self.sample_rate = sample_rate
        self.period_frames = period_frames
        self.realtime = realtime  # jackd -R, as an installed JACK runs; the tests use --no-realtime
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None
        self.portaudio_here = False  # this process's PortAudio holds a client of this server
        self.starts = 0
        self._logs: list[Path] = []
        self._xrun_lines: list[tuple[float, str]] = []  # (time.monotonic() on arrival, line)
        self._log_reader: threading.Thread | None = None

    @property
    def period_s(self) -> float:
        return self.period_frames / self.sample_rate

    @property
    def env(self) -> dict[str, str]:
        """The environment for a JACK client of this server (and of no other)."""
        return {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> JackServer:
        if self.process is not None and self.process.poll() is None:
            raise JackTestbedError(f"JACK server {self.name!r} is already running (pid {self.process.pid})")
        self.starts += 1
        log = self.log_dir / f"jackd-{self.name}-{self.starts}.log"
        self._logs.append(log)
        self.process = subprocess.Popen(
            [
                self.tools["jackd"],
                "-n",
                self.name,
                "--realtime" if self.realtime else "--no-realtime",
                "-d",
                "dummy",
                "-r",
                str(self.sample_rate),
                "-p",
                str(self.period_frames),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._log_reader = threading.Thread(
            target=self._keep_log, args=(self.process.stdout, log), name="jackd-log", daemon=True
        )
        self._log_reader.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._log_reader.join(timeout=2.0)
                raise JackTestbedError(
                    f"jackd exited with {self.process.returncode}: {log.read_text(errors='replace')[-2000:]}"
                )
            if "system:playback_1" in self.ports():
                return self
            time.sleep(0.05)
        self.stop()
        raise JackTestbedError(f"JACK server {self.name!r} did not answer jack_lsp within {STARTUP_TIMEOUT_S:g} s")

    def ports(self) -> list[str]:
        result = subprocess.run(
            [self.tools["jack_lsp"]], env=self.env, capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S
        )
        return result.stdout.split("\n") if result.returncode == 0 else []

    def connections(self) -> dict[str, list[str]]:
        """port -> the ports it is connected to."""
        result = subprocess.run(
            [self.tools["jack_lsp"], "-c"], env=self.env, capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S
        )
        graph: dict[str, list[str]] = {}
        port = None
        for line in result.stdout.splitlines():
            if line.startswith((" ", "\t")):
                if port is not None:
                    graph[port].append(line.strip())
            elif line:
                port = line.strip()
                graph[port] = []
        return graph

    def playback_ports(self, client_prefix: str = "PortAudio") -> list[str]:
        """The output ports of a playing PortAudio stream (those wired to system:playback_*)."""
        graph = self.connections()
        ports = [
            p
            for p, peers in graph.items()
            if p.startswith(client_prefix) and ":out_" in p and any(q.startswith("system:playback") for q in peers)
        ]
        return sorted(ports, key=lambda p: (p.split(":")[0], int(p.rsplit("_", 1)[1])))

    def wait_for_playback_ports(self, count: int = 2, timeout_s: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ports = self.playback_ports()
            if len(ports) >= count:
                return ports[:count]
            time.sleep(0.05)
        raise JackTestbedError(
            f"no PortAudio stream is playing on JACK server {self.name!r} after {timeout_s:g} s; ports: {self.ports()}"
        )

    def kill(self) -> None:
        """A crash: SIGKILL, no goodbye to the clients. Only for a server this process's PortAudio
        does not use (jack_testbed(portaudio=False)): PortAudio's JACK host API aborts the process
        in Pa_Terminate once its server has died. Play through it from a child process instead."""
        if self.portaudio_here:
            raise JackTestbedError(
                "kill() would leave this process's PortAudio with a dead JACK server "
                "(Pa_Terminate then aborts): use jack_testbed(portaudio=False) and a child process"
            )
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def _end(self, how: int) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(how)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if self._log_reader is not None:
            self._log_reader.join(timeout=STOP_TIMEOUT_S)  # the log is whole once read
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        # A killed server leaves its semaphores and socket in /dev/shm; only this server's names go.
        shm = Path("/dev/shm")
        if not shm.is_dir():
            return
        for path in itertools.chain(shm.glob(f"jack_sem.*_{self.name}_*"), shm.glob(f"jack_{self.name}_*")):
            with contextlib.suppress(OSError):
                path.unlink()

    def _keep_log(self, stream, path: Path) -> None:
        """jackd's output into its log file, xrun lines also kept with their time of arrival (jackd
        prints no times; a stalled machine delays the line by as much as it delays the xrun)."""
        with open(path, "wb") as out, stream:
            for raw in iter(stream.readline, b""):
                out.write(raw)
                out.flush()
                line = raw.decode(errors="replace").rstrip()
                if _is_xrun(line):
                    self._xrun_lines.append((time.monotonic(), line))

    def log_text(self) -> str:
        return "".join(log.read_text(errors="replace") for log in self._logs if log.exists())

    def xruns(self) -> dict[str, int]:
        """jackd's own xrun reports. `late_cycles`: the dummy driver's thread finished a cycle after
        the next one was due (JackTimedDriver "XRun = N usec", N being that cycle's length from its
        start): the machine ran jackd itself more than a period late, and every client is told of an
        xrun; `client`: lines saying a client did not finish its cycle in time."""
        late = client = 0
        for line in self.xrun_lines():
            if _DRIVER_LATE in line:
                late += 1
            else:
                client += 1
        return {"late_cycles": late, "client": client}

    def xrun_lines(self) -> list[str]:
        return [line for _, line in list(self._xrun_lines)]

    def xrun_events(self, within_s: float = 0.1) -> list[dict]:
        """jackd's xrun lines grouped into events (lines arriving within `within_s` of each other):
        {"at": monotonic time, "driver_late": the driver itself ran late, "unfinished": client names}."""
        events: list[dict] = []
        for at, line in list(self._xrun_lines):
            if not events or at - events[-1]["last"] > within_s:
                events.append({"at": at, "last": at, "driver_late": False, "unfinished": []})
            event = events[-1]
            event["last"] = at
            if _DRIVER_LATE in line:
                event["driver_late"] = True
            match = re.search(r"client = (\S+) was not finished", line)
            if match:
                event["unfinished"].append(match.group(1))
        return [{key: value for key, value in event.items() if key != "last"} for event in events]


_DRIVER_LATE = "JackTimedDriver::Process XRun"


def _is_xrun(line: str) -> bool:
    return _DRIVER_LATE in line or re.search(r"xrun|not finished", line, re.IGNORECASE) is not None


class ControlClient:
    """jack_metro, a JACK client in C (a click every second), on the same server: when it misses a
    cycle too, the machine stalled, not the client under test."""

    def __init__(self, server: JackServer, name: str = "tidewell-control"):
        self.name = name
        tool = shutil.which("jack_metro")
        if tool is None:
            raise JackTestbedError("jack_metro not found: install jackd2 (Debian 12) or jack-example-tools (Debian 13)")
        self.process = subprocess.Popen(
            [tool, "-n", self.name, "-b", "60"],
            env=server.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not any(port.startswith(self.name + ":") for port in server.ports()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise JackTestbedError("the control client jack_metro did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=5.0)


def attribute(events: list[dict], engine_clients: list[str], control: str) -> dict:
    """Each xrun event (JackServer.xrun_events) blamed on the machine (jackd's own driver ran late,
    or the C control client missed its cycle too) or on the engine (only the clients under test
    missed theirs, all else on time)."""
    machine = engine = other = 0
    for event in events:
        unfinished = set(event["unfinished"])
        if event["driver_late"] or control in unfinished:
            machine += 1
        elif unfinished & set(engine_clients):
            engine += 1
        else:
            other += 1
    return {"events": len(events), "machine": machine, "engine": engine, "other": other}


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the test process dies, so a crash leaves no server."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def portaudio_jack_device() -> int:
    """Re-initialise PortAudio (it lists devices only when initialised) and return the index of the
    JACK host API's output device."""
    import sounddevice

    if sounddevice._initialized:
        sounddevice._terminate()
    sounddevice._initialize()
    for api in sounddevice.query_hostapis():
        if "JACK" in api["name"]:
            for index in api["devices"]:
                if sounddevice.query_devices(index)["max_output_channels"] >= 2:
                    return int(index)
    raise JackTestbedError(
        "PortAudio shows no JACK output device: is libportaudio2 (with its JACK host API) "
        f"installed and the server running? host APIs: {[a['name'] for a in sounddevice.query_hostapis()]}"
    )


@dataclass
class Capture:
    """jack_rec writing the given ports to a WAV file for a fixed time."""

    process: subprocess.Popen
    path: Path
    seconds: float
    ports: list[str]
    started_s: float  # time.monotonic() when jack_rec was launched

    def wait(self, timeout_s: float | None = None) -> tuple[np.ndarray, int]:
        try:
            output, _ = self.process.communicate(timeout=timeout_s or self.seconds + 15.0)
        except subprocess.TimeoutExpired:
            self.stop()
            raise JackTestbedError(f"jack_rec did not finish its {self.seconds:g} s capture") from None
        if self.process.returncode != 0:
            raise JackTestbedError(f"jack_rec failed ({self.process.returncode}): {output.strip()[-1000:]}")
        self.log = output
        return read_wav(self.path)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)


def start_capture(
    server: JackServer,
    path: Path,
    seconds: float,
    ports: list[str] | None = None,
    bits: int = 32,
    wait_connected: bool = True,
) -> Capture:
    """Start jack_rec on `ports` (default: the playing PortAudio stream's). With wait_connected,
    returns once jack_rec's inputs are wired, so the recording has begun."""
    ports = ports or server.wait_for_playback_ports()
    path = Path(path)
    started = time.monotonic()
    process = subprocess.Popen(
        [server.tools["jack_rec"], "-f", str(path), "-d", f"{seconds:g}", "-b", str(bits), *ports],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=server.env,
        start_new_session=True,
    )
    capture = Capture(process, path, seconds, list(ports), started)
    if wait_connected:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            graph = server.connections()
            if all(any(not peer.startswith("system:") for peer in graph.get(port, ())) for port in ports):
                return capture
            if process.poll() is not None:
                raise JackTestbedError(f"jack_rec exited early ({process.returncode}): {process.stdout.read()}")
            time.sleep(0.02)
        capture.stop()
        raise JackTestbedError(f"jack_rec did not connect to {ports} within {STARTUP_TIMEOUT_S:g} s")
    return capture


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A PCM WAV (16 or 32 bit) as float64 in [-1, 1], shape (frames, channels), and its rate."""
    with wave.open(str(path), "rb") as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    dtype = {2: "<i2", 4: "<i4"}.get(width)
    if dtype is None:
        raise JackTestbedError(f"{path}: {8 * width}-bit samples; expected 16 or 32-bit PCM")
    scale = float(2 ** (8 * width - 1))
    return np.frombuffer(raw, dtype=dtype).reshape(-1, channels).astype(np.float64) / scale, rate


@contextlib.contextmanager
def jack_testbed(
    log_dir: Path | None = None,
    export_env: bool = True,
    portaudio: bool = True,
    realtime: bool = False,
    period_frames: int = PERIOD_FRAMES,
) -> Iterator[JackServer]:
    """A running private JACK server; this process's environment points at it (export_env) and,
    with `portaudio`, PortAudio is re-initialised to see it. Stopped by PID afterwards, PortAudio
    re-initialised again so it forgets the server. portaudio=False for a server that will be
    killed (see JackServer.kill); clients then run in child processes with server.env."""
    owned = log_dir is None
    log_dir = Path(tempfile.mkdtemp(prefix="tidewell-jack-")) if owned else Path(log_dir)
    server = JackServer(log_dir, realtime=realtime, period_frames=period_frames)
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    if export_env:
        os.environ["JACK_DEFAULT_SERVER"] = server.name
        os.environ["JACK_NO_START_SERVER"] = "1"
    initialised = 0
    try:
        if portaudio:
            initialised = _terminate_portaudio()  # before the server starts: no client of an old one
        server.start()
        if portaudio:
            _initialise_portaudio(initialised)
            server.portaudio_here = True
        yield server
    finally:
        if portaudio:
            initialised = _terminate_portaudio()
        server.stop()
        if export_env:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        if portaudio:
            _initialise_portaudio(initialised)
        if owned:
            shutil.rmtree(log_dir, ignore_errors=True)


def _terminate_portaudio() -> int:
    """Terminate PortAudio fully (it is reference-counted); returns how many times it was initialised."""
    try:
        import sounddevice
    except (ImportError, OSError):
        return 0
    count = sounddevice._initialized
    while sounddevice._initialized > 0:
        sounddevice._terminate()
    return count


def _initialise_portaudio(count: int = 1) -> None:
    try:
        import sounddevice
    except (ImportError, OSError):
        return
    while sounddevice._initialized < max(count, 1):
        sounddevice._initialize()


@pytest.fixture
def jack_server(tmp_path) -> Iterator[JackServer]:
    with jack_testbed(tmp_path / "jack") as server:
        yield server


@pytest.fixture
def jack_server_bare(tmp_path) -> Iterator[JackServer]:
    """A fresh server this process's PortAudio never joins: the one to kill and restart."""
    with jack_testbed(tmp_path / "jack", portaudio=False) as server:
        yield server


def realtime_allowed() -> bool:
    """Whether jackd may schedule itself real-time here: as root, or with an rtprio limit (Debian's
    `audio` group)."""
    import resource

    return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] > 0


@pytest.fixture(scope="module")
def jack_server_module(tmp_path_factory) -> Iterator[JackServer]:
    """The server for the live capture (tests/test_audio_jack.py): real-time where allowed, as an
    installed JACK runs, so that other processes' load does not make its clients miss cycles (each
    miss costs the capture a period of its timeline)."""
    with jack_testbed(tmp_path_factory.mktemp("jack"), realtime=realtime_allowed()) as server:
        yield server
