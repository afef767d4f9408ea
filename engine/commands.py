"""What each `tidewell` command does (engine/cli.py reads the command line and calls these).

Each takes the parsed arguments and returns the exit status; a mistake the person can fix raises a
TidewellError, which the command line prints as one line (exit 2).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from tidewell.core.errors import UsageError
from tidewell.core.terminal import say
from tidewell.core.words import or_dash, plural, status_words
from tidewell.sessions.program import ProgramError, builtin_programs, load_program, resolve_program


def run(args) -> int:
    from tidewell.engine.session import RunOptions, run_session
    from tidewell.sessions.summary import format_table

    program = load_program(resolve_program(args.program))
    if args.minutes:
        program = program.scaled_to(args.minutes)
    options = RunOptions(
        client=args.client,
        sensor=args.sensor,
        virtual_time=args.virtual_time,
        headless=args.headless,
        seed=args.seed,
        audio_device=args.audio_device,
        adapter=args.adapter,
        target=args.target,
        xr_space=args.xr_space,
        mirror=args.mirror,
        sound_when_headset_off=args.sound_when_headset_off,
        eyes_closed=args.eyes_closed,
    )
    from tidewell.sessions.store import SessionStore

    store = SessionStore(verify=True)  # a damaged log is refused before the session writes into it
    before = {"pain": args.pain, "stress": args.stress, "note": args.note}
    options.on_begin = (
        (lambda sid: store.set_self_report(sid, "before", **before))
        if args.pain is not None or args.stress is not None or args.note
        else None
    )
    result = run_session(program, options, store)
    print()
    print(
        f"session {result.session_id} {status_words(result.status)}: {result.simulated_s / 60:.1f} min of session time"
    )
    print(format_table(result.summaries))
    print()
    print(f"session folder:  {result.folder}")
    if result.wav_path:
        print(f"sound:           {result.wav_path}")
    if result.contact_sheet:
        print(f"contact sheet:   {result.contact_sheet}")
    print(f"session log:     {store.path} (tidewell sessions show {result.session_id})")
    print(
        f"after the session: tidewell rate {result.session_id} after --pain N --stress N; "
        f"tidewell report {result.session_id} --html report.html"
    )
    if args.target == "xr" and result.status != "interrupted":
        from tidewell.engine.cli_course import ask_sickness

        ask_sickness(store, result.session_id)
    if result.status != "interrupted":
        return 0
    return 128 + (result.stopped_by or signal.SIGINT)


def xr_info(args) -> int:
    from tidewell.engine.xr.runtime import describe

    for line in describe().lines():
        print(line)
    return 0


def console(args) -> int:
    from tidewell.engine.console.host import ConsoleOptions, serve_console

    if args.sensor.startswith("replay"):
        raise UsageError("the console runs live sessions: --sensor sim, ble or ble:ADDRESS")
    from tidewell.sessions.store import SessionStore

    store = SessionStore(verify=True)
    return serve_console(
        ConsoleOptions(
            port=args.port,
            lan=args.lan,
            headless=args.headless,
            sensor=args.sensor,
            adapter=args.adapter,
            audio_device=args.audio_device,
            seed=args.seed,
            target=args.target,
            sound_when_headset_off=args.sound_when_headset_off,
            live_view=args.live_view,
            say=say,
        ),
        store,
    )


def programs_list(args) -> int:
    for program_id, path in builtin_programs().items():
        try:
            program = load_program(path)
            print(
                f"{program_id:<26} {program.minutes:>5.0f} min  {plural(len(program.phases), 'phase'):<9} {program.title}"
            )
        except ProgramError as exc:
            print(f"{program_id:<26} INVALID: {exc}")
    return 0


def programs_show(args) -> int:
    program = load_program(resolve_program(args.program))
    print(f"{program.title} — {program.minutes:.0f} min\n{program.description}\n")
    start = 0.0
    for i, phase in enumerate(program.phases, 1):
        advance = " (therapist advances)" if phase.advance.value == "therapist" else ""
        b = phase.breathing
        print(f"{i:>2}. {start:5.1f}' {phase.name:<30} {phase.minutes:4.1f} min{advance}")
        print(
            f"      {phase.kind.value}, {phase.posture.value}, scene {phase.scene}, crossfade {phase.crossfade_s:g} s"
        )
        print(
            f"      breathing {b.rate_bpm:.1f}/min: in {b.inhale_s:.1f} s, hold {b.hold_in_s:.1f} s,"
            f" out {b.exhale_s:.1f} s, hold {b.hold_out_s:.1f} s;"
            f" audio {', '.join(f'{n} {v:g}' for n, v in phase.audio)}"
        )
        start += phase.minutes
    return 0


def programs_validate(args) -> int:
    failed = 0
    for file in args.file:
        try:
            program = load_program(Path(file))
            print(f"{file}: ok ({program.title}, {plural(len(program.phases), 'phase')}, {program.minutes:g} min)")
        except ProgramError as exc:
            print(f"{exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def sensors_scan(args) -> int:
    import asyncio

    from tidewell.sensors.ble import check_bluetooth, scan_heart_rate_sensors

    check_bluetooth(args.adapter)  # BluetoothUnavailable: main() says why, exit 2
    found = asyncio.run(scan_heart_rate_sensors(args.seconds, args.adapter))
    if not found:
        print(f"no heart-rate sensor found in {args.seconds:g} s (is it worn, awake and not paired elsewhere?)")
        return 1
    for sensor in found:
        rssi = f"{sensor.rssi} dBm" if sensor.rssi is not None else "—"
        print(f"{sensor.address}  {rssi:>8}  {sensor.name or '(no name)'}")
    return 0


def sensors_watch(args) -> int:
    import time

    from tidewell.core.clock import RealClock
    from tidewell.sensors.ble import BleHeartRateSource, check_bluetooth

    check_bluetooth(args.adapter)  # as scan: exit 2 with the reason when there is no Bluetooth to watch with
    clock = RealClock()
    source = BleHeartRateSource(args.target, clock.now, args.adapter).start()
    print(f"watching {source.description}; Ctrl-C to stop")
    try:
        while args.seconds is None or clock.now() < args.seconds:
            time.sleep(0.2)
            now = clock.now()
            beats = source.poll(now)
            for event in source.drain_status():
                print(f"{event.t_s:7.1f} s  {event.kind}: {event.detail}")
            packets = source.drain_packets()
            if beats or packets:
                from tidewell.sensors.hrm import parse_hrm

                last = parse_hrm(packets[-1][1]) if packets else None
                hr = f"{last.hr_bpm} bpm" if last and last.hr_bpm else "—"
                contact = last.sensor_contact if last else "—"
                rr = ", ".join(f"{b.rr_ms:.0f}" for b in beats) or "—"
                print(f"{now:7.1f} s  HR {hr:>8}  RR {rr} ms  contact {contact}")
    except KeyboardInterrupt:
        pass
    finally:
        source.stop()
    return 0


def sensors_decode(args) -> int:
    import json

    from tidewell.sensors.hrm import parse_hrm

    invalid = 0
    for text in args.packets:
        try:
            decoded = parse_hrm(bytes.fromhex(text)).as_json()
        except ValueError:
            decoded = {
                "hr_bpm": None,
                "rr_ms": [],
                "energy_expended_kj": None,
                "sensor_contact": "not_supported",
                "valid": False,
                "error": f"not hex: {text!r}",
            }
        invalid += not decoded["valid"]
        print(json.dumps(decoded))
    if invalid:
        what = "is not a valid Heart Rate Measurement" if invalid == 1 else "are not valid Heart Rate Measurements"
        print(f"tidewell: {invalid} of {plural(len(args.packets), 'packet')} {what}", file=sys.stderr)
        return 1
    return 0


def scenes_list(args) -> int:
    from tidewell.engine import scenes_cli

    return scenes_cli.scenes_list()


def scenes_validate(args) -> int:
    from tidewell.engine import scenes_cli

    return scenes_cli.scenes_validate(args.path)


def scenes_render(args) -> int:
    from tidewell.engine import scenes_cli

    return scenes_cli.scenes_render(args.scene, args.out, args.state, args.posture, args.eye, args.size)


def scenes_preview(args) -> int:
    from tidewell.engine.render import preview

    return preview.scenes_preview(args.scene, args.size)


def scenes_import(args) -> int:
    from tidewell.engine import scenes_import

    return scenes_import.scenes_import(
        args.file, args.scene_id, args.layout, args.yaw, args.title, args.postures, args.into, args.force
    )


def audio_render(args) -> int:
    from tidewell.engine.heart_source import make_source
    from tidewell.engine.offline_audio import render_program_audio
    from tidewell.sessions.store import SessionStore

    if args.sensor.startswith("ble"):
        raise UsageError("audio render runs in virtual time: use --sensor sim or replay:FILE|SESSION_ID")
    program = load_program(resolve_program(args.program))
    if args.minutes:
        program = program.scaled_to(args.minutes)
    replayed = args.sensor.partition(":")[2]
    store = SessionStore(access="read") if args.sensor.startswith("replay:") and replayed.isdigit() else None
    source = make_source(args.sensor, args.seed, print, store=store)
    seconds = render_program_audio(program, Path(args.out), source, args.seed, args.rate)
    print(f"wrote {args.out}: {seconds / 60:.1f} min at {args.rate} Hz ({program.title}, {source.description})")
    return 0


def rate(args) -> int:
    from tidewell.engine.cli_course import record_sickness
    from tidewell.sessions.store import SessionStore

    if args.pain is None and args.stress is None and not args.note and args.fms is None and args.ssq is None:
        raise UsageError("give --pain, --stress, --note or (after a session) --fms")
    store = SessionStore(verify=True)
    sickness = record_sickness(store, args)
    if sickness:
        print(sickness)
    if args.pain is None and args.stress is None and not args.note:
        return 0
    store.set_self_report(args.session_id, args.moment, args.pain, args.stress, args.note)
    print(
        f"session {args.session_id}, {args.moment}: pain {or_dash(args.pain)}, stress {or_dash(args.stress)}"
        + (f", note: {args.note}" if args.note else "")
    )
    return 0


def hrv(args) -> int:
    from tidewell.sessions.hrv import hrv_command

    return hrv_command(args.file, args.json)


def report(args) -> int:
    from tidewell.sessions.report import report_command
    from tidewell.sessions.store import SessionStore

    if args.session_id is None and not args.client:
        raise UsageError("name a session id or --client NAME")
    return report_command(
        SessionStore(access="read"),
        args.session_id,
        args.client,
        args.html,
        args.csv,
        args.json_path,
        args.anonymize,
        pdf=args.pdf,
        fhir=args.fhir,
    )


def sessions_list(args) -> int:
    from tidewell.sessions.store import SessionStore

    store = SessionStore(access="read")
    rows = store.sessions(args.limit)
    if not rows:
        print(f"no sessions yet in {store.path}")
    for row in rows:
        mode = "virtual" if row["virtual_time"] else "live"
        print(
            f"{row['id']:>5}  {row['started_at']}  {status_words(row['status']):<11} {row['program_id']:<24}"
            f" {row['client']:<16} {mode}"
        )
    return 0


def sessions_show(args) -> int:
    from tidewell.sessions.store import SessionStore
    from tidewell.sessions.summary import format_table, summarize

    store = SessionStore(access="read")
    row = store.session(args.session_id)
    if row is None:
        raise UsageError(f"no session {args.session_id} in {store.path}")
    print(f"session {row['id']}: {row['program_title']} for {row['client']!r}")
    print(f"  started {row['started_at']}, ended {row['ended_at'] or '—'}, status {status_words(row['status'])}")
    print(f"  sensor {row['sensor']}, {'virtual' if row['virtual_time'] else 'real'} time, folder {row['folder']}")
    print(f"  {plural(len(store.beats(row['id'])), 'beat')}, {plural(len(store.samples(row['id'])), 'frame sample')}\n")
    print(format_table(summarize(store, row["id"])))
    print("\nevents:")
    for event in store.events(row["id"]):
        t = event["t_s"]
        print(f"  {int(t // 60):02d}:{t % 60:05.2f}  {event['kind']:<14} {event['detail']}")
    return 0
