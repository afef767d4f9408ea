"""BLE test bed: unmodified bleak against BlueZoo (virtual BlueZ) on a private dbus-daemon.

Plain helpers (no pytest needed):
    with bluez_testbed(adapter_count=3) as testbed:       # hci0 = central, hci1.. = peripherals
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = testbed.bus_address   (or export_env=True)
        sensor = testbed.start_peripheral("hci1", "HRM-A")            # waits for "ready"
        sensor.command("beat 60 1000")                                 # -> "ok t=..."
        sensor.disconnect_central()                                    # Device1.Disconnect on hci0

Pytest fixtures (import them into a test module, or list this module in `pytest_plugins`):
    make_bluez_testbed(adapter_count=2, patched=True) -> BluezTestbed   (e.g. 3 for two sensors)
    bluez_testbed   make_bluez_testbed(): hci0 (central) + hci1
    hr_peripheral   bluez_testbed plus one sensor "HRM-Test" on hci1, ready to script
Each gives a fresh bus + BlueZoo per test with DBUS_SYSTEM_BUS_ADDRESS set for the test.
BlueZoo runs through bluezoo_patched.py so reconnects and rescans work (patched=False: stock).

Every process runs in its own process group and is stopped by PID when the test bed closes.
A missing tool fails with the package to install (Debian `dbus`, PyPI `bluezoo`); nothing skips.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import pytest

PERIPHERAL_SCRIPT = Path(__file__).with_name("hr_peripheral.py")
BLUEZOO_LAUNCHER = Path(__file__).with_name("bluezoo_patched.py")
CENTRAL_ADAPTER = "hci0"
DEFAULT_ADAPTER_COUNT = 2
STARTUP_TIMEOUT_S = 30.0  # deadlines for what must happen, generous for a busy machine
STOP_TIMEOUT_S = 5.0

HR_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
HRM_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_LOCATION_UUID = "00002a38-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"

# Anyone on this private bus may own any name (BlueZoo takes org.bluez) and call anything.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

T = TypeVar("T")


class TestbedError(RuntimeError):
    """The test bed could not be set up, or a process in it misbehaved."""

    __test__ = False  # not a test class, despite the name


def require_tools(patched: bool = True) -> tuple[str, list[str]]:
    """dbus-daemon and the BlueZoo command line; a clear error naming the package if missing.

    patched=True runs BlueZoo through bluezoo_patched.py (reconnect and rescan work, see there);
    patched=False runs the stock `bluezoo` command."""
    dbus_daemon = shutil.which("dbus-daemon")
    if dbus_daemon is None:
        raise TestbedError("dbus-daemon not found: install the Debian package `dbus` (apt-get install dbus)")
    missing = TestbedError(
        f"BlueZoo not found: install the PyPI package `bluezoo` ({sys.executable} -m pip install bluezoo)"
    )
    if patched:
        if importlib.util.find_spec("bluezoo") is None:
            raise missing
        return dbus_daemon, [sys.executable, str(BLUEZOO_LAUNCHER)]
    beside_python = Path(sys.executable).with_name("bluezoo")
    command = str(beside_python) if beside_python.exists() else shutil.which("bluezoo")
    if command is None:
        raise missing
    return dbus_daemon, [command]


def adapter_addresses(count: int) -> list[str]:
    """hci0 is 00:11:22:33:44:55, hci1 00:AA:BB:CC:DD:EE, then 00:AA:BB:CC:DD:0N."""
    fixed = ["00:11:22:33:44:55", "00:AA:BB:CC:DD:EE"]
    return (fixed + [f"00:AA:BB:CC:DD:{n:02X}" for n in range(2, count)])[:count]


def device_path(adapter: str, address: str) -> str:
    """BlueZ object path of the device `address` as seen from `adapter`."""
    return f"/org/bluez/{adapter}/dev_{address.replace(':', '_').upper()}"


def run_dbus_sync(make_coroutine: Callable[[], Awaitable[T]], timeout_s: float) -> T:
    """Run a dbus-fast coroutine to completion on its own loop in a worker thread.

    A thread makes this callable both from plain tests and from inside a running event loop
    (an async test), where asyncio.run would refuse."""

    async def bounded() -> T:
        return await asyncio.wait_for(make_coroutine(), timeout_s)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, bounded()).result()


def _start_process(command: list[str], log_path: Path, **kwargs: object) -> subprocess.Popen[str]:
    with open(log_path, "w") as log:
        return subprocess.Popen(
            command,
            stderr=log,
            start_new_session=True,  # own process group, so stop_process reaches its children
            text=True,
            **kwargs,  # type: ignore[arg-type]
        )


def stop_process(process: subprocess.Popen[str], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers, and reap the process.

    The group is only signalled while its leader is unreaped, so its id cannot have been reused."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout_s)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _read_line(stream: IO[str], timeout_s: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout_s)
    return stream.readline().strip() if ready else ""


async def _adapters_powered(bus_address: str, adapters: list[str], bluezoo: subprocess.Popen[str]) -> None:
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=bus_address).connect()
    try:
        for adapter in adapters:
            while True:
                if bluezoo.poll() is not None:
                    raise TestbedError(f"BlueZoo exited with code {bluezoo.returncode}")
                reply = await bus.call(
                    Message(
                        destination="org.bluez",
                        path=f"/org/bluez/{adapter}",
                        interface="org.freedesktop.DBus.Properties",
                        member="Get",
                        signature="ss",
                        body=["org.bluez.Adapter1", "Powered"],
                    )
                )
                if reply is not None and reply.message_type == MessageType.METHOD_RETURN and reply.body[0].value:
                    break
                await asyncio.sleep(0.05)
    finally:
        bus.disconnect()


async def _call_device_method(bus_address: str, path: str, member: str) -> None:
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=bus_address).connect()
    try:
        reply = await bus.call(
            Message(destination="org.bluez", path=path, interface="org.bluez.Device1", member=member)
        )
        if reply is None or reply.message_type != MessageType.METHOD_RETURN:
            detail = reply.body if reply is not None else "no reply"
            raise TestbedError(f"org.bluez.Device1.{member} on {path} failed: {detail}")
    finally:
        bus.disconnect()


class Peripheral:
    """A running hr_peripheral.py, scripted one command per line."""

    def __init__(self, testbed: BluezTestbed, adapter: str, name: str, location: int, battery: int) -> None:
        self.testbed = testbed
        self.adapter = adapter
        self.name = name
        self.address = testbed.address_of(adapter)
        self.log_path = testbed.workdir / f"peripheral-{adapter}.log"
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._command_lock = threading.Lock()
        started = time.monotonic()
        self.process = _start_process(
            [
                sys.executable,
                "-u",
                str(PERIPHERAL_SCRIPT),
                "--adapter",
                adapter,
                "--name",
                name,
                "--location",
                str(location),
                "--battery",
                str(battery),
            ],
            self.log_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=testbed.environment(),
        )
        threading.Thread(target=self._pump_stdout, name=f"peripheral-{adapter}", daemon=True).start()
        try:
            first = self._next_line(STARTUP_TIMEOUT_S)
        except TestbedError:
            stop_process(self.process)
            raise
        if first != "ready":
            stop_process(self.process)
            raise TestbedError(
                f"peripheral on {adapter} did not become ready (said {first!r}):\n{_tail(self.log_path)}"
            )
        self.startup_s = time.monotonic() - started  # process start to "ready"

    def _pump_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._replies.put(line.strip())
        self._replies.put(None)

    def _next_line(self, timeout_s: float) -> str:
        try:
            line = self._replies.get(timeout=timeout_s)
        except queue.Empty:
            raise TestbedError(f"peripheral on {self.adapter} gave no answer within {timeout_s} s") from None
        if line is None:
            raise TestbedError(
                f"peripheral on {self.adapter} exited (code {self.process.poll()}):\n{_tail(self.log_path)}"
            )
        return line

    def command(self, line: str, timeout_s: float = 30.0) -> str:
        """Send one command and return its answer line ("ok ..." or "error ...")."""
        with self._command_lock:
            if self.process.poll() is not None or self.process.stdin is None:
                raise TestbedError(f"peripheral on {self.adapter} is not running:\n{_tail(self.log_path)}")
            self.process.stdin.write(line.strip() + "\n")
            self.process.stdin.flush()
            return self._next_line(timeout_s)

    async def command_async(self, line: str, timeout_s: float = 30.0) -> str:
        """command() from a worker thread, so bleak's callbacks keep running on the caller's loop."""
        return await asyncio.to_thread(self.command, line, timeout_s)

    def command_ok(self, line: str, timeout_s: float = 10.0) -> str:
        """Like command(), but raise TestbedError unless the answer starts with "ok"."""
        answer = self.command(line, timeout_s)
        if answer.split(" ", 1)[0] != "ok":
            raise TestbedError(f"peripheral on {self.adapter}: {line!r} -> {answer!r}")
        return answer

    def disconnect_central(self, central: str = CENTRAL_ADAPTER, timeout_s: float = 5.0) -> None:
        """Drop the link as if the sensor went away: org.bluez.Device1.Disconnect on the central's
        view of this peripheral. In BlueZoo this fires bleak's disconnected callback at once."""
        path = device_path(central, self.address)
        run_dbus_sync(lambda: _call_device_method(self.testbed.bus_address, path, "Disconnect"), timeout_s)

    async def disconnect_central_async(self, central: str = CENTRAL_ADAPTER, timeout_s: float = 5.0) -> None:
        await asyncio.wait_for(
            _call_device_method(self.testbed.bus_address, device_path(central, self.address), "Disconnect"), timeout_s
        )

    def stop(self) -> None:
        """Ask the peripheral to quit, then make sure its process group is gone."""
        if self.process.poll() is None and self.process.stdin is not None:
            with contextlib.suppress(OSError, TestbedError):
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self._next_line(STOP_TIMEOUT_S)
        stop_process(self.process)
        with contextlib.suppress(ValueError):
            self.testbed.peripherals.remove(self)


