"""Heart Rate Measurement (GATT 0x2A37) packets: a parser that never raises, and an encoder.

Format (Bluetooth SIG Heart Rate Service 1.0, little-endian):
  flags (1 byte): bit 0 HR is uint16; bits 1-2 sensor contact; bit 3 energy expended present;
                  bit 4 RR intervals present; bits 5-7 reserved
  heart rate (1 or 2 bytes), energy expended (2 bytes, kJ), RR intervals (2 bytes each, 1/1024 s).

Edge cases, decided here once:
  - empty packet, or flags only: invalid, nothing kept;
  - uint16 HR with one byte left: invalid, nothing kept;
  - reserved flag bits set: ignored, as the specification asks of receivers (still valid);
  - energy-expended flag with fewer than 2 bytes left: invalid, HR kept, energy null;
  - RR flag with an odd number of RR bytes: invalid, the complete RR values kept, the dangling byte dropped;
  - RR flag with no RR bytes: invalid, HR kept;
  - bytes after the HR/energy fields with the RR flag clear: invalid, HR kept, the bytes ignored;
  - an RR value of 0: invalid, that value dropped (a dangling zero byte pair is not a beat);
  - any number of RR values (9 fit the default MTU; a larger MTU may carry more): valid.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tidewell.core.words import plural

CONTACT_NAMES = {0: "not_supported", 1: "not_supported", 2: "not_detected", 3: "detected"}
_CONTACT_BITS = {"not_supported": 0, "not_detected": 2, "detected": 3}


@dataclass(frozen=True)
class HeartRateMeasurement:
    hr_bpm: int | None
    rr_ms: tuple[float, ...]
    energy_expended_kj: int | None
    sensor_contact: str
    valid: bool
    error: str | None

    def as_json(self) -> dict:
        return {
            "hr_bpm": self.hr_bpm,
            "rr_ms": list(self.rr_ms),
            "energy_expended_kj": self.energy_expended_kj,
            "sensor_contact": self.sensor_contact,
            "valid": self.valid,
            "error": self.error,
        }


def parse_hrm(data: bytes) -> HeartRateMeasurement:
    data = bytes(data)
    if not data:
        return HeartRateMeasurement(None, (), None, "not_supported", False, "empty packet")
    flags = data[0]
    contact = CONTACT_NAMES[(flags >> 1) & 0b11]
    hr_size = 2 if flags & 0x01 else 1
    offset = 1
    if len(data) < offset + hr_size:
        what = "uint16" if hr_size == 2 else "uint8"
        return HeartRateMeasurement(
            None,
            (),
            None,
            contact,
            False,
            f"truncated: flags announce a {what} heart rate, {plural(len(data) - 1, 'byte')} after the flags",
        )
    hr = data[offset] if hr_size == 1 else struct.unpack_from("<H", data, offset)[0]
    offset += hr_size
    errors: list[str] = []
    energy = None
    if flags & 0x08:
        if len(data) < offset + 2:
            errors.append(f"truncated: energy expended needs 2 bytes, {len(data) - offset} left")
            offset = len(data)
        else:
            energy = struct.unpack_from("<H", data, offset)[0]
            offset += 2
    rr: list[float] = []
    rest = data[offset:]
    if flags & 0x10:
        if not rest:
            errors.append("RR flag set but no RR values")
        complete = len(rest) // 2 * 2
        for (raw,) in struct.iter_unpack("<H", rest[:complete]):
            if raw == 0:
                errors.append("RR value of 0 dropped")
            else:
                rr.append(raw * 1000.0 / 1024.0)
        if len(rest) % 2:
            errors.append(f"dangling byte after {plural(complete // 2, 'RR value')}")
    elif rest:
        errors.append(f"{plural(len(rest), 'unexpected trailing byte')} with the RR flag clear")
    return HeartRateMeasurement(hr, tuple(rr), energy, contact, not errors, "; ".join(errors) or None)


def encode_hrm(
    hr_bpm: int, rr_ms=(), contact: str = "detected", energy_kj: int | None = None, uint16: bool = False
) -> bytes:
    """A specification-correct packet (for tests and the simulated peripheral)."""
    flags = _CONTACT_BITS[contact] << 1
    body = b""
    if uint16 or hr_bpm > 255:
        flags |= 0x01
        body += struct.pack("<H", hr_bpm)
    else:
        body += struct.pack("<B", hr_bpm)
    if energy_kj is not None:
        flags |= 0x08
        body += struct.pack("<H", min(energy_kj, 0xFFFF))
    if rr_ms:
        flags |= 0x10
        body += b"".join(struct.pack("<H", round(r * 1024.0 / 1000.0)) for r in rr_ms)
    return bytes([flags]) + body
