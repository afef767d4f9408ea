"""The session log's treatment course: intake, plan, re-assessments and cybersickness ratings.

The part of SessionStore that speaks of a client's course. Values are checked here, at the one door
every writer (CLI, console, tests) goes through; the schema's CHECKs are the second line."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from tidewell.core.errors import UsageError
from tidewell.core.limits import MAX_NOTE_CHARS
from tidewell.core.terminal import control_characters
from tidewell.sessions.precaution_list import checked_precautions
from tidewell.sessions.store_schema import utc_now

MEASURES = ("pain", "stress", "resting_hr", "rmssd_change", "fms")  # what a plan may track
MAX_GOALS = 10
SSQ_ITEMS = 16


class CourseInputError(UsageError, ValueError):
    """A value for the course that is out of its range; the message names the field."""


@dataclass(frozen=True)
class Intake:
    pseudonym: str
    precautions: tuple[str, ...]
    goals: tuple[str, ...]
    referrer: str
    recorded_at: str


@dataclass(frozen=True)
class Plan:
    pseudonym: str
    sessions_planned: int
    per_week: float
    programs: tuple[str, ...]  # program id per session, repeated from the start when the plan is longer
    measures: tuple[str, ...]
    reassess_every: int  # a re-assessment is due after every this many sessions
    recorded_at: str

    def program_for(self, session_number: int) -> str:
        """The program of the plan's `session_number`-th session (1-based)."""
        return self.programs[(session_number - 1) % len(self.programs)]


