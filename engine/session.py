"""One session from start to end: wires the runner to the render target, audio and log.

The loop is short and explicit: clock → runner.step → audio, log, render → wait for the next frame.
"""
from __future__ import annotations

import gc
import signal
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from tidewell.audio.output import open_audio_output
from tidewell.core import event_kinds
from tidewell.core.clock import RealClock, VirtualClock
from tidewell.core.frame_state import FrameState
from tidewell.core.keymap import load_keymap
from tidewell.core.terminal import say as terminal_say
from tidewell.sensors.replay import load_rr_csv
from tidewell.sensors.spec import parse_sensor
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.core.private_files import new_private_folder
from tidewell.sessions.program import Program
from tidewell.sessions.pseudonyms import checked_pseudonym
from tidewell.sessions.resonance import assess, format_results, is_assessment
from tidewell.sessions.runner import SessionRunner
from tidewell.sessions.store import SessionStore
from tidewell.sessions.store_checks import StoreError
from tidewell.sessions.summary import PhaseSummary, summarize
from tidewell.core.words import plural

SAMPLE_INTERVAL_S = 0.25  # frame-state samples in the log: 4 Hz
CONTACT_FRAME_SIZE = (480, 270)


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
    # Keys from the window ("next", "pause", "end", "marker") and console commands, which carry what
    # they expect so a repeated one changes nothing: ("next", from_phase_index), ("pause", paused),
    # ("marker", text), ("end", reason).
    controls: list[str | tuple[str, object]] = field(default_factory=list)
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
    spectrum_worker: bool | None = None  # the 5-s HRV spectrum off the frame thread; None: in wall-clock runs


@dataclass
class SessionResult:
    session_id: int
    status: str
    folder: Path
    wav_path: Path | None
    contact_sheet: Path | None
    summaries: list[PhaseSummary]
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


def make_source(sensor: str, seed: int, say: Callable[[str], None], clock=None,
                store: SessionStore | None = None, adapter: str | None = None):
    kind, argument = parse_sensor(sensor)
    if kind == "sim":
        return SimulatedHeart(seed=seed)
    if kind == "ble":
        from tidewell.sensors.ble import BleHeartRateSource

        return BleHeartRateSource(argument, clock.now, adapter).start()
    if argument.isdigit():
        return _session_replay(int(argument), store or SessionStore())
    source, problems = load_rr_csv(argument)
    for problem in problems[:10]:
        say(f"skipped bad row: {problem}")
    if len(problems) > 10:
        say(f"... and {plural(len(problems) - 10, 'more bad row')}")
    return source


def _session_replay(session_id: int, store: SessionStore):
    """A logged session's raw Bluetooth packets, or, for sessions without any, its raw RR series."""
    from tidewell.sensors.packet_replay import PacketReplay
    from tidewell.sensors.replay import RRReplay
    from tidewell.sensors.source import RawRR

    if store.session(session_id) is None:
        raise ValueError(f"no session {session_id} in {store.path} to replay")
    packets = store.packets(session_id)
    if packets:
        disconnects = [e["t_s"] for e in store.events(session_id) if e["kind"] == "sensor_disconnected"]
        return PacketReplay(packets, f"replay of session {session_id} ({plural(len(packets), 'Bluetooth packet')})",
                            disconnects)
    beats = [RawRR(b["t_s"], b["rr_ms"]) for b in store.beats(session_id) if not b["inserted"]]
    if not beats:
        raise ValueError(f"session {session_id} has no recorded heart data to replay")
    return RRReplay(beats, name="replay", description=f"replay of session {session_id} ({plural(len(beats), 'beat')})")


