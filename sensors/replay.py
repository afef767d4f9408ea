"""Replay of a recorded RR series, and the reading of RR files for `tidewell hrv`.

An RR file is a CSV whose header names the columns `t_s` and `rr_ms`, in any order, among others:
the beats CSV that `tidewell report --csv` writes (t_s, rr_ms, quality, corrected_rr_ms, inserted) is
one. The session JSON that `tidewell report --json` writes is read too (its "beats"). Of an export,
a replay takes the beats the sensor sent (rr_ms, raw), never the ones the corrector inserted; the
corrected columns are there for offline HRV (sessions/hrv.py).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from tidewell.core.errors import TidewellError
from tidewell.core.words import plural
from tidewell.sensors.correction import Quality
from tidewell.sensors.source import RawRR

HEADER = ["t_s", "rr_ms"]
EXPORT_COLUMNS = ("quality", "corrected_rr_ms", "inserted")  # read by name where a file has them
QUALITIES = frozenset(get_args(Quality))
JSON_FORMAT = "tidewell-session"  # sessions/export.py SessionRecord.as_json
TRUE_WORDS, FALSE_WORDS = frozenset(("1", "true", "yes")), frozenset(("0", "false", "no", ""))


class ReplayError(TidewellError, ValueError):
    """The file cannot be replayed at all (missing, unreadable, wrong header, no beats)."""


@dataclass(frozen=True)
class RecordedBeats:
    """The beats of an RR file, one entry per good row. quality, corrected_rr_ms and inserted are None
    when the file has no such column (a plain t_s,rr_ms file)."""

    path: Path
    t_s: list[float]
    rr_ms: list[float]
    quality: list[str] | None
    corrected_rr_ms: list[float | None] | None
    inserted: list[bool] | None

    def __len__(self) -> int:
        return len(self.t_s)

    def received(self) -> list[RawRR]:
        """The beats as the sensor sent them: raw RR, without the ones the corrector inserted."""
        inserted = self.inserted or [False] * len(self.t_s)
        return [RawRR(t, rr) for t, rr, added in zip(self.t_s, self.rr_ms, inserted) if not added]


class RRReplay:
    """Releases recorded beats as the session clock passes the time each one ends."""

    def __init__(self, beats: Sequence[RawRR], name: str = "replay", description: str = ""):
        self.name = name
        self.description = description or f"replay of {plural(len(beats), 'beat')}"
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

    def drain_status(self) -> list:
        return []  # a recorded RR series: nothing to say about itself

    def drain_packets(self) -> list[tuple[float, bytes]]:
        return []

    def stop(self) -> None:
        pass


def load_rr_csv(path: str | Path) -> tuple[RRReplay, list[str]]:
    """A replay of an RR file (CSV or session JSON); bad rows are skipped and reported as
    'path:LINE: what was wrong'."""
    recorded, problems = load_rr_file(path)
    beats = recorded.received()
    if not beats:
        raise ReplayError(f"{recorded.path}: no beats the sensor sent (every row is an inserted beat)")
    description = f"replay of {plural(len(beats), 'beat')} from {recorded.path}"
    return RRReplay(beats, name=f"replay:{recorded.path.name}", description=description), problems


def load_rr_file(path: str | Path) -> tuple[RecordedBeats, list[str]]:
    """Every good row of an RR file, and 'path:LINE: problem' for each row skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReplayError(f"{path}: RR file not found") from None
    except IsADirectoryError:
        raise ReplayError(f"{path}: is a folder, not an RR file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ReplayError(f"{path}: cannot read RR file ({e})") from None
    header, rows, problems = (_json_rows if text.lstrip().startswith("{") else _csv_rows)(path, text)
    return _read_rows(path, header, rows, problems)


def _csv_rows(path: Path, text: str) -> tuple[list[str], list[tuple[str, list[str]]], list[str]]:
    try:
        lines = list(csv.reader(text.splitlines()))
    except csv.Error as e:
        raise ReplayError(f"{path}: cannot read RR file ({e})") from None
    header = [cell.strip() for cell in lines[0]] if lines else []
    if not set(HEADER) <= set(header):
        found = ",".join(lines[0]) if lines else "an empty file"
        hint = ""
        if "phase_idx" in header:
            hint = (
                f"; this is the samples CSV of `tidewell report --csv`, the beats are in "
                f"{path.with_name(f'{path.stem}_beats{path.suffix}')}"
            )
        raise ReplayError(
            f"{path}:1: expected the header 't_s,rr_ms' (columns t_s and rr_ms, other columns "
            f"allowed), found {found!r}{hint}"
        )
    return header, [(f"{path}:{n}", row) for n, row in enumerate(lines[1:], start=2)], []


def _json_rows(path: Path, text: str) -> tuple[list[str], list[tuple[str, list[str]]], list[str]]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ReplayError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(data, dict) or data.get("format") != JSON_FORMAT or not isinstance(data.get("beats"), list):
        raise ReplayError(
            f"{path}: expected a session export of `tidewell report --json` "
            f"(format {JSON_FORMAT!r} with a list of beats)"
        )
    header = list(HEADER) + list(EXPORT_COLUMNS)
    rows, problems = [], []
    for i, beat in enumerate(data["beats"]):
        if isinstance(beat, dict):
            rows.append((f"{path}: beats[{i}]", ["" if beat.get(k) is None else str(beat[k]) for k in header]))
        else:
            problems.append(f"{path}: beats[{i}]: expected an object with t_s and rr_ms, found {beat!r:.60}")
    return header, rows, problems


def _read_rows(
    path: Path, header: list[str], rows: list[tuple[str, list[str]]], problems: list[str]
) -> tuple[RecordedBeats, list[str]]:
    where = {name: header.index(name) for name in (*HEADER, *EXPORT_COLUMNS) if name in header}
    columns: dict[str, list] = {name: [] for name in where}
    for location, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                f"{location}: expected {len(header)} columns ({','.join(header)}), found {len(row)}: {','.join(row)!r}"
            )
            continue
        values = _row_values(row, where, columns["t_s"][-1] if columns["t_s"] else None)
        if isinstance(values, str):
            problems.append(f"{location}: {values}")
            continue
        for name, value in values.items():
            columns[name].append(value)
    if not columns["t_s"]:
        raise ReplayError(f"{path}: no valid beats ({plural(len(problems), 'bad row')})")
    return RecordedBeats(
        path,
        columns["t_s"],
        columns["rr_ms"],
        columns.get("quality"),
        columns.get("corrected_rr_ms"),
        columns.get("inserted"),
    ), problems


