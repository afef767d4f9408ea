"""The course report's sections as reportlab flowables: the course at a glance, goals, the plots, the
sessions, precautions, cybersickness, re-assessments and the method notes. `Fit` says how much detail
they may take, so pdf.py can shorten them until the report fits on two pages."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from tidewell.core.words import or_dash, plural, status_words
from tidewell.sessions.course_report.data import CourseReport
from tidewell.sessions.course_report.methods import BEATS, FLAGS, HRV_NOT_INTERPRETABLE, METHODS
from tidewell.sessions.precaution_list import PRECAUTIONS
from tidewell.sessions.report.formatting import before_after, local_date, num

GRID = colors.HexColor("#c8c8c8")
HEAD = colors.HexColor("#eef2f7")
NOT_INTERPRETABLE = "n.i."


@dataclass(frozen=True)
class Fit:
    rows: int | None = None  # session rows per table (the latest), None for all
    changes: int | None = None  # precaution changes listed
    chars: int | None = None  # characters of a goal or a rule


def shorten(text: str, chars: int | None) -> str:
    return text if chars is None or len(text) <= chars else text[: max(chars - 1, 1)].rstrip() + "…"


def para(text: str, style) -> Paragraph:
    """Text as typed: markup characters in goals or program titles are shown, never interpreted."""
    return Paragraph(escape(text), style)


def heading(text: str, styles) -> list:
    return [Spacer(1, 0.18 * cm), Paragraph(escape(text), styles["heading"])]


def overview(report: CourseReport, styles) -> list:
    c = report.course
    who = f"{c.client} (anonymized: a code stable in this installation)" if report.anonymized else f"client {c.client}"
    made = f" · made {local_date(report.made_at)}" if report.made_at else ""
    lines = [Paragraph("Treatment course report", styles["title"]), para(who + made, styles["muted"])]
    if report.referrer:
        lines.append(para(f"for the referring provider: {report.referrer}", styles["muted"]))
    if c.plan:
        p = c.plan
        text = (
            f"Sessions done: {c.sessions_done} of {p.sessions_planned} planned ({p.per_week:g} a week; "
            f"programs {', '.join(p.programs)}; re-assessment every {plural(p.reassess_every, 'session')})."
        )
        if c.next_program:
            text += f" Next session's program: {c.next_program}."
        if c.reassessment_due:
            text += f" A re-assessment is due (after session {c.reassessment_due})."
    else:
        text = f"Sessions done: {c.sessions_done} (no plan recorded, so none planned)."
    if len(c.sessions) > c.sessions_done:
        text += f" {plural(len(c.sessions) - c.sessions_done, 'further session')} interrupted or still running."
    return lines + [Spacer(1, 0.12 * cm), para(text, styles["body"])]


def goals(report: CourseReport, styles, fit: Fit) -> list:
    out = heading("Goals", styles)
    if report.anonymized and report.course.intake and report.course.intake.goals:
        return out + [para("withheld: free text is removed by --anonymize", styles["muted"])]
    if not report.goals:
        return out + [para("no goals recorded at intake", styles["muted"])]
    return out + [para(f"• {shorten(goal, fit.chars)}", styles["body"]) for goal in report.goals]


def sessions_table(report: CourseReport, styles, fit: Fit, width: float) -> list:
    c = report.course
    out = heading("Sessions", styles)
    if not c.sessions:
        return out + [para("no sessions logged yet", styles["muted"])]
    shown, note = _latest(c.sessions, fit)
    rows = [["#", "date", "program", "status", "length", "HR", "RMSSD", "ΔRMSSD", "pain", "stress"]]
    for s in shown:
        cs = s.session
        rows.append(
            [
                str(s.number),
                local_date(cs.started_at)[:10],
                para(cs.program_title, styles["cell"]),
                status_words(cs.status),
                f"{cs.duration_s / 60:.0f} min",
                num(cs.mean_hr_bpm, ".0f"),
                _hrv(report, s, "rmssd"),
                _hrv(report, s, "rmssd_change", "+.1f"),
                before_after(cs.pain),
                before_after(cs.stress),
            ]
        )
    share = (0.04, 0.1, 0.24, 0.11, 0.08, 0.06, 0.08, 0.09, 0.1, 0.1)
    out.append(_table(rows, [width * f for f in share], styles))
    legend = "HR: session mean, beats/min; RMSSD: whole session, ms; ΔRMSSD: change from the baseline phase; "
    legend += f"pain and stress: before → after; — no data; {NOT_INTERPRETABLE} not interpretable (method notes)."
    return out + [para(legend + note, styles["small"])]


def _hrv(report: CourseReport, s, name: str, fmt: str = ".1f") -> str:
    return NOT_INTERPRETABLE if s.hrv_note else num(report.value(s, name), fmt)


def _latest(sessions: list, fit: Fit) -> tuple[list, str]:
    if fit.rows is None or len(sessions) <= fit.rows:
        return sessions, ""
    hidden = len(sessions) - fit.rows
    return sessions[hidden:], f" Sessions 1-{hidden} are not listed here: the plots and the FHIR bundle have them."


def _table(rows: list, widths: list[float], styles) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), styles["cell"].fontName, styles["cell"].fontSize),
                ("FONT", (0, 0), (-1, 0), styles["heading"].fontName, styles["cell"].fontSize),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, GRID),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return table


def precautions(report: CourseReport, styles, fit: Fit) -> list:
    out = heading("Precautions applied", styles)
    names = report.course.intake.precautions if report.course.intake else ()
    if not names:
        return out + [para("no precautions recorded at intake: sessions played as programmed", styles["muted"])]
    for name in names:
        p = PRECAUTIONS[name]
        out.append(Paragraph(f"<b>{escape(p.label)}</b>: {escape(shorten(p.rule, fit.chars))}", styles["body"]))
    applied: dict[str, list[int]] = defaultdict(list)
    for s in report.course.sessions:
        for change in dict.fromkeys(s.precautions):
            applied[change].append(s.number)
    if not applied:
        return out + [para("no session has been played under them yet", styles["muted"])]
    out.append(para("What they changed in the sessions played:", styles["body"]))
    changes = list(applied.items())
    for change, numbers in changes[: fit.changes]:
        out.append(para(f"• {change} ({_numbers(numbers)})", styles["small"]))
    if fit.changes is not None and len(changes) > fit.changes:
        out.append(para(f"… and {plural(len(changes) - fit.changes, 'further change')}", styles["small"]))
    return out


def _numbers(numbers: list[int]) -> str:
    """[3] -> 'session 3', [1, 2, 3, 5] -> 'sessions 1-3, 5'."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    text = ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
    return f"session{'s' if len(numbers) > 1 else ''} {text}"


