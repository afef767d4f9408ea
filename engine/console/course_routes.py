"""The console's treatment-course API: a client's intake, plan, progress, re-assessments and
cybersickness ratings, and what the intake's precautions change in a program before it starts.

Clients are addressed by number and sessions by id, as in app.py; pseudonyms travel only in bodies.
build_app adds these routes behind the same guards as every other route (guards.py: Origin, JSON
only, the body cap; `guard` is app.py's token check). All course data is read from
sessions/course.course() and written through the store's course methods (sessions/store_course.py),
which check every value once more: their errors become a 422 naming the field.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tidewell.core.limits import MAX_ROW_ID
from tidewell.engine.console.bodies import parse
from tidewell.engine.console.course_bodies import (
    FMS_MAX,
    SSQ_ITEM_MAX,
    CybersicknessBody,
    IntakeBody,
    PlanBody,
    ReassessmentBody,
)
from tidewell.engine.console.program_views import precaution_preview, start_refusal
from tidewell.sessions.course import MEASURE_LABELS, SSQ_SYMPTOMS, course, ssq_scores
from tidewell.sessions.export import json_safe
from tidewell.sessions.precaution_list import PRECAUTIONS, PrecautionError
from tidewell.sessions.program import ProgramError, builtin_programs
from tidewell.sessions.store_course import MEASURES, CourseInputError

FMS_QUESTION = "How sick do you feel right now? 0 no sickness at all, 20 frank sickness"
SSQ_LEVELS = ("none", "slight", "moderate", "severe")
STORE_FIELDS = {"sessions": "sessions_planned", "program": "programs", "measure": "measures", "goal": "goals"}
NO_CLIENT = object()


def course_routes(guard: Callable) -> list[Route]:
    client, session = "/api/clients/{client_id:int}", "/api/sessions/{session_id:int}"
    return [
        Route("/api/course/lists", guard(lists)),
        Route(f"{client}/course", guard(client_course)),
        Route(f"{client}/intake", guard(get_intake)),
        Route(f"{client}/intake", guard(put_intake), methods=["PUT"]),
        Route(f"{client}/plan", guard(put_plan), methods=["PUT"]),
        Route(f"{client}/reassessment", guard(post_reassessment), methods=["POST"]),
        Route(f"{client}/programs/{{program}}/precautions", guard(preview)),
        Route(f"{session}/cybersickness", guard(get_cybersickness)),
        Route(f"{session}/cybersickness", guard(put_cybersickness), methods=["PUT"]),
    ]


# -- helpers ------------------------------------------------------------------------------
def _row_id(request: Request, name: str) -> int | None:
    value = request.path_params[name]
    return value if 1 <= value <= MAX_ROW_ID else None


async def _with_client(request: Request, work: Callable):
    """`work(store, pseudonym)` alone with the store, or NO_CLIENT when the path's client is unknown."""
    client_id = _row_id(request, "client_id")

    def run(store):
        pseudonym = None if client_id is None else store.client_pseudonym(client_id)
        return NO_CLIENT if pseudonym is None else work(store, pseudonym)

    return await request.app.state.store.run(run)


def _not_found(request: Request, what: str) -> JSONResponse:
    key = "client_id" if what == "client" else "session_id"
    return JSONResponse({"error": f"no {what} {request.path_params[key]}"}, 404)


def _invalid(field: str, problem: str) -> JSONResponse:
    return JSONResponse(
        {"error": f"bad request body: {field}: {problem}", "problems": [{"field": field, "problem": problem}]}, 422
    )


def _refused_by_store(error: ValueError) -> JSONResponse:
    """The store's own check ("label: problem"), answered as a bad body naming the field."""
    if isinstance(error, PrecautionError):
        return _invalid("precautions", str(error))
    label, _, problem = str(error).partition(": ")
    return _invalid(STORE_FIELDS.get(label, label), problem or str(error))


def intake_view(intake) -> dict | None:
    """The store's Intake without the pseudonym (the client view already has it)."""
    return None if intake is None else {k: v for k, v in asdict(intake).items() if k != "pseudonym"}


def plan_view(plan) -> dict | None:
    return None if plan is None else {k: v for k, v in asdict(plan).items() if k != "pseudonym"}


# -- reads --------------------------------------------------------------------------------
async def lists(request: Request):
    """The fixed lists the course forms are built from."""
    return JSONResponse(
        {
            "precautions": [{"name": p.name, "label": p.label, "rule": p.rule} for p in PRECAUTIONS.values()],
            "measures": [{"name": m, "label": MEASURE_LABELS[m]} for m in MEASURES],
            "ssq_symptoms": list(SSQ_SYMPTOMS),
            "ssq_levels": list(SSQ_LEVELS),
            "ssq_item_max": SSQ_ITEM_MAX,
            "fms": {"max": FMS_MAX, "question": FMS_QUESTION},
        }
    )


def course_view(store, pseudonym: str, client_id: int) -> dict:
    """The client view's course: intake, plan, progress against it, each tracked measure's series,
    every session with its cybersickness rating, the flags."""
    found = course(store, pseudonym)
    plan = found.plan
    return {
        "client_id": client_id,
        "pseudonym": pseudonym,
        "intake": intake_view(found.intake),
        "precaution_labels": found.precaution_labels(),
        "plan": plan_view(plan),
        "sessions_done": found.sessions_done,
        "sessions_planned": plan.sessions_planned if plan else None,
        "next_program": found.next_program,
        "reassessment_due": found.reassessment_due,
        "reassessments": [{k: v for k, v in r.items() if k != "pseudonym"} for r in found.reassessments],
        "measures": [
            {"name": m, "label": MEASURE_LABELS[m], "series": [list(point) for point in found.series(m)]}
            for m in found.measures
        ],
        "sessions": [
            {
                "number": s.number,
                "session_id": s.session.session_id,
                "started_at": s.session.started_at,
                "program_title": s.session.program_title,
                "status": s.session.status,
                "target": s.target,
                "fms": s.fms,
                "ssq": None if s.ssq is None else asdict(s.ssq),
                "cybersickness_asked": s.target == "xr" and s.fms is None,
                "precautions": s.precautions,
                "hrv_note": s.hrv_note,
            }
            for s in found.sessions
        ],
        "flags": found.flags,
        "suggest_eyes_closed": found.suggest_eyes_closed,
    }


