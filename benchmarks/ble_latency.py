"""Latency from a heart-rate notification reaching bleak's callback to the frame state that reflects it,
and the time from a strap coming back to its data flowing again.

    python benchmarks/ble_latency.py [--seconds 30] [--fps 90] [--reconnects 3]

Runs the real path: the test sensor (tests/bluetooth) notifies through BlueZoo on a private D-Bus,
unmodified bleak on Tidewell's BLE thread timestamps each packet in its callback, and a 90 Hz frame
loop runs SessionRunner.step. For every packet: (time the frame state holding its beat was ready)
minus (callback time). Goal: p99 <= 11 ms, one frame at 90 Hz. The frame period itself is printed
as the baseline: a packet can at worst wait one whole frame.

Reconnects: the strap drops the link and goes away for 2 s, then a new one with the same address
comes up and streams; measured from its start to the first beat that Tidewell's source (reconnecting
with backoff on its own thread) hands to the frame loop. Goal: <= 5 s. Baseline in the same run: a
bare bleak client that finds the present strap, connects, subscribes and gets its first
notification, from scratch.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "bluetooth"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--fps", type=float, default=90.0)
    parser.add_argument("--reconnects", type=int, default=3, help="strap dropouts to time (0: none)")
    args = parser.parse_args()

    from bluez_testbed import bluez_testbed

    from tidewell.sensors.ble import BleHeartRateSource
    from tidewell.sessions.program import load_program, resolve_program
    from tidewell.sessions.runner import SessionRunner

    with bluez_testbed(adapter_count=2, export_env=True) as testbed:
        sensor = testbed.start_peripheral("hci1", name="HRM-Bench")
        source = BleHeartRateSource(sensor.address, time.monotonic, adapter="hci0").start()
        runner = SessionRunner(load_program(resolve_program("full_body_60")), source, unattended=True)
        sensor.command_ok("wait-subscribed 15", timeout_s=20)
        sensor.command_ok("stream 70 100")  # 10 packets a second, one RR each
        period = 1.0 / args.fps
        latencies, step_times = [], []
        next_frame = time.monotonic()
        end = next_frame + args.seconds
        while next_frame < end:
            now = time.monotonic()
            runner.step(now)
            ready = time.monotonic()
            step_times.append(ready - now)
            latencies += [ready - received for received, _ in source.drain_packets()]
            runner.drain_beats()
            runner.drain_events()
            next_frame += period
            delay = next_frame - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sensor.command_ok("stop")
        source.stop()
    ms = np.array(latencies) * 1000
    print(f"{len(ms)} notifications over {args.seconds:g} s, frame loop at {args.fps:g} Hz")
    print(f"frame period (baseline)     : {period * 1000:6.2f} ms")
    print(f"runner.step                 : median {statistics.median(step_times) * 1e6:6.1f} µs")
    p50, p99, worst = np.percentile(ms, 50), np.percentile(ms, 99), ms.max()
    print(f"callback -> frame state     : p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   max {worst:6.2f} ms")
    print(f"p99 / frame period          : {p99 / (period * 1000):.2f}  (goal p99 <= 11 ms)")
    if args.reconnects:
        engine, bare = reconnects(args.reconnects)
        print(
            f"strap back -> first beat    : {', '.join(f'{s:.2f}' for s in engine)} s (Tidewell's source, "
            f"{len(engine)} dropouts; goal <= 5 s)"
        )
        print(
            f"bare bleak connect (baseline): {', '.join(f'{s:.2f}' for s in bare)} s (find, connect, subscribe, "
            f"first notification)"
        )
        print(
            f"reconnect / baseline        : median {statistics.median(engine) / statistics.median(bare):.2f}x, "
            f"worst {max(engine) / statistics.median(bare):.2f}x"
        )
    return 0


def reconnects(count: int) -> tuple[list[float], list[float]]:
    """(strap back -> first beat through BleHeartRateSource, bare bleak connect -> first notification), in s."""
    from bleak import BleakClient, BleakScanner
    from bluez_testbed import bluez_testbed

    from tidewell.sensors.ble import HRM_UUID, BleHeartRateSource

    async def bare_connect(address: str, sensor) -> float:
        started = time.monotonic()
        device = await BleakScanner.find_device_by_address(address, timeout=30.0, bluez={"adapter": "hci0"})
        got = asyncio.Event()
        async with BleakClient(device, bluez={"adapter": "hci0"}) as client:
            await client.start_notify(HRM_UUID, lambda _c, _d: got.set())
            await asyncio.to_thread(sensor.command_ok, "beat 60 1000")
            await asyncio.wait_for(got.wait(), 30.0)
            return time.monotonic() - started

    def first_beat(source, deadline_s: float = 60.0) -> None:
        deadline = time.monotonic() + deadline_s
        while not source.poll(time.monotonic()):
            if time.monotonic() > deadline:
                raise SystemExit(f"no beat within {deadline_s:g} s of the strap coming back")
            time.sleep(0.005)

    async def bare_connects(testbed) -> list[float]:
        times = []
        for _ in range(count):
            sensor = await asyncio.to_thread(testbed.start_peripheral, "hci1", name="HRM-Bench")
            times.append(await bare_connect(sensor.address, sensor))
            await asyncio.to_thread(sensor.stop)
        return times

    engine = []
    with bluez_testbed(adapter_count=2, export_env=True) as testbed:
        bare = asyncio.run(bare_connects(testbed))
        sensor = testbed.start_peripheral("hci1", name="HRM-Bench")
        source = BleHeartRateSource(sensor.address, time.monotonic, adapter="hci0").start()
        try:
            sensor.command_ok("wait-subscribed 30", timeout_s=40)
            sensor.command_ok("stream 60 250")
            first_beat(source)
            for _ in range(count):
                sensor.disconnect_central()
                sensor.stop()
                time.sleep(2.0)
                source.poll(time.monotonic())  # what came before the dropout
                sensor = testbed.start_peripheral("hci1", name="HRM-Bench")
                came_back = time.monotonic()
                sensor.command_ok("wait-subscribed 60", timeout_s=70)
                sensor.command_ok("stream 60 250")
                first_beat(source)
                engine.append(time.monotonic() - came_back)
        finally:
            source.stop()
    return engine, bare


if __name__ == "__main__":
    sys.exit(main())
