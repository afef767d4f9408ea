"""How the report writes times, numbers and notes, on the page and in the terminal alike."""

from __future__ import annotations

from datetime import datetime

import numpy as np

NOT_ENOUGH = "not enough data"
STATUS_NOTES = {
    "interrupted": "Interrupted: the session stopped unexpectedly (the program did not finish). "
    "Everything logged up to {end} is reported.",
    "ended_early": "Ended early: a gentle end at {end}, before the program's last phase.",
    "running": "Still marked running: the log may be incomplete. Everything logged up to {end} is reported.",
}
SENSOR_NOTES = {
    "sim": "Heart data from the simulated heart (demonstration or test), not from a client.",
    "replay": "Heart data replayed from an earlier recording.",
}


def clock(t_s: float | None) -> str:
    """Session-relative time: m:ss, or h:mm:ss from an hour on."""
    if t_s is None:
        return "—"
    total = int(round(t_s))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def num(value: float | None, fmt: str, unit: str = "") -> str:
    if value is None or not np.isfinite(value):
        return "—"
    text = format(value, fmt)
    if float(text) == 0:  # no "−0.0"
        text = format(abs(value) * 0, fmt)
    return f"{text}{unit}".replace("-", "−")


def local_time(iso: str | None) -> str:
    if not iso:
        return "—"
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M (UTC%z)")


def local_date(iso: str | None) -> str:
    """Date and time of day, in this computer's time zone, or — (anonymized)."""
    if not iso:
        return "—"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def before_after(pair: tuple[int | None, int | None]) -> str:
    b, a = pair
    if b is None and a is None:
        return "—"
    return f"{'—' if b is None else b} → {'—' if a is None else a}"
