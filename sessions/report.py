"""Session and client reports: one self-contained HTML page (inline CSS, plots as inline PNG drawn by
matplotlib's Agg canvas, nothing fetched from the network) to print or attach to clinical notes, and a
plain-text summary for the terminal. `tidewell report` calls report_command.

What anonymize=True removes is listed in sessions/export.py (ANONYMIZED_REMOVALS) and on the page.
"""
from __future__ import annotations

import base64
import html
import io
import sys
import textwrap
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.backends.backend_agg import FigureCanvasAgg

from tidewell.core import event_kinds
from tidewell.sessions.export import (
    ExportError, SessionRecord, analyze, anonymous_code, export_csv, export_json, load_session, progress_bar,
    utc_now_text,
)
from tidewell.core.private_files import write_private
from tidewell.sessions.store import SessionStore
from tidewell.core.words import plural, status_words

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
# Which events are listed under "Markers, alerts and interruptions", their labels, and the gaps hatched
# on the plots: core/event_kinds.py (a kind missing there, e.g. from a newer version, is listed).

INK = "#1a1a1a"
MUTED = "#5a5a5a"
HR_COLOUR = "#b03a2e"
RMSSD_COLOUR = "#1f618d"
PACE_COLOUR = "#117a65"
CALM_COLOUR = "#6c3483"
MARKER_COLOUR = "#1f3a93"
ALERT_COLOUR = "#c0392b"
BANDS = ("#eef2f7", "#ffffff")
# Names, titles and notes are text: "$x^2$" in a phase name is drawn as typed, never as math or TeX.
# Text objects read these when they are made and when they are drawn, so both happen inside literal_text.
LITERAL_TEXT = {"text.parse_math": False, "text.usetex": False}


def literal_text():
    return matplotlib.rc_context(LITERAL_TEXT)


# -- formatting -------------------------------------------------------------------------------
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


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


# -- plots ------------------------------------------------------------------------------------
def _png_data_uri(fig: Figure, dpi: int = 150) -> str:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    with literal_text():
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _column(rows: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)


def _gaps(record: SessionRecord) -> list[tuple[float, float, str]]:
    gap_ends = {k.name: k.ends for k in event_kinds.KINDS.values() if k.ends}
    gaps, open_since = [], {}
    for e in record.events:
        if e["kind"] in gap_ends:
            open_since.setdefault(e["kind"], e["t_s"])
        for start_kind, end_kinds in gap_ends.items():
            if e["kind"] in end_kinds and start_kind in open_since:
                gaps.append((open_since.pop(start_kind), e["t_s"], event_kinds.label(start_kind)))
    gaps += [(t, record.duration_s, event_kinds.label(kind)) for kind, t in open_since.items()]
    return gaps


