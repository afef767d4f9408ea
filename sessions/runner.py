"""The session runner: program + clock + heart → one immutable FrameState per frame.

All decisions live here (phase, breathing guide, calm, fades); renderers, audio and the log
only read the FrameState it returns.
"""

from __future__ import annotations

import math
import queue
from dataclasses import dataclass

from tidewell.core.frame_state import FrameState
from tidewell.core.words import plural
from tidewell.sensors.correction import CorrectedBeat, RRCorrector
from tidewell.sensors.source import BeatSource
from tidewell.sessions.adaptation import AdaptivePace, Baseline, CalmEstimator, HeartRateTrend
from tidewell.sessions.alerts import DeepWorkAlert
from tidewell.sessions.breathing import BreathPacer
from tidewell.sessions.controls import Control, Controls
from tidewell.sessions.hrv import span_hrv
from tidewell.sessions.metrics import RollingMetrics
from tidewell.sessions.program import Advance, Pace, Program
from tidewell.sessions.provisional_hr import ProvisionalHeartRate

FADE_IN_S = 10.0
GENTLE_END_S = 5.0
SENSOR_SILENCE_S = 5.0
RECENTER_HALF_S = 3.0  # a posture change dims to dark, turns the world, and brightens again


@dataclass(frozen=True)
class Event:
    t_s: float
    kind: str
    detail: str
    phase_index: int


