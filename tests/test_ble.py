"""Tidewell's Bluetooth heart-rate source end to end: unmodified bleak, BlueZoo on a private
D-Bus, and the scriptable test sensor in tests/bluetooth (fixtures from bluez_testbed)."""

import asyncio
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tidewell.core.clock import RealClock
from tidewell.sensors.ble import BleHeartRateSource, BluetoothUnavailable, check_bluetooth, scan_heart_rate_sensors

CENTRAL = "hci0"


def wait_for(source, condition, timeout_s=60.0, collected=None):
    """Poll the source like the frame loop does until `condition(beats, events)` holds (the deadline
    only bounds a test that would otherwise hang: how long it takes is benchmarks/ble_latency.py's)."""
    beats, events = collected if collected is not None else ([], [])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        beats += source.poll(time.monotonic())
        events += source.drain_status()
        if condition(beats, events):
            return beats, events
        time.sleep(0.01)
    raise AssertionError(f"timed out; events so far: {[(e.kind, e.detail) for e in events]}")


def kinds(events):
    return [e.kind for e in events]


@pytest.fixture
def source_for():
    started = []

    def make(target):
        source = BleHeartRateSource(target, RealClock().now, adapter=CENTRAL).start()
        started.append(source)
        return source

    yield make
    for source in started:
        source.stop()


def test_scan_finds_heart_rate_sensors_by_service(make_bluez_testbed):
    testbed = make_bluez_testbed(adapter_count=3)
    first = testbed.start_peripheral("hci1", name="Strap-A")
    second = testbed.start_peripheral("hci2", name="Watch-B")
    found = asyncio.run(scan_heart_rate_sensors(timeout_s=3.0, adapter=CENTRAL))
    by_address = {s.address: s.name for s in found}
    assert by_address.get(first.address) == "Strap-A" and by_address.get(second.address) == "Watch-B"


def test_connect_read_details_and_receive_beats(hr_peripheral, source_for):
    source = source_for(hr_peripheral.name)
    beats, events = wait_for(source, lambda b, e: "connected" in kinds(e) and "battery" in kinds(e))
    details = {e.kind: e.detail for e in events}
    assert details["body_location"] == "chest" and details["battery"] == "87%"
    hr_peripheral.command_ok("wait-subscribed 30", timeout_s=40)
    hr_peripheral.command_ok("beat 60 1000")
    hr_peripheral.command_ok("beat 62 968.75,1000")  # two RRs in one packet
    hr_peripheral.command_ok("send 063e")  # HR 62, no RR at all: no beat
    hr_peripheral.command_ok("beat 64 937.5")
    beats, _ = wait_for(source, lambda b, e: len(b) >= 4, collected=(beats, events))
    assert [round(b.rr_ms, 1) for b in beats] == [1000.0, 968.8, 1000.0, 937.5]
    gaps = [b2.t_s - b1.t_s for b1, b2 in zip(beats, beats[1:])]
    assert gaps[1] == pytest.approx(1.0, abs=1e-9)  # within a packet, beats are chained by their RR
    assert all(g > 0 for g in gaps)
    packets = source.drain_packets()
    assert len(packets) == 4 and packets[0][1].hex() == "16" + "3c" + "0004"


def test_malformed_packets_are_counted_and_reported_and_the_stream_goes_on(hr_peripheral, source_for):
    source = source_for(hr_peripheral.address)
    wait_for(source, lambda b, e: "connected" in kinds(e))
    hr_peripheral.command_ok("wait-subscribed 30", timeout_s=40)
    for hex_ in ("", "16", "1648000405", "0148", "1648" + "0004"):
        if hex_:
            hr_peripheral.command_ok(f"send {hex_}")
    beats, events = wait_for(source, lambda b, e: len(b) >= 2)
    malformed = [e.detail for e in events if e.kind == "malformed"]
    assert len(malformed) == 3 and source.malformed_packets == 3
    assert any("dangling byte" in m for m in malformed) and any("uint16" in m for m in malformed)
    assert [b.rr_ms for b in beats] == [1000.0, 1000.0]  # the complete RR of the dangling packet is kept


def test_two_sensors_choose_one_by_address(make_bluez_testbed, source_for):
    testbed = make_bluez_testbed(adapter_count=3)
    strap = testbed.start_peripheral("hci1", name="HRM-Test")
    other = testbed.start_peripheral("hci2", name="HRM-Test")  # same name: only the address tells
    source = source_for(other.address)
    _, events = wait_for(source, lambda b, e: "connected" in kinds(e))
    assert other.address in next(e.detail for e in events if e.kind == "connected")
    other.command_ok("wait-subscribed 30", timeout_s=40)
    assert strap.command("beat 90 666").startswith("error")  # nobody listens to the other strap
    other.command_ok("beat 55 1090")
    beats, _ = wait_for(source, lambda b, e: len(b) >= 1)
    assert [round(b.rr_ms) for b in beats] == [1090]


