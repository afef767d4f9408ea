"""The report for the terminal: a session's per-phase table and self-report, a client's sessions."""

from __future__ import annotations

from tidewell.core.words import plural, status_words
from tidewell.sessions.export import SessionRecord
from tidewell.sessions.report.formatting import STATUS_NOTES, before_after, clock, local_date, num
from tidewell.sessions.report.trends import ClientOverview


def session_text(record: SessionRecord) -> str:
    """The per-phase table and self-report for the terminal."""
    s = record.session
    lines = [
        f"session {s['id']}: {s['program_title']} for {s['client']!r}, {status_words(s['status'])},"
        f" {clock(record.duration_s)}"
    ]
    if s["status"] in STATUS_NOTES:
        lines.append(STATUS_NOTES[s["status"]].format(end=clock(record.duration_s)))
    head = (
        f"{'#':>2}  {'phase':<22} {'beats':>5} {'HR':>6} {'SDNN':>6} {'RMSSD':>6} {'LF/HF':>6} {'coh':>5} "
        f"{'ΔHR':>6} {'art%':>5}"
    )
    lines += [head, "-" * len(head)]
    for p in record.metrics["phases"] + [{**record.metrics["session"], "index": None, "name": "whole session"}]:
        lines.append(
            f"{'' if p['index'] is None else p['index'] + 1:>2}  {p['name'][:22]:<22} {p['n_beats']:>5} "
            f"{num(p['mean_hr_bpm'], '6.1f'):>6} {num(p['sdnn_ms'], '6.1f'):>6} "
            f"{num(p['rmssd_ms'], '6.1f'):>6} {num(p['lf_hf'], '6.2f'):>6} {num(p['coherence'], '5.2f'):>5} "
            f"{num(p.get('hr_change_bpm'), '+6.1f'):>6} {num(p['artifact_pct'], '5.1f'):>5}"
        )
    lines.append("— = not enough data")
    for moment in ("before", "after"):
        r = record.self_reports.get(moment)
        if r:
            lines.append(
                f"self-report {moment}: pain {r['pain'] if r['pain'] is not None else '—'}, "
                f"stress {r['stress'] if r['stress'] is not None else '—'}"
                + (f", note: {r['note']}" if r["note"] else "")
            )
    lines.append(f"method: {record.metrics['method']}")
    return "\n".join(lines)


def client_text(overview: ClientOverview) -> str:
    lines = [f"client {overview.client}: {plural(len(overview.sessions), 'session')}"]
    if overview.resonance_bpm:
        lines.append(
            f"resonance pace {overview.resonance_bpm:.1f} breaths/min (session {overview.resonance_session_id})"
        )
    head = (
        f"{'#':>4}  {'date':<10} {'program':<22} {'status':<11} {'HR':>6} {'RMSSD':>6} {'ΔHR':>6} {'ΔRMSSD':>7}"
        f"  {'pain':<7} {'stress':<7}"
    )
    lines += [head, "-" * len(head)]
    for s in overview.sessions:
        lines.append(
            f"{s.session_id:>4}  {local_date(s.started_at)[:10]:<10} {s.program_title[:22]:<22} "
            f"{status_words(s.status)[:11]:<11} {num(s.mean_hr_bpm, '6.1f'):>6} {num(s.rmssd_ms, '6.1f'):>6} "
            f"{num(s.hr_change_bpm, '+6.1f'):>6} {num(s.rmssd_change_ms, '+7.1f'):>7}  "
            f"{before_after(s.pain):<7} {before_after(s.stress):<7}"
        )
    lines.append("ΔHR, ΔRMSSD: mean change of the phases after the baseline phase; — = not enough data")
    return "\n".join(lines)
