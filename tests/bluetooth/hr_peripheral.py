"""Scriptable BLE heart-rate sensor for tests, registered through the BlueZ peripheral D-Bus API.

Runs against BlueZoo (or real BlueZ) on the system bus named by DBUS_SYSTEM_BUS_ADDRESS:

    python hr_peripheral.py --adapter hci1 --name "HRM-A" [--location 1] [--battery 87]

GATT: Heart Rate Service 0x180D with Heart Rate Measurement 0x2A37 (notify) and Body Sensor
Location 0x2A38 (read); Battery Service 0x180F with Battery Level 0x2A19 (read).
It advertises 0x180D and the LocalName, prints "ready" on stdout once registered, then reads one
command per line from stdin and answers one line per command on stdout ("ok ..." or "error ..."):

    send HEX                              notify exactly these bytes on 0x2A37
    beat BPM RR_MS[,RR_MS...] [contact|nocontact|nosupport]
                                          notify a spec-correct measurement (RR may be "-" for none)
    stream BPM PERIOD_MS                  notify a measurement every PERIOD_MS (RR = 60000/BPM,
                                          contact detected) while a central is subscribed
    stop                                  end the stream; answers "ok sent=N", the stream's notifications
    battery N                             set the Battery Level read value (0..100)
    wait-subscribed [TIMEOUT_S]           answer once a central has started notifications
    quit                                  unregister and exit

"send" and "beat" answer "ok t=<time.monotonic()>" (taken right after the notification left),
so a test can measure delivery latency with the same system-wide monotonic clock; with no central
subscribed they answer "error no central has started notifications" and send nothing.
Logs go to stderr; stdout carries only "ready" and the answers.
"""

import argparse
import asyncio
import math
import sys
import time

from dbus_fast import BusType, DBusError
from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method

HR_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
HRM_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_LOCATION_UUID = "00002a38-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"

APP_PATH = "/org/tidewell/hrtest"
HR_SERVICE_PATH = APP_PATH + "/service0"
HRM_PATH = HR_SERVICE_PATH + "/char0"
BODY_LOCATION_PATH = HR_SERVICE_PATH + "/char1"
BATTERY_SERVICE_PATH = APP_PATH + "/service1"
BATTERY_LEVEL_PATH = BATTERY_SERVICE_PATH + "/char0"
ADVERTISEMENT_PATH = APP_PATH + "/adv0"

CONTACT_FLAGS = {"contact": 0x06, "nocontact": 0x04, "nosupport": 0x00}


def log(message: str) -> None:
    print(f"hr_peripheral: {message}", file=sys.stderr, flush=True)


def encode_measurement(bpm: int, rr_ms: list[float], contact: str = "contact") -> bytes:
    """Heart Rate Measurement per the GATT spec (flags, uint8/uint16 HR, RR in 1/1024 s)."""
    flags = CONTACT_FLAGS[contact]
    if bpm > 255:
        flags |= 0x01
        body = bpm.to_bytes(2, "little")
    else:
        body = bytes([bpm])
    if rr_ms:
        flags |= 0x10
        for interval in rr_ms:
            body += min(0xFFFF, round(interval * 1024 / 1000)).to_bytes(2, "little")
    return bytes([flags]) + body


class GattService(ServiceInterface):
    def __init__(self, uuid: str) -> None:
        super().__init__("org.bluez.GattService1")
        self._uuid = uuid

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":
        return True


class ReadCharacteristic(ServiceInterface):
    """A read-only characteristic whose value the script can change."""

    def __init__(self, uuid: str, service_path: str, value: bytes) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self._uuid = uuid
        self._service_path = service_path
        self.value = value

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":
        return self._service_path

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return ["read"]

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        return self.value


