"""The BLE test bed itself, proven with plain bleak (no Tidewell code): scan, connect, read,
notifications byte for byte, two sensors, a dropped link and a reconnect."""

import asyncio
import statistics
import time
from collections.abc import Callable

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bluez_testbed import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    BODY_LOCATION_UUID,
    HR_SERVICE_UUID,
    HRM_UUID,
    BluezTestbed,
    Peripheral,
)

CENTRAL = {"adapter": "hci0"}
SCAN_TIMEOUT_S = 30.0  # deadlines for what must happen, generous for a busy machine
NOTIFY_TIMEOUT_S = 30.0


async def find_sensor(name: str) -> BLEDevice:
    device = await BleakScanner.find_device_by_filter(
        lambda d, adv: adv.local_name == name and HR_SERVICE_UUID in adv.service_uuids,
        timeout=SCAN_TIMEOUT_S,
        service_uuids=[HR_SERVICE_UUID],
        bluez=CENTRAL,
    )
    assert device is not None, f"{name} not found on hci0 within {SCAN_TIMEOUT_S} s"
    return device


class Inbox:
    """Notifications with the monotonic time bleak delivered them."""

    def __init__(self) -> None:
        self.packets: list[tuple[float, bytes]] = []
        self.arrived = asyncio.Event()

    def __call__(self, _characteristic: object, data: bytearray) -> None:
        self.packets.append((time.monotonic(), bytes(data)))
        self.arrived.set()

    async def wait_for(self, count: int, timeout_s: float = NOTIFY_TIMEOUT_S) -> list[bytes]:
        deadline = time.monotonic() + timeout_s
        while len(self.packets) < count:
            self.arrived.clear()
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"got {len(self.packets)} of {count} notifications in {timeout_s} s"
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except TimeoutError:
                pass
        return [data for _, data in self.packets]


def sent_at(answer: str) -> float:
    """The peripheral's monotonic send time from an answer like "ok t=123.456"."""
    assert answer.startswith("ok t="), answer
    return float(answer.split("t=", 1)[1])


def test_scan_finds_sensor_by_service_and_name(hr_peripheral: Peripheral, bluez_testbed: BluezTestbed) -> None:
    async def scenario() -> float:
        started = time.monotonic()
        device = await find_sensor("HRM-Test")
        assert device.address == hr_peripheral.address == "00:AA:BB:CC:DD:EE"
        assert device.name == "HRM-Test"
        return time.monotonic() - started

    scan_s = asyncio.run(scenario())
    print(
        f"\nbus+BlueZoo startup {bluez_testbed.startup_s:.2f} s, peripheral ready "
        f"{hr_peripheral.startup_s:.2f} s, scan {scan_s:.2f} s"
    )


def test_reads_and_exact_notification_bytes(hr_peripheral: Peripheral) -> None:
    # A spec packet, a uint16 HR, one byte too short, a lone flags byte, an all-ones packet.
    packets = ["164b0004", "17e8030004", "10", "16", "ffffffff"]

    async def scenario() -> None:
        device = await find_sensor("HRM-Test")
        inbox = Inbox()
        connect_started = time.monotonic()
        async with BleakClient(device, bluez=CENTRAL) as client:
            services = {service.uuid for service in client.services}
            assert {HR_SERVICE_UUID, BATTERY_SERVICE_UUID} <= services
            assert await client.read_gatt_char(BODY_LOCATION_UUID) == b"\x01"  # chest
            assert await client.read_gatt_char(BATTERY_LEVEL_UUID) == bytes([87])
            assert (await hr_peripheral.command_async("battery 42")) == "ok"
            assert await client.read_gatt_char(BATTERY_LEVEL_UUID) == bytes([42])

            await client.start_notify(HRM_UUID, inbox)
            assert (await hr_peripheral.command_async("wait-subscribed 30", timeout_s=40)) == "ok"
            latencies = []
            for hex_packet in packets:
                answer = await hr_peripheral.command_async(f"send {hex_packet}")
                received = await inbox.wait_for(len(latencies) + 1)
                latencies.append(inbox.packets[-1][0] - sent_at(answer))
                if len(latencies) == 1:
                    first_notification_s = inbox.packets[0][0] - connect_started
            # 72 bpm, RR 833 ms -> 853/1024 s; no contact; energy absent.
            await hr_peripheral.command_async("beat 72 833,850 nocontact")
            received = await inbox.wait_for(len(packets) + 1)
            await client.stop_notify(HRM_UUID)

        assert received[: len(packets)] == [bytes.fromhex(p) for p in packets]
        assert received[-1] == bytes([0x14, 72]) + (853).to_bytes(2, "little") + (870).to_bytes(2, "little")
        print(
            f"\nconnect -> first notification {first_notification_s:.3f} s; notification latency "
            f"median {statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
        )

    asyncio.run(scenario())


