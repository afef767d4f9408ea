"""One session from start to end: opens its outputs (display, log, sound, sensor, contact sheet) under
one contextlib.ExitStack, plays the frames (engine/session_loop.py), and closes them in reverse order
whatever happens: a program that ends, Ctrl-C, SIGTERM, a log that fails, a bug.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tidewell.audio.output import open_audio_output
from tidewell.core.clock import RealClock, VirtualClock
from tidewell.core.errors import UsageError
from tidewell.core.frame_state import FrameState
from tidewell.core.keymap import load_keymap
from tidewell.core.private_files import new_private_folder
from tidewell.core.terminal import say as terminal_say
from tidewell.engine.heart_source import make_source
from tidewell.engine.session_loop import SessionLoop
from tidewell.engine.session_outputs import ContactFrames, EventFanOut
from tidewell.scenes.catalog import available_scenes
from tidewell.sensors.spec import parse_sensor
from tidewell.sessions.controls import Controls, key_control
from tidewell.sessions.precautions import program_for_client, uses_resonance
from tidewell.sessions.program import Program
from tidewell.sessions.pseudonyms import checked_pseudonym
from tidewell.sessions.resonance import assess, format_results, is_assessment
from tidewell.sessions.runner import SessionRunner
from tidewell.sessions.store import SessionStore
from tidewell.sessions.store_checks import StoreError
from tidewell.sessions.summary import PhaseSummary, summarize

if TYPE_CHECKING:  # the headset's modules load pyopenxr: only a headset session imports them
    from tidewell.engine.render.protocols import LiveTarget
    from tidewell.engine.xr.display_clock import DisplayClock
    from tidewell.engine.xr.presence import HeadsetPresence


@dataclass
class RunOptions:
    client: str = "anonymous"
    sensor: str = "sim"  # one word: sim, ble, ble:ADDRESS, replay:FILE.csv, replay:SESSION_ID (sensors/spec.py)
    virtual_time: bool | None = None  # None: virtual when nothing is there to see or hear live
    headless: bool = False
    seed: int = 0
    audio_device: str | None = None
    adapter: str | None = None  # Bluetooth adapter for --sensor ble
    frame_rate: float = 30.0
    window_size: tuple[int, int] = (1280, 720)
    say: Callable[[str], None] = terminal_say  # every line may hold typed text: control characters removed
    # The one queue of Controls (sessions/controls.py) from the window's keys, the headset and the console,
    # which the runner applies at its next step; the console's carry what they expect, so a repeat changes nothing.
    controls: Controls = field(default_factory=queue.SimpleQueue)
    on_begin: Callable[[int], None] | None = None  # called with the new session's id, e.g. to store a rating
    on_frame: Callable[[FrameState], None] | None = None  # every frame's state (the console's live view)
    on_event: Callable[[float, str, str, int | None], None] | None = None  # every logged event
    client_label: str | None = None  # how terminal messages name the client (default: the pseudonym)
    attended: bool = False  # a therapist controls the run from elsewhere (the console): phases wait for them
    target: str = "auto"  # "auto" (a window where there is a display), or "xr" (the headset, engine/xr)
    xr_space: str = "local"  # the headset's reference space: "local" or "stage"
    mirror: bool | None = None  # the headset's desktop mirror; None: when there is a display
    sound_when_headset_off: str = "continue"  # or "fade" (engine/xr/presence.py)
    on_headset: Callable[[object], None] | None = None  # called with the open XR target (tests, benchmarks)
    on_window: Callable[[object], None] | None = None  # called with the session's window target (the live view)
    spectrum_worker: bool | None = None  # the 5-s HRV spectrum off the frame thread; None: in wall-clock runs
    eyes_closed: bool = False  # every phase in the eyes-closed scene (after cybersickness)


@dataclass
class SessionResult:
    session_id: int
    status: str
    folder: Path
    wav_path: Path | None
    contact_sheet: Path | None
    summaries: list[PhaseSummary]  # read through sessions/session_metrics.py: this first read computes and stores them
    simulated_s: float
    stopped_by: signal.Signals | None = None  # SIGINT or SIGTERM for a session a signal interrupted


class StopRequest:
    """Ctrl-C and SIGTERM set a flag the loop reads, so a stop never lands in the middle of a write."""

    def __init__(self):
        self.requested = False
        self.signal: signal.Signals | None = None  # the signal that asked for the stop
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True
        self.signal = signal.Signals(signum)

    @property
    def reason(self) -> str:
        """What stopped it, as the terminal names it: Ctrl-C or SIGTERM."""
        return "Ctrl-C" if self.signal in (None, signal.SIGINT) else self.signal.name

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


@dataclass
class Display:
    """What shows the session live: a window, the headset (with its presence and clock), or nothing."""

    target: LiveTarget | None = None
    presence: HeadsetPresence | None = None  # the headset's: taken off, put on
    clock: DisplayClock | None = None  # the headset's: the runtime's display times
    therapist_at_hand: bool = False  # a window or the headset's mirror shows the therapist the session

    def close(self) -> None:
        if self.target is not None:
            self.target.close()


def run_session(program: Program, options: RunOptions, store: SessionStore | None = None, source=None) -> SessionResult:
    """`source` overrides options.sensor with a ready BeatSource (tests, benchmarks)."""
    say = options.say
    options.client = checked_pseudonym(options.client)
    store = store or SessionStore()
    program = _for_client(program, options, store)
    live_sensor = source is None and parse_sensor(options.sensor)[0] == "ble"
    _check_sensor(options, live_sensor)
    if source is None and not live_sensor:
        source = make_source(options.sensor, options.seed, say, store=store)
    capture = ContactFrames(program, say)
    with contextlib.ExitStack() as outputs:
        outputs.callback(capture.close)
        display = _open_display(options, program, outputs)  # nothing is logged before it opens
        capture.live = display.target
        session_id = store.begin(
            program_id=program.id,
            program_title=program.title,
            program_minutes=program.minutes,
            client=options.client,
            sensor=options.sensor.strip(),
            virtual_time=False,
            seed=options.seed,
            target=options.target if options.target == "xr" else "screen",
        )
        if options.on_begin is not None:
            options.on_begin(session_id)
        folder = new_private_folder(store.path.parent / "sessions" / f"{session_id:05d}")
        store.set_folder(session_id, folder)
        loop = SessionLoop(program, capture, display.target, display.presence, options.on_frame, options.frame_rate)
        outputs.callback(loop.close_log)
        outputs.callback(loop.finish_capture)
        audio = _open_audio(options, folder, outputs)
        clock = _session_clock(options, store, session_id, display, audio, live_sensor)
        if source is None:
            source = make_source(options.sensor, options.seed, say, clock=clock, adapter=options.adapter)
        outputs.callback(source.stop)
        writer = store.writer(session_id)
        loop.log_to(writer, EventFanOut(writer, say, options.on_event))
        runner = SessionRunner(
            program,
            source,
            unattended=not display.therapist_at_hand and not options.attended,
            controls=options.controls,
            spectrum_worker=not isinstance(clock, VirtualClock)
            if options.spectrum_worker is None
            else options.spectrum_worker,
        )
        say(
            f"session {session_id}: {program.title} for {_label(options)}, {program.minutes:.1f} min,"
            f" sensor {source.description}"
        )
        with StopRequest() as stop:
            status = loop.run(runner, audio, source, clock, stop)
    sheet = capture.write(folder / "contact_sheet.png")
    if status != "interrupted" and is_assessment(program):
        _store_resonance(store, session_id, program, options.client, loop.last_t, say, _label(options))
    return SessionResult(
        session_id, status, folder, audio.path, sheet, summarize(store, session_id), loop.last_t, loop.stopped_by
    )


def _for_client(program: Program, options: RunOptions, store: SessionStore) -> Program:
    """The program as it plays for this client (sessions/precautions.program_for_client)."""
    client = store.client(options.client)
    played = program_for_client(
        program, client, store.intake(options.client), available_scenes(), eyes_closed=options.eyes_closed
    )
    if uses_resonance(program, client):
        options.say(
            f"{_label(options)}: resonance pace {client['resonance_bpm']:.1f} breaths/min "
            f"(assessed in session {client['resonance_session_id']})"
        )
    return played


def _check_sensor(options: RunOptions, live_sensor: bool) -> None:
    """A Bluetooth sensor that cannot work says so before anything is logged: nothing would be measured."""
    if live_sensor and options.virtual_time:
        raise UsageError("a Bluetooth sensor runs in real time: drop --virtual-time")
    if live_sensor:
        from tidewell.sensors.ble import check_bluetooth

        check_bluetooth(options.adapter)  # BluetoothUnavailable


def _open_display(options: RunOptions, program: Program, outputs: contextlib.ExitStack) -> Display:
    """The headset, a window where there is a display, or nothing; closed when `outputs` closes."""
    if options.target == "xr":
        if options.virtual_time:
            raise UsageError("a headset session runs in real time: drop --virtual-time")
        display = _open_headset(options)
        outputs.callback(display.close)
        display.target.prepare([phase.scene for phase in program.phases])
        # A full collection walks every object of the process (tens of milliseconds with numpy and
        # scipy loaded), long enough to miss a headset frame: what exists now is kept out of reach.
        gc.collect()
        gc.freeze()
        return display
    if options.target != "auto":
        raise ValueError(f"unknown target {options.target!r}: expected 'auto' or 'xr'")
    if options.headless or options.virtual_time is True:
        return Display()
    display = _open_window(options)
    outputs.callback(display.close)
    return display


def _open_window(options: RunOptions) -> Display:
    from tidewell.engine.render.targets import WindowTarget, open_target

    key_map = load_keymap()  # a bad keys.toml stops here, before anything starts
    target, message = open_target(prefer_window=True, size=options.window_size)
    options.say(message)
    if not isinstance(target, WindowTarget):
        target.close()  # offscreen: the contact sheet opens its own
        return Display()
    target.key_map = key_map
    target.on_key = lambda action: options.controls.put(key_control(action))
    if options.on_window is not None:
        options.on_window(target)
    return Display(target, therapist_at_hand=True)


def _open_headset(options: RunOptions) -> Display:
    """The XR target (and its desktop mirror where there is a display). Raises XrUnavailable with what
    is missing before anything is logged."""
    import os

    from tidewell.engine.xr.presence import HeadsetPresence
    from tidewell.engine.xr.target import XrTarget

    presence = HeadsetPresence(options.sound_when_headset_off, options.controls)
    mirror = None
    wants_mirror = options.mirror if options.mirror is not None else bool(os.environ.get("DISPLAY"))
    if wants_mirror and not options.headless:
        from tidewell.engine.xr.mirror import MirrorWindow

        mirror = MirrorWindow(on_key=lambda action: options.controls.put(key_control(action)), key_map=load_keymap())
    try:
        headset = XrTarget(reference=options.xr_space, mirror=mirror)
    except BaseException:
        if mirror is not None:
            mirror.close()
        raise
    options.say(f"headset: {headset.description}")
    if options.on_headset is not None:
        options.on_headset(headset)
    return Display(headset, presence, headset.clock, therapist_at_hand=mirror is not None)


def _open_audio(options: RunOptions, folder: Path, outputs: contextlib.ExitStack):
    """The sound device, or the WAV file (always, in virtual time); closed when `outputs` closes."""
    audio, message = open_audio_output(
        folder / "breath.wav",
        device=options.audio_device,
        prefer_device=options.virtual_time is not True,
        seed=options.seed,
    )
    outputs.callback(audio.close)
    options.say(message)
    return audio


def _session_clock(
    options: RunOptions, store: SessionStore, session_id: int, display: Display, audio, live_sensor: bool
):
    """The headset's display clock, the wall clock, or virtual time: chosen when nothing is there to see
    or hear live (and logged as such)."""
    virtual = options.virtual_time
    if virtual is None:
        virtual = display.target is None and audio.path is not None and not live_sensor
        if virtual:
            options.say(
                "nothing to see or hear live: simulating in virtual time (--real-time to play at the wall clock)"
            )
    if virtual:
        store.set_virtual_time(session_id)
    if display.clock is not None:
        display.clock.restart()
        return display.clock
    return VirtualClock() if virtual else RealClock()


def _label(options: RunOptions) -> str:
    return options.client_label or repr(options.client)


def _store_resonance(
    store: SessionStore, session_id: int, program: Program, client: str, t_s: float, say, label: str
) -> None:
    """The assessment's result; a log that cannot take it loses only it, never the session's result."""
    try:
        _assess_and_store(store, session_id, program, client, t_s, say, label)
    except StoreError as error:
        say(f"resonance not stored: {error}")


def _assess_and_store(
    store: SessionStore, session_id: int, program: Program, client: str, t_s: float, say, label: str
) -> None:
    results, chosen = assess(store, session_id, program)
    say("resonance assessment:\n" + format_results(results, chosen))
    if chosen is not None:
        store.set_resonance(client, chosen, session_id)
        store.add_event(session_id, t_s, "resonance", f"{chosen:.1f} breaths/min")
        say(f"{label}: resonance pace {chosen:.1f} breaths/min stored; later sessions breathe at it")