@dataclass
class BluezTestbed:
    """A private bus with BlueZoo on it; hci0 is the central, the others host peripherals."""

    bus_address: str
    adapters: dict[str, str]  # "hci0" -> "00:11:22:33:44:55"
    workdir: Path
    startup_s: float = 0.0
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    peripherals: list[Peripheral] = field(default_factory=list)

    def address_of(self, adapter: str) -> str:
        if adapter not in self.adapters:
            raise TestbedError(f"no adapter {adapter!r}; this test bed has {', '.join(self.adapters)}")
        return self.adapters[adapter]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.bus_address}

    def start_peripheral(
        self, adapter: str = "hci1", name: str = "HRM-Test", location: int = 1, battery: int = 87
    ) -> Peripheral:
        """Start hr_peripheral.py on `adapter` and wait until it is registered and advertising."""
        if adapter == CENTRAL_ADAPTER:
            raise TestbedError(f"{CENTRAL_ADAPTER} is the central's adapter; put peripherals on hci1, hci2, ...")
        self.address_of(adapter)
        peripheral = Peripheral(self, adapter, name, location, battery)
        self.peripherals.append(peripheral)
        return peripheral

    def bluezoo_log(self) -> str:
        return _tail(self.workdir / "bluezoo.log", 50)

    def close(self) -> None:
        for peripheral in list(self.peripherals):
            peripheral.stop()
        for process in reversed(self.processes):
            stop_process(process)
        self.processes.clear()