def cybersickness(report: CourseReport, styles, fit: Fit, width: float) -> list:
    c = report.course
    out = heading("Cybersickness", styles)
    rated = [s for s in c.sessions if s.fms is not None]
    if not rated:
        return out + [para("no FMS or SSQ ratings recorded", styles["muted"])]
    shown, note = _latest(rated, fit)
    rows = [["#", "shown on", "FMS (0-20)", "SSQ nausea", "oculomotor", "disorientation", "SSQ total"]]
    for s in shown:
        q = s.ssq
        rows.append(
            [str(s.number), "headset" if s.target == "xr" else "screen", str(s.fms)]
            + (
                [num(q.nausea, ".1f"), num(q.oculomotor, ".1f"), num(q.disorientation, ".1f"), num(q.total, ".1f")]
                if q
                else ["—"] * 4
            )
        )
    share = (0.05, 0.11, 0.12, 0.13, 0.13, 0.15, 0.12)
    out += [_table(rows, [width * f for f in share], styles)]
    if note:
        out.append(para(note.strip().replace("Sessions", "Ratings of sessions"), styles["small"]))
    flags = c.flags or ["no flags: FMS not rising and below the eyes-closed threshold"]
    return out + [para(f"• {flag}", styles["body"]) for flag in flags]


def reassessments(report: CourseReport, styles, width: float) -> list:
    found = report.course.reassessments
    if not found:
        return []
    rows = [["after session", "pain", "stress", "goal progress (0-10)", "note"]]
    for r in found:
        note = "" if report.anonymized else shorten(r["note"], 120)
        rows.append(
            [
                str(r["sessions_done"]),
                or_dash(r["pain"]),
                or_dash(r["stress"]),
                or_dash(r["goal_progress"]),
                para(note, styles["cell"]),
            ]
        )
    share = (0.12, 0.08, 0.08, 0.17, 0.55)
    return heading("Re-assessments", styles) + [_table(rows, [width * f for f in share], styles)]


def method_notes(report: CourseReport, styles) -> list:
    out = heading("Method notes", styles) + [para(BEATS, styles["small"])]
    for name, label in (
        ("mean_hr", "Heart rate"),
        ("baseline_hr", "Resting heart rate"),
        ("sdnn", "SDNN"),
        ("rmssd", "RMSSD"),
        ("rmssd_change", "ΔRMSSD"),
        ("calm", "Calm index"),
        ("pain", "Pain"),
        ("stress", "Stress"),
        ("fms", "FMS"),
        ("ssq", "SSQ"),
    ):
        out.append(Paragraph(f"<b>{escape(label)}</b>: {escape(METHODS[name])}.", styles["small"]))
    out.append(para(FLAGS, styles["small"]))
    out.append(para(HRV_NOT_INTERPRETABLE, styles["small"]))
    withheld = [s for s in report.course.sessions if s.hrv_note]
    if withheld:
        by_note: dict[str, list[int]] = defaultdict(list)
        for s in withheld:
            by_note[s.hrv_note].append(s.number)
        for note, numbers in by_note.items():
            out.append(
                Paragraph(f"<b>HRV not interpretable in {_numbers(numbers)}</b>: {escape(note)}.", styles["small"])
            )
    elif report.course.sessions:
        out.append(para("HRV is interpretable in every session of this course.", styles["small"]))
    if report.anonymized:
        out.append(para("Anonymized (--anonymize): removed " + "; ".join(report.removed) + ".", styles["small"]))
    return out