def run_session(program: Program, options: RunOptions, store: SessionStore | None = None,
                source=None) -> SessionResult:
    """`source` overrides options.sensor with a ready BeatSource (tests, benchmarks)."""
    say = options.say
    options.client = checked_pseudonym(options.client)
    sensor_kind, _ = parse_sensor(options.sensor)
    store = store or SessionStore()
    client = store.client(options.client)
    if client is not None and client["resonance_bpm"] and any(p.resonance for p in program.phases):
        program = program.for_client(client["resonance_bpm"])
        say(f"{_label(options)}: resonance pace {client['resonance_bpm']:.1f} breaths/min "
            f"(assessed in session {client['resonance_session_id']})")
    live_sensor = source is None and sensor_kind == "ble"
    if live_sensor and options.virtual_time:
        raise ValueError("a Bluetooth sensor runs in real time: drop --virtual-time")
    if live_sensor:
        from tidewell.sensors.ble import check_bluetooth

        check_bluetooth(options.adapter)  # BluetoothUnavailable before anything is logged: nothing would be measured
    if source is None and not live_sensor:
        source = make_source(options.sensor, options.seed, say, store=store)

    window = None
    headset = presence = None
    if options.target == "xr":
        if options.virtual_time:
            raise ValueError("a headset session runs in real time: drop --virtual-time")
        headset, presence = _open_headset(options, say)
        headset.prepare([phase.scene for phase in program.phases])
        # A full collection walks every object of the process (tens of milliseconds with numpy and
        # scipy loaded), long enough to miss a headset frame: what exists now is kept out of reach.
        gc.collect()
        gc.freeze()
    elif options.target != "auto":
        raise ValueError(f"unknown target {options.target!r}: expected 'auto' or 'xr'")
    elif not options.headless and options.virtual_time is not True:
        from tidewell.engine.render.targets import WindowTarget, open_target

        key_map = load_keymap()  # a bad keys.toml stops here, before anything starts
        target, message = open_target(prefer_window=True, size=options.window_size)
        if isinstance(target, WindowTarget):
            window = target
            window.key_map = key_map
            window.on_key = options.controls.append
        else:
            target.close()
        say(message)

    try:
        session_id = store.begin(
            program_id=program.id, program_title=program.title, program_minutes=program.minutes,
            client=options.client, sensor=options.sensor.strip(), virtual_time=False, seed=options.seed,
        )
    except BaseException:
        if headset is not None:
            headset.close()
        raise
    if options.on_begin is not None:
        options.on_begin(session_id)
    folder = new_private_folder(store.path.parent / "sessions" / f"{session_id:05d}")
    store.set_folder(session_id, folder)

    wants_live_audio = options.virtual_time is not True
    audio, message = open_audio_output(folder / "breath.wav", device=options.audio_device,
                                       prefer_device=wants_live_audio, seed=options.seed)
    say(message)
    virtual = options.virtual_time
    if virtual is None:
        virtual = window is None and headset is None and audio.path is not None and not live_sensor
        if virtual:
            say("nothing to see or hear live: simulating in virtual time (--real-time to play at the wall clock)")
    if virtual:
        store.set_virtual_time(session_id)
    clock = headset.clock if headset is not None else VirtualClock() if virtual else RealClock()
    if headset is not None:
        headset.clock.restart()
    if source is None:
        source = make_source(options.sensor, options.seed, say, clock=clock, adapter=options.adapter)
    capture = _ContactFrames(program, say, window if headset is None else headset)

    writer = store.writer(session_id)
    events = _EventFanOut(writer, say, options.on_event)
    capture.on_scene_problem = lambda t_s, problem, phase: events.emit(t_s, "scene_problem", problem, phase)
    therapist_at_hand = window is not None or (headset is not None and headset.mirror is not None)
    runner = SessionRunner(program, source, unattended=not therapist_at_hand and not options.attended,
                           spectrum_worker=not isinstance(clock, VirtualClock) if options.spectrum_worker is None
                           else options.spectrum_worker)
    status = "interrupted"
    stopped_by: signal.Signals | None = None
    frame_dt = 1.0 / options.frame_rate
    next_sample = 0.0
    last_t = 0.0
    state: FrameState | None = None
    replaced_scenes: set[int] = set()  # phases whose scene could not be drawn (the safe scene was)
    say(f"session {session_id}: {program.title} for {_label(options)}, {program.minutes:.1f} min,"
        f" sensor {source.description}")
    try:
        with StopRequest() as stop:
            while not runner.finished:
                if stop.requested:
                    say(f"stopped ({stop.reason}): the session is kept and marked interrupted")
                    stopped_by = stop.signal
                    break
                if headset is not None:
                    headset.wait_frame()  # the runtime paces the loop
                now = clock.now()
                if headset is not None:
                    _headset_events(headset, presence, runner, events, now)
                _apply_controls(options.controls, runner, now)
                state = runner.step(now)
                if options.on_frame is not None:
                    options.on_frame(state)
                _log_events(runner, writer, program, events)
                writer.beats(runner.drain_beats())
                _log_write_problems(writer, runner, events, now)
                if hasattr(source, "drain_packets"):
                    writer.packets(source.drain_packets())
                heard = state if presence is None else presence.for_sound(state)
                audio.advance(heard, now - last_t)
                last_t = now
                for kind, detail in audio.drain_events():
                    events.emit(now, kind, detail, state.phase_index)
                lit = state if presence is None else presence.for_light(state)
                if headset is not None:
                    headset.render(lit)
                    _log_scene_problems(headset.renderer, events, now, state.phase_index)
                if window is not None:
                    window.render(state)
                    _log_scene_problems(window.renderer, events, now, state.phase_index)
                seen = _as_seen(lit, headset, window)
                if seen.scene != state.scene and state.phase_index not in replaced_scenes:
                    replaced_scenes.add(state.phase_index)
                    writer.phase_scene(state.phase_index, seen.scene)
                if now >= next_sample:  # after drawing: the log keeps what the client saw and heard
                    writer.sample(seen, 0.0 if getattr(audio, "lost", False) else heard.fade)
                    next_sample += SAMPLE_INTERVAL_S
                if window is not None:
                    window.dispatch_events()
                    if window.closed:
                        runner.request_end(now, "window closed")
                capture.offer(state)
                clock.sleep_until(now + frame_dt)
            else:
                status = "completed" if runner.reached_end else "ended_early"
    finally:
        if hasattr(source, "stop"):
            source.stop()
        audio.close()
        if state is not None:
            capture.finish(state)
        runner.flush_beats()
        writer.beats(runner.drain_beats())
        _log_events(runner, writer, program, events)
        if headset is not None:
            headset.end()  # STOPPING and EXITING, logged below
            _headset_events(headset, presence, runner, events, last_t, closing=True)
        _log_write_problems(writer, runner, events, last_t)  # while the log still takes their rows
        writer.close(status)
        _log_write_problems(writer, runner, events, last_t, closed=True)  # its last commits: told, not logged
        if window is not None:
            window.close()
        if headset is not None:
            headset.close()  # after the contact sheet's last frame, drawn with the headset's GL context
    sheet = capture.write(folder / "contact_sheet.png")
    capture.close()
    if status != "interrupted" and is_assessment(program):
        _store_resonance(store, session_id, program, options.client, last_t, say, _label(options))
    return SessionResult(session_id, status, folder, audio.path, sheet, summarize(store, session_id), last_t,
                         stopped_by)


