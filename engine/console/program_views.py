"""Programs as the console shows them: the phase timeline, and what a client's intake precautions
change in a program before it is started (or why it is refused).

The preview and the engine play the program through the same function (sessions/precautions.py
program_for_client); the engine applies it again at the start, and a program refused there is
reported to the console as a start that failed.
"""

from __future__ import annotations

from tidewell.scenes.catalog import available_scenes
from tidewell.sessions.precaution_list import PRECAUTIONS
from tidewell.sessions.precautions import PrecautionRefusal, program_for_client
from tidewell.sessions.program import Program, ProgramError, builtin_programs, load_program


def program_view(program: Program) -> dict:
    return {
        "id": program.id,
        "title": program.title,
        "description": program.description,
        "minutes": round(program.minutes, 2),
        "phases": [
            {
                "name": p.name,
                "kind": p.kind.value,
                "scene": p.scene,
                "posture": p.posture.value,
                "minutes": round(p.minutes, 3),
                "pace": round(p.breathing.rate_bpm, 2),
                "waits": p.advance.value == "therapist",
            }
            for p in program.phases
        ],
    }


def precaution_preview(program_id: str, client, intake, eyes_closed: bool = False) -> dict:
    """What the client's precautions change in the built-in program `program_id`, or why it is refused.

    client: the store's client row (or None); intake: the store's Intake (or None). KeyError for a
    program that is not built in; ProgramError for one that does not load."""
    program = load_program(builtin_programs()[program_id])
    names = tuple(intake.precautions) if intake is not None else ()
    answer = {
        "program": program.id,
        "title": program.title,
        "precautions": [{"name": name, "label": PRECAUTIONS[name].label} for name in names],
        "changes": [],
        "refused": None,
    }
    try:
        played = program_for_client(program, client, intake, available_scenes(), eyes_closed=eyes_closed)
    except PrecautionRefusal as refusal:
        answer["refused"] = str(refusal)
        return answer
    answer["changes"] = list(played.rules.changes)
    return answer


def start_refusal(program_id: str, client, intake, eyes_closed: bool = False) -> str | None:
    """Why the engine would refuse to start `program_id` for this client, or None. A program that
    does not load is left to the engine, which says so when it tries."""
    try:
        return precaution_preview(program_id, client, intake, eyes_closed)["refused"]
    except (KeyError, ProgramError):
        return None
