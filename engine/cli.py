"""The `tidewell` command: its options (shared ones in engine/cli_options.py) and what a failure prints.

A TidewellError, something the person can act on, ends the command with one line and exit 2 (3
when the headset's runtime is missing). Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys

from tidewell.core.errors import TidewellError
from tidewell.core.terminal import terminal_output
from tidewell.engine import cli_course, commands
from tidewell.engine import cli_options as option
from tidewell.engine.xr.runtime import XrUnavailable
from tidewell.sensors.ble import BluetoothUnavailable

DEFAULT_PROGRAM = "taster"


def main(argv: list[str] | None = None) -> int:
    with terminal_output():  # no control characters reach the terminal; a closed pipe stops only the printing
        parser = _parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "handler"):
            parser.print_help()
            return 0
        try:
            return args.handler(args) or 0
        except XrUnavailable as exc:
            print(f"tidewell: {exc}", file=sys.stderr)
            return 3
        except BluetoothUnavailable as exc:
            print(f"tidewell: Bluetooth unavailable: {exc}", file=sys.stderr)
            return 2
        except TidewellError as exc:
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
    subcommands = parser.add_subparsers(title="commands")
    for add in (
        _add_run,
        _add_xr,
        _add_console,
        _add_programs,
        _add_sensors,
        _add_scenes,
        _add_audio,
        _add_rate,
        _add_hrv,
        _add_report,
        _add_clients,
        _add_sessions,
    ):
        add(subcommands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tidewell")
    except PackageNotFoundError:
        return "unknown"


def _add_run(subcommands) -> None:
    run = subcommands.add_parser("run", help="run a session (default: the 3-minute taster, simulated heart)")
    run.add_argument(
        "program",
        nargs="?",
        default=DEFAULT_PROGRAM,
        help="a built-in program id (see `tidewell programs list`) or a .toml file",
    )
    run.add_argument(
        "--client", type=option.pseudonym, default="anonymous", help="the client's pseudonym (never a real name)"
    )
    option.add_sensor(
        run,
        "'sim' (simulated heart), 'ble' or 'ble:ADDRESS' (Bluetooth LE strap or watch; "
        "a name works too), 'replay:FILE.csv' (columns t_s,rr_ms) or 'replay:SESSION_ID'",
    )
    option.add_adapter(run)
    option.add_ratings(
        run,
        pain="pain before the session, 0-10",
        stress="stress before the session, 0-10",
        note_help="a note with the before rating",
    )
    _add_timing(run)
    option.add_minutes(run)
    option.add_headless(run, "no window even when a display exists")
    option.add_seed(run)
    option.add_audio_device(run)
    option.add_target(
        run,
        "where the client sees the session: 'auto' (a window where there is a display, else "
        "offscreen) or 'xr' (the headset, through the active OpenXR runtime)",
    )
    _add_headset(run)
    run.add_argument(
        "--eyes-closed", action="store_true", help="every phase in the eyes-closed scene (after cybersickness)"
    )
    run.set_defaults(handler=commands.run)


def _add_timing(run) -> None:
    timing = run.add_mutually_exclusive_group()
    timing.add_argument(
        "--virtual-time",
        dest="virtual_time",
        action="store_const",
        const=True,
        help="simulate as fast as possible (no window, audio to WAV)",
    )
    timing.add_argument(
        "--real-time",
        dest="virtual_time",
        action="store_const",
        const=False,
        help="play at the wall clock even with no window or sound device",
    )


def _add_headset(run) -> None:
    run.add_argument(
        "--xr-space",
        choices=("local", "stage"),
        default="local",
        help="the headset's reference space (default local: centred on the client's head)",
    )
    run.add_argument(
        "--no-mirror",
        dest="mirror",
        action="store_false",
        default=None,
        help="with --target xr: no desktop mirror of the client's view",
    )
    option.add_sound_when_headset_off(
        run, "with --target xr: while the headset is off the session pauses; the sound plays on (default) or fades out"
    )


def _add_xr(subcommands) -> None:
    xr = subcommands.add_parser("xr", help="the OpenXR runtime and headset").add_subparsers(
        title="xr commands", required=True
    )
    info = xr.add_parser("info", help="the runtime, the headset system, its views, blend modes and extensions")
    info.set_defaults(handler=commands.xr_info)


def _add_console(subcommands) -> None:
    console = subcommands.add_parser("console", help="serve the therapist's web console and run the sessions it starts")
    console.add_argument("--port", type=option.port, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    console.add_argument(
        "--lan", action="store_true", help="listen on the clinic network for a tablet (default: this computer only)"
    )
    option.add_sensor(console, "heart-rate source for the sessions: 'sim', 'ble' or 'ble:ADDRESS'")
    option.add_adapter(console)
    option.add_headless(console, "no session window even when a display exists")
    option.add_seed(console)
    option.add_audio_device(console)
    option.add_target(console, "where clients see the sessions: 'auto' (a window or offscreen) or 'xr' (the headset)")
    option.add_sound_when_headset_off(console, "with --target xr: the sound while the headset is off")
    console.add_argument(
        "--no-live-view",
        dest="live_view",
        action="store_false",
        help="do not show the console what the client sees (the live view of the left eye)",
    )
    console.set_defaults(handler=commands.console)


def _add_programs(subcommands) -> None:
    programs = subcommands.add_parser("programs", help="list, show or validate programs").add_subparsers(
        title="programs commands", required=True
    )
    programs.add_parser("list", help="the built-in programs").set_defaults(handler=commands.programs_list)
    show = programs.add_parser("show", help="the phases of a program")
    show.add_argument("program")
    show.set_defaults(handler=commands.programs_show)
    validate = programs.add_parser("validate", help="check a program file; exit 0 when it is valid")
    validate.add_argument("file", nargs="+")
    validate.set_defaults(handler=commands.programs_validate)


def _add_sensors(subcommands) -> None:
    sensors = subcommands.add_parser("sensors", help="Bluetooth LE heart-rate sensors").add_subparsers(
        title="sensors commands", required=True
    )
    scan = sensors.add_parser("scan", help="list nearby devices with the Heart Rate Service")
    scan.add_argument(
        "--seconds", type=option.scan_seconds, default=5.0, help="how long to listen (default 5, at most 300)"
    )
    option.add_adapter(scan, "Bluetooth adapter, e.g. hci0")
    scan.set_defaults(handler=commands.sensors_scan)
    watch = sensors.add_parser("watch", help="live HR, RR, contact and battery of one sensor")
    watch.add_argument("target", nargs="?", help="address or name (default: the first sensor found)")
    watch.add_argument(
        "--seconds", type=option.watch_seconds, help="stop after this long, at most 86400 (default: until Ctrl-C)"
    )
    option.add_adapter(watch, "Bluetooth adapter, e.g. hci0")
    watch.set_defaults(handler=commands.sensors_watch)
    decode = sensors.add_parser("decode", help="decode 0x2A37 packets given in hex: one JSON object per packet")
    decode.add_argument("packets", nargs="+", metavar="HEX")
    decode.set_defaults(handler=commands.sensors_decode)


_SCENES_DIR_HELP = "the first in TIDEWELL_SCENES_DIR, else scenes/ in the data folder"


def _add_scenes(subcommands) -> None:
    scenes = subcommands.add_parser("scenes", help="list, validate, render, preview and import scenes").add_subparsers(
        title="scenes commands", required=True
    )
    scenes.add_parser("list", help="built-in scenes and those in TIDEWELL_SCENES_DIR").set_defaults(
        handler=commands.scenes_list
    )
    validate = scenes.add_parser("validate", help="check a scene folder (or a folder of scenes); exit 0 when valid")
    validate.add_argument("path")
    validate.set_defaults(handler=commands.scenes_validate)
    render = scenes.add_parser("render", help="render one frame of a scene to PNG")
    render.add_argument("scene", help="a scene id or folder")
    render.add_argument("--out", required=True, metavar="FILE.png")
    render.add_argument("--state", help="frame-state values, e.g. calm=0.8,breath=0.3,t=12")
    render.add_argument("--posture", choices=("seated", "supine", "prone"))
    render.add_argument("--eye", choices=("center", "left", "right", "both"), default="center")
    option.add_size(render)
    render.set_defaults(handler=commands.scenes_render)
    preview = scenes.add_parser("preview", help="a window with live reload: C/V calm, B/N/M breath, 1/2/3 posture")
    preview.add_argument("scene", help="a scene id or folder")
    option.add_size(preview)
    preview.set_defaults(handler=commands.scenes_preview)
    imported = scenes.add_parser("import", help="make a panorama scene from a 360-degree photo or video")
    imported.add_argument("file", help="an equirectangular JPEG, PNG or WebP, or an MP4, WebM or MOV")
    imported.add_argument("--id", required=True, dest="scene_id", help="the scene's id and folder name ([a-z0-9_])")
    imported.add_argument("--layout", choices=("mono", "top-bottom", "side-by-side"), default="mono")
    imported.add_argument("--yaw", type=float, default=0.0, metavar="DEG", help="the yaw in the picture shown ahead")
    imported.add_argument("--title", help="the title the therapist reads (default: from the file's name)")
    imported.add_argument("--postures", help="comma-separated: seated,supine,prone (default: all three)")
    imported.add_argument("--into", metavar="FOLDER", help=f"the folder of scene folders (default: {_SCENES_DIR_HELP})")
    imported.add_argument("--force", action="store_true", help="replace a scene folder or override a built-in scene")
    imported.set_defaults(handler=commands.scenes_import)


def _add_audio(subcommands) -> None:
    audio = subcommands.add_parser("audio", help="render a program's sound to a WAV file").add_subparsers(
        title="audio commands", required=True
    )
    render = audio.add_parser("render", help="the program's sound in virtual time, to WAV (no session is logged)")
    render.add_argument("program")
    render.add_argument("--out", required=True, metavar="FILE.wav")
    option.add_minutes(render)
    option.add_sensor(render, "'sim', 'replay:FILE.csv' or 'replay:SESSION_ID'")
    option.add_seed(render, help=None)
    render.add_argument("--rate", type=option.sample_rate, default=48000, help="sample rate in Hz (8000-192000)")
    render.set_defaults(handler=commands.audio_render)


def _add_rate(subcommands) -> None:
    rate = subcommands.add_parser(
        "rate", help="record the client's pain and stress before or after a session, and cybersickness after it"
    )
    rate.add_argument("session_id", type=option.session_id)
    rate.add_argument("moment", choices=("before", "after"))
    option.add_ratings(
        rate, pain="0 (none) to 10 (worst imaginable)", stress="0 (none) to 10 (extreme)", note_help="free text"
    )
    cli_course.add_sickness(rate)
    rate.set_defaults(handler=commands.rate)


def _add_hrv(subcommands) -> None:
    hrv = subcommands.add_parser(
        "hrv",
        help="offline HRV metrics of an RR file (columns t_s,rr_ms), or of the "
        "beats CSV or JSON that `tidewell report --csv/--json` wrote",
    )
    hrv.add_argument("file")
    hrv.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    hrv.set_defaults(handler=commands.hrv)


def _add_report(subcommands) -> None:
    report = subcommands.add_parser("report", help="a session's report page, exports, or a client's trends")
    report.add_argument("session_id", type=option.session_id, nargs="?")
    report.add_argument("--client", type=option.pseudonym, help="trends across this client's sessions")
    report.add_argument("--html", metavar="FILE", help="write the report page")
    report.add_argument("--csv", metavar="FILE", help="export the time series as CSV")
    report.add_argument("--json", metavar="FILE", dest="json_path", help="export everything as JSON")
    report.add_argument("--pdf", metavar="FILE", help="with --client: the course report for the referring provider")
    report.add_argument("--fhir", metavar="FILE", help="with --client: the course as an HL7 FHIR R4 Bundle (JSON)")
    report.add_argument("--anonymize", action="store_true", help="no pseudonym, dates or free text")

    report.set_defaults(handler=commands.report)


def _add_clients(subcommands) -> None:
    cli_course.add_clients(subcommands)


def _add_sessions(subcommands) -> None:
    sessions = subcommands.add_parser("sessions", help="logged sessions").add_subparsers(
        title="sessions commands", required=True
    )
    listed = sessions.add_parser("list", help="the most recent sessions")
    listed.add_argument("--limit", type=option.limit, default=20, help="how many (default 20)")
    listed.set_defaults(handler=commands.sessions_list)
    show = sessions.add_parser("show", help="one session: phases, per-phase summary and events")
    show.add_argument("session_id", type=option.session_id)
    show.set_defaults(handler=commands.sessions_show)


if __name__ == "__main__":
    sys.exit(main())