class SessionRunner:
    def __init__(
        self,
        program: Program,
        source: BeatSource,
        *,
        unattended: bool,
        controls: Controls | None = None,
        spectrum_worker: bool = False,
    ):
        """controls: the queue the window, headset and console put their Controls on (sessions/controls.py);
        each step applies what is waiting there first. spectrum_worker: the live spectrum on a worker thread
        (sessions/metrics.py), for sessions played at the wall clock."""
        self.program = program
        self.source = source
        self.unattended = unattended
        self.controls: Controls = controls if controls is not None else queue.SimpleQueue()
        self.phase_index = 0
        self.phase_started_s = 0.0
        self.phase_elapsed_s = 0.0
        self.paused = False
        self.paused_by: str | None = None  # who paused: the headset resumes only its own pause
        self.finished = False
        self.reached_end = False  # the last phase ran its course or was ended gently (not ended early)
        self.pacer = BreathPacer(program.phases[0].breathing)
        self.corrector = RRCorrector()
        self.metrics = RollingMetrics(background=spectrum_worker)  # see RollingMetrics: wall-clock runs only
        self.calm = CalmEstimator()
        self.pace = AdaptivePace(program.phases[0].breathing.rate_bpm, program.rules.pace_floor_bpm)
        self.hr_trend = HeartRateTrend()
        self.provisional = ProvisionalHeartRate()  # shown until the corrected rate is there; never logged
        self.last_marker: str | None = None
        self.posture_shown = program.phases[0].posture
        self._recenter_started_s: float | None = None
        self.alert = DeepWorkAlert(program.alert_hr_rise_bpm)
        self.previous_scene: str | None = None
        self.crossfade_started_s = 0.0
        self.end_requested_s: float | None = None
        self.last_beat_s = 0.0
        self.sensor_lost = False  # no beat for SENSOR_SILENCE_S
        self.sensor_state = "ok"  # what the sensor itself says: ok, no_contact, lost
        self.heard = False  # a beat has arrived since the session began
        self._last_now: float | None = None
        self._breath_level = 0.0
        self.rules = program.rules
        self._events: list[Event] = [Event(0.0, "precaution", change, 0) for change in self.rules.changes]
        self._events.append(Event(0.0, "phase_start", program.phases[0].name, 0))
        self._beats: list[CorrectedBeat] = []
        # The baseline phase's span and beats: its HR is the settle row of every table (span_hrv), known
        # once the corrector has released every beat of the phase.
        self._baseline_start_s: float | None = 0.0 if program.baseline_phase_index == 0 else None
        self._baseline_end_s: float | None = None
        self._baseline_beats: list[CorrectedBeat] = []
        self._baseline_told = False

    @property
    def phase(self):
        return self.program.phases[self.phase_index]

    # -- therapist controls ---------------------------------------------------------------
    def apply_controls(self, now: float) -> None:
        """Every Control waiting on the queue, oldest first (called at the start of each step)."""
        while not self.controls.empty():  # the runner is the queue's one reader: what is there stays there
            self.apply(self.controls.get_nowait(), now)

    def apply(self, control: Control, now: float) -> None:
        if not isinstance(control, Control):
            raise TypeError(f"a session control must be a sessions.controls.Control, got {control!r}")
        action, argument = control.action, control.argument
        if action == "next":
            if argument is None or argument == self.phase_index:  # a repeated "next" leaves one phase only
                self.next_phase(now)
        elif action == "pause":
            self.pause(now, control.by)
        elif action == "resume":
            self.resume(now, control.by)
        elif action == "toggle_pause":
            self.toggle_pause(now)
        elif action == "end":
            self.request_end(now, *([str(argument)] if argument else []))
        elif action == "marker":
            self.add_marker(now, str(argument) if argument else "marker (key)")

    def next_phase(self, now: float) -> None:
        if not self.finished and self.end_requested_s is None:
            self._log(now, "therapist_next", self.phase.name)
            self._advance(now)

    def pause(self, now: float, by: str = "therapist") -> None:
        if not self.paused:
            self.paused, self.paused_by = True, by
            self._log(now, "pause", self.phase.name)

    def resume(self, now: float, by: str = "therapist") -> None:
        """The headset lifts only a pause it made; the therapist lifts any."""
        if self.paused and (by == "therapist" or by == self.paused_by):
            self.paused, self.paused_by = False, None
            self._log(now, "resume", self.phase.name)

    def toggle_pause(self, now: float) -> None:
        if self.paused:
            self.resume(now)
        else:
            self.pause(now)

    def add_marker(self, now: float, text: str) -> None:
        self.last_marker = text
        self._log(now, "marker", text)

    def request_end(self, now: float, reason: str = "therapist") -> None:
        if self.end_requested_s is None and not self.finished:
            self.end_requested_s = now
            if self.phase_index == len(self.program.phases) - 1:
                self.reached_end = True  # a gentle end in the last phase completes the program
            self._log(now, "gentle_end", reason)

    # -- the frame step -------------------------------------------------------------------
    def step(self, now: float) -> FrameState:
        self.apply_controls(now)
        dt = 0.0 if self._last_now is None else max(now - self._last_now, 0.0)
        self._last_now = now
        if not self.paused:
            self.phase_elapsed_s += dt
        self._read_heart(now)
        self._close_baseline(now)
        live = self.metrics.snapshot(now, self.pacer.pattern.rate_bpm)
        for problem in self.metrics.drain_problems():
            self._log(now, "metrics_problem", problem)
        hr = live.hr_bpm if live.hr_valid else None
        rmssd = live.rmssd_ms if live.rmssd_valid else None
        calm = self.calm.update(dt, hr, rmssd, hold=self.sensor != "ok" or not self.rules.adapt_to_heart)
        hr_rising = self.hr_trend.update(now, hr)
        self._check_alert(now, hr)
        self._check_phase_end(now)
        target_bpm = self._steer_breathing(dt, live.valid("breath_rate_bpm"), hr_rising)
        breath_phase, stage, level = self.pacer.advance(dt)
        self._breath_level = level
        phase = self.phase
        curves = self.program.curves
        crossfade = self._crossfade(now)
        return FrameState(
            t_s=now,
            phase_index=self.phase_index,
            phase_name=phase.name,
            phase_elapsed_s=self.phase_elapsed_s,
            phase_progress=min(self.phase_elapsed_s / phase.duration_s, 1.0),
            breath_phase=breath_phase,
            breath_stage=stage,
            breath_level=level,
            pace_bpm=self.pacer.pattern.rate_bpm,
            calm=calm,
            posture=self._posture(now),
            scene=phase.scene,
            previous_scene=self.previous_scene,
            crossfade=crossfade,
            fade=self._fade(now),
            hr_bpm=hr,
            provisional_hr_bpm=None if hr is not None else self.provisional.bpm(now),
            rmssd_ms=rmssd,
            sdnn_ms=live.valid("sdnn_ms"),
            hf_ms2=live.valid("hf_ms2"),
            coherence=live.valid("coherence"),
            breath_rate_bpm=live.valid("breath_rate_bpm"),
            adherence=live.valid("adherence"),
            target_pace_bpm=target_bpm,
            visual_calm=curves["visual_calm"](calm),
            brightness=curves["brightness"](calm),
            volume=curves["volume"](calm),
            paused=self.paused,
            sensor=self.sensor,
            ending=self.end_requested_s is not None,
            audio_layers=phase.audio,
            breath_swell=self.program.swell,
            comfort=self.rules.comfort,
            scene_motion=self.rules.scene_motion,
            guidance=self.rules.guidance,
        )

    def _crossfade(self, now: float) -> float:
        if self.previous_scene is None:
            return 1.0
        crossfade = min((now - self.crossfade_started_s) / max(self.phase.crossfade_s, 1e-6), 1.0)
        if crossfade >= 1.0:
            self.previous_scene = None
        return crossfade

    def _check_alert(self, now: float, hr: float | None) -> None:
        alert = self.alert.check(now, hr, self.calm.baseline, self.phase, self.last_marker)
        if alert:
            self._log(now, "alert", alert)

    def flush_beats(self) -> None:
        """Release the beats the corrector still holds for look-ahead, and stop the metrics' worker
        thread (at the end, or on a stop)."""
        self._take_beats(self.corrector.flush())
        self.metrics.close()
        self._close_baseline(self._last_now or 0.0, final=True)

    def drain_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def drain_beats(self) -> list[CorrectedBeat]:
        beats, self._beats = self._beats, []
        return beats

    # -- internals ------------------------------------------------------------------------
    def _steer_breathing(self, dt: float, client_bpm: float | None, hr_rising: bool) -> float:
        """Sets the pacer's target for this frame; returns the rate the guide is heading for."""
        phase = self.phase
        target = phase.breathing.rate_bpm
        if phase.pace is Pace.FIXED:
            self.pace.rate = target
        elif self.phase_index == self.program.baseline_phase_index:
            self.pace.follow_client(dt, client_bpm)
        else:
            self.pace.toward(dt, target, hr_rising)
        self.pacer.set_target(phase.breathing.at_rate(self.pace.rate))
        return target

    def _log(self, now: float, kind: str, detail: str = "") -> None:
        self._events.append(Event(now, kind, detail, self.phase_index))

    def _read_heart(self, now: float) -> None:
        for raw in self.source.poll(now, self._breath_level):
            self.provisional.add(raw.t_s, raw.rr_ms)
            self._take_beats(self.corrector.push(raw.t_s, raw.rr_ms))
            self.last_beat_s = raw.t_s
            self.heard = True
        for event in self.source.drain_status():
            self._log(event.t_s, f"sensor_{event.kind}", event.detail)
            if event.kind in ("disconnected", "contact_lost"):
                self.sensor_state = "lost" if event.kind == "disconnected" else "no_contact"
            elif event.kind in ("connected", "contact_back"):
                self.sensor_state = "ok"
        silent = now - self.last_beat_s > SENSOR_SILENCE_S
        if silent != self.sensor_lost:
            self.sensor_lost = silent
            detail = self.source.name if self.heard else f"no heart data since the session began ({self.source.name})"
            self._log(now, "sensor_lost" if silent else "sensor_back", detail)

    def _take_beats(self, beats: list[CorrectedBeat]) -> None:
        for beat in beats:
            self.metrics.add(beat)
            self._beats.append(beat)
            if self._baseline_start_s is not None and not self._baseline_told:
                self._baseline_beats.append(beat)

    def _close_baseline(self, now: float, final: bool = False) -> None:
        """Once the baseline phase has ended and its last beat is out of the corrector: the client's
        baseline, for calm and alerts, said and logged as the phase's row of the tables will show it."""
        end = self._baseline_end_s
        if end is None or self._baseline_told:
            return
        if not final and not (self._baseline_beats and self._baseline_beats[-1].t_s > end):
            return
        self._baseline_told = True
        phase = self.program.phases[self.program.baseline_phase_index]
        result = span_hrv(self._baseline_beats, self._baseline_start_s, end)
        self._baseline_beats = []
        if result.mean_hr_bpm is None:
            detail = f"not enough heart data in {phase.name!r} ({plural(result.n_beats, 'NN beat')})"
        else:
            self.calm.baseline = Baseline(result.mean_hr_bpm, result.rmssd_ms)
            detail = f"HR {result.mean_hr_bpm:.1f} bpm"
        self._events.append(Event(now, "baseline", detail, self.program.baseline_phase_index))

    @property
    def sensor(self) -> str:
        """ok, no_contact, lost (it was heard, then went silent or disconnected), or no_data (nothing
        heard since the session began: a strap that never connected or never sent a beat)."""
        if self.sensor_state != "ok":
            return self.sensor_state
        if self.sensor_lost:
            return "lost" if self.heard else "no_data"
        return "ok"

    def _check_phase_end(self, now: float) -> None:
        if self.end_requested_s is not None:
            if now - self.end_requested_s >= GENTLE_END_S:
                self._finish(now)
            return
        phase = self.phase
        if self.phase_elapsed_s < phase.duration_s:
            return
        if phase.advance is Advance.TIMER:
            self._advance(now, carry_s=self.phase_elapsed_s - phase.duration_s)
        elif self.unattended:
            self._log(now, "auto_advance", f"{phase.name}: no therapist input (unattended run)")
            self._advance(now, carry_s=self.phase_elapsed_s - phase.duration_s)

    def _advance(self, now: float, carry_s: float = 0.0) -> None:
        """`carry_s`: how far the frame overshot a timed phase, so timing never drifts."""
        old = self.phase
        boundary = now - carry_s
        self._log(boundary, "phase_end", old.name)
        if self.phase_index == self.program.baseline_phase_index:
            self.pace.rate = self.pacer.pattern.rate_bpm  # go on from where the guide actually is
            self._baseline_end_s = boundary
        if self.phase_index + 1 >= len(self.program.phases):
            self.reached_end = True
            if self._fade(now) <= 0.0:
                self._finish(now)
            else:
                self.request_end(now, "program complete")
            return
        self.phase_index += 1
        self.phase_elapsed_s = carry_s
        self.phase_started_s = now - carry_s
        if self.phase_index == self.program.baseline_phase_index:
            self._baseline_start_s = boundary
        new = self.phase
        if new.scene != old.scene:
            self.previous_scene = old.scene
            self.crossfade_started_s = now
        if new.posture != old.posture:
            self._recenter_started_s = now
        self._log(boundary, "phase_start", new.name)

    def _finish(self, now: float) -> None:
        if not self.finished:
            self.finished = True
            self.flush_beats()
            self._log(now, "program_end", self.phase.name)

    def _posture(self, now: float):
        """The world turns with the body only while the view is dark: half-way through the dip."""
        if self._recenter_started_s is not None and now - self._recenter_started_s >= RECENTER_HALF_S:
            if self.posture_shown != self.phase.posture:
                self.posture_shown = self.phase.posture
                self._log(now, "recenter", self.posture_shown.value)
        return self.posture_shown

    def _recenter_dip(self, now: float) -> float:
        if self._recenter_started_s is None:
            return 1.0
        x = (now - self._recenter_started_s) / RECENTER_HALF_S
        if x >= 2.0:
            return 1.0
        return 0.5 + 0.5 * math.cos(math.pi * min(x, 2.0))  # 1 -> 0 at the turn -> 1, smooth at both ends

    def _fade(self, now: float) -> float:
        fade = min(now / FADE_IN_S, 1.0) * self._recenter_dip(now)
        if self.end_requested_s is not None:
            fade = min(fade, max(1.0 - (now - self.end_requested_s) / GENTLE_END_S, 0.0))
        elif self.phase_index == len(self.program.phases) - 1 and self.phase.advance is Advance.TIMER:
            remaining = self.phase.duration_s - self.phase_elapsed_s
            fade = min(fade, max(remaining / GENTLE_END_S, 0.0))
        return fade
