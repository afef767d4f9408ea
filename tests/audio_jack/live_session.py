"""A real session played through DeviceOutput on the JACK test bed while jack_rec captures it.

    run = run_live_session(server, program, seconds=60, capture_path=..., controls={33.8: next_phase})
    run.capture_session_times()   # session-clock time of every captured sample
    render_reference(run.states, path)   # the same frame states through WavOutput (offline)

Alignment of the capture with the session clock: before the session starts, one loud frame state
(the marker) is handed to advance() and its monotonic time noted. The capture is silent until the
first callback after that, and jack_rec writes whole JACK periods, so the marker's first sound
starts a period: that sample is the marker's time, to within one period (the callback comes up to
one period after advance()).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from audio_analysis import first_sound_index
from frame_thread import FrameThreadProbe
from jack_testbed import JackServer, JackTestbedError, portaudio_jack_device, read_wav, start_capture

from tidewell.audio.output import WavOutput
from tidewell.core.clock import RealClock
from tidewell.core.frame_state import BreathStage, FrameState, Posture
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions.program import Program
from tidewell.sessions.runner import SessionRunner

LEAD_IN_S = 1.0  # between the marker and the session's first frame
TAIL_S = 1.0  # captured after the session's last frame
MARKER_S = 0.05
# jackd's xrun line reaches the log reader after the xrun: 50-60 ms on an idle 2-core VM; allow for a busy one.
XRUN_REPORT_DELAY_S = 0.5


def _still_state(fade: float, layers: tuple[tuple[str, float], ...]) -> FrameState:
    return FrameState(
        t_s=0.0,
        phase_index=0,
        phase_name="marker",
        phase_elapsed_s=0.0,
        phase_progress=0.0,
        breath_phase=0.0,
        breath_stage=BreathStage.HOLD_IN,
        breath_level=1.0,
        pace_bpm=6.0,
        calm=0.5,
        posture=Posture.SEATED,
        scene="marker",
        previous_scene=None,
        crossfade=1.0,
        fade=fade,
        audio_layers=layers,
    )


@dataclass
class LiveRun:
    states: list[FrameState]
    frame_wall_s: np.ndarray  # time.monotonic() of every runner.step
    clock_start_s: float  # time.monotonic() at session time 0
    marker_s: float  # time.monotonic() just before the marker went to advance()
    advance_probe: (
        dict  # with watch_advance: what the session's advance() calls did (frame_thread.FrameThreadProbe.summary)
    )
    loop_gaps_s: np.ndarray  # time between successive frames
    events: list[tuple[float, str, str]]  # (session time, kind, detail) from drain_events()
    stats: dict
    capture: np.ndarray
    sample_rate: int
    marker_index: int
    period_frames: int
    fps: float
    device_latency_s: float
    lead_s: float  # sound rendered ahead of the device (audio/ahead.py)
    capture_xruns: int  # JACK client xruns while capturing: each can drop one period from the capture
    cycles_skipped: int = (
        0  # JACK cycles the stream was not called for, from the marker to the session's end, by the wall clock
    )
    xrun_session_s: np.ndarray = field(
        default_factory=lambda: np.zeros(0)
    )  # session time of each xrun event while capturing (jackd's log line arrived)
    runner_events: list = field(default_factory=list)

    @property
    def lost_periods(self) -> int:
        """Periods missing from the capture's timeline: one per client xrun, and the cycles jackd never
        ran (its dummy driver starts its schedule afresh after a late cycle, so a stalled machine
        skips cycles that a sound card would have played)."""
        return self.capture_xruns + self.cycles_skipped

    @property
    def marker_session_s(self) -> float:
        return self.marker_s - self.clock_start_s

    def capture_session_times(self) -> np.ndarray:
        return self.marker_session_s + (np.arange(len(self.capture)) - self.marker_index) / self.sample_rate

    def capture_index(self, session_s: float) -> int:
        """Index in the capture of the sample played at session time `session_s`."""
        return max(self.marker_index + round((session_s - self.marker_session_s) * self.sample_rate), 0)

    def capture_from(self, session_s: float) -> np.ndarray:
        """The capture from the sample played at session time `session_s` on."""
        return self.capture[self.capture_index(session_s) :]

    def machine_dropout_steps(self, before_s: float = XRUN_REPORT_DELAY_S) -> np.ndarray:
        """Capture step indices (step i: sample i to i + 1) where a period the machine dropped may
        join its neighbours. An xrun drops or repeats whole JACK periods, so its steps fall on period
        boundaries (jack_rec writes whole periods from the capture's start), in the `before_s` before
        jackd's report of it arrived, or within one period after."""
        boundaries = np.arange(self.period_frames, len(self.capture), self.period_frames)
        times = self.capture_session_times()[boundaries]
        near = np.zeros(len(boundaries), dtype=bool)
        period_s = self.period_frames / self.sample_rate
        for reported in self.xrun_session_s:
            near |= (times >= reported - before_s) & (times <= reported + period_s)
        return boundaries[near] - 1

    @property
    def session_s(self) -> float:
        return self.states[-1].t_s


def run_live_session(
    server: JackServer,
    program: Program,
    seconds: float,
    capture_path: Path,
    *,
    fps: float = 60.0,
    seed: int = 0,
    heart_seed: int = 0,
    controls: dict[float, Callable[[SessionRunner, float], None]] | None = None,
    mono_capture: bool = False,
    watch_advance: bool = False,
) -> LiveRun:
    """Run `program` for `seconds` of session time through DeviceOutput on the JACK device,
    the way engine/session.py does (clock -> runner.step -> advance -> drain_events -> sleep).
    The capture is 32-bit so that the marker's first, tiny block is not rounded to silence.
    With `watch_advance`, every advance() goes through a FrameThreadProbe (run.advance_probe)."""
    import sounddevice

    from tidewell.audio.device import DeviceOutput

    device = portaudio_jack_device()
    latency = float(sounddevice.query_devices(device)["default_low_output_latency"])
    output = DeviceOutput(device=device, seed=seed)
    probe = FrameThreadProbe() if watch_advance else None
    advance = probe.call if probe is not None else (lambda function, *args: function(*args))
    try:
        ports = server.wait_for_playback_ports()
        xruns_before = server.xruns()["client"]
        capture_started = time.monotonic()
        capture = start_capture(
            server, capture_path, 0.3 + LEAD_IN_S + seconds + TAIL_S, ports[:1] if mono_capture else ports, bits=32
        )
        time.sleep(0.3)
        layers = program.phases[0].audio
        callbacks_at_marker = output.stats()["callbacks"]
        marker_s = time.monotonic()
        output.advance(_still_state(1.0, layers), 0.0)
        time.sleep(MARKER_S)
        output.advance(_still_state(0.0, layers), 0.0)
        time.sleep(LEAD_IN_S - MARKER_S)

        runner = SessionRunner(program, SimulatedHeart(seed=heart_seed), unattended=True)
        pending = sorted((controls or {}).items())
        clock = RealClock()
        clock_start = time.monotonic() - clock.now()
        states, walls, events, runner_events = [], [], [], []
        last_t = 0.0
        frame_dt = 1.0 / fps
        while not runner.finished:
            now = clock.now()
            if now > seconds:
                break
            while pending and pending[0][0] <= now:
                pending.pop(0)[1](runner, now)
            state = runner.step(now)
            runner_events += runner.drain_events()
            walls.append(clock_start + now)
            advance(output.advance, state, now - last_t)
            last_t = now
            events += [(now, kind, detail) for kind, detail in output.drain_events()]
            states.append(state)
            clock.sleep_until(now + frame_dt)
        played_s, callbacks = time.monotonic() - marker_s, output.stats()["callbacks"] - callbacks_at_marker
        audio, rate = capture.wait()
        events += [(clock.now(), kind, detail) for kind, detail in output.drain_events()]
        stats = output.stats()
    finally:
        if probe is not None:
            probe.close()
        output.close()
    first = first_sound_index(audio, threshold=0.0)  # the synth fades in: its first block is tiny but not zero
    if first is None:
        raise JackTestbedError(f"the capture {capture_path} is silent: the marker never arrived")
    walls = np.asarray(walls)
    return LiveRun(
        states=states,
        frame_wall_s=walls,
        clock_start_s=clock_start,
        marker_s=marker_s,
        advance_probe=probe.summary() if probe is not None else {},
        loop_gaps_s=np.diff(walls),
        events=events,
        stats=stats,
        capture=audio,
        sample_rate=rate,
        marker_index=(first // server.period_frames) * server.period_frames,
        period_frames=server.period_frames,
        fps=fps,
        device_latency_s=latency,
        lead_s=output.lead_s,
        capture_xruns=server.xruns()["client"] - xruns_before,
        cycles_skipped=max(round(played_s * rate / server.period_frames) - callbacks, 0),
        xrun_session_s=np.asarray([e["at"] - clock_start for e in server.xrun_events() if e["at"] >= capture_started]),
        runner_events=runner_events,
    )


def render_reference(
    states: list[FrameState],
    path: Path,
    sample_rate: int = 48000,
    channels: int = 2,
    seed: int = 0,
    like: LiveRun | None = None,
) -> tuple[np.ndarray, int]:
    """The same frame states through WavOutput, each for the time since the previous one, so
    sample j of the file is session time j / sample_rate.

    With `like`, the synth's noise loops are positioned as the live run's were: the live synth
    first rendered at the marker (before it the stream played zeros without calling it), so at
    session time t it was t - marker time into its loops. The two then play the same noise and
    their envelopes differ only in timing."""
    last_t = 0.0
    with WavOutput(path, sample_rate=sample_rate, channels=channels, seed=seed) as output:
        synth = getattr(output, "_synth", None)
        if like is not None and hasattr(synth, "_samples"):
            synth._samples = -round(like.marker_session_s * sample_rate)
        for state in states:
            output.advance(state, state.t_s - last_t)
            last_t = state.t_s
    return read_wav(path)