@contextlib.contextmanager
def bluez_testbed(
    adapter_count: int = DEFAULT_ADAPTER_COUNT,
    workdir: Path | None = None,
    scan_interval_s: int = 1,
    export_env: bool = False,
    patched: bool = True,
) -> Iterator[BluezTestbed]:
    """A fresh dbus-daemon + BlueZoo with `adapter_count` powered adapters (hci0..), stopped on exit.

    export_env=True also sets DBUS_SYSTEM_BUS_ADDRESS in os.environ (restored on exit);
    bleak reads it when it first connects in an event loop."""
    if adapter_count < 1:
        raise TestbedError("a test bed needs at least one adapter")
    dbus_daemon, bluezoo = require_tools(patched)
    own_workdir = workdir is None
    # A short folder of our own: the socket path must stay under ~100 characters.
    socket_dir = Path(tempfile.mkdtemp(prefix="twbus-"))
    workdir = socket_dir if workdir is None else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    config = socket_dir / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket_dir / "bus.sock"))
    addresses = adapter_addresses(adapter_count)
    testbed = BluezTestbed(bus_address="", adapters={f"hci{n}": a for n, a in enumerate(addresses)}, workdir=workdir)
    previous_env = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    started = time.monotonic()
    try:
        bus = _start_process(
            [dbus_daemon, f"--config-file={config}", "--nofork", "--print-address=1"],
            workdir / "dbus-daemon.log",
            stdout=subprocess.PIPE,
        )
        testbed.processes.append(bus)
        assert bus.stdout is not None
        testbed.bus_address = _read_line(bus.stdout, STARTUP_TIMEOUT_S)
        if not testbed.bus_address:
            raise TestbedError(f"dbus-daemon printed no address:\n{_tail(workdir / 'dbus-daemon.log')}")

        adapter_args = [arg for address in addresses for arg in ("-a", address)]
        zoo = _start_process(
            [*bluezoo, "--auto-enable", "--scan-interval", str(scan_interval_s), *adapter_args],
            workdir / "bluezoo.log",
            stdout=subprocess.DEVNULL,
            env=testbed.environment(),
        )
        testbed.processes.append(zoo)
        try:
            run_dbus_sync(
                lambda: _adapters_powered(testbed.bus_address, list(testbed.adapters), zoo), STARTUP_TIMEOUT_S
            )
        except (TimeoutError, OSError, TestbedError) as error:
            raise TestbedError(
                f"BlueZoo did not power {', '.join(testbed.adapters)} within {STARTUP_TIMEOUT_S} s "
                f"({error!r}):\n{testbed.bluezoo_log()}"
            ) from None
        testbed.startup_s = time.monotonic() - started
        if export_env:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = testbed.bus_address
        yield testbed
    finally:
        testbed.close()
        if export_env:
            if previous_env is None:
                os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = previous_env
        if own_workdir:
            shutil.rmtree(socket_dir, ignore_errors=True)
        else:
            (socket_dir / "bus.sock").unlink(missing_ok=True)
            config.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                socket_dir.rmdir()


