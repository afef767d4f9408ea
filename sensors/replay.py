"""Replay of a recorded RR series from a CSV file (header `t_s,rr_ms`)."""
from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from tidewell.sensors.source import RawRR

HEADER = ["t_s", "rr_ms"]


class ReplayError(ValueError):
    """The file cannot be replayed at all (missing, unreadable, wrong header, no beats)."""


class RRReplay:
    """Releases recorded beats as the session clock passes the time each one ends."""

    def __init__(self, beats: Sequence[RawRR], name: str = "replay", description: str = ""):
        self.name = name
        self.description = description or f"replay of {len(beats)} beats"
        self._beats = list(beats)
        self._next = 0

    def __len__(self) -> int:
        return len(self._beats)

    @property
    def finished(self) -> bool:
        return self._next >= len(self._beats)

    def poll(self, now_s: float, breath_level: float = 0.5) -> list[RawRR]:
        start = self._next
        while self._next < len(self._beats) and self._beats[self._next].t_s <= now_s:
            self._next += 1
        return self._beats[start : self._next]


def load_rr_csv(path: str | Path) -> tuple[RRReplay, list[str]]:
    """Read a replay; bad rows are skipped and reported as 'path:LINE: what was wrong'."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise ReplayError(f"{path}: RR file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ReplayError(f"{path}: cannot read RR file ({e})") from None

    if not rows or [cell.strip() for cell in rows[0][1]] != HEADER:
        found = ",".join(rows[0][1]) if rows else "an empty file"
        raise ReplayError(f"{path}:1: expected the header 't_s,rr_ms', found {found!r}")

    beats: list[RawRR] = []
    problems: list[str] = []
    for line, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        error = _row_error(row, beats[-1].t_s if beats else None)
        if error:
            problems.append(f"{path}:{line}: {error}")
        else:
            beats.append(RawRR(float(row[0]), float(row[1])))
    if not beats:
        raise ReplayError(f"{path}: no valid beats ({len(problems)} bad rows)")
    return RRReplay(beats, name=f"replay:{path.name}", description=f"replay of {len(beats)} beats from {path}"), problems


def _row_error(row: list[str], previous_t_s: float | None) -> str | None:
    if len(row) != 2:
        return f"expected 2 columns (t_s,rr_ms), found {len(row)}: {','.join(row)!r}"
    values = []
    for label, cell in zip(HEADER, row):
        try:
            value = float(cell)
        except ValueError:
            return f"{label} {cell.strip()!r} is not a number"
        if not math.isfinite(value):
            return f"{label} {cell.strip()!r} is not a finite number"
        values.append(value)
    t_s, rr_ms = values
    if t_s < 0:
        return f"t_s {t_s:g} is negative"
    if rr_ms <= 0:
        return f"rr_ms {rr_ms:g} is not positive"
    if previous_t_s is not None and t_s <= previous_t_s:
        return f"t_s {t_s:g} is not after the previous beat at {previous_t_s:g}"
    return None
