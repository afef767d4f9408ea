"""Programs as the console shows them: the phase timeline, and what a client's intake precautions
change in a program before it is started (or why it is refused).

The preview applies the same steps as the engine does when the session starts (engine/session.py
`_for_client`): the client's resonance pace where the program asks for it, then the precautions of
the client's intake (sessions/precautions.py). The engine applies them again at the start; a
program refused there is reported to the console as a start that failed.
"""

from __future__ import annotations

from tidewell.scenes.catalog import available_scenes
from tidewell.sessions.precaution_list import PRECAUTIONS
from tidewell.sessions.precautions import PrecautionRefusal, apply_precautions
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


def precaution_preview(program_id: str, client, intake) -> dict:
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
    if client is not None and client["resonance_bpm"] and any(p.resonance for p in program.phases):
        program = program.for_client(client["resonance_bpm"])
    if not names:
        return answer
    try:
        answer["changes"] = list(apply_precautions(program, names, available_scenes()).changes)
    except PrecautionRefusal as refusal:
        answer["refused"] = str(refusal)
    return answer


def start_refusal(program_id: str, client, intake) -> str | None:
    """Why the engine would refuse to start `program_id` for this client, or None. A program that
    does not load is left to the engine, which says so when it tries."""
    try:
        return precaution_preview(program_id, client, intake)["refused"]
    except (KeyError, ProgramError):
        return None
