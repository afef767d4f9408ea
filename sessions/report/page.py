"""The report as one self-contained HTML page (inline CSS, plots as inline PNG, nothing fetched from the
network) to print or attach to clinical notes, rendered from the Jinja2 templates beside this module
with autoescaping: every name, note and marker is text on the page, never markup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from tidewell.core import event_kinds
from tidewell.core.private_files import write_private
from tidewell.core.words import plural, status_words
from tidewell.sessions.export import ExportError, SessionRecord, load_session, progress_bar, utc_now_text
from tidewell.sessions.report.figures import client_figure, png_data_uri, session_figure
from tidewell.sessions.report.formatting import (
    SENSOR_NOTES,
    STATUS_NOTES,
    before_after,
    clock,
    local_date,
    local_time,
    num,
)
from tidewell.sessions.report.trends import ClientOverview, client_overview
from tidewell.sessions.store import SessionStore

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("tidewell.sessions.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
# The per-phase table's number cells: key and format, in the order of session.html's headings.
PHASE_CELLS = (
    ("mean_hr_bpm", ".1f"),
    ("sdnn_ms", ".1f"),
    ("rmssd_ms", ".1f"),
    ("pnn50_pct", ".1f"),
    ("lf_ms2", ".0f"),
    ("hf_ms2", ".0f"),
    ("lf_hf", ".2f"),
    ("coherence", ".2f"),
    ("hr_change_bpm", "+.1f"),
    ("rmssd_change_ms", "+.1f"),
    ("artifact_pct", ".1f"),
)


# -- a session --------------------------------------------------------------------------------
def session_html(record: SessionRecord, plot_uri: str | None) -> str:
    s = record.session
    status_note = STATUS_NOTES.get(s["status"])
    recorded = f"{plural(len(record.beats), 'beat')} {'was' if len(record.beats) == 1 else 'were'}"
    return TEMPLATES.get_template("session.html").render(
        title=f"Tidewell session {s['id']} — {s['client']}",
        session=s,
        meta_items=_session_meta(record),
        status_note=status_note.format(end=clock(record.duration_s)) if status_note else None,
        sensor_note=SENSOR_NOTES.get(s["sensor_kind"]),
        plot_uri=plot_uri,
        beats_recorded=recorded if record.metrics["session"]["mean_hr_bpm"] is None else None,
        phase_rows=_phase_rows(record),
        baseline_phase=record.metrics.get("baseline_phase"),
        method=record.metrics["method"],
        hrv_note=record.metrics.get("hrv_note"),
        self_reports=_self_report_rows(record),
        notes=_notes(record),
        events=_event_rows(record),
        anonymized=record.anonymized,
        removed="; ".join(record.removed),
        generated_at=local_time(utc_now_text()),
    )


def _session_meta(record: SessionRecord) -> list[tuple[str, str]]:
    s = record.session
    resonance = record.client.get("resonance_bpm")
    return [
        ("Client", s["client"]),
        ("Date", "removed (anonymized)" if record.anonymized else local_time(s["started_at"])),
        ("Program", f"{s['program_title']} ({s['program_id']})"),
        ("Duration", f"{clock(record.duration_s)} of {s['program_minutes']:.0f} min planned"),
        ("Status", status_words(s["status"])),
        ("Heart sensor", s["sensor"]),
        ("Resonance pace", f"{resonance:.1f} breaths/min" if resonance else "not assessed"),
        ("Beats recorded", str(len(record.beats))),
    ]


def _phase_rows(record: SessionRecord) -> list[dict[str, Any]]:
    """One row per phase and the whole session's (no change against the baseline)."""
    rows = [
        {
            "total": False,
            "number": p["index"] + 1,
            "name": p["name"],
            "time": f"{clock(p['start_s'])}–{clock(p['end_s'])}",
            "n_beats": p["n_beats"],
            "cells": [num(p.get(k), f) for k, f in PHASE_CELLS],
        }
        for p in record.metrics["phases"]
    ]
    whole = record.metrics["session"]
    rows.append(
        {
            "total": True,
            "number": "",
            "name": "whole session",
            "time": f"0:00–{clock(record.duration_s)}",
            "n_beats": whole["n_beats"],
            "cells": [num(whole[k], f) if k in whole else "" for k, f in PHASE_CELLS],
        }
    )
    return rows


def _self_report_rows(record: SessionRecord) -> list[tuple[str, Any, Any, str]]:
    """(label, before, after, change) for pain and stress; empty without a self-report."""
    reports = record.self_reports
    if not reports:
        return []
    before, after = reports.get("before", {}), reports.get("after", {})
    rows = []
    for key, label in (("pain", "Pain (NRS)"), ("stress", "Stress")):
        b, a = before.get(key), after.get(key)
        change = num(a - b, "+d") if a is not None and b is not None else "—"
        rows.append((label, "—" if b is None else b, "—" if a is None else a, change))
    return rows


