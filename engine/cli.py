"""The `tidewell` command."""
from __future__ import annotations

import argparse
import math
import signal
import sqlite3
import sys
from pathlib import Path

from tidewell.core.terminal import control_characters, say, terminal_output
from tidewell.engine.xr.runtime import XrUnavailable
from tidewell.sensors.ble import BluetoothUnavailable
from tidewell.sensors.spec import parse_sensor
from tidewell.core.limits import MAX_NOTE_CHARS, MAX_ROW_ID
from tidewell.sessions.program import (
    MAX_PROGRAM_MINUTES,
    MIN_SCALED_MINUTES,
    SCALED_MINUTES_RULE,
    ProgramError,
    builtin_programs,
    load_program,
    resolve_program,
)
from tidewell.sessions.pseudonyms import PseudonymError, checked_pseudonym
from tidewell.core.words import plural, status_words

DEFAULT_PROGRAM = "taster"
MAX_SEED = 2**32 - 1  # numpy's seeds


def main(argv: list[str] | None = None) -> int:
    with terminal_output():  # no control characters reach the terminal; a closed pipe stops only the printing
        parser = _parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "handler"):
            parser.print_help()
            return 0
        try:
            return args.handler(args) or 0
        except ProgramError as exc:
            print(f"tidewell: {exc}", file=sys.stderr)
            return 2
        except XrUnavailable as exc:
            print(f"tidewell: {exc}", file=sys.stderr)
            return 3
        except BluetoothUnavailable as exc:
            print(f"tidewell: Bluetooth unavailable: {exc}", file=sys.stderr)
            return 2
        except (ValueError, OSError) as exc:
            print(f"tidewell: {exc}", file=sys.stderr)
            return 2
        except sqlite3.Error as exc:  # what the disk or the session log's file did; a bug keeps its traceback
            from tidewell.sessions.store import data_dir
            from tidewell.sessions.store_checks import store_error

            problem = store_error(exc, data_dir() / "tidewell.db")
            if problem is None:
                raise
            print(f"tidewell: {problem}", file=sys.stderr)
            return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tidewell", description="Relaxation sessions for clinical massage.")
    parser.add_argument("--version", action="version", version=f"tidewell {_version()}")
    commands = parser.add_subparsers(title="commands")

    run = commands.add_parser("run", help="run a session (default: the 3-minute taster, simulated heart)")
    run.add_argument("program", nargs="?", default=DEFAULT_PROGRAM,
                     help="a built-in program id (see `tidewell programs list`) or a .toml file")
    run.add_argument("--client", type=_pseudonym, default="anonymous",
                     help="the client's pseudonym (never a real name)")
    run.add_argument("--sensor", type=_sensor, default="sim", metavar="KIND",
                     help="'sim' (simulated heart), 'ble' or 'ble:ADDRESS' (Bluetooth LE strap or watch; "
                          "a name works too), 'replay:FILE.csv' (columns t_s,rr_ms) or 'replay:SESSION_ID'")
    run.add_argument("--adapter", help="Bluetooth adapter, e.g. hci1 (default: the system's)")
    run.add_argument("--pain", type=_rating, help="pain before the session, 0-10")
    run.add_argument("--stress", type=_rating, help="stress before the session, 0-10")
    run.add_argument("--note", type=_note, default="", help="a note with the before rating")
    timing = run.add_mutually_exclusive_group()
    timing.add_argument("--virtual-time", dest="virtual_time", action="store_const", const=True,
                        help="simulate as fast as possible (no window, audio to WAV)")
    timing.add_argument("--real-time", dest="virtual_time", action="store_const", const=False,
                        help="play at the wall clock even with no window or sound device")
    run.add_argument("--minutes", type=_program_minutes, help="shorten or stretch the program to this length")
    run.add_argument("--headless", action="store_true", help="no window even when a display exists")
    run.add_argument("--seed", type=_seed, default=0, help="seed of the simulated heart and the sound")
    run.add_argument("--audio-device", help="sound device name or index (default: the system's)")
    run.add_argument("--target", choices=("auto", "xr"), default="auto",
                     help="where the client sees the session: 'auto' (a window where there is a display, else "
                          "offscreen) or 'xr' (the headset, through the active OpenXR runtime)")
    run.add_argument("--xr-space", choices=("local", "stage"), default="local",
                     help="the headset's reference space (default local: centred on the client's head)")
    run.add_argument("--no-mirror", dest="mirror", action="store_false", default=None,
                     help="with --target xr: no desktop mirror of the client's view")
    run.add_argument("--sound-when-headset-off", choices=("continue", "fade"), default="continue",
                     help="with --target xr: while the headset is off the session pauses; the sound plays on "
                          "(default) or fades out")
    run.set_defaults(handler=_run)

    xr_parser = commands.add_parser("xr", help="the OpenXR runtime and headset")
    xr_cmd = xr_parser.add_subparsers(title="xr commands", required=True)
    x = xr_cmd.add_parser("info", help="the runtime, the headset system, its views, blend modes and extensions")
    x.set_defaults(handler=_xr_info)

    console = commands.add_parser("console", help="serve the therapist's web console and run the sessions it starts")
    console.add_argument("--port", type=_port, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    console.add_argument("--lan", action="store_true",
                         help="listen on the clinic network for a tablet (default: this computer only)")
    console.add_argument("--sensor", type=_sensor, default="sim", metavar="KIND",
                         help="heart-rate source for the sessions: 'sim', 'ble' or 'ble:ADDRESS'")
    console.add_argument("--adapter", help="Bluetooth adapter, e.g. hci1 (default: the system's)")
    console.add_argument("--headless", action="store_true", help="no session window even when a display exists")
    console.add_argument("--seed", type=_seed, default=0, help="seed of the simulated heart and the sound")
    console.add_argument("--audio-device", help="sound device name or index (default: the system's)")
    console.add_argument("--target", choices=("auto", "xr"), default="auto",
                         help="where clients see the sessions: 'auto' (a window or offscreen) or 'xr' (the headset)")
    console.add_argument("--sound-when-headset-off", choices=("continue", "fade"), default="continue",
                         help="with --target xr: the sound while the headset is off")
    console.set_defaults(handler=_console)

    programs = commands.add_parser("programs", help="list, show or validate programs")
    programs_cmd = programs.add_subparsers(title="programs commands", required=True)
    p = programs_cmd.add_parser("list", help="the built-in programs")
    p.set_defaults(handler=_programs_list)
    p = programs_cmd.add_parser("show", help="the phases of a program")
    p.add_argument("program")
    p.set_defaults(handler=_programs_show)
    p = programs_cmd.add_parser("validate", help="check a program file; exit 0 when it is valid")
    p.add_argument("file", nargs="+")
    p.set_defaults(handler=_programs_validate)

    sensors = commands.add_parser("sensors", help="Bluetooth LE heart-rate sensors")
    sensors_cmd = sensors.add_subparsers(title="sensors commands", required=True)
    b = sensors_cmd.add_parser("scan", help="list nearby devices with the Heart Rate Service")
    b.add_argument("--seconds", type=_scan_seconds, default=5.0, help="how long to listen (default 5, at most 300)")
    b.add_argument("--adapter", help="Bluetooth adapter, e.g. hci0")
    b.set_defaults(handler=_sensors_scan)
    b = sensors_cmd.add_parser("watch", help="live HR, RR, contact and battery of one sensor")
    b.add_argument("target", nargs="?", help="address or name (default: the first sensor found)")
    b.add_argument("--seconds", type=_watch_seconds,
                   help="stop after this long, at most 86400 (default: until Ctrl-C)")
    b.add_argument("--adapter", help="Bluetooth adapter, e.g. hci0")
    b.set_defaults(handler=_sensors_watch)
    b = sensors_cmd.add_parser("decode", help="decode 0x2A37 packets given in hex: one JSON object per packet")
    b.add_argument("packets", nargs="+", metavar="HEX")
    b.set_defaults(handler=_sensors_decode)

    scenes = commands.add_parser("scenes", help="list, validate, render and preview scenes")
    scenes_cmd = scenes.add_subparsers(title="scenes commands", required=True)
    c = scenes_cmd.add_parser("list", help="built-in scenes and those in TIDEWELL_SCENES_DIR")
    c.set_defaults(handler=lambda a: _scenes("scenes_list"))
    c = scenes_cmd.add_parser("validate", help="check a scene folder (or a folder of scenes); exit 0 when valid")
    c.add_argument("path")
    c.set_defaults(handler=lambda a: _scenes("scenes_validate", a.path))
    c = scenes_cmd.add_parser("render", help="render one frame of a scene to PNG")
    c.add_argument("scene", help="a scene id or folder")
    c.add_argument("--out", required=True, metavar="FILE.png")
    c.add_argument("--state", help="frame-state values, e.g. calm=0.8,breath=0.3,t=12")
    c.add_argument("--posture", choices=("seated", "supine", "prone"))
    c.add_argument("--eye", choices=("center", "left", "right", "both"), default="center")
    c.add_argument("--size", default="960x540", metavar="WxH")
    c.set_defaults(handler=lambda a: _scenes("scenes_render", a.scene, a.out, a.state, a.posture, a.eye, a.size))
    c = scenes_cmd.add_parser("preview", help="a window with live reload: C/V calm, B/N/M breath, 1/2/3 posture")
    c.add_argument("scene", help="a scene id or folder")
    c.add_argument("--size", default="960x540", metavar="WxH")
    c.set_defaults(handler=_scenes_preview)

    audio = commands.add_parser("audio", help="render a program's sound to a WAV file")
    audio_cmd = audio.add_subparsers(title="audio commands", required=True)
    a = audio_cmd.add_parser("render", help="the program's sound in virtual time, to WAV (no session is logged)")
    a.add_argument("program")
    a.add_argument("--out", required=True, metavar="FILE.wav")
    a.add_argument("--minutes", type=_program_minutes, help="shorten or stretch the program to this length")
    a.add_argument("--sensor", type=_sensor, default="sim", metavar="KIND",
                   help="'sim', 'replay:FILE.csv' or 'replay:SESSION_ID'")
    a.add_argument("--seed", type=_seed, default=0)
    a.add_argument("--rate", type=_sample_rate, default=48000, help="sample rate in Hz (8000-192000)")
    a.set_defaults(handler=_audio_render)

    rate = commands.add_parser("rate", help="record the client's pain and stress before or after a session")
    rate.add_argument("session_id", type=_session_id)
    rate.add_argument("moment", choices=("before", "after"))
    rate.add_argument("--pain", type=_rating, help="0 (none) to 10 (worst imaginable)")
    rate.add_argument("--stress", type=_rating, help="0 (none) to 10 (extreme)")
    rate.add_argument("--note", type=_note, default="", help="free text")
    rate.set_defaults(handler=_rate)

    hrv = commands.add_parser("hrv", help="offline HRV metrics of an RR file (columns t_s,rr_ms), or of the beats "
                                          "CSV or JSON that `tidewell report --csv/--json` wrote")
    hrv.add_argument("file")
    hrv.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    hrv.set_defaults(handler=_hrv)

    report = commands.add_parser("report", help="a session's report page, exports, or a client's trends")
    report.add_argument("session_id", type=_session_id, nargs="?")
    report.add_argument("--client", type=_pseudonym, help="trends across this client's sessions")
    report.add_argument("--html", metavar="FILE", help="write the report page")
    report.add_argument("--csv", metavar="FILE", help="export the time series as CSV")
    report.add_argument("--json", metavar="FILE", dest="json_path", help="export everything as JSON")
    report.add_argument("--anonymize", action="store_true", help="no pseudonym, dates or free text")
    report.set_defaults(handler=_report)

    clients = commands.add_parser("clients", help="clients (pseudonyms) with their sessions and resonance pace")
    clients.set_defaults(handler=_clients)

    sessions = commands.add_parser("sessions", help="logged sessions")
    sessions_cmd = sessions.add_subparsers(title="sessions commands", required=True)
    s = sessions_cmd.add_parser("list", help="the most recent sessions")
    s.add_argument("--limit", type=_limit, default=20, help="how many (default 20)")
    s.set_defaults(handler=_sessions_list)
    s = sessions_cmd.add_parser("show", help="one session: phases, per-phase summary and events")
    s.add_argument("session_id", type=_session_id)
    s.set_defaults(handler=_sessions_show)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tidewell")
    except PackageNotFoundError:
        return "unknown"


# argparse types: each names what it expects in its message ("argument --minutes: expected ...").

def _whole_number(text: str, low: int, high: int, what: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _number(text: str, low: float, high: float, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _rating(text: str) -> int:
    return _whole_number(text, 0, 10, "a whole number from 0 to 10")


def _program_minutes(text: str) -> float:
    return _number(text, MIN_SCALED_MINUTES, MAX_PROGRAM_MINUTES, SCALED_MINUTES_RULE.removeprefix("expected "))


def _seed(text: str) -> int:
    return _whole_number(text, 0, MAX_SEED, f"a whole number from 0 to {MAX_SEED}")


def _session_id(text: str) -> int:
    return _whole_number(text, 1, MAX_ROW_ID, "a session id (a whole number from 1; tidewell sessions list)")


def _limit(text: str) -> int:
    return _whole_number(text, 1, 100_000, "a whole number from 1 to 100000")


def _sample_rate(text: str) -> int:
    return _whole_number(text, 8000, 192_000, "a sample rate in Hz from 8000 to 192000")


def _scan_seconds(text: str) -> float:
    return _number(text, 0.5, 300, "seconds from 0.5 to 300")


def _watch_seconds(text: str) -> float:
    return _number(text, 0.5, 86_400, "seconds from 0.5 to 86400 (a day)")


def _pseudonym(text: str) -> str:
    try:
        return checked_pseudonym(text)
    except PseudonymError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _note(text: str) -> str:
    if len(text) > MAX_NOTE_CHARS:
        raise argparse.ArgumentTypeError(f"expected a note of at most {MAX_NOTE_CHARS} characters, got {len(text)}")
    found = control_characters(text)
    if found:
        raise argparse.ArgumentTypeError(f"expected a note without control characters, got {''.join(found)!r}")
    return text


def _sensor(text: str) -> str:
    try:
        parse_sensor(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text.strip()


def _run(args) -> int:
    from tidewell.engine.session import RunOptions, run_session
    from tidewell.sessions.summary import format_table

    program = load_program(resolve_program(args.program))
    if args.minutes:
        program = program.scaled_to(args.minutes)
    options = RunOptions(client=args.client, sensor=args.sensor, virtual_time=args.virtual_time,
                         headless=args.headless, seed=args.seed, audio_device=args.audio_device,
                         adapter=args.adapter, target=args.target, xr_space=args.xr_space, mirror=args.mirror,
                         sound_when_headset_off=args.sound_when_headset_off)
    from tidewell.sessions.store import SessionStore

    store = SessionStore(verify=True)  # a damaged log is refused before the session writes into it
    before = {"pain": args.pain, "stress": args.stress, "note": args.note}
    options.on_begin = (lambda sid: store.set_self_report(sid, "before", **before)) \
        if args.pain is not None or args.stress is not None or args.note else None
    result = run_session(program, options, store)
    print()
    print(f"session {result.session_id} {status_words(result.status)}: {result.simulated_s / 60:.1f} min of session time")
    print(format_table(result.summaries))
    print()
    print(f"session folder:  {result.folder}")
    if result.wav_path:
        print(f"sound:           {result.wav_path}")
    if result.contact_sheet:
        print(f"contact sheet:   {result.contact_sheet}")
    print(f"session log:     {store.path} (tidewell sessions show {result.session_id})")
    print(f"after the session: tidewell rate {result.session_id} after --pain N --stress N; "
          f"tidewell report {result.session_id} --html report.html")
    if result.status != "interrupted":
        return 0
    return 128 + (result.stopped_by or signal.SIGINT)


def _xr_info(args) -> int:
    from tidewell.engine.xr.runtime import describe

    for line in describe().lines():
        print(line)
    return 0


def _console(args) -> int:
    from tidewell.engine.console.host import ConsoleOptions, serve_console

    if args.sensor.startswith("replay"):
        raise ValueError("the console runs live sessions: --sensor sim, ble or ble:ADDRESS")
    from tidewell.sessions.store import SessionStore

    store = SessionStore(verify=True)
    return serve_console(ConsoleOptions(port=args.port, lan=args.lan, headless=args.headless,
                                        sensor=args.sensor, adapter=args.adapter,
                                        audio_device=args.audio_device, seed=args.seed, target=args.target,
                                        sound_when_headset_off=args.sound_when_headset_off, say=say),
                         store)


def _port(text: str) -> int:
    return _whole_number(text, 0, 65535, "a TCP port 0-65535")


def _programs_list(args) -> int:
    for program_id, path in builtin_programs().items():
        try:
            program = load_program(path)
            print(f"{program_id:<26} {program.minutes:>5.0f} min  {plural(len(program.phases), 'phase'):<9} {program.title}")
        except ProgramError as exc:
            print(f"{program_id:<26} INVALID: {exc}")
    return 0


def _programs_show(args) -> int:
    program = load_program(resolve_program(args.program))
    print(f"{program.title} — {program.minutes:.0f} min\n{program.description}\n")
    start = 0.0
    for i, phase in enumerate(program.phases, 1):
        advance = " (therapist advances)" if phase.advance.value == "therapist" else ""
        b = phase.breathing
        print(f"{i:>2}. {start:5.1f}' {phase.name:<30} {phase.minutes:4.1f} min{advance}")
        print(f"      {phase.kind.value}, {phase.posture.value}, scene {phase.scene}, crossfade {phase.crossfade_s:g} s")
        print(f"      breathing {b.rate_bpm:.1f}/min: in {b.inhale_s:.1f} s, hold {b.hold_in_s:.1f} s,"
              f" out {b.exhale_s:.1f} s, hold {b.hold_out_s:.1f} s;"
              f" audio {', '.join(f'{n} {v:g}' for n, v in phase.audio)}")
        start += phase.minutes
    return 0


def _programs_validate(args) -> int:
    failed = 0
    for file in args.file:
        try:
            program = load_program(Path(file))
            print(f"{file}: ok ({program.title}, {plural(len(program.phases), 'phase')}, {program.minutes:g} min)")
        except ProgramError as exc:
            print(f"{exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _sensors_scan(args) -> int:
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


def _sensors_watch(args) -> int:
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


def _sensors_decode(args) -> int:
    import json

    from tidewell.sensors.hrm import parse_hrm

    invalid = 0
    for text in args.packets:
        try:
            decoded = parse_hrm(bytes.fromhex(text)).as_json()
        except ValueError:
            decoded = {"hr_bpm": None, "rr_ms": [], "energy_expended_kj": None, "sensor_contact": "not_supported",
                       "valid": False, "error": f"not hex: {text!r}"}
        invalid += not decoded["valid"]
        print(json.dumps(decoded))
    if invalid:
        what = "is not a valid Heart Rate Measurement" if invalid == 1 else "are not valid Heart Rate Measurements"
        print(f"tidewell: {invalid} of {plural(len(args.packets), 'packet')} {what}", file=sys.stderr)
        return 1
    return 0


def _scenes(name: str, *args) -> int:
    from tidewell.engine import scenes_cli

    return getattr(scenes_cli, name)(*args)


def _scenes_preview(args) -> int:
    from tidewell.engine.render.preview import scenes_preview

    return scenes_preview(args.scene, args.size)


def _audio_render(args) -> int:
    from tidewell.engine.offline_audio import render_program_audio
    from tidewell.engine.heart_source import make_source
    from tidewell.sessions.store import SessionStore

    if args.sensor.startswith("ble"):
        print("tidewell: audio render runs in virtual time: use --sensor sim or replay:FILE|SESSION_ID",
              file=sys.stderr)
        return 2
    program = load_program(resolve_program(args.program))
    if args.minutes:
        program = program.scaled_to(args.minutes)
    replayed = args.sensor.partition(":")[2]
    store = SessionStore(access="read") if args.sensor.startswith("replay:") and replayed.isdigit() else None
    source = make_source(args.sensor, args.seed, print, store=store)
    seconds = render_program_audio(program, Path(args.out), source, args.seed, args.rate)
    print(f"wrote {args.out}: {seconds / 60:.1f} min at {args.rate} Hz ({program.title}, {source.description})")
    return 0


def _rate(args) -> int:
    from tidewell.sessions.store import SessionStore

    if args.pain is None and args.stress is None and not args.note:
        print("tidewell: give --pain, --stress or --note", file=sys.stderr)
        return 2
    SessionStore(verify=True).set_self_report(args.session_id, args.moment, args.pain, args.stress, args.note)
    print(f"session {args.session_id}, {args.moment}: pain {_or_dash(args.pain)}, stress {_or_dash(args.stress)}"
          + (f", note: {args.note}" if args.note else ""))
    return 0


def _or_dash(value) -> str:
    return "—" if value is None else str(value)


def _hrv(args) -> int:
    from tidewell.sessions.hrv import hrv_command

    return hrv_command(args.file, args.json)


def _report(args) -> int:
    from tidewell.sessions.report import report_command
    from tidewell.sessions.store import SessionStore

    if args.session_id is None and not args.client:
        print("tidewell: name a session id or --client NAME", file=sys.stderr)
        return 2
    return report_command(SessionStore(access="read"), args.session_id, args.client, args.html, args.csv,
                          args.json_path, args.anonymize)


def _clients(args) -> int:
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


def _sessions_list(args) -> int:
    from tidewell.sessions.store import SessionStore

    store = SessionStore(access="read")
    rows = store.sessions(args.limit)
    if not rows:
        print(f"no sessions yet in {store.path}")
    for row in rows:
        mode = "virtual" if row["virtual_time"] else "live"
        print(f"{row['id']:>5}  {row['started_at']}  {status_words(row['status']):<11} {row['program_id']:<24}"
              f" {row['client']:<16} {mode}")
    return 0


def _sessions_show(args) -> int:
    from tidewell.sessions.store import SessionStore
    from tidewell.sessions.summary import format_table, summarize

    store = SessionStore(access="read")
    row = store.session(args.session_id)
    if row is None:
        print(f"tidewell: no session {args.session_id} in {store.path}", file=sys.stderr)
        return 2
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


if __name__ == "__main__":
    sys.exit(main())
