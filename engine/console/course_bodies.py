"""The JSON bodies of the console's treatment-course API (intake, plan, re-assessment, cybersickness),
strict as in bodies.py: types and ranges here, so a wrong value is a 422 naming the field; what only
the store knows (the precaution list, the measures) it checks itself, and the console names the field
from its message (course_routes.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from tidewell.core.limits import MAX_NOTE_CHARS
from tidewell.engine.console.bodies import Body, Score, _printable
from tidewell.sessions.course import SSQ_SYMPTOMS
from tidewell.sessions.store_course import MAX_GOALS, MEASURES

FMS_MAX = 20
SSQ_ITEM_MAX = 3
Line = Annotated[str, Field(max_length=MAX_NOTE_CHARS), AfterValidator(_printable)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class IntakeBody(Body):
    precautions: Annotated[list[Name], Field(max_length=50)] = []
    goals: Annotated[list[Line], Field(max_length=MAX_GOALS)] = []
    referrer: Annotated[str, Field(max_length=200), AfterValidator(_printable)] = ""


class PlanBody(Body):
    sessions_planned: Annotated[int, Field(ge=1, le=100)]
    per_week: Annotated[float, Field(gt=0, le=7)]
    programs: Annotated[list[Name], Field(min_length=1, max_length=100)]
    measures: Annotated[list[Name], Field(max_length=len(MEASURES))] = list(MEASURES)
    reassess_every: Annotated[int, Field(ge=1, le=100)] = 4


class ReassessmentBody(Body):
    sessions_done: Annotated[int, Field(ge=0, le=10_000)]  # the session count it belongs to (Course.reassessment_due)
    pain: Score = None
    stress: Score = None
    goal_progress: Score = None
    note: Line = ""


class CybersicknessBody(Body):
    fms: Annotated[int, Field(ge=0, le=FMS_MAX)]  # Fast Motion sickness Scale
    ssq: (
        Annotated[
            list[Annotated[int, Field(ge=0, le=SSQ_ITEM_MAX)]],
            Field(min_length=len(SSQ_SYMPTOMS), max_length=len(SSQ_SYMPTOMS)),
        ]
        | None
    ) = None