def _open_headset(options: RunOptions, say):
    """The XR target (and its desktop mirror where there is a display). Raises XrUnavailable with what
    is missing before anything is logged."""
    import os

    from tidewell.engine.xr.presence import HeadsetPresence
    from tidewell.engine.xr.target import XrTarget

    presence = HeadsetPresence(options.sound_when_headset_off)
    mirror = None
    wants_mirror = options.mirror if options.mirror is not None else bool(os.environ.get("DISPLAY"))
    if wants_mirror and not options.headless:
        from tidewell.engine.xr.mirror import MirrorWindow

        mirror = MirrorWindow(on_key=options.controls.append, key_map=load_keymap())
    try:
        headset = XrTarget(reference=options.xr_space, mirror=mirror)
    except BaseException:
        if mirror is not None:
            mirror.close()
        raise
    say(f"headset: {headset.description}")
    if options.on_headset is not None:
        options.on_headset(headset)
    return headset, presence


class _EventFanOut:
    """Every session event goes through here: to the log, to the console (on_event), and to the
    terminal as core/event_kinds.py says."""

    def __init__(self, writer, say, on_event=None):
        self.writer = writer
        self.say = say
        self.on_event = on_event
        self.counts: dict[str, int] = {}

    def emit(self, t_s: float, kind: str, detail: str, phase: int | None, terminal_note: str = "",
             log: bool = True) -> None:
        entry = event_kinds.kind(kind)
        if log:
            self.writer.event(t_s, kind, detail, phase)
        if self.on_event is not None:
            self.on_event(t_s, kind, detail, phase)
        if entry.terminal == event_kinds.SAMPLED:
            self.counts[kind] = count = self.counts.get(kind, 0) + 1
            if count <= 3 or count % 100 == 0:  # every one is in the log; the terminal gets a sample
                self.say(f"  {_clock(t_s)}  {entry.label} #{count}: {detail}")
        elif entry.terminal == event_kinds.LINE:
            self.say(f"  {_clock(t_s)}  {entry.label}: {detail}{terminal_note}")


