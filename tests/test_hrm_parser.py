"""0x2A37 parser, built from the Bluetooth SIG Heart Rate Service specification."""

import json
import subprocess
import sys

import pytest

from tidewell.sensors.hrm import encode_hrm, parse_hrm


def ms(raw: int) -> float:
    return raw * 1000.0 / 1024.0


@pytest.mark.parametrize(
    "hex_, hr, rr, energy, contact",
    [
        ("0048", 72, (), None, "not_supported"),  # uint8 HR, nothing else
        ("0248", 72, (), None, "not_supported"),  # contact bit pattern 1: not supported
        ("0448", 72, (), None, "not_detected"),  # supported, no contact
        ("0648", 72, (), None, "detected"),
        ("014801", 0x0148, (), None, "not_supported"),  # uint16 HR, little-endian
        ("1648" + "0004", 72, (ms(1024),), None, "detected"),  # one RR of 1024/1024 s
        ("1e48" + "3412" + "0003" + "5503", 72, (ms(768), ms(853)), 0x1234, "detected"),  # energy + 2 RR
        ("1748" + "00" + "0004", 72, (ms(1024),), None, "detected"),  # uint16 HR with RR
    ],
)
def test_valid_packets(hex_, hr, rr, energy, contact):
    m = parse_hrm(bytes.fromhex(hex_))
    assert m.valid and m.error is None
    assert (m.hr_bpm, m.rr_ms, m.energy_expended_kj, m.sensor_contact) == (hr, rr, energy, contact)


def test_rr_is_kept_as_float_milliseconds():
    m = parse_hrm(bytes.fromhex("1048" + "6503"))  # 0x0365 = 869/1024 s
    assert m.rr_ms == (869 * 1000 / 1024,) and m.rr_ms[0] == pytest.approx(848.6328125)


def test_nine_rr_values_fill_the_default_mtu_and_are_valid():
    packet = bytes([0x10, 60]) + b"".join((1000 + i).to_bytes(2, "little") for i in range(9))
    assert len(packet) == 20
    m = parse_hrm(packet)
    assert m.valid and m.rr_ms == tuple(ms(1000 + i) for i in range(9))


@pytest.mark.parametrize(
    "hex_, hr, rr, energy, words",
    [
        ("", None, (), None, "empty packet"),
        ("16", None, (), None, "uint8 heart rate, 0 bytes after the flags"),  # flags only
        ("0148", None, (), None, "uint16 heart rate, 1 byte after the flags"),  # truncated uint16 HR
        ("0848" + "12", 72, (), None, "energy expended needs 2 bytes"),  # truncated energy expended
        ("1048" + "0004" + "05", 72, (ms(1024),), None, "dangling byte after 1 RR"),
        ("1048", 72, (), None, "no RR values"),
        ("0048" + "0004", 72, (), None, "2 unexpected trailing bytes"),
        ("1048" + "0000" + "0004", 72, (ms(1024),), None, "RR value of 0"),
    ],
)
def test_malformed_packets_keep_what_the_format_allows_and_say_why(hex_, hr, rr, energy, words):
    m = parse_hrm(bytes.fromhex(hex_))
    assert not m.valid and words in m.error
    assert (m.hr_bpm, m.rr_ms, m.energy_expended_kj) == (hr, rr, energy)


def test_reserved_bits_are_ignored_as_the_specification_asks():
    m = parse_hrm(bytes([0xE0 | 0x16, 70, 0x00, 0x04]))
    assert m.valid and m.hr_bpm == 70 and m.rr_ms == (1000.0,) and m.sensor_contact == "detected"


def test_parser_never_raises_on_random_bytes():
    import random

    rng = random.Random(7)
    for _ in range(20000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 24)))
        m = parse_hrm(data)
        assert isinstance(m.valid, bool) and (m.valid or m.error)


def test_encoder_round_trips():
    packet = encode_hrm(64, rr_ms=(937.5, 1000.0), contact="not_detected", energy_kj=12)
    m = parse_hrm(packet)
    assert m.valid and m.hr_bpm == 64 and m.rr_ms == (937.5, 1000.0)
    assert m.sensor_contact == "not_detected" and m.energy_expended_kj == 12
    assert parse_hrm(encode_hrm(300)).hr_bpm == 300


def test_cli_decode_prints_one_json_object_per_packet():
    result = subprocess.run(
        [sys.executable, "-m", "tidewell.engine.cli", "sensors", "decode", "16480004", "10", "zz"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, "invalid packets among them: not a success"
    assert "2 of 3 packets are not valid" in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[0] == {
        "hr_bpm": 72,
        "rr_ms": [1000.0],
        "energy_expended_kj": None,
        "sensor_contact": "detected",
        "valid": True,
        "error": None,
    }
    assert lines[1]["valid"] is False and lines[1]["hr_bpm"] is None
    assert lines[2]["valid"] is False and "hex" in lines[2]["error"]
    for obj in lines:
        assert set(obj) == {"hr_bpm", "rr_ms", "energy_expended_kj", "sensor_contact", "valid", "error"}