def _row_values(row: list[str], where: dict[str, int], previous_t_s: float | None) -> dict | str:
    """The row's values by column name, or what is wrong with it."""
    values: dict = {}
    for label in HEADER:
        cell = row[where[label]].strip()
        try:
            value = float(cell)
        except ValueError:
            return f"{label} {cell!r} is not a number"
        if not math.isfinite(value):
            return f"{label} {cell!r} is not a finite number"
        values[label] = value
    t_s, rr_ms = values["t_s"], values["rr_ms"]
    if t_s < 0:
        return f"t_s {t_s:g} is negative"
    if rr_ms <= 0:
        return f"rr_ms {rr_ms:g} is not positive"
    if previous_t_s is not None and t_s <= previous_t_s:
        return f"t_s {t_s:g} is not after the previous beat at {previous_t_s:g}"
    if "quality" in where:
        quality = row[where["quality"]].strip()
        if quality not in QUALITIES:
            return f"quality {quality!r} is not one of {', '.join(sorted(QUALITIES))}"
        values["quality"] = quality
    if "corrected_rr_ms" in where:
        cell = row[where["corrected_rr_ms"]].strip()
        try:
            corrected = float(cell) if cell else None  # empty: the corrector dropped the beat
        except ValueError:
            return f"corrected_rr_ms {cell!r} is not a number"
        if corrected is not None and not (math.isfinite(corrected) and corrected > 0):
            return f"corrected_rr_ms {cell!r} is not a positive number"
        values["corrected_rr_ms"] = corrected
    if "inserted" in where:
        cell = row[where["inserted"]].strip().lower()
        if cell not in TRUE_WORDS | FALSE_WORDS:
            return f"inserted {cell!r} is not 0 or 1"
        values["inserted"] = cell in TRUE_WORDS
    return values