def test_contact_loss_is_a_state_not_data(hr_peripheral, source_for):
    source = source_for(hr_peripheral.name)
    wait_for(source, lambda b, e: "connected" in kinds(e))
    hr_peripheral.command_ok("wait-subscribed 30", timeout_s=40)
    hr_peripheral.command_ok("beat 60 1000 contact")
    hr_peripheral.command_ok("beat 0 300 nocontact")  # what a strap sends when it slips off
    hr_peripheral.command_ok("beat 0 1500 nocontact")
    hr_peripheral.command_ok("beat 61 980 contact")
    beats, events = wait_for(source, lambda b, e: "contact_back" in kinds(e) and len(b) >= 2)
    assert [round(b.rr_ms) for b in beats] == [1000, 980]
    assert kinds(events).index("contact_lost") < kinds(events).index("contact_back")


def test_a_sensor_that_drops_out_reconnects_by_itself_and_data_flows_again(make_bluez_testbed, source_for):
    """The source keeps looking while the strap is gone, says so once, and reconnects on its own when
    it returns. How soon (goal <= 5 s) is measured by benchmarks/ble_latency.py, not asserted here."""
    testbed = make_bluez_testbed(adapter_count=2)
    sensor = testbed.start_peripheral("hci1", name="HRM-Test")
    source = source_for(sensor.address)
    wait_for(source, lambda b, e: "connected" in kinds(e))
    sensor.command_ok("wait-subscribed 30", timeout_s=40)
    sensor.command_ok("stream 60 250")
    wait_for(source, lambda b, e: len(b) >= 3)
    sensor.disconnect_central()  # the link drops, as when a strap goes out of range
    wait_for(source, lambda b, e: "disconnected" in kinds(e))
    sensor.stop()  # and the strap is gone for a while: the source looks, fails and says so
    while_gone = wait_for(source, lambda b, e: "error" in kinds(e))[1]
    time.sleep(6.0)  # room for more attempts (a 4 s search, then at most 1 s of backoff), each to stay unsaid
    back = testbed.start_peripheral("hci1", name="HRM-Test")
    back.command_ok("stream 60 250")
    beats, events = wait_for(source, lambda b, e: "connected" in kinds(e) and len(b) >= 1)
    events = while_gone + events
    errors = [e.detail for e in events if e.kind == "error"]
    assert len(errors) == len(set(errors)), f"each trouble is said once per outage: {errors}"
    assert sensor.address in next(e.detail for e in events if e.kind == "connected")
    assert beats[0].rr_ms == 1000.0


