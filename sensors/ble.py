"""Bluetooth LE heart-rate straps and watches through bleak, on a thread of their own.

Any device that exposes the standard Heart Rate Service (0x180D) works. The asyncio loop runs
on its own thread: it finds the device, subscribes to Heart Rate Measurement (0x2A37), reads
Body Sensor Location (0x2A38) and Battery Level (0x2A19) where present, and reconnects with
backoff. Each notification is timestamped at receipt on the session clock and put on a queue;
the frame loop only drains that queue (poll), so it never waits on Bluetooth.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tidewell.core.errors import TidewellError
from tidewell.sensors.packets import PacketDecoder, SensorEvent
from tidewell.sensors.source import RawRR

HR_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
HRM_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_LOCATION_UUID = "00002a38-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
BODY_LOCATIONS = {0: "other", 1: "chest", 2: "wrist", 3: "finger", 4: "hand", 5: "ear lobe", 6: "foot"}

SEARCH_TIMEOUT_S = 4.0
BACKOFF_START_S = 0.25
BACKOFF_MAX_S = 1.0  # keeps "sensor back → data flowing" well under 5 s
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class FoundSensor:
    address: str
    name: str | None
    rssi: int | None


class BluetoothUnavailable(TidewellError, RuntimeError):
    """No usable Bluetooth stack: BlueZ not reachable, or no adapter."""


def describe_error(error: BaseException) -> str:
    if isinstance(error, (FileNotFoundError, ConnectionRefusedError)):
        return (
            f"cannot reach BlueZ on the system D-Bus ({error.strerror or error}); "
            "is bluetoothd running and an adapter present?"
        )
    return str(error) or type(error).__name__


def check_bluetooth(adapter: str | None = None, timeout_s: float = 5.0) -> str:
    """The adapter a session would use (e.g. "hci0"); BluetoothUnavailable saying what is missing when
    BlueZ cannot be reached on the system D-Bus, has no adapter, lacks `adapter`, or it is switched off.
    Asks BlueZ once, as bleak itself does when it starts, so nothing is left running."""
    try:
        adapters = asyncio.run(asyncio.wait_for(_bluez_adapters(), timeout_s))
    except BluetoothUnavailable:
        raise
    except TimeoutError:
        raise BluetoothUnavailable(f"BlueZ did not answer on the system D-Bus within {timeout_s:g} s") from None
    except Exception as error:  # D-Bus trouble comes as OSError, AuthError, ValueError for a bad address ...
        raise BluetoothUnavailable(describe_error(error)) from error
    if not adapters:
        raise BluetoothUnavailable(
            "BlueZ runs but has no Bluetooth adapter (is one plugged in and not blocked? rfkill list)"
        )
    name = adapter or min(adapters)
    if name not in adapters:
        raise BluetoothUnavailable(f"no Bluetooth adapter {name!r} (found: {', '.join(sorted(adapters))})")
    if not adapters[name]:
        raise BluetoothUnavailable(f"the Bluetooth adapter {name} is switched off (bluetoothctl power on)")
    return name


async def _bluez_adapters() -> dict[str, bool]:
    """{adapter name: powered} from BlueZ's object manager on the system bus."""
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = MessageBus(bus_type=BusType.SYSTEM)
    try:
        await bus.connect()
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path="/",
                member="GetManagedObjects",
                interface="org.freedesktop.DBus.ObjectManager",
            )
        )
    finally:
        bus.disconnect()
    if reply.message_type == MessageType.ERROR:
        why = reply.body[0] if reply.body else reply.error_name
        raise BluetoothUnavailable(f"BlueZ is not running on the system D-Bus ({why}); start bluetoothd")
    adapters = {}
    for path, interfaces in reply.body[0].items():
        adapter = interfaces.get("org.bluez.Adapter1")
        if adapter is not None:
            powered = adapter.get("Powered")
            adapters[path.rsplit("/", 1)[-1]] = bool(powered.value) if powered is not None else True
    return adapters


def _bleak_kwargs(adapter: str | None) -> dict:
    return {"bluez": {"adapter": adapter}} if adapter else {}


def _looks_like_address(target: str) -> bool:
    parts = target.split(":")
    return len(parts) == 6 and all(len(p) == 2 for p in parts)


async def scan_heart_rate_sensors(timeout_s: float = 5.0, adapter: str | None = None) -> list[FoundSensor]:
    """Devices advertising the Heart Rate Service, strongest first."""
    from bleak import BleakScanner

    try:
        found = await BleakScanner.discover(
            timeout=timeout_s, service_uuids=[HR_SERVICE_UUID], return_adv=True, **_bleak_kwargs(adapter)
        )
    except Exception as error:  # bleak surfaces D-Bus and adapter trouble as many types
        raise BluetoothUnavailable(describe_error(error)) from error
    sensors = [FoundSensor(device.address, adv.local_name or device.name, adv.rssi) for device, adv in found.values()]
    return sorted(sensors, key=lambda s: -(s.rssi if s.rssi is not None else -999))