def _as_seen(lit: FrameState, headset, window) -> FrameState:
    """The frame as it reached the client's eyes: the scenes the renderer drew (the safe scene for a
    broken one) and the light's fade, 0 when nothing was shown (a closed window, a headset that showed
    no layer). With neither, nothing is drawn live: the state as planned."""
    target = headset if headset is not None else window
    if target is None:
        return lit
    seen = target.renderer.as_drawn(lit)
    dark = window.closed if headset is None else not headset.drew_layer
    return replace(seen, fade=0.0) if dark and seen.fade != 0.0 else seen


def _headset_events(headset, presence, runner: SessionRunner, events: _EventFanOut, now: float,
                    closing: bool = False) -> None:
    """Log what happened to the headset since the last frame, and pause or resume for it."""
    phase = runner.phase_index
    for kind, detail in headset.drain_events():
        note = ("; the session goes on with sound only, and every record so far is kept"
                " (end it with Ctrl-C or from the console)") if kind == "xr_lost" else ""
        events.emit(now, kind, detail, phase, note)
        if closing:
            continue
        if kind == "headset_off":
            presence.taken_off(runner, now)
        elif kind == "headset_on":
            presence.put_on(runner, now)
    if closing:
        return
    if headset.exiting and runner.end_requested_s is None:
        runner.request_end(now, "the headset runtime asked the session to exit")
    presence.step(now)


def _log_scene_problems(renderer, events: _EventFanOut, now: float, phase: int) -> None:
    """Scenes the renderer could not draw (it fell back to the last good one, never to black)."""
    for problem in renderer.drain_problems():
        events.emit(now, "scene_problem", problem, phase)


def _log_write_problems(writer, runner: SessionRunner, events: "_EventFanOut", now: float,
                        closed: bool = False) -> None:
    """The log refused rows even after retries: the therapist is told (terminal and console), and the
    session ends gently with everything written so far kept. Once the writer has `closed`, the session
    is over: only the terminal and the console hear of it."""
    for kind, detail in writer.drain_problems():
        events.emit(now, kind, detail, runner.phase_index,  # the row lands if the disk recovers
                    terminal_note="; what was logged before is kept", log=not closed)
        if not closed:
            runner.request_end(now, "the session log cannot be written")


def _label(options: RunOptions) -> str:
    return options.client_label or repr(options.client)


def _store_resonance(store: SessionStore, session_id: int, program: Program, client: str, t_s: float, say,
                     label: str) -> None:
    """The assessment's result; a log that cannot take it loses only it, never the session's result."""
    try:
        _assess_and_store(store, session_id, program, client, t_s, say, label)
    except StoreError as error:
        say(f"resonance not stored: {error}")


def _assess_and_store(store: SessionStore, session_id: int, program: Program, client: str, t_s: float, say,
                      label: str) -> None:
    results, chosen = assess(store, session_id, program)
    say("resonance assessment:\n" + format_results(results, chosen))
    if chosen is not None:
        store.set_resonance(client, chosen, session_id)
        store.add_event(session_id, t_s, "resonance", f"{chosen:.1f} breaths/min")
        say(f"{label}: resonance pace {chosen:.1f} breaths/min stored; later sessions breathe at it")


