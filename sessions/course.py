"""A client's treatment course read back from the log: intake, plan, each session's measures, the
re-assessments, cybersickness and what it suggests. The console's client view, `tidewell clients show`
and the course reports (PDF, FHIR) all read this one summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tidewell.sessions.precaution_list import PRECAUTIONS, hrv_note
from tidewell.sessions.report.trends import ClientSession, client_overview
from tidewell.sessions.store import SessionStore
from tidewell.sessions.store_course import MEASURES, Intake, Plan

# Simulator Sickness Questionnaire (Kennedy, Lane, Berbaum and Lilienthal 1993): 16 symptoms rated
# 0-3; each subscale is a raw sum of its items times its weight, the total the three raw sums times 3.74.
SSQ_SYMPTOMS = (
    "general discomfort",
    "fatigue",
    "headache",
    "eyestrain",
    "difficulty focusing",
    "increased salivation",
    "sweating",
    "nausea",
    "difficulty concentrating",
    "fullness of head",
    "blurred vision",
    "dizzy (eyes open)",
    "dizzy (eyes closed)",
    "vertigo",
    "stomach awareness",
    "burping",
)
SSQ_SUBSCALES = {  # item numbers (1-based, as printed on the questionnaire), weight
    "nausea": ((1, 6, 7, 8, 9, 15, 16), 9.54),
    "oculomotor": ((1, 2, 3, 4, 5, 9, 11), 7.58),
    "disorientation": ((5, 8, 10, 11, 12, 13, 14), 13.92),
}
SSQ_TOTAL_WEIGHT = 3.74
# Above these, the next session is suggested in the eyes-closed scene: FMS 6 of 20 is past "slight"
# on Keshavarz and Hecht's scale; an SSQ total above 20 is where simulator studies call sickness
# significant (Stanney, Kennedy and Drexler 1997).
FMS_SUGGEST_EYES_CLOSED = 6
SSQ_TOTAL_SUGGEST_EYES_CLOSED = 20.0
MEASURE_LABELS = {
    "pain": "pain before (NRS 0-10)",
    "stress": "stress before (0-10)",
    "resting_hr": "resting heart rate (bpm, baseline phase)",
    "rmssd_change": "RMSSD change from the baseline phase (ms)",
    "fms": "cybersickness (FMS 0-20)",
}


@dataclass(frozen=True)
class SsqScores:
    nausea: float
    oculomotor: float
    disorientation: float
    total: float


def ssq_scores(items) -> SsqScores:
    items = list(items)
    if len(items) != len(SSQ_SYMPTOMS):
        raise ValueError(f"the SSQ has {len(SSQ_SYMPTOMS)} items, got {len(items)}")
    raw = {name: sum(items[i - 1] for i in numbers) for name, (numbers, _) in SSQ_SUBSCALES.items()}
    return SsqScores(
        *(raw[name] * weight for name, (_, weight) in SSQ_SUBSCALES.items()),
        total=sum(raw.values()) * SSQ_TOTAL_WEIGHT,
    )


@dataclass
class CourseSession:
    number: int  # 1-based, in the order the client had them
    session: ClientSession
    target: str | None  # "xr" for a headset session
    fms: int | None
    ssq: SsqScores | None
    precautions: list[str]  # what the client's precautions changed in it (the log's precaution events)
    hrv_note: str | None  # why its HRV is not interpretable, where it is not

    def measure(self, name: str) -> float | None:
        s = self.session
        if name in ("resting_hr", "rmssd_change") and self.hrv_note:
            return None
        return {
            "pain": s.pain[0],
            "stress": s.stress[0],
            "resting_hr": s.baseline_hr_bpm,
            "rmssd_change": s.rmssd_change_ms,
            "fms": self.fms,
        }[name]


@dataclass
class Course:
    client: str  # the pseudonym, or its code when anonymized
    intake: Intake | None
    plan: Plan | None
    sessions: list[CourseSession]
    reassessments: list[dict] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # cybersickness findings, for the therapist
    suggest_eyes_closed: bool = False

    @property
    def sessions_done(self) -> int:
        return sum(1 for s in self.sessions if s.session.status in ("completed", "ended_early"))

    @property
    def measures(self) -> tuple[str, ...]:
        return self.plan.measures if self.plan else MEASURES

    @property
    def reassessment_due(self) -> int | None:
        """The session count at which a re-assessment is due and not yet recorded, or None."""
        if self.plan is None or self.sessions_done == 0 or self.sessions_done % self.plan.reassess_every:
            return None
        done = {r["sessions_done"] for r in self.reassessments}
        return None if self.sessions_done in done else self.sessions_done

    @property
    def next_program(self) -> str | None:
        if self.plan is None or self.sessions_done >= self.plan.sessions_planned:
            return None
        return self.plan.program_for(self.sessions_done + 1)

    def series(self, measure: str) -> list[tuple[int, float]]:
        """(session number, value) of every session that has the measure."""
        return [(s.number, v) for s in self.sessions if (v := s.measure(measure)) is not None]

    def precaution_labels(self) -> list[str]:
        return [PRECAUTIONS[name].label for name in (self.intake.precautions if self.intake else ())]


def course(store: SessionStore, pseudonym: str, anonymize: bool = False) -> Course:
    """Raises ExportError (from client_overview) for an unknown client."""
    overview = client_overview(store, pseudonym, anonymize=anonymize, progress=False)
    ratings = {row["session_id"]: row for row in store.cybersickness_of_client(pseudonym)}
    rows = {row["id"]: row for row in store.sessions_of_client(pseudonym)}
    sessions = []
    for number, session in enumerate(overview.sessions, start=1):
        rating = ratings.get(session.session_id)
        applied = [e["detail"] for e in store.events(session.session_id) if e["kind"] == "precaution"]
        sessions.append(
            CourseSession(
                number,
                session,
                rows[session.session_id]["target"],
                None if rating is None else rating["fms"],
                None if rating is None or rating["ssq"] is None else ssq_scores(json.loads(rating["ssq"])),
                applied,
                hrv_note(applied),
            )
        )
    result = Course(
        overview.client,
        store.intake(pseudonym),
        store.plan(pseudonym),
        sessions,
        [dict(row) for row in store.reassessments(pseudonym)],
    )
    result.flags, result.suggest_eyes_closed = cybersickness_findings(sessions)
    return result


def cybersickness_findings(sessions: list[CourseSession]) -> tuple[list[str], bool]:
    """Rising: the last three FMS ratings rose each time, or the latest is 3 or more above the first.
    Eyes closed suggested: the latest FMS >= FMS_SUGGEST_EYES_CLOSED or SSQ total above its threshold."""
    rated = [s for s in sessions if s.fms is not None]
    flags = []
    if len(rated) >= 2:
        last3 = [s.fms for s in rated[-3:]]
        rising = (len(last3) == 3 and last3[0] < last3[1] < last3[2]) or rated[-1].fms - rated[0].fms >= 3
        if rising:
            flags.append("cybersickness rising across sessions: FMS " + " -> ".join(str(s.fms) for s in rated[-4:]))
    suggest = False
    if rated:
        latest = rated[-1]
        ssq_high = latest.ssq is not None and latest.ssq.total > SSQ_TOTAL_SUGGEST_EYES_CLOSED
        if latest.fms >= FMS_SUGGEST_EYES_CLOSED or ssq_high:
            suggest = True
            flags.append(
                f"session {latest.number}: FMS {latest.fms}"
                + (f", SSQ total {latest.ssq.total:.1f}" if latest.ssq else "")
                + ": next time, the eyes-closed scene is suggested (tidewell run --eyes-closed)"
            )
    return flags, suggest
