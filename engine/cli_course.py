"""The treatment course on the command line: `tidewell clients intake|plan|show|reassess` and the
cybersickness ratings of `tidewell rate ... after --fms N [--ssq ...]`."""

from __future__ import annotations

import argparse
import sys

from tidewell.core.errors import UsageError
from tidewell.core.words import plural
from tidewell.engine import cli_options as option
from tidewell.sessions.precaution_list import PRECAUTIONS
from tidewell.sessions.store_course import MEASURES

PRECAUTION_HELP = "one of: " + ", ".join(PRECAUTIONS) + " (repeat for several)"


def fms(text: str) -> int:
    return option.whole_number(text, 0, 20, "a Fast Motion sickness Scale rating, a whole number from 0 to 20")


def ssq(text: str) -> list[int]:
    items = [item.strip() for item in text.split(",")]
    if len(items) != 16 or not all(item in ("0", "1", "2", "3") for item in items):
        raise argparse.ArgumentTypeError(
            f"expected the 16 SSQ symptom ratings, each 0-3, separated by commas, got {text!r}"
        )
    return [int(item) for item in items]


def add_sickness(rate: argparse.ArgumentParser) -> None:
    rate.add_argument("--fms", type=fms, help="after a headset session: how sick the client feels, 0-20")
    rate.add_argument("--ssq", type=ssq, help="after a headset session: the 16 SSQ items, 0-3 each, comma-separated")


def add_clients(subcommands) -> None:
    clients = subcommands.add_parser("clients", help="clients: their intake, treatment plan, sessions and progress")
    clients.set_defaults(handler=list_clients)
    course = clients.add_subparsers(title="clients commands")
    course.add_parser("list", help="every client with sessions and resonance pace").set_defaults(handler=list_clients)
    intake = course.add_parser("intake", help="record the intake: precautions, goals, referring provider")
    intake.add_argument("pseudonym", type=option.pseudonym)
    intake.add_argument("--precaution", action="append", default=[], choices=list(PRECAUTIONS), help=PRECAUTION_HELP)
    intake.add_argument("--goal", action="append", default=[], type=option.note, help="a treatment goal (repeat)")
    intake.add_argument("--referrer", type=option.note, default="", help="the referring physician or therapist")
    intake.set_defaults(handler=intake_command)
    plan = course.add_parser("plan", help="the treatment plan: how many sessions, how often, which programs")
    plan.add_argument("pseudonym", type=option.pseudonym)
    plan.add_argument("--sessions", type=lambda t: option.whole_number(t, 1, 100, "1 to 100 sessions"), required=True)
    plan.add_argument("--per-week", type=lambda t: option.number(t, 0.1, 7, "0.1 to 7 sessions a week"), default=1.0)
    plan.add_argument("--program", action="append", required=True, help="the program of each session, cycled (repeat)")
    plan.add_argument("--measure", action="append", choices=MEASURES, help="what to track (default: all)")
    plan.add_argument("--reassess-every", type=lambda t: option.whole_number(t, 1, 100, "1 to 100"), default=4)
    plan.set_defaults(handler=plan_command)
    show = course.add_parser("show", help="the client's course: intake, plan, progress and cybersickness")
    show.add_argument("pseudonym", type=option.pseudonym)
    show.set_defaults(handler=show_command)
    reassess = course.add_parser("reassess", help="record a re-assessment (after the sessions done so far)")
    reassess.add_argument("pseudonym", type=option.pseudonym)
    option.add_ratings(reassess, pain="0-10", stress="0-10", note_help="how the goals are going")
    reassess.add_argument("--goal-progress", type=option.rating, help="0 (none) to 10 (goals reached)")
    reassess.set_defaults(handler=reassess_command)


def list_clients(args) -> int:
    from tidewell.sessions.store import SessionStore

    store = SessionStore(access="read")
    rows = store.clients()
    if not rows:
        print(f"no clients yet in {store.path}")
    for row in rows:
        sessions = store.sessions_of_client(row["pseudonym"])
        resonance = f"resonance {row['resonance_bpm']:.1f}/min" if row["resonance_bpm"] else "resonance not assessed"
        print(f"{row['pseudonym']:<20} {plural(len(sessions), 'session'):>12}  {resonance}")
    return 0