@literal_text()
def session_figure(record: SessionRecord) -> Figure:
    """HR, RMSSD, breathing pace and calm against session time, phases shaded and numbered,
    markers (M1, M2, ...) and alerts (A1, ...) as vertical lines through every panel."""
    samples, beats = record.samples, record.beats
    t = _column(samples, "t_s") / 60
    end_min = max(record.duration_s / 60, 1 / 60)
    fig = Figure(figsize=(10, 8.6), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True, height_ratios=(1.25, 1, 0.9, 0.7))
    hr_ax, rmssd_ax, pace_ax, calm_ax = axes

    beat_t = _column(beats, "t_s") / 60
    nn = _column(beats, "corrected_rr_ms")
    if np.isfinite(nn).any():
        hr_ax.plot(beat_t, 60000 / nn, color="#c9c9c9", lw=0.6, label="beat to beat", zorder=2)
    hr = _column(samples, "hr_bpm")
    hr_ax.plot(t, hr, color=HR_COLOUR, lw=1.3, label="live HR", zorder=3)
    hr_ax.set_ylabel("heart rate\n(beats/min)")

    rmssd_ax.plot(t, _column(samples, "rmssd_ms"), color=RMSSD_COLOUR, lw=1.3)
    rmssd_ax.set_ylabel("RMSSD, last 60 s\n(ms)")

    pace_ax.plot(t, _column(samples, "pace_bpm"), color=PACE_COLOUR, lw=1.6, label="guided pace")
    target = _column(samples, "target_pace_bpm")
    if np.isfinite(target).any():
        pace_ax.plot(t, target, color=PACE_COLOUR, lw=1.2, ls="--", label="target pace")
    breathing = _column(samples, "breath_rate_bpm")
    if np.isfinite(breathing).any():
        pace_ax.plot(t, breathing, color=INK, lw=0.9, ls=":", label="client's breathing (from RSA)")
    if record.client.get("resonance_bpm"):
        pace_ax.axhline(record.client["resonance_bpm"], color=MUTED, lw=0.9, ls="-.", label="resonance pace")
    pace_ax.set_ylabel("breathing\n(breaths/min)")

    calm_ax.plot(t, _column(samples, "calm"), color=CALM_COLOUR, lw=1.6)
    calm_ax.set_ylim(-0.05, 1.05)
    calm_ax.set_yticks([0, 0.5, 1])
    calm_ax.set_ylabel("calm index\n(0–1)")
    calm_ax.set_xlabel("session time (minutes)")

    for ax in axes:
        ax.set_xlim(0, end_min)
        _shade_phases(ax, record)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        ax.tick_params(colors=INK, labelsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if not any(np.isfinite(line.get_ydata()).any() for line in ax.get_lines() if len(line.get_ydata()) > 2):
            ax.text(0.5, 0.5, NOT_ENOUGH, transform=ax.transAxes, ha="center", va="center", color=MUTED, fontsize=11)
        for start, stop, label in _gaps(record):
            ax.axvspan(start / 60, stop / 60, facecolor="none", edgecolor="#9a9a9a", hatch="///", lw=0, zorder=1)
    _label_phases(hr_ax, record, end_min)
    _draw_events(axes, record)
    for ax in (hr_ax, pace_ax):
        handles, labels = ax.get_legend_handles_labels()
        if len(handles) > 1:
            bottom, top = ax.get_ylim()
            ax.set_ylim(bottom, top + 0.25 * (top - bottom))  # headroom: the legend never hides data
            ax.legend(handles, labels, loc="upper right", fontsize=8, frameon=True, framealpha=0.95,
                      ncols=min(len(handles), 4), edgecolor="#cccccc")
    return fig


def _phase_spans(record: SessionRecord) -> list[tuple[int, str, float, float]]:
    spans = []
    for i, p in enumerate(record.phases):
        following = record.phases[i + 1]["started_s"] if i + 1 < len(record.phases) else record.duration_s
        end = p["ended_s"] if p["ended_s"] is not None else following
        spans.append((p["idx"], p["name"], p["started_s"] / 60, max(end, p["started_s"]) / 60))
    return spans


def _shade_phases(ax, record: SessionRecord) -> None:
    for n, (_, _, start, end) in enumerate(_phase_spans(record)):
        ax.axvspan(start, end, color=BANDS[n % 2], zorder=0, lw=0)
        if n:
            ax.axvline(start, color="#b8c4d0", lw=0.7, zorder=1)


def _label_phases(ax, record: SessionRecord, end_min: float) -> None:
    """Phase number and name above the top panel: on one line, else wrapped on two, else the number alone."""
    width_pt = ax.figure.get_figwidth() * 72 * 0.86  # the axes span about 86 % of the figure
    for idx, name, start, end in _phase_spans(record):
        room_chars = int((end - start) / end_min * width_pt / 5.0)  # about 5 pt a character at 8.5 pt
        label = f"{idx + 1}  {name}"
        if len(label) > room_chars:
            lines = textwrap.wrap(label, max(room_chars, 1), break_long_words=False)
            fits = len(lines) == 2 and max(map(len, lines)) <= room_chars
            label = "\n".join(lines) if fits else f"{idx + 1}"
        ax.text((start + end) / 2, 1.02, label, transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                fontsize=8.5, color=INK, clip_on=False, linespacing=1.15)


def _draw_events(axes, record: SessionRecord) -> None:
    counts = {"marker": 0, "alert": 0}
    for e in record.events:
        kind = e["kind"]
        if kind not in counts:
            continue
        counts[kind] += 1
        x = e["t_s"] / 60
        colour, style, tag = (MARKER_COLOUR, "--", "M") if kind == "marker" else (ALERT_COLOUR, "-", "A")
        for ax in axes:
            ax.axvline(x, color=colour, ls=style, lw=1.1, zorder=4)
        axes[-1].annotate(f"{tag}{counts[kind]}", (x, 0), xycoords=("data", "axes fraction"), xytext=(2, 2),
                          textcoords="offset points", color=colour, fontsize=8, fontweight="bold", va="bottom")


# -- the session page -------------------------------------------------------------------------
CSS = """
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; background: #fff;
       max-width: 1100px; margin: 24px auto; padding: 0 24px; font-size: 14px; line-height: 1.45; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 26px 0 8px; padding-bottom: 3px; border-bottom: 1px solid #c8c8c8; }
.sub { color: #5a5a5a; margin: 0 0 14px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 4px 16px; margin: 0; }
dl.meta dt { color: #5a5a5a; } dl.meta dd { margin: 0; font-weight: 600; }
.notice { border-left: 4px solid #c0392b; background: #fbeeee; padding: 8px 12px; margin: 14px 0; }
.info { border-left: 4px solid #7f8c8d; background: #f4f5f5; padding: 8px 12px; margin: 14px 0; }
img.plot { width: 100%; height: auto; border: 1px solid #e0e0e0; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { padding: 4px 6px; border-bottom: 1px solid #e2e2e2; text-align: right; white-space: nowrap; }
th { background: #f2f4f6; font-weight: 600; vertical-align: bottom; }
td.l, th.l { text-align: left; white-space: normal; }
tr.total td { border-top: 2px solid #9a9a9a; font-weight: 600; }
.small { font-size: 12px; color: #5a5a5a; }
.method { font-size: 12px; color: #333; background: #f7f7f7; padding: 8px 10px; margin-top: 8px; }
footer { margin-top: 30px; font-size: 11.5px; color: #5a5a5a; border-top: 1px solid #c8c8c8; padding-top: 8px; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  h2, table, img.plot, .method { break-inside: avoid; page-break-inside: avoid; }
  th { background: #f2f4f6 !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def _meta(items: list[tuple[str, str]]) -> str:
    return '<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def session_html(record: SessionRecord, plot_uri: str | None) -> str:
    s = record.session
    end = clock(record.duration_s)
    parts = [f"<h1>Session report — {esc(s['client'])}</h1>",
             f'<p class="sub">Tidewell relaxation session {s["id"]} · {esc(s["program_title"])}</p>']
    resonance = record.client.get("resonance_bpm")
    parts.append(_meta([
        ("Client", s["client"]),
        ("Date", "removed (anonymized)" if record.anonymized else local_time(s["started_at"])),
        ("Program", f"{s['program_title']} ({s['program_id']})"),
        ("Duration", f"{clock(record.duration_s)} of {s['program_minutes']:.0f} min planned"),
        ("Status", status_words(s["status"])),
        ("Heart sensor", s["sensor"]),
        ("Resonance pace", f"{resonance:.1f} breaths/min" if resonance else "not assessed"),
        ("Beats recorded", str(len(record.beats))),
    ]))
    if s["status"] in STATUS_NOTES:
        parts.append(f'<p class="notice">{esc(STATUS_NOTES[s["status"]].format(end=end))}</p>')
    if s["sensor_kind"] in SENSOR_NOTES:
        parts.append(f'<p class="info">{esc(SENSOR_NOTES[s["sensor_kind"]])}</p>')

    parts.append("<h2>Over the session</h2>")
    if plot_uri is None:
        parts.append("<p>Not enough data to plot: no samples were logged.</p>")
    else:
        parts.append(f'<img class="plot" alt="Heart rate, RMSSD, breathing pace and calm over the session, '
                     f'phases shaded" src="{plot_uri}">')
        parts.append('<p class="small">Shaded bands: phases (numbers as in the table). Dashed blue lines: '
                     'therapist markers (M). Red lines: alerts (A). Hatched: paused or no sensor signal. '
                     'Times are minutes from the session start.</p>')

    parts.append(_phase_table(record))
    parts.append(_self_report_section(record))
    parts.append(_events_section(record))
    parts.append(_footer(record))
    return _page(f"Tidewell session {s['id']} — {s['client']}", "\n".join(parts))


PHASE_COLUMNS = (  # key, heading, format, unit shown in the heading
    ("mean_hr_bpm", "Mean HR<br>bpm", ".1f"), ("sdnn_ms", "SDNN<br>ms", ".1f"), ("rmssd_ms", "RMSSD<br>ms", ".1f"),
    ("pnn50_pct", "pNN50<br>%", ".1f"), ("lf_ms2", "LF<br>ms²", ".0f"), ("hf_ms2", "HF<br>ms²", ".0f"),
    ("lf_hf", "LF/HF", ".2f"), ("coherence", "Coher&shy;ence", ".2f"),
    ("hr_change_bpm", "ΔHR vs<br>baseline", "+.1f"), ("rmssd_change_ms", "ΔRMSSD<br>vs baseline", "+.1f"),
    ("artifact_pct", "Artifacts<br>%", ".1f"),
)


def _phase_table(record: SessionRecord) -> str:
    m = record.metrics
    rows = []
    for p in m["phases"]:
        cells = "".join(f"<td>{num(p.get(k), f)}</td>" for k, _, f in PHASE_COLUMNS)
        rows.append(f'<tr><td>{p["index"] + 1}</td><td class="l">{esc(p["name"])}</td>'
                    f'<td>{clock(p["start_s"])}–{clock(p["end_s"])}</td><td>{p["n_beats"]}</td>{cells}</tr>')
    whole = m["session"]
    cells = "".join(f"<td>{num(whole.get(k), f)}</td>" if k in whole else "<td></td>" for k, _, f in PHASE_COLUMNS)
    rows.append(f'<tr class="total"><td></td><td class="l">whole session</td><td>0:00–{clock(record.duration_s)}</td>'
                f'<td>{whole["n_beats"]}</td>{cells}</tr>')
    heads = "".join(f"<th>{h}</th>" for _, h, _ in PHASE_COLUMNS)
    baseline = m.get("baseline_phase")
    out = ["<h2>Per phase</h2>"]
    if whole["mean_hr_bpm"] is None:
        recorded = f"{plural(len(record.beats), 'beat')} {'was' if len(record.beats) == 1 else 'were'}"
        out.append(f'<p class="notice">Not enough data for heart-rate variability: {recorded} '
                   f'recorded in this session.</p>')
    out.append(f'<table><thead><tr><th>#</th><th class="l">Phase</th><th>Time</th><th>NN<br>beats</th>{heads}'
               f'</tr></thead><tbody>{"".join(rows)}</tbody></table>')
    out.append(f'<p class="small">— = not enough data. Baseline for the changes: the phase '
               f'“{esc(baseline or "none")}”. Artifacts: received beats whose quality is not “ok”.</p>')
    out.append(f'<p class="method"><b>Method.</b> {esc(m["method"])}</p>')
    return "\n".join(out)


def _self_report_section(record: SessionRecord) -> str:
    reports = record.self_reports
    out = ["<h2>Self-report (0–10)</h2>"]
    if not reports:
        out.append("<p>No self-report was recorded for this session.</p>")
        return "\n".join(out)
    before, after = reports.get("before", {}), reports.get("after", {})
    rows = []
    for key, label in (("pain", "Pain (NRS)"), ("stress", "Stress")):
        b, a = before.get(key), after.get(key)
        change = num(a - b, "+d") if a is not None and b is not None else "—"
        rows.append(f'<tr><td class="l">{label}</td><td>{"—" if b is None else b}</td>'
                    f'<td>{"—" if a is None else a}</td><td>{change}</td></tr>')
    out.append('<table style="width:auto;min-width:420px"><thead><tr><th class="l"></th><th>Before</th>'
               f'<th>After</th><th>Change</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    out.append('<p class="small">A negative change means less pain or stress after the session.</p>')
    for moment in ("before", "after"):
        note = reports.get(moment, {}).get("note")
        if note:
            out.append(f"<p><b>Note {moment}:</b> {esc(note)}</p>")
    if record.anonymized:
        out.append('<p class="small">Free-text notes removed (anonymized).</p>')
    return "\n".join(out)


def _events_section(record: SessionRecord) -> str:
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
        if text == record.phase_name(e["phase_idx"]):
            text = ""
        rows.append(f'<tr><td>{clock(e["t_s"])}</td><td class="l">{tag}</td>'
                    f'<td class="l">{esc(event_kinds.label(kind))}</td><td class="l">{esc(record.phase_name(e["phase_idx"]))}</td>'
                    f'<td class="l">{esc(text)}</td></tr>')
    out = ["<h2>Markers, alerts and interruptions</h2>"]
    if not rows:
        out.append("<p>None in this session.</p>")
    else:
        out.append('<table><thead><tr><th>Time</th><th class="l"></th><th class="l">Event</th>'
                   f'<th class="l">Phase</th><th class="l">Text</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return "\n".join(out)


def _footer(record: SessionRecord) -> str:
    if record.anonymized:
        removed = "; ".join(record.removed)
        return f"<footer><b>Anonymized report.</b> Removed: {esc(removed)}.</footer>"
    return f"<footer>Generated by Tidewell on {esc(local_time(utc_now_text()))}. Contains client data: " \
           f"store and share it as clinical notes.</footer>"


def write_html_report(store: SessionStore, session_id: int, path: str | Path, anonymize: bool = False,
                      progress: bool | None = None) -> Path:
    """Write the one-page report of a session; raises ExportError (unknown session, unwritable path)."""
    record = load_session(store, session_id, anonymize=anonymize, progress=progress)
    return write_record_html(record, path, progress)


def html_report(store: SessionStore, session_id: int, anonymize: bool = False) -> str:
    """The one-page report of a session as HTML text, written nowhere (the console serves it);
    raises ExportError for an unknown session."""
    return record_html(load_session(store, session_id, anonymize=anonymize, progress=False))


def record_html(record: SessionRecord) -> str:
    plot = _png_data_uri(session_figure(record)) if record.samples else None
    return session_html(record, plot)


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


def _write(path: Path, text: str) -> None:
    try:
        write_private(path, text)  # owner-only: it holds client data
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def session_text(record: SessionRecord) -> str:
    """The per-phase table and self-report for the terminal."""
    s = record.session
    lines = [f"session {s['id']}: {s['program_title']} for {s['client']!r}, {status_words(s['status'])},"
             f" {clock(record.duration_s)}"]
    if s["status"] in STATUS_NOTES:
        lines.append(STATUS_NOTES[s["status"]].format(end=clock(record.duration_s)))
    head = f"{'#':>2}  {'phase':<22} {'beats':>5} {'HR':>6} {'SDNN':>6} {'RMSSD':>6} {'LF/HF':>6} {'coh':>5} {'ΔHR':>6} {'art%':>5}"
    lines += [head, "-" * len(head)]
    for p in record.metrics["phases"] + [{**record.metrics["session"], "index": None, "name": "whole session"}]:
        lines.append(f"{'' if p['index'] is None else p['index'] + 1:>2}  {p['name'][:22]:<22} {p['n_beats']:>5} "
                     f"{num(p['mean_hr_bpm'], '6.1f'):>6} {num(p['sdnn_ms'], '6.1f'):>6} {num(p['rmssd_ms'], '6.1f'):>6} "
                     f"{num(p['lf_hf'], '6.2f'):>6} {num(p['coherence'], '5.2f'):>5} "
                     f"{num(p.get('hr_change_bpm'), '+6.1f'):>6} {num(p['artifact_pct'], '5.1f'):>5}")
    lines.append("— = not enough data")
    for moment in ("before", "after"):
        r = record.self_reports.get(moment)
        if r:
            lines.append(f"self-report {moment}: pain {r['pain'] if r['pain'] is not None else '—'}, "
                         f"stress {r['stress'] if r['stress'] is not None else '—'}"
                         + (f", note: {r['note']}" if r["note"] else ""))
    lines.append(f"method: {record.metrics['method']}")
    return "\n".join(lines)


# -- the client page --------------------------------------------------------------------------
@dataclass
class ClientSession:
    session_id: int
    started_at: str | None
    program_title: str
    status: str
    duration_s: float
    n_beats: int
    mean_hr_bpm: float | None
    rmssd_ms: float | None
    baseline_hr_bpm: float | None
    baseline_rmssd_ms: float | None
    hr_change_bpm: float | None  # duration-weighted mean of the changes of the phases after the baseline
    rmssd_change_ms: float | None
    pain: tuple[int | None, int | None]  # before, after
    stress: tuple[int | None, int | None]


@dataclass
class ClientOverview:
    client: str  # the pseudonym, or its code when anonymized
    anonymized: bool
    resonance_bpm: float | None
    resonance_session_id: int | None
    sessions: list[ClientSession]


def client_overview(store: SessionStore, pseudonym: str, anonymize: bool = False,
                    progress: bool | None = None) -> ClientOverview:
    rows = store.sessions_of_client(pseudonym)
    client = store.client(pseudonym)
    if not rows and client is None:
        known = ", ".join(c["pseudonym"] for c in store.clients()[:10]) or "none yet"
        raise ExportError(f"no client {pseudonym!r} in {store.path} (known clients: {known})")
    sessions = []
    for row in progress_bar(rows, desc="client sessions", progress=progress, unit="session"):
        m = analyze(store, row["id"])
        reports = store.self_reports(row["id"])
        phases = m["phases"]
        base = next((p for p in phases if p["name"] == m["baseline_phase"]), None)
        after = [p for p in phases if base is not None and p["index"] > base["index"]]
        last_end = max((p["end_s"] for p in phases), default=0.0)

        def pair(key):
            return tuple(reports[k][key] if k in reports else None for k in ("before", "after"))

        sessions.append(ClientSession(
            session_id=row["id"], started_at=None if anonymize else row["started_at"],
            program_title=row["program_title"], status=row["status"], duration_s=last_end,
            n_beats=m["session"]["n_beats"], mean_hr_bpm=m["session"]["mean_hr_bpm"],
            rmssd_ms=m["session"]["rmssd_ms"],
            baseline_hr_bpm=base["mean_hr_bpm"] if base else None,
            baseline_rmssd_ms=base["rmssd_ms"] if base else None,
            hr_change_bpm=_weighted_change(after, "hr_change_bpm"),
            rmssd_change_ms=_weighted_change(after, "rmssd_change_ms"),
            pain=pair("pain"), stress=pair("stress"),
        ))
    return ClientOverview(
        client=anonymous_code(store, pseudonym) if anonymize else pseudonym, anonymized=anonymize,
        resonance_bpm=client["resonance_bpm"] if client else None,
        resonance_session_id=client["resonance_session_id"] if client else None, sessions=sessions,
    )


def _weighted_change(phases: list[dict], key: str) -> float | None:
    pairs = [(p["end_s"] - p["start_s"], p[key]) for p in phases if p[key] is not None and p["end_s"] > p["start_s"]]
    total = sum(w for w, _ in pairs)
    return sum(w * v for w, v in pairs) / total if total > 0 else None


def _before_after(pair: tuple[int | None, int | None]) -> str:
    b, a = pair
    if b is None and a is None:
        return "—"
    return f"{'—' if b is None else b} → {'—' if a is None else a}"


@literal_text()
def client_figure(overview: ClientOverview) -> Figure:
    sessions = overview.sessions
    x = np.arange(len(sessions))
    labels = [f"#{s.session_id}" for s in sessions]
    fig = Figure(figsize=(10, 6.4), layout="constrained")
    hr_ax, rmssd_ax, report_ax = fig.subplots(3, 1, sharex=True)

    def series(attr):
        return np.array([np.nan if getattr(s, attr) is None else getattr(s, attr) for s in sessions], dtype=float)

    hr_ax.plot(x, series("mean_hr_bpm"), "o-", color=HR_COLOUR, label="session mean")
    hr_ax.plot(x, series("baseline_hr_bpm"), "s--", color=HR_COLOUR, alpha=0.55, mfc="white", label="baseline phase")
    hr_ax.set_ylabel("heart rate\n(beats/min)")
    rmssd_ax.plot(x, series("rmssd_ms"), "o-", color=RMSSD_COLOUR, label="session")
    rmssd_ax.plot(x, series("baseline_rmssd_ms"), "s--", color=RMSSD_COLOUR, alpha=0.55, mfc="white",
                  label="baseline phase")
    rmssd_ax.set_ylabel("RMSSD\n(ms)")
    for offset, attr, colour, name in ((-0.08, "pain", HR_COLOUR, "pain"), (0.08, "stress", CALM_COLOUR, "stress")):
        for i, s in enumerate(sessions):
            before, after = getattr(s, attr)
            if before is not None and after is not None:
                report_ax.annotate("", (i + offset, after), (i + offset, before),
                                   arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.4))
            for value, filled in ((before, False), (after, True)):
                if value is not None:
                    report_ax.plot(i + offset, value, "o", color=colour, mfc=colour if filled else "white", ms=6)
        report_ax.plot([], [], "o-", color=colour, label=f"{name}: before ○ → after ●")
    report_ax.set_ylim(-0.5, 10.5)
    report_ax.set_yticks([0, 2, 4, 6, 8, 10])
    report_ax.set_ylabel("self-report\n(0–10)")
    report_ax.set_xticks(x, labels)
    report_ax.set_xlabel("session")
    for ax in (hr_ax, rmssd_ax, report_ax):
        ax.set_xlim(-0.5, max(len(sessions) - 0.5, 0.5))
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        ax.tick_params(colors=INK, labelsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, ncols=2,
                  borderaxespad=0.2)  # above the panel: never over a point
    return fig


def client_html(overview: ClientOverview, plot_uri: str | None) -> str:
    parts = [f"<h1>Client trends — {esc(overview.client)}</h1>",
             f'<p class="sub">Tidewell relaxation sessions: {len(overview.sessions)}</p>']
    resonance = (f"{overview.resonance_bpm:.1f} breaths/min (session {overview.resonance_session_id})"
                 if overview.resonance_bpm else "not assessed")
    parts.append(_meta([("Client", overview.client), ("Sessions", str(len(overview.sessions))),
                        ("Resonance pace", resonance), ("", "")]))
    if not overview.sessions:
        parts.append("<p>Not enough data: this client has no sessions yet.</p>")
    if plot_uri:
        parts.append('<h2>Trends</h2>')
        parts.append(f'<img class="plot" alt="Mean heart rate, RMSSD and self-reports per session" src="{plot_uri}">')
    rows = []
    for s in overview.sessions:
        rows.append(
            f'<tr><td>{s.session_id}</td><td class="l" style="white-space:nowrap">{esc(local_date(s.started_at))}</td>'
            f'<td class="l">{esc(s.program_title)}</td><td class="l">{esc(status_words(s.status))}</td>'
            f'<td>{clock(s.duration_s)}</td><td>{s.n_beats}</td><td>{num(s.mean_hr_bpm, ".1f")}</td>'
            f'<td>{num(s.rmssd_ms, ".1f")}</td><td>{num(s.hr_change_bpm, "+.1f")}</td>'
            f'<td>{num(s.rmssd_change_ms, "+.1f")}</td><td>{_before_after(s.pain)}</td>'
            f'<td>{_before_after(s.stress)}</td></tr>')
    if rows:
        parts.append("<h2>Sessions</h2>")
        parts.append('<table><thead><tr><th>#</th><th class="l">Date</th><th class="l">Program</th>'
                     '<th class="l">Status</th><th>Length</th><th>NN<br>beats</th><th>Mean HR<br>bpm</th>'
                     '<th>RMSSD<br>ms</th><th>ΔHR vs<br>baseline</th><th>ΔRMSSD<br>vs baseline</th>'
                     f'<th>Pain<br>before → after</th><th>Stress<br>before → after</th></tr></thead>'
                     f'<tbody>{"".join(rows)}</tbody></table>')
        parts.append('<p class="small">— = not enough data. ΔHR and ΔRMSSD: the mean change of the phases after the '
                     'baseline (settle) phase, weighted by phase length. Pain (NRS) and stress on 0–10.</p>')
    if overview.anonymized:
        parts.append("<footer><b>Anonymized report.</b> Removed: client pseudonym (replaced by a stable code); "
                     "session dates; free-text notes.</footer>")
    else:
        parts.append(f"<footer>Generated by Tidewell on {esc(local_time(utc_now_text()))}. Contains client data."
                     "</footer>")
    return _page(f"Tidewell client {overview.client}", "\n".join(parts))


def write_client_report(store: SessionStore, pseudonym: str, path: str | Path, anonymize: bool = False,
                        progress: bool | None = None) -> Path:
    """Trends across a client's sessions as one HTML page; raises ExportError for an unknown client."""
    return write_overview_html(client_overview(store, pseudonym, anonymize, progress), path)


def write_overview_html(overview: ClientOverview, path: str | Path) -> Path:
    path = Path(path)
    plot = _png_data_uri(client_figure(overview)) if overview.sessions else None
    _write(path, client_html(overview, plot))
    return path


def client_text(overview: ClientOverview) -> str:
    lines = [f"client {overview.client}: {plural(len(overview.sessions), 'session')}"]
    if overview.resonance_bpm:
        lines.append(f"resonance pace {overview.resonance_bpm:.1f} breaths/min (session {overview.resonance_session_id})")
    head = (f"{'#':>4}  {'date':<10} {'program':<22} {'status':<11} {'HR':>6} {'RMSSD':>6} {'ΔHR':>6} {'ΔRMSSD':>7}"
            f"  {'pain':<7} {'stress':<7}")
    lines += [head, "-" * len(head)]
    for s in overview.sessions:
        lines.append(
            f"{s.session_id:>4}  {local_date(s.started_at)[:10]:<10} {s.program_title[:22]:<22} "
            f"{status_words(s.status)[:11]:<11} {num(s.mean_hr_bpm, '6.1f'):>6} {num(s.rmssd_ms, '6.1f'):>6} "
            f"{num(s.hr_change_bpm, '+6.1f'):>6} {num(s.rmssd_change_ms, '+7.1f'):>7}  "
            f"{_before_after(s.pain):<7} {_before_after(s.stress):<7}")
    lines.append("ΔHR, ΔRMSSD: mean change of the phases after the baseline phase; — = not enough data")
    return "\n".join(lines)


# -- tidewell report ---------------------------------------------------------------------------
def report_command(store: SessionStore, session_id: int | None, client: str | None, html: str | None,
                   csv: str | None, json_path: str | None, anonymize: bool, progress: bool | None = None) -> int:
    """`tidewell report SESSION [--html F] [--csv F] [--json F] [--anonymize]` or
    `tidewell report --client NAME [--html F] [--anonymize]`. Prints what it wrote (or, with no output
    file, a text summary). Returns 0, 2 for a usage error or an unknown session or client, 1 when a file
    cannot be written; messages go to stderr, never a traceback."""
    def fail(message: str, code: int = 2) -> int:
        print(f"tidewell report: {message}", file=sys.stderr)
        return code

    if (session_id is None) == (client is None):
        return fail("give either a session number or --client NAME")
    try:
        if client is not None:
            if csv or json_path:
                return fail("--csv and --json export one session: give its number instead of --client")
            overview = client_overview(store, client, anonymize, progress)
        else:
            record = load_session(store, session_id, anonymize=anonymize, progress=progress)
    except ExportError as exc:
        return fail(str(exc))
    if client is not None:
        print(client_text(overview))
        if html:
            try:
                print(f"wrote client report: {write_overview_html(overview, html)}")
            except ExportError as exc:
                return fail(str(exc), 1)
        return 0
    try:
        if not (html or csv or json_path):
            print(session_text(record))
        if html:
            print(f"wrote HTML report: {write_record_html(record, html, progress)}")
        if csv:
            samples_path, beats_path = export_csv(record, csv, progress)
            print(f"wrote samples CSV: {samples_path} ({plural(len(record.samples), 'row')})")
            print(f"wrote beats CSV: {beats_path} ({plural(len(record.beats), 'row')})")
        if json_path:
            print(f"wrote JSON: {export_json(record, json_path, progress)}")
    except ExportError as exc:
        return fail(str(exc), 1)
    if anonymize:
        print("anonymized: " + "; ".join(record.removed))
    return 0