def _notes(record: SessionRecord) -> list[tuple[str, str]]:
    notes = ((moment, record.self_reports.get(moment, {}).get("note")) for moment in ("before", "after"))
    return [(moment, note) for moment, note in notes if note]


def _event_rows(record: SessionRecord) -> list[dict[str, str]]:
    """The events the report lists (core/event_kinds.py), markers numbered M1, M2, ... and alerts A1, ..."""
    counts = {"marker": 0, "alert": 0}
    rows = []
    for e in record.events:
        kind = e["kind"]
        known = event_kinds.KINDS.get(kind)
        if known is not None and not known.report:
            continue
        tag = ""
        if kind in counts:
            counts[kind] += 1
            tag = f"{'M' if kind == 'marker' else 'A'}{counts[kind]}"
        text = e["detail"] or ("text removed (anonymized)" if record.anonymized and kind in counts else "")
        phase = record.phase_name(e["phase_idx"])
        rows.append(
            {
                "time": clock(e["t_s"]),
                "tag": tag,
                "label": event_kinds.label(kind),
                "phase": phase,
                "text": "" if text == phase else text,
            }
        )
    return rows


def record_html(record: SessionRecord) -> str:
    plot = png_data_uri(session_figure(record)) if record.samples else None
    return session_html(record, plot)


def html_report(store: SessionStore, session_id: int, anonymize: bool = False) -> str:
    """The one-page report of a session as HTML text, written nowhere (the console serves it);
    raises ExportError for an unknown session."""
    return record_html(load_session(store, session_id, anonymize=anonymize, progress=False))


def write_html_report(
    store: SessionStore, session_id: int, path: str | Path, anonymize: bool = False, progress: bool | None = None
) -> Path:
    """Write the one-page report of a session; raises ExportError (unknown session, unwritable path)."""
    record = load_session(store, session_id, anonymize=anonymize, progress=progress)
    return write_record_html(record, path, progress)


def write_record_html(record: SessionRecord, path: str | Path, progress: bool | None = None) -> Path:
    path = Path(path)
    with progress_bar(total=2, desc="HTML report", progress=progress) as bar:
        bar.set_postfix_str("drawing plots")
        page = record_html(record)
        bar.update()
        bar.set_postfix_str("writing")
        _write(path, page)
        bar.update()
    return path


# -- a client ---------------------------------------------------------------------------------
def client_html(overview: ClientOverview, plot_uri: str | None) -> str:
    resonance = (
        f"{overview.resonance_bpm:.1f} breaths/min (session {overview.resonance_session_id})"
        if overview.resonance_bpm
        else "not assessed"
    )
    meta_items = [
        ("Client", overview.client),
        ("Sessions", str(len(overview.sessions))),
        ("Resonance pace", resonance),
        ("", ""),
    ]
    rows = [
        {
            "id": s.session_id,
            "date": local_date(s.started_at),
            "program": s.program_title,
            "status": status_words(s.status),
            "length": clock(s.duration_s),
            "n_beats": s.n_beats,
            "hr": num(s.mean_hr_bpm, ".1f"),
            "rmssd": num(s.rmssd_ms, ".1f"),
            "hr_change": num(s.hr_change_bpm, "+.1f"),
            "rmssd_change": num(s.rmssd_change_ms, "+.1f"),
            "pain": before_after(s.pain),
            "stress": before_after(s.stress),
        }
        for s in overview.sessions
    ]
    return TEMPLATES.get_template("client.html").render(
        title=f"Tidewell client {overview.client}",
        overview=overview,
        meta_items=meta_items,
        plot_uri=plot_uri,
        rows=rows,
        generated_at=local_time(utc_now_text()),
    )


def write_client_report(
    store: SessionStore, pseudonym: str, path: str | Path, anonymize: bool = False, progress: bool | None = None
) -> Path:
    """Trends across a client's sessions as one HTML page; raises ExportError for an unknown client."""
    return write_overview_html(client_overview(store, pseudonym, anonymize, progress), path)


def write_overview_html(overview: ClientOverview, path: str | Path) -> Path:
    path = Path(path)
    plot = png_data_uri(client_figure(overview)) if overview.sessions else None
    _write(path, client_html(overview, plot))
    return path


def _write(path: Path, text: str) -> None:
    try:
        write_private(path, text)  # owner-only: it holds client data
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
