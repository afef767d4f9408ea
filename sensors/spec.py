"""The --sensor value: one word, with what it needs after a colon, so it never takes the next argument."""

from __future__ import annotations

from tidewell.core.limits import MAX_ROW_ID as MAX_SESSION_ID

SENSOR_SYNTAX = "'sim', 'ble', 'ble:ADDRESS' (or a name), 'replay:FILE.csv' or 'replay:SESSION_ID'"


def parse_sensor(sensor: str) -> tuple[str, str | None]:
    """(kind, argument): ("sim", None), ("ble", address, name or None), ("replay", file or session id).
    Raises ValueError saying what is wrong before anything starts."""
    if not isinstance(sensor, str):
        raise TypeError(f"a sensor is one string ({SENSOR_SYNTAX}), got {sensor!r}")
    text = sensor.strip()
    kind, colon, argument = text.partition(":")
    if kind == "sim" and not colon:
        return "sim", None
    if kind == "ble":
        if colon and not argument.strip():
            raise ValueError("--sensor ble: needs an address or a name after the colon, e.g. ble:F0:13:C3:01:02:03")
        return "ble", argument.strip() or None
    if kind == "replay":
        if not argument.strip():
            raise ValueError(
                "--sensor replay needs a file or a session id after a colon: "
                "--sensor replay:FILE.csv or --sensor replay:SESSION_ID"
            )
        if argument.isdigit() and (len(argument) > 19 or not 1 <= int(argument) <= MAX_SESSION_ID):
            raise ValueError(f"--sensor replay: no session {argument} (session ids are 1 to {MAX_SESSION_ID})")
        return "replay", argument
    raise ValueError(f"unknown sensor {text!r}: expected {SENSOR_SYNTAX}")