def intake_command(args) -> int:
    from tidewell.sessions.store import SessionStore

    intake = SessionStore(verify=True).set_intake(args.pseudonym, args.precaution, args.goal, args.referrer)
    print(f"intake of {intake.pseudonym} recorded")
    for name in intake.precautions:
        print(f"  precaution {PRECAUTIONS[name].label}: {PRECAUTIONS[name].rule}")
    for goal in intake.goals:
        print(f"  goal: {goal}")
    if intake.referrer:
        print(f"  referred by {intake.referrer}")
    return 0


def plan_command(args) -> int:
    from tidewell.scenes.catalog import available_scenes
    from tidewell.sessions.precautions import apply_precautions
    from tidewell.sessions.program import load_program, resolve_program
    from tidewell.sessions.store import SessionStore

    store = SessionStore(verify=True)
    intake = store.intake(args.pseudonym)
    for name in dict.fromkeys(args.program):  # each must load, and be playable for this client
        program = load_program(resolve_program(name))
        if intake is not None:
            apply_precautions(program, intake.precautions, available_scenes())
    plan = store.set_plan(
        args.pseudonym,
        sessions_planned=args.sessions,
        per_week=args.per_week,
        programs=args.program,
        measures=args.measure or MEASURES,
        reassess_every=args.reassess_every,
    )
    print(
        f"plan for {plan.pseudonym}: {plural(plan.sessions_planned, 'session')}, {plan.per_week:g} a week, "
        f"programs {', '.join(plan.programs)}, re-assessment every {plural(plan.reassess_every, 'session')}"
    )
    return 0


def show_command(args) -> int:
    from tidewell.sessions.course import course
    from tidewell.sessions.course_text import format_course
    from tidewell.sessions.store import SessionStore

    print(format_course(course(SessionStore(access="read"), args.pseudonym)))
    return 0


def reassess_command(args) -> int:
    from tidewell.sessions.course import course
    from tidewell.sessions.store import SessionStore

    if args.pain is None and args.stress is None and args.goal_progress is None and not args.note:
        raise UsageError("give --pain, --stress, --goal-progress or --note")
    store = SessionStore(verify=True)
    done = course(store, args.pseudonym).sessions_done
    store.set_reassessment(
        args.pseudonym, done, pain=args.pain, stress=args.stress, goal_progress=args.goal_progress, note=args.note
    )
    print(f"re-assessment of {args.pseudonym} after {plural(done, 'session')} recorded")
    return 0


def record_sickness(store, args) -> str | None:
    """`tidewell rate`'s --fms/--ssq, stored; the line that says so, or None when neither was given."""
    if args.fms is None and args.ssq is None:
        return None
    if args.moment != "after":
        raise UsageError("--fms and --ssq rate how the client feels after a session: use `rate ID after`")
    if args.fms is None:
        raise UsageError("--ssq goes with --fms (the one question asked after every headset session)")
    store.set_cybersickness(args.session_id, args.fms, args.ssq)
    return f"session {args.session_id}: cybersickness FMS {args.fms}" + (" with the SSQ" if args.ssq else "")


def ask_sickness(store, session_id: int, ask=input) -> None:
    """After a headset session at an interactive terminal: the FMS question, once; Enter skips it."""
    if not sys.stdin.isatty():
        print(f"after a headset session: tidewell rate {session_id} after --fms N (0-20)")
        return
    try:
        answer = ask("How sick does the client feel right now? 0 (not at all) to 20 (frank sickness), Enter to skip: ")
    except EOFError:
        return
    if answer.strip():
        try:
            store.set_cybersickness(session_id, fms(answer), None)
        except argparse.ArgumentTypeError as error:
            print(f"not stored: {error}; later: tidewell rate {session_id} after --fms N")