class MeasurementCharacteristic(ServiceInterface):
    """0x2A37: a notification is a PropertiesChanged on Value, as BlueZ expects."""

    def __init__(self) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.value = b""
        self.notifying = False
        self.subscribed = asyncio.Event()

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return HRM_UUID

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":
        return HR_SERVICE_PATH

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return ["notify"]

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> "b":
        return self.notifying

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return self.value

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        return self.value

    @method()
    def StartNotify(self):
        log("StartNotify")
        self.notifying = True
        self.subscribed.set()
        self.emit_properties_changed({"Notifying": True})

    @method()
    def StopNotify(self):
        log("StopNotify")
        self.notifying = False
        self.subscribed.clear()
        self.emit_properties_changed({"Notifying": False})

    @method()
    def Confirm(self):
        # BlueZoo calls this after every Value change it forwards.
        pass

    def notify(self, data: bytes) -> None:
        self.value = data
        self.emit_properties_changed({"Value": data})


class Advertisement(ServiceInterface):
    def __init__(self, local_name: str) -> None:
        super().__init__("org.bluez.LEAdvertisement1")
        self._local_name = local_name

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> "s":
        return "peripheral"

    @dbus_property(access=PropertyAccess.READ)
    def ServiceUUIDs(self) -> "as":
        return [HR_SERVICE_UUID]

    @dbus_property(access=PropertyAccess.READ)
    def LocalName(self) -> "s":
        return self._local_name

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> "b":
        return True

    @method()
    def Release(self):
        log("advertisement released")