def test_stream_and_stop(hr_peripheral: Peripheral) -> None:
    """A stream notifies until stopped; every notification it sent arrives, and none after the stop.
    (Counted, not timed: how many arrive in a second depends on the machine's load.)"""

    async def scenario() -> None:
        device = await find_sensor("HRM-Test")
        inbox = Inbox()
        async with BleakClient(device, bluez=CENTRAL) as client:
            await client.start_notify(HRM_UUID, inbox)
            assert (await hr_peripheral.command_async("stream 120 100")) == "ok"
            await inbox.wait_for(5)
            answer = await hr_peripheral.command_async("stop")
            assert answer.startswith("ok sent="), answer
            sent = int(answer.split("=", 1)[1])
            await inbox.wait_for(sent)
            await asyncio.sleep(0.5)
            assert len(inbox.packets) == sent, f"{len(inbox.packets)} notifications arrived, {sent} were sent"
        # 120 bpm -> RR 500 ms = 512/1024 s, contact detected.
        assert {data for _, data in inbox.packets} == {bytes([0x16, 120]) + (512).to_bytes(2, "little")}

    asyncio.run(scenario())


def test_bad_commands_are_answered_with_errors(hr_peripheral: Peripheral) -> None:
    for bad in ["send zz", "beat fast 1000", "beat 60 1000 maybe", "stream 0 100", "battery 101", "dance"]:
        answer = hr_peripheral.command(bad)
        assert answer.startswith("error "), f"{bad!r} -> {answer!r}"
    # Nobody subscribed yet: the peripheral says so instead of pretending it sent.
    assert hr_peripheral.command("send 1648").startswith("error no central")
    assert hr_peripheral.command("wait-subscribed 0.1").startswith("error")


def test_two_sensors_have_distinct_addresses(make_bluez_testbed: Callable[..., BluezTestbed]) -> None:
    bluez_testbed = make_bluez_testbed(3)
    first = bluez_testbed.start_peripheral("hci1", "HRM-A")
    second = bluez_testbed.start_peripheral("hci2", "HRM-B", battery=55)

    async def scenario() -> dict[str, str]:
        found: dict[str, str] = {}
        deadline = time.monotonic() + SCAN_TIMEOUT_S
        async with BleakScanner(service_uuids=[HR_SERVICE_UUID], bluez=CENTRAL) as scanner:
            async for device, adv in scanner.advertisement_data():
                found[adv.local_name or ""] = device.address
                if {"HRM-A", "HRM-B"} <= found.keys() or time.monotonic() > deadline:
                    break
        # And each is reachable on its own.
        async with BleakClient(found["HRM-B"], bluez=CENTRAL) as client:
            assert await client.read_gatt_char(BATTERY_LEVEL_UUID) == bytes([55])
        return found

    found = asyncio.run(scenario())
    assert found["HRM-A"] == first.address
    assert found["HRM-B"] == second.address
    assert first.address != second.address


def test_dropped_link_fires_callback_and_reconnect_resumes(hr_peripheral: Peripheral) -> None:
    async def scenario() -> None:
        device = await find_sensor("HRM-Test")
        dropped = asyncio.Event()
        client = BleakClient(device, disconnected_callback=lambda _c: dropped.set(), bluez=CENTRAL)
        inbox = Inbox()
        await client.connect()
        await client.start_notify(HRM_UUID, inbox)
        await hr_peripheral.command_async("beat 60 1000")
        assert await inbox.wait_for(1) == [bytes([0x16, 60]) + (1024).to_bytes(2, "little")]

        dropped_at = time.monotonic()
        await hr_peripheral.disconnect_central_async()
        await asyncio.wait_for(dropped.wait(), NOTIFY_TIMEOUT_S)
        callback_s = time.monotonic() - dropped_at
        assert not client.is_connected

        # A fresh scan finds the dropped sensor again (as after a real drop-out), then reconnect.
        reconnect_started = time.monotonic()
        rescanned = await find_sensor("HRM-Test")
        assert rescanned.address == device.address
        again = BleakClient(rescanned, bluez=CENTRAL)
        inbox_again = Inbox()
        async with again:
            await again.start_notify(HRM_UUID, inbox_again)
            assert (await hr_peripheral.command_async("wait-subscribed 30", timeout_s=40)) == "ok"
            await hr_peripheral.command_async("beat 61 984")
            assert await inbox_again.wait_for(1) == [bytes([0x16, 61]) + (1008).to_bytes(2, "little")]
            resumed_s = time.monotonic() - reconnect_started
        print(
            f"\ndisconnected callback after {callback_s * 1000:.1f} ms; rescan + reconnect -> notification "
            f"{resumed_s:.3f} s"
        )

    asyncio.run(scenario())