# ---- pytest fixtures -------------------------------------------------------------------------


@pytest.fixture(name="make_bluez_testbed")
def make_bluez_testbed_fixture(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[..., BluezTestbed]]:
    """make_bluez_testbed(adapter_count=2, patched=True) -> a started BluezTestbed, stopped at
    teardown, with DBUS_SYSTEM_BUS_ADDRESS set for the test. One per test."""
    with contextlib.ExitStack() as stack:

        def make(adapter_count: int = DEFAULT_ADAPTER_COUNT, patched: bool = True) -> BluezTestbed:
            try:
                testbed = stack.enter_context(bluez_testbed(adapter_count, workdir=tmp_path / "bluez", patched=patched))
            except TestbedError as error:
                pytest.fail(str(error), pytrace=False)
            monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", testbed.bus_address)
            return testbed

        yield make


# Fixture names differ from the function names so the context manager `bluez_testbed` stays importable.
@pytest.fixture(name="bluez_testbed")
def bluez_testbed_fixture(make_bluez_testbed: Callable[..., BluezTestbed]) -> BluezTestbed:
    """A fresh bus + patched BlueZoo with hci0 (central) and hci1."""
    return make_bluez_testbed()


@pytest.fixture(name="hr_peripheral")
def hr_peripheral_fixture(bluez_testbed: BluezTestbed) -> Peripheral:
    """bluez_testbed plus a sensor named "HRM-Test" on hci1 (body location 1, battery 87)."""
    try:
        return bluez_testbed.start_peripheral("hci1", "HRM-Test")
    except TestbedError as error:
        pytest.fail(f"{error}\nBlueZoo log:\n{bluez_testbed.bluezoo_log()}", pytrace=False)