class Peripheral:
    def __init__(self, adapter: str, name: str, location: int, battery: int) -> None:
        self.adapter_path = f"/org/bluez/{adapter}"
        self.name = name
        self.measurement = MeasurementCharacteristic()
        self.body_location = ReadCharacteristic(BODY_LOCATION_UUID, HR_SERVICE_PATH, bytes([location]))
        self.battery = ReadCharacteristic(BATTERY_LEVEL_UUID, BATTERY_SERVICE_PATH, bytes([battery]))
        self.stream_task: asyncio.Task[None] | None = None
        self.streamed = 0  # notifications sent by the current (or last) stream
        self.bus: MessageBus | None = None

    async def register(self) -> None:
        self.bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        exports = [
            (HR_SERVICE_PATH, GattService(HR_SERVICE_UUID)),
            (HRM_PATH, self.measurement),
            (BODY_LOCATION_PATH, self.body_location),
            (BATTERY_SERVICE_PATH, GattService(BATTERY_SERVICE_UUID)),
            (BATTERY_LEVEL_PATH, self.battery),
            (ADVERTISEMENT_PATH, Advertisement(self.name)),
        ]
        for path, interface in exports:
            self.bus.export(path, interface)
        # dbus-fast answers ObjectManager.GetManagedObjects on APP_PATH for the children above.
        introspection = await self.bus.introspect("org.bluez", self.adapter_path)
        adapter = self.bus.get_proxy_object("org.bluez", self.adapter_path, introspection)
        await adapter.get_interface("org.bluez.GattManager1").call_register_application(APP_PATH, {})
        await adapter.get_interface("org.bluez.LEAdvertisingManager1").call_register_advertisement(
            ADVERTISEMENT_PATH, {}
        )
        log(f"registered on {self.adapter_path} as {self.name!r}")

    def notify(self, data: bytes) -> str:
        if not self.measurement.notifying:
            return "error no central has started notifications"
        self.measurement.notify(data)
        return f"ok t={time.monotonic():.6f}"

    async def stream(self, bpm: int, period_s: float) -> None:
        rr_ms = [60000 / bpm]
        self.streamed = 0
        while True:
            if self.measurement.notifying:
                self.measurement.notify(encode_measurement(bpm, rr_ms))
                self.streamed += 1
            await asyncio.sleep(period_s)

    def stop_stream(self) -> None:
        if self.stream_task is not None:
            self.stream_task.cancel()
            self.stream_task = None

    async def handle(self, line: str) -> str | None:
        """Answer one command; None means quit."""
        words = line.split()
        if not words:
            return "error empty command"
        verb, args = words[0], words[1:]
        if verb == "send" and len(args) == 1:
            try:
                data = bytes.fromhex(args[0])
            except ValueError:
                return f"error send: {args[0]!r} is not hex"
            return self.notify(data)
        if verb == "beat" and len(args) in (2, 3):
            contact = args[2] if len(args) == 3 else "contact"
            if contact not in CONTACT_FLAGS:
                return f"error beat: contact must be one of {', '.join(CONTACT_FLAGS)}, got {contact!r}"
            try:
                bpm = int(args[0])
                rr_ms = [] if args[1] == "-" else [float(x) for x in args[1].split(",")]
            except ValueError:
                return f"error beat: expected BPM RR_MS[,RR_MS...], got {' '.join(args)!r}"
            if not 0 <= bpm <= 0xFFFF or any(not math.isfinite(x) or x < 0 for x in rr_ms):
                return "error beat: BPM must be 0..65535 and RR intervals non-negative"
            return self.notify(encode_measurement(bpm, rr_ms, contact))
        if verb == "stream" and len(args) == 2:
            try:
                bpm, period_ms = int(args[0]), float(args[1])
            except ValueError:
                return f"error stream: expected BPM PERIOD_MS, got {' '.join(args)!r}"
            if not 1 <= bpm <= 0xFFFF or period_ms <= 0:
                return "error stream: BPM must be 1..65535 and PERIOD_MS positive"
            self.stop_stream()
            self.stream_task = asyncio.create_task(self.stream(bpm, period_ms / 1000))
            return "ok"
        if verb == "stop" and not args:
            self.stop_stream()
            return f"ok sent={self.streamed}"
        if verb == "battery" and len(args) == 1:
            if not args[0].isdigit() or int(args[0]) > 100:
                return f"error battery: expected 0..100, got {args[0]!r}"
            self.battery.value = bytes([int(args[0])])
            return "ok"
        if verb == "wait-subscribed" and len(args) <= 1:
            try:
                timeout_s = float(args[0]) if args else 10.0
            except ValueError:
                return f"error wait-subscribed: {args[0]!r} is not a number of seconds"
            try:
                await asyncio.wait_for(self.measurement.subscribed.wait(), timeout_s)
            except TimeoutError:
                return f"error no central started notifications within {timeout_s} s"
            return "ok"
        if verb == "quit" and not args:
            return None
        return f"error unknown command {line.strip()!r}"

    async def run_commands(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while raw := await reader.readline():
            answer = await self.handle(raw.decode(errors="replace"))
            if answer is None:
                break
            print(answer, flush=True)
        self.stop_stream()

    async def unregister(self) -> None:
        if self.bus is None:
            return
        try:
            introspection = await self.bus.introspect("org.bluez", self.adapter_path)
            adapter = self.bus.get_proxy_object("org.bluez", self.adapter_path, introspection)
            await adapter.get_interface("org.bluez.LEAdvertisingManager1").call_unregister_advertisement(
                ADVERTISEMENT_PATH
            )
            await adapter.get_interface("org.bluez.GattManager1").call_unregister_application(APP_PATH)
        except DBusError as error:
            log(f"unregister failed: {error}")
        self.bus.disconnect()


async def main(arguments: argparse.Namespace) -> int:
    peripheral = Peripheral(arguments.adapter, arguments.name, arguments.location, arguments.battery)
    try:
        await peripheral.register()
    except (DBusError, OSError) as error:
        print(f"error could not register on /org/bluez/{arguments.adapter}: {error}", flush=True)
        return 1
    print("ready", flush=True)
    await peripheral.run_commands()
    await peripheral.unregister()
    print("ok", flush=True)
    return 0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter", default="hci1", help="BlueZ adapter to register on (default hci1)")
    parser.add_argument("--name", default="HRM-Test", help="advertised LocalName")
    parser.add_argument("--location", type=int, default=1, help="Body Sensor Location value (1 = chest)")
    parser.add_argument("--battery", type=int, default=87, help="initial Battery Level (0..100)")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_arguments())))
