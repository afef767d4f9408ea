"""What the course report reads beyond the course summary (sessions/course.py): each session's
whole-session HRV (SDNN), its baseline phase's span, its calm index and when things were recorded.

One CourseReport feeds the PDF and the FHIR bundle, so the two say the same numbers. Under anonymize
it holds no calendar date or clock time and no free text (goals, referrer, re-assessment notes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tidewell.sessions.course import Course, CourseSession, course
from tidewell.sessions.export import ANONYMIZED_REMOVALS, progress_bar, utc_now_text
from tidewell.sessions.hrv import HrvResult
from tidewell.sessions.session_metrics import session_metrics
from tidewell.sessions.store import SessionStore

# What --anonymize removes from the course report: the session exports' list, and the course's own free text.
COURSE_ANONYMIZED_REMOVALS = (
    *ANONYMIZED_REMOVALS,
    "treatment goals, the referrer and re-assessment notes (free text)",
    "intake, plan and rating dates",
)
HRV_MEASURES = ("baseline_hr", "sdnn", "rmssd", "rmssd_change", "calm")  # withheld where HRV is not interpretable


@dataclass(frozen=True)
class SessionDetail:
    started_at: str | None  # ISO 8601 with offset; None when anonymized
    ended_at: str | None  # the later of the logged end and the start plus the session's length
    whole: HrvResult  # the whole session (sessions/hrv.py)
    baseline_span_s: tuple[float, float] | None  # the baseline phase, seconds from the start
    calm_mean: float | None  # mean logged calm index (0-1) after the baseline phase
    reported_at: dict[str, str | None]  # "before" / "after" self-report times
    rated_at: str | None  # the cybersickness rating's time


@dataclass
class CourseReport:
    course: Course
    anonymized: bool
    made_at: str | None
    details: dict[int, SessionDetail] = field(default_factory=dict)  # by session id

    @property
    def removed(self) -> tuple[str, ...]:
        return COURSE_ANONYMIZED_REMOVALS if self.anonymized else ()

    def detail(self, s: CourseSession) -> SessionDetail:
        return self.details[s.session.session_id]

    def value(self, s: CourseSession, name: str) -> float | None:
        """A session's number for the FHIR bundle and the method notes; None where it has none or where
        HRV is not interpretable (the HRV measures of HRV_MEASURES)."""
        if name in HRV_MEASURES and s.hrv_note:
            return None
        d, cs = self.detail(s), s.session
        return {
            "mean_hr": d.whole.mean_hr_bpm,
            "baseline_hr": cs.baseline_hr_bpm,
            "sdnn": d.whole.sdnn_ms,
            "rmssd": d.whole.rmssd_ms,
            "rmssd_change": cs.rmssd_change_ms,
            "calm": d.calm_mean,
        }[name]

    @property
    def goals(self) -> tuple[str, ...]:
        intake = self.course.intake
        return () if intake is None or self.anonymized else intake.goals

    @property
    def referrer(self) -> str:
        intake = self.course.intake
        return "" if intake is None or self.anonymized else intake.referrer


def course_report(
    store: SessionStore, pseudonym: str, anonymize: bool = False, progress: bool | None = None
) -> CourseReport:
    """Raises ExportError (through course()) for an unknown client."""
    summary = course(store, pseudonym, anonymize=anonymize)
    report = CourseReport(summary, anonymize, None if anonymize else utc_now_text())
    for s in progress_bar(summary.sessions, desc="course sessions", progress=progress, unit="session"):
        report.details[s.session.session_id] = _detail(store, s, anonymize)
    return report


def _detail(store: SessionStore, s: CourseSession, anonymize: bool) -> SessionDetail:
    sid = s.session.session_id
    metrics = session_metrics(store, sid)  # stored once per session
    base = metrics.baseline
    row = store.session(sid)
    reports = store.self_reports(sid)
    rating = store.cybersickness(sid)
    started = None if anonymize else row["started_at"]
    return SessionDetail(
        started_at=started,
        ended_at=None if anonymize else _end(started, row["ended_at"], s.session.duration_s),
        whole=metrics.hrv.whole,
        baseline_span_s=(base.start_s, base.end_s) if base else None,
        calm_mean=metrics.calm_after_baseline,
        reported_at={m: None if anonymize or m not in reports else reports[m]["recorded_at"] for m in reports},
        rated_at=None if anonymize or rating is None else rating["recorded_at"],
    )


def _end(started_at: str, ended_at: str | None, duration_s: float) -> str:
    """A session played in virtual time ends, by the wall clock, before its own length has passed."""
    by_length = offset(started_at, duration_s)
    return max(by_length, ended_at or by_length, key=datetime.fromisoformat)


def offset(iso: str, seconds: float) -> str:
    """The ISO time `seconds` after `iso`, to the second, with its offset."""
    return (datetime.fromisoformat(iso) + timedelta(seconds=seconds)).isoformat(timespec="seconds")