def test_ble_session_is_logged_with_packets_and_replays_beat_for_beat(hr_peripheral, tidewell_cmd, cli_env):
    cli_env["DBUS_SYSTEM_BUS_ADDRESS"] = hr_peripheral.testbed.bus_address
    proc = subprocess.Popen(
        [
            *tidewell_cmd,
            "run",
            "--sensor",
            f"ble:{hr_peripheral.address}",
            "--adapter",
            CENTRAL,
            "--headless",
            "--minutes",
            "0.3",
            "--client",
            "C-2",
        ],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    hr_peripheral.command_ok("wait-subscribed 15", timeout_s=20)
    hr_peripheral.command_ok("stream 65 200")
    time.sleep(3)
    hr_peripheral.command_ok("send 1648")  # one malformed packet in the middle
    time.sleep(3)
    hr_peripheral.disconnect_central()  # a dropout in the middle of the session
    time.sleep(3)  # it reconnects and the stream flows again
    hr_peripheral.command_ok("stop")  # quiet before the end, so both sessions hold every beat
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err + out
    assert "sensor connected" in out and "sensor disconnected" in out and "malformed packet #1" in out
    db = Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db"
    with sqlite3.connect(db) as conn:
        packets = conn.execute("SELECT COUNT(*) FROM packets WHERE session_id = 1").fetchone()[0]
        recorded = conn.execute("SELECT t_s, rr_ms FROM beats WHERE session_id = 1 ORDER BY t_s").fetchall()
        kinds_logged = [k for (k,) in conn.execute("SELECT kind FROM events WHERE session_id = 1")]
    assert packets >= 20 and len(recorded) >= 20
    assert "sensor_disconnected" in kinds_logged and "sensor_connected" in kinds_logged

    replay = subprocess.run(
        [*tidewell_cmd, "run", "--sensor", "replay:1", "--virtual-time", "--minutes", "0.3"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0, replay.stderr
    with sqlite3.connect(db) as conn:
        replayed = conn.execute("SELECT t_s, rr_ms FROM beats WHERE session_id = 2 ORDER BY t_s").fetchall()
    assert replayed == recorded


def test_cli_scan_and_watch(make_bluez_testbed, tidewell_cmd, cli_env):
    testbed = make_bluez_testbed(adapter_count=2)
    sensor = testbed.start_peripheral("hci1", name="Polar H10 TEST")
    cli_env["DBUS_SYSTEM_BUS_ADDRESS"] = testbed.bus_address
    scan = subprocess.run(
        [*tidewell_cmd, "sensors", "scan", "--seconds", "3", "--adapter", CENTRAL],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert scan.returncode == 0, scan.stderr
    assert sensor.address in scan.stdout and "Polar H10 TEST" in scan.stdout

    watch = subprocess.Popen(
        [*tidewell_cmd, "sensors", "watch", sensor.address, "--seconds", "6", "--adapter", CENTRAL],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sensor.command_ok("wait-subscribed 10", timeout_s=15)
    sensor.command_ok("stream 75 500")
    out, err = watch.communicate(timeout=30)
    assert watch.returncode == 0, err
    assert "connected" in out and "battery: 87%" in out and "body_location: chest" in out
    assert "HR   75 bpm" in out and "RR 800 ms" in out and "contact detected" in out


def test_cli_scan_with_nothing_in_range_says_so(make_bluez_testbed, tidewell_cmd, cli_env):
    testbed = make_bluez_testbed(adapter_count=1)
    cli_env["DBUS_SYSTEM_BUS_ADDRESS"] = testbed.bus_address
    scan = subprocess.run(
        [*tidewell_cmd, "sensors", "scan", "--seconds", "2", "--adapter", CENTRAL],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert scan.returncode == 1 and "no heart-rate sensor found" in scan.stdout and "Traceback" not in scan.stderr


def test_check_bluetooth_names_what_is_missing(make_bluez_testbed, monkeypatch, tmp_path):
    testbed = make_bluez_testbed(adapter_count=2)
    assert check_bluetooth() == "hci0" and check_bluetooth("hci1") == "hci1"
    with pytest.raises(BluetoothUnavailable, match=r"no Bluetooth adapter 'hci7' \(found: hci0, hci1\)"):
        check_bluetooth("hci7")
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    with pytest.raises(BluetoothUnavailable, match="cannot reach BlueZ on the system D-Bus"):
        check_bluetooth()
    assert testbed.bus_address  # the test bed itself is still there; only this process looked elsewhere


def test_a_strap_that_never_sends_a_beat_is_a_no_heart_data_state(hr_peripheral, tidewell_cmd, cli_env):
    """Connected and subscribed but silent (or never in range): the session goes on, the frame state says
    no_data, which the console shows, and the terminal says it once."""
    cli_env["DBUS_SYSTEM_BUS_ADDRESS"] = hr_peripheral.testbed.bus_address
    proc = subprocess.Popen(
        [
            *tidewell_cmd,
            "run",
            "--sensor",
            f"ble:{hr_peripheral.address}",
            "--adapter",
            CENTRAL,
            "--headless",
            "--minutes",
            "0.2",
            "--client",
            "C-3",
        ],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    hr_peripheral.command_ok("wait-subscribed 15", timeout_s=20)  # connected; it never streams
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err + out
    assert out.count("no heart data since the session began") == 1, out
    db = Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db"
    with sqlite3.connect(db) as conn:
        lost = conn.execute("SELECT detail FROM events WHERE session_id = 1 AND kind = 'sensor_lost'").fetchall()
        beats = conn.execute("SELECT COUNT(*) FROM beats").fetchone()[0]
    assert lost == [("no heart data since the session began (ble)",)] and beats == 0


def test_the_console_view_carries_the_no_heart_data_state(hr_peripheral, tmp_path):
    from tidewell.engine.console.hub import ConsoleHub
    from tidewell.engine.session import RunOptions, run_session
    from tidewell.sessions.program import load_program, resolve_program
    from tidewell.sessions.store import SessionStore

    hub = ConsoleHub()
    states = []

    def frame(state):
        hub.frame(state)
        states.append((state.t_s, state.sensor, hub.snapshot()["latest"]["sensor"]))

    options = RunOptions(
        client="C-4",
        sensor=f"ble:{hr_peripheral.address}",
        adapter=CENTRAL,
        headless=True,
        on_frame=frame,
        say=lambda _text: None,
    )
    run_session(
        load_program(resolve_program("taster")).scaled_to(0.15), options, SessionStore(tmp_path / "tidewell.db")
    )
    assert all(sensor == "ok" for t, sensor, _ in states if t < 4.5)  # a strap gets a few seconds to start
    late = [(sensor, shown) for t, sensor, shown in states if t > 6.0]
    assert late and set(late) == {("no_data", "no_data")}