def _apply_controls(controls: list, runner: SessionRunner, now: float) -> None:
    while controls:
        command = controls.pop(0)
        action, argument = command if isinstance(command, tuple) else (command, None)
        if action == "next":
            if argument is None or argument == runner.phase_index:
                runner.next_phase(now)
        elif action == "pause":
            if argument is None or bool(argument) != runner.paused:
                runner.toggle_pause(now)
        elif action == "end":
            runner.request_end(now, *([str(argument)] if argument else []))
        elif action == "marker":
            runner.add_marker(now, str(argument) if argument else "marker (key)")


def _log_events(runner: SessionRunner, writer, program: Program, events: _EventFanOut) -> None:
    for event in runner.drain_events():
        events.emit(event.t_s, event.kind, event.detail, event.phase_index)
        if event.kind == "phase_start":
            phase = program.phases[event.phase_index]
            writer.phase_start(event.phase_index, phase, event.t_s)
            events.say(f"  {_clock(event.t_s)}  phase {event.phase_index + 1}/{len(program.phases)}: {phase.name}"
                       f" ({phase.scene}, {phase.posture.value}, {phase.breathing.rate_bpm:.1f} breaths/min)")
        elif event.kind == "phase_end":
            writer.phase_end(event.phase_index, event.t_s)


def _clock(t_s: float) -> str:
    return f"{int(t_s // 60):02d}:{int(t_s % 60):02d}"


class _ContactFrames:
    """One frame per phase, taken at the middle of the phase, for the contact sheet."""

    def __init__(self, program: Program, say, window=None):
        self.program = program
        self.say = say
        self.frames: dict[int, tuple[str, np.ndarray]] = {}
        self._last: dict[int, FrameState] = {}
        self._window = window
        self._target = None
        self._failed = False
        self.on_scene_problem = lambda t_s, problem, phase: say(f"  scene problem: {problem}")

    def offer(self, state: FrameState) -> None:
        index = state.phase_index
        if index in self.frames:
            return
        previous = self._last.get(index - 1)
        if previous is not None and index - 1 not in self.frames:
            self._grab(previous, now=True)
        self._last[index] = state
        if state.phase_progress >= 0.5 and (state.previous_scene is None):
            self._grab(state)

    def finish(self, state: FrameState) -> None:
        if state.phase_index not in self.frames:
            self._grab(state, now=True)

    def _grab(self, state: FrameState, now: bool = False) -> None:
        """now: the picture is needed at once (a headset otherwise hands over its next frame's eye)."""
        shown = replace(state, fade=1.0)  # the sheet shows the scene, not the fade
        if self._window is not None and not self._window.closed:
            if now and hasattr(self._window, "render_snapshot"):
                pixels = self._window.render_snapshot(shown, CONTACT_FRAME_SIZE)
            else:
                pixels = self._window.snapshot(shown, CONTACT_FRAME_SIZE)
        else:
            target = self._offscreen()
            if target is None:
                return
            target.render(shown)
            for problem in target.renderer.drain_problems():
                self.on_scene_problem(state.t_s, problem, state.phase_index)
            pixels = target.read_rgb()
        if pixels is not None:
            label = f"{state.phase_index + 1}. {state.phase_name} ({state.posture.value})"
            self.frames[state.phase_index] = (label, pixels)

    def _offscreen(self):
        if self._target is None and not self._failed:
            from tidewell.engine.render.targets import open_target

            self._target, message = open_target(prefer_window=False, size=CONTACT_FRAME_SIZE)
            if self._target.read_rgb() is None:  # NullTarget: no EGL
                self.say(f"no contact sheet: {message}")
                self._failed = True
                self._target = None
        return self._target

    def write(self, path: Path) -> Path | None:
        if not self.frames:
            return None
        from tidewell.engine.render.contact_sheet import write_contact_sheet

        try:
            write_contact_sheet([self.frames[i] for i in sorted(self.frames)], path)
        except OSError as error:
            self.say(f"no contact sheet: cannot write {path} ({error.strerror or error})")
            return None
        return path

    def close(self) -> None:
        if self._target is not None:
            self._target.close()
