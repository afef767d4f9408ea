"""Every kind of session event, and who shows it: the one list that the session log, the therapist
console, the terminal, the report and the export all read.

An event is (t_s, kind, detail, phase). A kind that is not listed here still reaches the log and is
shown everywhere under a generic label, with one warning, so no logged data is ever lost for it;
with TIDEWELL_STRICT_EVENT_KINDS=1 (the test suite sets it) it raises UnknownEventKind instead.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

STRICT_ENV = "TIDEWELL_STRICT_EVENT_KINDS"

# how the terminal says an event
LINE = "line"  # "  mm:ss  label: detail"
SAMPLED = "sampled"  # as LINE, but only the first few and then every 100th (a sensor can flood)
OWN = "own"  # the emitter prints its own wording (a phase start names scene, posture and pace)
SILENT = "silent"


class UnknownEventKind(ValueError):
    """An event kind that is not in KINDS (raised only with TIDEWELL_STRICT_EVENT_KINDS=1)."""


@dataclass(frozen=True)
class EventKind:
    name: str
    label: str  # short, for people: the console's list, the terminal, the report
    console: bool  # shown in the therapist console's event list
    terminal: str  # LINE, SAMPLED, OWN or SILENT
    report: bool  # listed under "Markers, alerts and interruptions" in the session report
    logged: bool = True  # written to the session log (False: the console's own, e.g. a start that failed)
    ends: tuple[str, ...] = ()  # kinds that end the data gap this one opens (hatched on the report's plots)
    program_detail: bool = False  # the detail is program content or a number: kept when anonymized


KINDS: dict[str, EventKind] = {
    k.name: k
    for k in (
        # the program's course (sessions/runner.py)
        EventKind("phase_start", "phase start", console=True, terminal=OWN, report=False, program_detail=True),
        EventKind("phase_end", "phase end", console=False, terminal=SILENT, report=False, program_detail=True),
        EventKind("program_end", "program end", console=False, terminal=SILENT, report=False, program_detail=True),
        EventKind("auto_advance", "auto advance", console=True, terminal=LINE, report=True, program_detail=True),
        EventKind("baseline", "baseline", console=True, terminal=LINE, report=False, program_detail=True),
        EventKind("recenter", "recenter", console=False, terminal=SILENT, report=False, program_detail=True),
        EventKind("alert", "alert", console=True, terminal=LINE, report=True),
        # the live metrics (sessions/metrics.py): a spectrum its worker thread could not compute
        EventKind("metrics_problem", "live metrics problem", console=True, terminal=LINE, report=True),
        # the therapist's controls (window keys, pedals, console)
        EventKind(
            "therapist_next", "next phase (therapist)", console=True, terminal=LINE, report=True, program_detail=True
        ),
        EventKind("pause", "paused", console=True, terminal=LINE, report=True, ends=("resume",), program_detail=True),
        EventKind("resume", "resumed", console=True, terminal=LINE, report=True, program_detail=True),
        EventKind("marker", "marker", console=True, terminal=LINE, report=True),
        EventKind("gentle_end", "gentle end", console=True, terminal=LINE, report=True),
        # the heart-rate sensor (sessions/runner.py; sensors/packets.py and sensors/ble.py, prefixed "sensor_")
        EventKind(
            "sensor_lost", "sensor lost (no beats)", console=True, terminal=LINE, report=True, ends=("sensor_back",)
        ),
        EventKind("sensor_back", "sensor back (beats again)", console=True, terminal=LINE, report=True),
        EventKind(
            "sensor_contact_lost",
            "no skin contact",
            console=True,
            terminal=LINE,
            report=True,
            ends=("sensor_contact_back",),
        ),
        EventKind("sensor_contact_back", "skin contact back", console=True, terminal=LINE, report=True),
        EventKind(
            "sensor_disconnected",
            "sensor disconnected",
            console=True,
            terminal=LINE,
            report=True,
            ends=("sensor_connected",),
        ),
        EventKind("sensor_connected", "sensor connected", console=True, terminal=LINE, report=True),
        EventKind("sensor_error", "sensor problem", console=True, terminal=LINE, report=True),
        EventKind("sensor_malformed", "malformed packet", console=False, terminal=SAMPLED, report=False),
        EventKind("sensor_battery", "sensor battery", console=True, terminal=LINE, report=False),
        EventKind("sensor_body_location", "sensor worn at", console=False, terminal=LINE, report=False),
        # sound (audio/device.py)
        EventKind("audio_lost", "sound device lost", console=True, terminal=LINE, report=True),
        EventKind("audio_back", "sound device back", console=True, terminal=LINE, report=True),
        # the WAV file (audio/output.py): stopped on a full disk, the session goes on
        EventKind("sound_file_stopped", "sound file stopped", console=True, terminal=LINE, report=True),
        # the headset (engine/xr/target.py)
        EventKind("headset_off", "headset off", console=True, terminal=LINE, report=True),
        EventKind("headset_on", "headset on", console=True, terminal=LINE, report=True),
        EventKind("xr_state", "xr state", console=False, terminal=LINE, report=False, program_detail=True),
        EventKind("xr_lost", "xr lost", console=True, terminal=LINE, report=True),
        # scenes (engine/render/scene_renderer.py): a scene that could not be drawn, and what was drawn instead
        EventKind("scene_problem", "scene problem", console=True, terminal=LINE, report=True),
        # the session log itself (sessions/store_writer.py)
        EventKind("log_write_failed", "log write failed", console=True, terminal=LINE, report=True),
        # after the session (engine/session.py)
        EventKind("resonance", "resonance pace", console=False, terminal=OWN, report=True, program_detail=True),
        # the client's intake precautions (sessions/precautions.py): what each changed, before the first frame;
        # text from the fixed list and the program, so kept when anonymized (the course report keeps it too)
        EventKind("precaution", "precaution applied", console=True, terminal=LINE, report=True, program_detail=True),
        # the console's own (engine/console/hub.py): a start that failed never reaches a session log
        EventKind("start_failed", "could not start", console=True, terminal=OWN, report=False, logged=False),
        # ... and a session that began but ended on an error (what was logged is kept, with its own status)
        EventKind(
            "session_failed", "session ended on an error", console=True, terminal=OWN, report=False, logged=False
        ),
    )
}

_log = logging.getLogger("tidewell.events")
_warned: set[str] = set()


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


def kind(name: str) -> EventKind:
    """The kind's entry. An unknown kind gets a generic one (shown everywhere, so nothing is hidden),
    and a warning once; in strict mode it raises UnknownEventKind."""
    entry = KINDS.get(name)
    if entry is not None:
        return entry
    if strict():
        raise UnknownEventKind(f"event kind {name!r} is not registered in core/event_kinds.py")
    if name not in _warned:
        _warned.add(name)
        _log.warning("event kind %r is not registered in core/event_kinds.py; logged with a generic label", name)
    return EventKind(str(name), str(name).replace("_", " "), console=True, terminal=LINE, report=True)


def label(name: str) -> str:
    """For reading a log: old or foreign kinds get a generic label, never an error."""
    entry = KINDS.get(name)
    return entry.label if entry is not None else str(name).replace("_", " ")