async def client_course(request: Request):
    client_id = _row_id(request, "client_id")
    found = await _with_client(request, lambda s, pseudonym: course_view(s, pseudonym, client_id))
    if found is NO_CLIENT:
        return _not_found(request, "client")
    return JSONResponse(json_safe(found))


async def get_intake(request: Request):
    found = await _with_client(request, lambda s, pseudonym: intake_view(s.intake(pseudonym)))
    if found is NO_CLIENT:
        return _not_found(request, "client")
    return JSONResponse({"client_id": request.path_params["client_id"], "intake": found})


async def preview(request: Request):
    """What the client's precautions change in a program, or why it is refused (the start button's
    word; the start endpoint and the engine refuse it too)."""
    program_id = request.path_params["program"]
    if program_id not in builtin_programs():
        return JSONResponse({"error": f"no program {program_id[:60]!r}"}, 404)
    found = await _with_client(request, lambda s, pseudonym: (s.client(pseudonym), s.intake(pseudonym)))
    if found is NO_CLIENT:
        return _not_found(request, "client")
    try:
        eyes_closed = request.query_params.get("eyes_closed") in ("1", "true")
        answer = await asyncio.to_thread(precaution_preview, program_id, *found, eyes_closed)
    except ProgramError as error:
        return _invalid("program", str(error))
    return JSONResponse(answer)


async def get_cybersickness(request: Request):
    session_id = _row_id(request, "session_id")

    def read(s):
        row = None if session_id is None else s.session(session_id)
        if row is None:
            return None
        rating = s.cybersickness(session_id)
        items = None if rating is None or rating["ssq"] is None else list(json.loads(rating["ssq"]))
        return {
            "session_id": session_id,
            "target": row["target"],
            "asked": row["target"] == "xr",  # after every headset session; any other may be rated too
            "fms": None if rating is None else rating["fms"],
            "ssq": items,
            "ssq_scores": None if items is None else asdict(ssq_scores(items)),
        }

    found = await request.app.state.store.run(read)
    if found is None:
        return _not_found(request, "session")
    return JSONResponse(json_safe(found))


# -- writes -------------------------------------------------------------------------------
async def put_intake(request: Request):
    body = parse(IntakeBody, await request.body())
    try:
        found = await _with_client(
            request,
            lambda s, pseudonym: intake_view(s.set_intake(pseudonym, body.precautions, body.goals, body.referrer)),
        )
    except (CourseInputError, PrecautionError) as error:
        return _refused_by_store(error)
    if found is NO_CLIENT:
        return _not_found(request, "client")
    return JSONResponse({"client_id": request.path_params["client_id"], "intake": found})


async def put_plan(request: Request):
    body = parse(PlanBody, await request.body())
    known = builtin_programs()
    unknown = [p for p in body.programs if p not in known]
    if unknown:
        return _invalid("programs", f"no program {unknown[0][:60]!r}: expected some of {', '.join(known)}")
    found = await _with_client(request, lambda s, pseudonym: (s.client(pseudonym), s.intake(pseudonym)))
    if found is NO_CLIENT:
        return _not_found(request, "client")
    for program_id in dict.fromkeys(body.programs):  # each playable for this client, as `tidewell clients plan`
        refusal = await asyncio.to_thread(start_refusal, program_id, *found)
        if refusal:
            return _invalid("programs", refusal)

    def write(s, pseudonym):
        plan = s.set_plan(
            pseudonym,
            sessions_planned=body.sessions_planned,
            per_week=body.per_week,
            programs=body.programs,
            measures=body.measures,
            reassess_every=body.reassess_every,
        )
        return plan_view(plan)

    try:
        found = await _with_client(request, write)
    except CourseInputError as error:
        return _refused_by_store(error)
    if found is NO_CLIENT:
        return _not_found(request, "client")
    return JSONResponse({"client_id": request.path_params["client_id"], "plan": found})


async def post_reassessment(request: Request):
    body = parse(ReassessmentBody, await request.body())

    def write(s, pseudonym):
        s.set_reassessment(
            pseudonym,
            body.sessions_done,
            pain=body.pain,
            stress=body.stress,
            goal_progress=body.goal_progress,
            note=body.note,
        )
        return body.sessions_done

    try:
        found = await _with_client(request, write)
    except CourseInputError as error:
        return _refused_by_store(error)
    if found is NO_CLIENT:
        return _not_found(request, "client")
    return JSONResponse({"stored": found})


async def put_cybersickness(request: Request):
    session_id = _row_id(request, "session_id")
    body = parse(CybersicknessBody, await request.body())

    def write(s):
        if session_id is None or s.session(session_id) is None:
            return False
        s.set_cybersickness(session_id, body.fms, body.ssq)
        return True

    try:
        stored = await request.app.state.store.run(write)
    except CourseInputError as error:
        return _refused_by_store(error)
    if not stored:
        return _not_found(request, "session")
    total = None if body.ssq is None else round(ssq_scores(body.ssq).total, 1)
    return JSONResponse({"stored": True, "session_id": session_id, "fms": body.fms, "ssq_total": total})