class BleHeartRateSource:
    """A BeatSource for one strap or watch; `target` is an address, a name, or None for the first found."""

    name = "ble"
    finished = False

    def __init__(self, target: str | None, clock: Callable[[], float], adapter: str | None = None):
        self.target = target
        self.adapter = adapter
        self.description = f"Bluetooth LE heart rate ({target or 'first sensor found'})"
        self._clock = clock
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()  # (kind, t_s, payload) from the BLE thread
        self._decoder = PacketDecoder()
        self._status: list[SensorEvent] = []
        self._packets: list[tuple[float, bytes]] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._stop_requested = False
        self.connected = False

    # -- frame-thread side ----------------------------------------------------------------
    def start(self) -> BleHeartRateSource:
        self._thread = threading.Thread(target=self._thread_main, name="tidewell-ble", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop_requested = True
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def poll(self, now_s: float, breath_level: float = 0.5) -> list[RawRR]:
        beats: list[RawRR] = []
        while True:
            try:
                kind, t_s, payload = self._inbox.get_nowait()
            except queue.Empty:
                return beats
            if kind == "packet":
                self._packets.append((t_s, payload))
                new_beats, events = self._decoder.feed(t_s, payload)
                beats += new_beats
                self._status += events
            else:
                if kind == "disconnected":
                    self._decoder.timeline.reset()
                    self.connected = False
                elif kind == "connected":
                    self.connected = True
                self._status.append(SensorEvent(t_s, kind, payload))

    def drain_status(self) -> list[SensorEvent]:
        events, self._status = self._status, []
        return events

    def drain_packets(self) -> list[tuple[float, bytes]]:
        packets, self._packets = self._packets, []
        return packets

    @property
    def malformed_packets(self) -> int:
        return self._decoder.malformed

    # -- the BLE thread -------------------------------------------------------------------
    def _post(self, kind: str, payload) -> None:
        self._inbox.put((kind, self._clock(), payload))

    def _thread_main(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._run())
        finally:
            self._loop.close()

    async def _run(self) -> None:
        from bleak import BleakClient
        from bleak.exc import BleakError

        self._stopping = asyncio.Event()
        if self._stop_requested:
            return
        delay = BACKOFF_START_S
        last_error = None
        while not self._stopping.is_set():
            try:
                device = await self._find()
                if device is None:
                    raise BleakError(f"no heart-rate sensor {self.target or ''} in range".replace("  ", " "))
                lost = asyncio.Event()
                client = BleakClient(
                    device,
                    disconnected_callback=lambda _c, lost=lost: lost.set(),
                    timeout=CONNECT_TIMEOUT_S,
                    **_bleak_kwargs(self.adapter),
                )
                async with client:
                    self._post("connected", f"{device.address} {device.name or ''}".strip())
                    await self._read_details(client)
                    await client.start_notify(HRM_UUID, lambda _char, data: self._post("packet", bytes(data)))
                    delay, last_error = BACKOFF_START_S, None
                    await _first(lost.wait(), self._stopping.wait())
                    if not lost.is_set():
                        await client.stop_notify(HRM_UUID)
                self._post("disconnected", device.address)
            except Exception as error:  # the thread's boundary: any failure means retry, never a dead session
                message = describe_error(error)
                if message != last_error:  # say each kind of trouble once per outage, not every retry
                    self._post("error", message)
                    last_error = message
            await _first(asyncio.sleep(delay), self._stopping.wait())
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _find(self):
        from bleak import BleakScanner

        kwargs = _bleak_kwargs(self.adapter)
        if self.target and _looks_like_address(self.target):
            return await BleakScanner.find_device_by_address(self.target, timeout=SEARCH_TIMEOUT_S, **kwargs)
        if self.target:
            return await BleakScanner.find_device_by_name(self.target, timeout=SEARCH_TIMEOUT_S, **kwargs)
        return await BleakScanner.find_device_by_filter(
            lambda _d, adv: HR_SERVICE_UUID in [u.lower() for u in adv.service_uuids],
            timeout=SEARCH_TIMEOUT_S,
            **kwargs,
        )

    async def _read_details(self, client) -> None:
        for uuid, kind in ((BODY_LOCATION_UUID, "body_location"), (BATTERY_LEVEL_UUID, "battery")):
            if client.services.get_characteristic(uuid) is None:
                continue
            try:
                value = await client.read_gatt_char(uuid)
            except Exception as error:  # a detail we can live without; never stop the session for it
                self._post("error", f"reading {kind}: {error}")
                continue
            if value:
                text = BODY_LOCATIONS.get(value[0], f"code {value[0]}") if kind == "body_location" else f"{value[0]}%"
                self._post(kind, text)


async def _first(*aws) -> None:
    """Wait until the first of these finishes; cancel the rest."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
