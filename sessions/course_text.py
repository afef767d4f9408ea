"""A client's course as text for the terminal (`tidewell clients show`)."""

from __future__ import annotations

from tidewell.core.words import or_dash, plural
from tidewell.sessions.course import MEASURE_LABELS, Course
from tidewell.sessions.precaution_list import PRECAUTIONS


def format_course(course: Course) -> str:
    lines = [f"client {course.client}"]
    intake = course.intake
    if intake is None:
        lines.append("  no intake recorded (tidewell clients intake NAME --precaution ... --goal ...)")
    else:
        lines.append(
            f"  intake {intake.recorded_at[:10]}" + (f", referred by {intake.referrer}" if intake.referrer else "")
        )
        lines += [f"  precaution {PRECAUTIONS[n].label}: {PRECAUTIONS[n].rule}" for n in intake.precautions]
        lines += [f"  goal: {goal}" for goal in intake.goals]
    plan = course.plan
    if plan is None:
        lines.append(f"  no plan; {plural(course.sessions_done, 'session')} done")
    else:
        lines.append(
            f"  plan: {course.sessions_done} of {plural(plan.sessions_planned, 'session')} done, "
            f"{plan.per_week:g} a week, re-assessment every {plural(plan.reassess_every, 'session')}"
        )
        if course.next_program:
            lines.append(f"  next session: {course.next_program}")
    if course.reassessment_due is not None:
        lines.append(
            f"  re-assessment due (after {plural(course.reassessment_due, 'session')}): tidewell clients reassess"
        )
    for measure in course.measures:
        series = course.series(measure)
        values = "  ".join(f"#{n} {_value(measure, v)}" for n, v in series)
        lines.append(f"  {MEASURE_LABELS[measure]}: {values or 'no data yet'}")
    notes = {s.hrv_note for s in course.sessions if s.hrv_note}
    lines += [f"  HRV not interpretable: {note}" for note in sorted(notes)]
    for row in course.reassessments:
        lines.append(
            f"  re-assessed after {plural(row['sessions_done'], 'session')}: pain {or_dash(row['pain'])}, "
            f"stress {or_dash(row['stress'])}, goal progress {or_dash(row['goal_progress'])}"
            + (f", {row['note']}" if row["note"] else "")
        )
    lines += [f"  {flag}" for flag in course.flags]
    return "\n".join(lines)


def _value(measure: str, value: float) -> str:
    if measure == "rmssd_change":
        return f"{value:+.1f}"
    return f"{value:.0f}" if measure in ("pain", "stress", "fms") else f"{value:.1f}"