class CourseRecords:
    """Mixed into SessionStore, whose connection (`conn`), transaction (`_writing`), ensure_client and
    session it uses."""

    conn: sqlite3.Connection

    # -- intake ---------------------------------------------------------------------------
    def set_intake(self, pseudonym: str, precautions=(), goals=(), referrer: str = "") -> Intake:
        precautions = checked_precautions(precautions)
        goals = tuple(_text(goal, "goal", MAX_NOTE_CHARS) for goal in goals if str(goal).strip())
        if len(goals) > MAX_GOALS:
            raise CourseInputError(f"goal: at most {MAX_GOALS} goals, got {len(goals)}")
        referrer = _text(referrer, "referrer", 200, empty=True)
        self.ensure_client(pseudonym)
        with self._writing():
            self.conn.execute(
                "INSERT OR REPLACE INTO intakes VALUES (?, ?, ?, ?, ?)",
                (pseudonym, json.dumps(precautions), json.dumps(goals), referrer, utc_now()),
            )
        return self.intake(pseudonym)

    def intake(self, pseudonym: str) -> Intake | None:
        row = self.conn.execute("SELECT * FROM intakes WHERE pseudonym = ?", (pseudonym,)).fetchone()
        if row is None:
            return None
        return Intake(
            row["pseudonym"],
            tuple(json.loads(row["precautions"])),
            tuple(json.loads(row["goals"])),
            row["referrer"],
            row["recorded_at"],
        )

    # -- plan -----------------------------------------------------------------------------
    def set_plan(
        self,
        pseudonym: str,
        *,
        sessions_planned: int,
        per_week: float,
        programs,
        measures=MEASURES,
        reassess_every: int = 4,
    ) -> Plan:
        sessions_planned = _whole(sessions_planned, "sessions", 1, 100)
        reassess_every = _whole(reassess_every, "reassess_every", 1, 100)
        if isinstance(per_week, bool) or not isinstance(per_week, int | float) or not 0 < per_week <= 7:
            raise CourseInputError(f"per_week: expected sessions per week above 0 and at most 7, got {per_week!r}")
        programs = tuple(programs)
        if not programs or not all(isinstance(p, str) and p.strip() for p in programs):
            raise CourseInputError(f"program: expected at least one program id, got {list(programs)!r}")
        measures = tuple(dict.fromkeys(measures))
        unknown = [m for m in measures if m not in MEASURES]
        if unknown:
            raise CourseInputError(f"measure: unknown {unknown[0]!r}, expected some of {', '.join(MEASURES)}")
        self.ensure_client(pseudonym)
        with self._writing():
            self.conn.execute(
                "INSERT OR REPLACE INTO plans VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    pseudonym,
                    sessions_planned,
                    float(per_week),
                    json.dumps(programs),
                    json.dumps(measures),
                    reassess_every,
                    utc_now(),
                ),
            )
        return self.plan(pseudonym)

    def plan(self, pseudonym: str) -> Plan | None:
        row = self.conn.execute("SELECT * FROM plans WHERE pseudonym = ?", (pseudonym,)).fetchone()
        if row is None:
            return None
        return Plan(
            row["pseudonym"],
            row["sessions_planned"],
            row["per_week"],
            tuple(json.loads(row["programs"])),
            tuple(json.loads(row["measures"])),
            row["reassess_every"],
            row["recorded_at"],
        )

    # -- re-assessments -------------------------------------------------------------------
    def set_reassessment(
        self,
        pseudonym: str,
        sessions_done: int,
        *,
        pain: int | None = None,
        stress: int | None = None,
        goal_progress: int | None = None,
        note: str = "",
    ) -> None:
        sessions_done = _whole(sessions_done, "sessions_done", 0, 10_000)
        values = [
            _rating(v, label, 10) for v, label in ((pain, "pain"), (stress, "stress"), (goal_progress, "goal_progress"))
        ]
        note = _text(note, "note", MAX_NOTE_CHARS, empty=True)
        if self.client(pseudonym) is None:
            raise UsageError(f"no client {pseudonym!r}")
        with self._writing():
            self.conn.execute(
                "INSERT OR REPLACE INTO reassessments VALUES (?, ?, ?, ?, ?, ?, ?)",
                (pseudonym, sessions_done, *values, note, utc_now()),
            )

    def reassessments(self, pseudonym: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM reassessments WHERE pseudonym = ? ORDER BY sessions_done", (pseudonym,)
        ).fetchall()

    # -- cybersickness --------------------------------------------------------------------
    def set_cybersickness(self, session_id: int, fms: int, ssq=None) -> None:
        """fms: the Fast Motion sickness Scale, 0-20; ssq: the 16 SSQ items, each 0-3, or None."""
        fms = _rating(fms, "fms", 20, required=True)
        if ssq is not None:
            ssq = list(ssq)
            if len(ssq) != SSQ_ITEMS or not all(_rating(v, "ssq", 3, required=True) is not None for v in ssq):
                raise CourseInputError(f"ssq: expected {SSQ_ITEMS} item ratings, each 0-3, got {len(ssq)}")
        if self.session(session_id) is None:
            raise UsageError(f"no session {session_id}")
        with self._writing():
            self.conn.execute(
                "INSERT OR REPLACE INTO cybersickness VALUES (?, ?, ?, ?)",
                (session_id, fms, None if ssq is None else json.dumps(ssq), utc_now()),
            )

    def cybersickness(self, session_id: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM cybersickness WHERE session_id = ?", (session_id,)).fetchone()

    def cybersickness_of_client(self, pseudonym: str) -> list[sqlite3.Row]:
        """The client's ratings, oldest session first, each with its session's id and start."""
        return self.conn.execute(
            "SELECT c.*, s.started_at FROM cybersickness c JOIN sessions s ON s.id = c.session_id "
            "WHERE s.client = ? ORDER BY s.id",
            (pseudonym,),
        ).fetchall()


def _whole(value, label: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CourseInputError(f"{label}: expected a whole number from {low} to {high}, got {value!r}")
    return value


def _rating(value, label: str, high: int, required: bool = False) -> int | None:
    if value is None and not required:
        return None
    return _whole(value, label, 0, high)


def _text(value, label: str, limit: int, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise CourseInputError(f"{label}: expected text, got {value!r}")
    value = value.strip()
    if not value and not empty:
        raise CourseInputError(f"{label}: expected text, got nothing")
    if len(value) > limit:
        raise CourseInputError(f"{label}: at most {limit} characters, got {len(value)}")
    if control_characters(value):
        raise CourseInputError(f"{label}: text without control characters, got {value!r}")
    return value
