"""One logged session as a plain record, and its JSON and CSV exports (`tidewell report --json/--csv`).

The HTML report (sessions/report.py) is drawn from the same record, so the page and the files agree.

Files written by export_csv(record, "FILE.csv"):
    FILE.csv        the frame-state samples, one row per sample (4 Hz), columns as in the log's samples
                    table plus `phase` (the phase name);
    FILE_beats.csv  the beats, one row per beat: t_s, rr_ms (raw), quality, corrected_rr_ms (empty where
                    the corrector dropped the beat), inserted (1 for a beat the corrector added).

Anonymization (anonymize=True) removes exactly this, and records the list in the export:
    - the client pseudonym, replaced by a code (anonymous_code) that is stable for this database but
      cannot be reversed without its key file;
    - every calendar date and clock time: session start and end, self-report and client-record
      times, the resonance-assessment date, the report's own creation time. Times relative to the
      session start (t_s, in seconds) stay;
    - free text: self-report notes, marker texts, alert texts, and the detail of every event whose kind
      is not marked program_detail in core/event_kinds.py (sensor details, which can hold a device
      address, among them).
      The events themselves, with their time and phase, stay: a marker is still shown as a marker;
    - the sensor description beyond its kind ("ble:AA:BB:..." becomes "ble", a replayed file's path
      is dropped), the session folder and the process id.
Kept: the session number, program, phases, all physiological series and metrics, pain and stress scores.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import math
import os
import secrets
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tidewell.core import event_kinds
from tidewell.core.errors import TidewellError
from tidewell.core.private_files import create_private, replacing, write_private
from tidewell.sessions.precaution_list import hrv_note
from tidewell.sessions.store import SessionStore

FORMAT_VERSION = 1
# event kinds whose detail is program content or a number, never free text or a device identity
PROGRAM_EVENT_KINDS = frozenset(k.name for k in event_kinds.KINDS.values() if k.program_detail)
ANONYMIZED_REMOVALS = (
    "client pseudonym (replaced by a stable code)",
    "calendar dates and clock times (times relative to the session start are kept)",
    "self-report notes",
    "marker texts (the markers and their times are kept)",
    "alert texts (the alerts and their times are kept)",
    "details of sensor and other non-program events",
    "sensor address or replay file, session folder, process id",
)
KEY_FILE_NAME = "anonymize.key"
BEATS_CSV_SUFFIX = "_beats"


class ExportError(TidewellError, ValueError):
    """Something the user asked for does not exist or cannot be written; the message says what."""


# -- progress --------------------------------------------------------------------------------
def progress_enabled(progress: bool | None) -> bool:
    """None: on when stderr is a terminal; False: off; True: on (even when stderr is not a terminal)."""
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


def progress_bar(
    iterable: Iterable | None = None, *, total: int | None = None, desc: str, progress: bool | None, unit: str = "step"
) -> tqdm:
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        leave=False,
        disable=not progress_enabled(progress),
        dynamic_ncols=True,
    )


# -- anonymization ---------------------------------------------------------------------------
def anonymous_code(store: SessionStore, pseudonym: str) -> str:
    """'client-' + 6 hex digits of HMAC-SHA256(pseudonym) under a random key kept, owner-only, beside the
    database: the same client gets the same code in every report from this database, while a short
    pseudonym such as 'C-017' cannot be recovered by hashing every candidate."""
    digest = hmac.new(_anonymization_key(store), pseudonym.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"client-{digest[:6]}"


def _anonymization_key(store: SessionStore) -> bytes:
    path = store.path.parent / KEY_FILE_NAME
    try:
        fd = create_private(path)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise ExportError(f"--anonymize needs its key {path}, which cannot be made: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    except OSError as exc:
        os.unlink(path)  # never leave an empty key: codes under it could be reversed
        raise ExportError(f"--anonymize needs its key {path}, which cannot be written: {exc.strerror or exc}") from None
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ExportError(
            f"the anonymization key {path} is damaged (not 64 hex digits): move it aside and a new one"
            f" is made, or put back a copy from your backup (codes change with the key)"
        )
    return key


# -- the record ------------------------------------------------------------------------------
@dataclass
class SessionRecord:
    session: dict[str, Any]
    phases: list[dict[str, Any]]
    metrics: dict[str, Any]  # {"method", "baseline_phase", "phases": [...], "session": {...}}
    self_reports: dict[str, dict[str, Any]]  # "before" / "after"
    events: list[dict[str, Any]]
    beats: list[dict[str, Any]]
    samples: list[dict[str, Any]]
    client: dict[str, Any]  # resonance pace, if assessed
    anonymized: bool = False
    removed: tuple[str, ...] = field(default_factory=tuple)

    @property
    def duration_s(self) -> float:
        return float(self.session["duration_s"])

    def phase_name(self, index: int | None) -> str:
        for phase in self.phases:
            if phase["idx"] == index:
                return phase["name"]
        return ""

    def as_json(self) -> dict[str, Any]:
        return json_safe(
            {
                "format": "tidewell-session",
                "format_version": FORMAT_VERSION,
                "anonymized": self.anonymized,
                "removed": list(self.removed),
                "session": self.session,
                "client": self.client,
                "phases": self.phases,
                "metrics": self.metrics,
                "self_reports": self.self_reports,
                "events": self.events,
                "beats": self.beats,
                "samples": self.samples,
            }
        )


def load_session(
    store: SessionStore, session_id: int, *, anonymize: bool = False, progress: bool | None = None
) -> SessionRecord:
    row = store.session(session_id)
    if row is None:
        raise ExportError(f"no session {session_id} in {store.path} ('tidewell sessions list' shows them)")
    with progress_bar(total=3, desc=f"session {session_id}", progress=progress) as bar:
        bar.set_postfix_str("reading the log")
        phases = [_row(p, drop=("session_id",)) for p in store.phases(session_id)]
        beats = [_row(b, drop=("session_id",)) for b in store.beats(session_id)]
        samples = [_row(s, drop=("session_id",)) for s in store.samples(session_id)]
        events = [
            {**_row(e, drop=("session_id",)), "label": event_kinds.label(e["kind"])} for e in store.events(session_id)
        ]
        reports = {
            moment: _row(r, drop=("session_id", "moment")) for moment, r in store.self_reports(session_id).items()
        }
        client_row = store.client(row["client"])
        bar.update()
        bar.set_postfix_str("analysing phases")
        metrics = analyze(store, session_id)
        metrics["hrv_note"] = hrv_note(e["detail"] for e in events if e["kind"] == "precaution")
        bar.update()

        session = _row(row)
        session["duration_s"] = _duration_s(phases, beats, samples)
        session["sensor_kind"] = _sensor_kind(row["sensor"])
        client = {"resonance_bpm": None, "resonance_session_id": None, "resonance_at": None}
        if client_row is not None:
            client = {k: client_row[k] for k in client}
        record = SessionRecord(session, phases, metrics, reports, events, beats, samples, client)
        if anonymize:
            _anonymize(store, record)
        bar.update()
    return record


def _row(row, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: row[k] for k in row.keys() if k not in drop}


def _duration_s(phases, beats, samples) -> float:
    ends = [p["ended_s"] for p in phases if p["ended_s"] is not None]
    ends += [beats[-1]["t_s"]] if beats else []
    ends += [samples[-1]["t_s"]] if samples else []
    return float(max(ends, default=0.0))


def _sensor_kind(sensor: str) -> str:
    first = sensor.split()[0] if sensor.strip() else ""
    return first.split(":")[0]


def _anonymize(store: SessionStore, record: SessionRecord) -> None:
    s = record.session
    s["client"] = anonymous_code(store, s["client"])
    for key in ("started_at", "ended_at", "folder", "pid"):
        s[key] = None
    s["sensor"] = s["sensor_kind"]
    record.client["resonance_at"] = None
    for report in record.self_reports.values():
        report["note"] = ""
        report["recorded_at"] = None
    for event in record.events:
        if event["kind"] not in PROGRAM_EVENT_KINDS:
            event["detail"] = ""
    record.anonymized = True
    record.removed = ANONYMIZED_REMOVALS


# -- per-phase metrics (tidewell.sessions.hrv) ----------------------------------------------


def analyze(store: SessionStore, session_id: int) -> dict[str, Any]:
    """Per-phase and whole-session offline metrics (tidewell.sessions.hrv), each phase's HR and RMSSD
    change against the baseline phase, and the method statement that goes with every number (stored once
    per session: sessions/session_metrics.py)."""
    from tidewell.sessions.session_metrics import session_metrics

    metrics = session_metrics(store, session_id)
    result, baseline = metrics.hrv, metrics.baseline
    phases = [
        {
            "index": p.index,
            "name": p.name,
            "kind": p.kind,
            "start_s": p.start_s,
            "end_s": p.end_s,
            **p.hrv.as_json(),
            "hr_change_bpm": p.hr_change_bpm,
            "rmssd_change_ms": p.rmssd_change_ms,
        }
        for p in result.phases
    ]
    return {
        "method": result.whole.method,
        "baseline_phase": baseline.name if baseline else None,
        "phases": phases,
        "session": result.whole.as_json(),
    }


# -- writing ---------------------------------------------------------------------------------
def export_json(record: SessionRecord, path: str | Path, progress: bool | None = None) -> Path:
    path = Path(path)
    with progress_bar(total=1, desc="JSON export", progress=progress) as bar:
        text = json.dumps(record.as_json(), indent=1, allow_nan=False)
        _write_text(path, text)
        bar.update()
    return path


def beats_csv_path(samples_csv: str | Path) -> Path:
    """FILE.csv → FILE_beats.csv beside it."""
    p = Path(samples_csv)
    return p.with_name(f"{p.stem}{BEATS_CSV_SUFFIX}{p.suffix or '.csv'}")


SAMPLE_CSV_FIRST = ("t_s", "phase_idx", "phase")
BEAT_CSV_COLUMNS = ("t_s", "rr_ms", "quality", "corrected_rr_ms", "inserted")


def export_csv(record: SessionRecord, path: str | Path, progress: bool | None = None) -> tuple[Path, Path]:
    """The samples to `path`, the beats to beats_csv_path(path). Returns both paths."""
    path = Path(path)
    names = {p["idx"]: p["name"] for p in record.phases}
    sample_keys = list(record.samples[0].keys()) if record.samples else []
    columns = list(SAMPLE_CSV_FIRST) + [k for k in sample_keys if k not in SAMPLE_CSV_FIRST]
    rows = progress_bar(record.samples, desc="CSV samples", progress=progress, unit="row")
    _write_csv(path, columns, ({**s, "phase": names.get(s["phase_idx"], "")} for s in rows))
    beats_path = beats_csv_path(path)
    rows = progress_bar(record.beats, desc="CSV beats", progress=progress, unit="row")
    _write_csv(beats_path, BEAT_CSV_COLUMNS, rows)
    return path, beats_path


def _write_csv(path: Path, columns, rows) -> None:
    try:
        with replacing(path) as f:  # owner-only: it holds client data
            writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_text(path: Path, text: str) -> None:
    try:
        write_private(path, text)  # owner-only: it holds client data
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def json_safe(value):
    """NaN and infinity have no JSON spelling: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def utc_now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
