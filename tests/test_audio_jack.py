"""The breathing guide through the real PortAudio path: DeviceOutput on a private JACK dummy
server, fed by the real session runner on the real clock, its output captured by jack_rec.

One live run of tests/audio_jack/jack_check.toml (about a minute: steady 10 breaths/min, a
therapist's phase change in mid-breath, a glide to 7.5 breaths/min, layers and chimes joining,
the gentle end) is shared by the pace, timing, click and statistics tests. The device-loss test
kills and restarts the server under a session loop running in a child process.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from audio_analysis import (  # noqa: E402
    breath_peak_times,
    envelope_breath_periods,
    envelope_db,
    lag_at,
    largest_step_near,
    max_step,
    rms_dbfs,
    smooth_db,
    spectral_centroid_hz,
    step_sizes,
)
from jack_testbed import jack_server_bare, jack_server_module, start_capture  # noqa: E402,F401  (fixtures)
from live_session import LiveRun, render_reference, run_live_session  # noqa: E402

from tidewell.audio.synth import BreathSynth  # noqa: E402
from tidewell.core.frame_state import BreathStage, FrameState, Posture  # noqa: E402
from tidewell.sessions.program import load_program  # noqa: E402

PROGRAM = Path(__file__).with_name("audio_jack") / "jack_check.toml"
PHASE_CHANGE_S = 33.8  # the therapist moves on here: mid-exhale of the sixth 6-second breath
SESSION_S = 62.0  # upper bound; the program ends (gentle end) at about 57.8 s
FPS = 60.0
STEADY = (8.0, PHASE_CHANGE_S)  # phase 1 at 10 breaths/min, after the first breaths of the fade-in
GLIDE = (36.0, 53.0)  # phase 2: 10 -> 9 -> 8 -> 7.5 breaths/min, one step per breath

# Tolerances.
PERIOD_TOLERANCE_S = 0.06  # a breath's captured period vs 60 / pace_bpm (1% of a 6 s breath)
MEAN_PERIOD_TOLERANCE_S = 0.05  # capture vs WAV, mean breath period of a section (two envelope crossings)
CLICK_MARGIN = 1.25  # capture's largest step may exceed the smooth reference's by this factor at most
MAX_EXCUSED_SHARE = (
    0.2  # of the session's capture, around xruns the machine caused (at most 12 reports * 0.5 s of ~58 s)
)
LEVEL_TOLERANCE_DB = 1.0
CENTROID_TOLERANCE = 0.05  # relative
# Deadlines for what must happen, generous for a busy machine; how long they take is printed (the
# output notices a loss within about a second and retries every 2 s, PortAudio's re-initialisation takes ~1 s).
AUDIO_LOST_DEADLINE_S = 30.0
AUDIO_BACK_DEADLINE_S = 60.0
MAX_LOST_PERIODS = 12
CAPTURE_ATTEMPTS = 3
SOUND_DBFS = -80.0  # "has sound": a silent stream plays exact zeros (-120 here); the session is still fading in


def timing_tolerance_s(run: LiveRun) -> float:
    """One JACK period (the callback comes up to a period after advance()) + PortAudio's output
    latency + one frame (advance() hands over the newest state once per frame) + the render lead
    (a state reaches the sound up to that much later than the marker did)."""
    return run.period_frames / run.sample_rate + run.device_latency_s + 1.0 / run.fps + run.lead_s + dropped_s(run)


def dropped_s(run: LiveRun) -> float:
    """The capture's timeline shortens by one JACK period for each client xrun while it ran (the
    recorder misses that period) and by every cycle jackd never ran (LiveRun.lost_periods): on a
    busy machine, not a fault of the sound. More than a few is no longer a timing measurement."""
    require_measurable_capture(run)
    return run.lost_periods * run.period_frames / run.sample_rate


def require_measurable_capture(run: LiveRun) -> None:
    """Every capture lost more than MAX_LOST_PERIODS periods to the machine (jackd's real-time threads
    kept from the CPU): nothing on this machine can measure the sound's timing or smoothness now, so
    the capture tests say so and skip; the session's own checks above still run."""
    if run.lost_periods > MAX_LOST_PERIODS:
        pytest.skip(
            f"the machine made JACK drop {run.lost_periods} periods in each of {CAPTURE_ATTEMPTS} captures "
            f"(at most {MAX_LOST_PERIODS} leave a timing measurement): no capture to judge"
        )


@pytest.fixture(scope="module")
def live_run(jack_server_module, tmp_path_factory) -> LiveRun:
    """The live session and its capture. A capture during which the machine made JACK drop more than
    MAX_LOST_PERIODS periods is no timing measurement (each drop shortens its timeline): the session
    is played and captured again, up to CAPTURE_ATTEMPTS times; the tests judge the last one."""
    program = load_program(PROGRAM)
    for attempt in range(1, CAPTURE_ATTEMPTS + 1):
        folder = tmp_path_factory.mktemp("live")
        run = run_live_session(
            jack_server_module,
            program,
            SESSION_S,
            folder / "capture.wav",
            fps=FPS,
            controls={PHASE_CHANGE_S: lambda runner, now: runner.next_phase(now)},
            watch_advance=True,
        )
        if run.lost_periods <= MAX_LOST_PERIODS:
            break
        print(f"capture {attempt}: the machine made JACK drop {run.lost_periods} periods; capturing again")
    return run


@pytest.fixture(scope="module")
def reference(live_run, tmp_path_factory) -> tuple[np.ndarray, int]:
    return render_reference(
        live_run.states,
        tmp_path_factory.mktemp("reference") / "reference.wav",
        sample_rate=live_run.sample_rate,
        like=live_run,
    )


@pytest.fixture(scope="module")
def envelopes(live_run, reference):
    """(times, capture dB, reference dB) on one session-time grid (1 ms)."""
    ref_audio, rate = reference
    times, ref_db = envelope_db(ref_audio, rate)
    cap_times, cap_db = envelope_db(live_run.capture, live_run.sample_rate)
    cap_times = cap_times + live_run.capture_session_times()[0]
    return times, np.interp(times, cap_times, cap_db), ref_db


@pytest.fixture(scope="module")
def peak_lags(live_run, envelopes):
    """(peak times of the frame states' breaths, how much later the capture's envelope peaks)."""
    times, cap_db, ref_db = envelopes
    cap_db, ref_db = smooth_db(cap_db), smooth_db(ref_db)
    peaks = breath_peak_times(
        _series(live_run, "t_s"), _series(live_run, "breath_level"), _series(live_run, "breath_phase")
    )
    peaks = peaks[(peaks > 3.0) & (peaks < live_run.session_s - 3.0)]
    return peaks, np.asarray([lag_at(p, times, cap_db, ref_db) for p in peaks])


def _series(run: LiveRun, name: str) -> np.ndarray:
    return np.asarray([getattr(s, name) for s in run.states], dtype=np.float64)


def test_the_session_played_through_jack(live_run, jack_server_module):
    stats = live_run.stats
    print(
        f"jackd {'real-time' if jack_server_module.realtime else 'not real-time'}; {live_run.capture_xruns} client "
        f"xruns and {live_run.cycles_skipped} cycles skipped during the capture; audio process: {stats['scheduling']}"
    )
    assert live_run.states[-1].phase_index == 1 and live_run.session_s > 50.0
    # Called back in every JACK cycle that jack_rec recorded (it ran inside the stream's lifetime),
    # less one per client xrun: counted in the server's cycles, not the wall clock's seconds.
    cycles = len(live_run.capture) // live_run.period_frames
    assert stats["callbacks"] >= cycles - live_run.capture_xruns - 2, (stats["callbacks"], cycles)
    assert stats["block_frames"] == live_run.period_frames
    assert stats["losses"] == 0 and not [e for e in live_run.events if e[1] == "audio_lost"]
    assert_advance_only_hands_over(live_run.advance_probe, len(live_run.states), live_run.period_frames)


def assert_advance_only_hands_over(probe: dict, frames: int, period_frames: int, channels: int = 2) -> None:
    """advance() on the frame thread only writes the frame's controls for the audio process: it never
    waits (no lock, queue, sleep or I/O call, counted by a profile hook on every other call), never
    holds as much memory as one block of the sound it would otherwise render, and keeps nothing."""
    one_block = period_frames * channels * 4  # float32 samples
    print(f"advance(): {probe}; one block of sound is {one_block} bytes")
    assert probe["calls"] == frames
    assert probe["wait_count"] == 0, f"advance() waited: {probe['waits']}"
    assert probe["largest_allocation"] < one_block, (
        "advance() allocated a block's worth: rendering on the frame thread?"
    )
    assert probe["retained"] < one_block, "advance() keeps what it allocates"


def test_pace_matches_the_guide(live_run, envelopes, peak_lags):
    times, cap_db, _ = envelopes
    t, pace = _series(live_run, "t_s"), _series(live_run, "pace_bpm")
    steady = (t >= STEADY[0]) & (t <= STEADY[1])
    assert np.ptp(pace[steady]) < 1e-9
    expected = 60.0 / pace[steady][0]
    _, periods = envelope_breath_periods(times, cap_db, *STEADY)
    tolerance = PERIOD_TOLERANCE_S + dropped_s(live_run)
    print(
        f"steady: expected {expected:.3f} s, captured periods {np.round(periods, 3)} "
        f"({live_run.capture_xruns} JACK xruns during the capture; tolerance {tolerance:.3f} s)"
    )
    assert len(periods) >= 3
    assert np.max(np.abs(periods - expected)) <= tolerance

    # Through the glide every breath has its own length: the captured envelope's peak-to-peak times
    # follow the guide's (frame state) breath by breath.
    peaks, lags = peak_lags
    glide = (peaks >= GLIDE[0] - 3.0) & (peaks <= GLIDE[1])
    guide_periods = np.diff(peaks[glide])
    captured_periods = np.diff(peaks[glide] + lags[glide])
    print(f"glide: guide periods {np.round(guide_periods, 3)}, captured {np.round(captured_periods, 3)}")
    assert len(guide_periods) >= 2 and np.ptp(guide_periods) > 0.5  # the pace really changed
    assert np.max(np.abs(captured_periods - guide_periods)) <= tolerance


def test_envelope_timing_matches_the_frame_state(live_run, peak_lags):
    """Each breath's envelope peak in the capture is where the frame states' fullest lung was.

    The reference envelope is the same states rendered offline, sample j at session time j/rate,
    so it peaks exactly where the states do; the capture's offset from it, breath by breath, is
    where the captured peak lies relative to the frame state's."""
    peaks, lags = peak_lags
    tolerance = timing_tolerance_s(live_run)
    print(
        f"peaks at {np.round(peaks, 2)}; capture later by {np.round(1e3 * lags, 1)} ms (tolerance {1e3 * tolerance:.1f} ms)"
    )
    assert len(peaks) >= 7 and np.all(np.isfinite(lags))
    assert np.max(np.abs(lags)) <= tolerance


def smooth_reference_max_step(run: LiveRun, program, seconds: float = 60.0) -> float:
    """Largest natural step of the same layers: every layer of the program at its loudest, the
    session's brightest calm and loudest master level, a smooth 10 breaths/min guide (chimes at
    every turn), rendered in 10 ms blocks with no change of pace, phase or anything else."""
    calm = float(np.max(_series(run, "calm")))
    master = float(np.max(_series(run, "fade") * _series(run, "volume")))
    layers: dict[str, float] = {}
    for phase in program.phases:
        for name, volume in phase.audio:
            layers[name] = max(layers.get(name, 0.0), volume)
    synth = BreathSynth(sample_rate=run.sample_rate, channels=2, seed=0)
    block = run.period_frames
    cycle_s, inhale_s = 6.0, 6.0 * 0.7 / 1.7
    largest, previous = 0.0, None
    for k in range(round(seconds * run.sample_rate / block)):
        t = k * block / run.sample_rate
        phase = (t % cycle_s) / cycle_s
        inhaling = phase * cycle_s < inhale_s
        level = 0.5 - 0.5 * np.cos(
            np.pi
            * (phase * cycle_s / inhale_s if inhaling else 1.0 + (phase * cycle_s - inhale_s) / (cycle_s - inhale_s))
        )
        state = FrameState(
            t_s=t,
            phase_index=0,
            phase_name="reference",
            phase_elapsed_s=t,
            phase_progress=0.0,
            breath_phase=phase,
            breath_stage=BreathStage.INHALE if inhaling else BreathStage.EXHALE,
            breath_level=float(level),
            pace_bpm=10.0,
            calm=calm,
            posture=Posture.SEATED,
            scene="reference",
            previous_scene=None,
            crossfade=1.0,
            fade=master,
            audio_layers=tuple(layers.items()),
        )
        out = synth.render(state, block).astype(np.float64)
        if t >= 3.0:  # once the layers have slewed in
            largest = max(largest, max_step(out))
            if previous is not None:
                largest = max(largest, float(np.max(np.abs(out[0] - previous))))
        previous = out[-1]
    return largest


def test_no_clicks_across_pace_and_phase_changes(live_run):
    """The engine's sound has no step larger than the smooth synth's own, anywhere and around every
    change. A period the machine made JACK drop joins its neighbours with a step the sound never made:
    the period boundaries just before each of jackd's xrun reports are excused, nothing else."""
    require_measurable_capture(live_run)
    program = load_program(PROGRAM)
    natural = smooth_reference_max_step(live_run, program)
    bound = CLICK_MARGIN * natural
    rate, period = live_run.sample_rate, live_run.period_frames
    start = live_run.capture_index(0.0)
    session = live_run.capture[start : start + round((live_run.session_s + 0.5) * rate)]
    excused = live_run.machine_dropout_steps() - start
    excused = excused[(excused >= 0) & (excused < len(session) - 1)]

    def judged(audio: np.ndarray) -> np.ndarray:
        steps = step_sizes(audio)
        steps[excused] = 0.0
        return steps

    steps = judged(session)
    t, pace = _series(live_run, "t_s"), _series(live_run, "pace_bpm")
    pace_changes = t[1:][np.diff(pace) != 0]
    near = {f"phase change {PHASE_CHANGE_S:.1f} s": largest_step_near(steps, rate, PHASE_CHANGE_S)}
    near |= {f"pace change {c:.1f} s": largest_step_near(steps, rate, c) for c in pace_changes}
    end_fade = live_run.session_s - 5.0
    near[f"gentle end {end_fade:.1f} s"] = largest_step_near(steps, rate, end_fade + 2.5, 2.5)
    overall = float(steps.max())
    machine = float(step_sizes(session)[excused].max()) if len(excused) else 0.0
    print(
        f"natural max step {natural:.5f}, bound {bound:.5f}; capture {overall:.5f}; "
        + ", ".join(f"{k}: {v:.5f}" for k, v in near.items())
        + f"; {len(excused)} period joins excused near {len(live_run.xrun_session_s)} xrun reports (largest {machine:.5f})"
    )
    assert len(pace_changes) >= 2
    assert len(excused) * period <= MAX_EXCUSED_SHARE * len(session)
    assert overall <= bound
    assert all(v <= bound for v in near.values())

    # The measure catches a real click: one period's dropout spliced into the loudest breath, and a
    # step of twice the bound off the period grid inside an excused stretch (only period joins are excused).
    judged_steps = np.flatnonzero(steps)
    loudest = int(judged_steps[np.argmax(np.abs(session[judged_steps + 1, 0]))]) + 1
    broken = session.copy()
    broken[loudest : loudest + period] = 0.0
    assert judged(broken).max() > bound
    if len(excused):
        inside = int(excused[len(excused) // 2]) - period // 2
        broken = session.copy()
        broken[inside : inside + period // 4] += 2.0 * bound
        assert judged(broken).max() > bound


def test_capture_statistics_match_the_offline_render(live_run, reference, envelopes):
    ref_audio, rate = reference
    cap = live_run.capture_from(0.0)
    times, cap_db, ref_db = envelopes
    for start, end in (STEADY, GLIDE):
        a, b = round(start * rate), round(end * rate)
        cap_part, ref_part = cap[a:b], ref_audio[a:b]
        level = (rms_dbfs(cap_part), rms_dbfs(ref_part))
        centroid = (spectral_centroid_hz(cap_part, rate), spectral_centroid_hz(ref_part, rate))
        cap_periods = envelope_breath_periods(times, cap_db, start, end)[1]
        ref_periods = envelope_breath_periods(times, ref_db, start, end)[1]
        print(
            f"{start:.0f}-{end:.0f} s: level {level[0]:.2f} / {level[1]:.2f} dBFS, centroid {centroid[0]:.0f} / "
            f"{centroid[1]:.0f} Hz, periods {np.round(cap_periods, 3)} / {np.round(ref_periods, 3)} (capture / WAV)"
        )
        assert abs(level[0] - level[1]) <= LEVEL_TOLERANCE_DB
        assert abs(centroid[0] - centroid[1]) <= CENTROID_TOLERANCE * centroid[1]
        assert len(cap_periods) == len(ref_periods) >= 2
        assert abs(np.mean(cap_periods) - np.mean(ref_periods)) <= MEAN_PERIOD_TOLERANCE_S + dropped_s(live_run)


# -- device loss -------------------------------------------------------------------------------


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_message(lines: queue.Queue, want: str, timeout_s: float, seen: list) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            break
        if line is None:
            break
        try:
            message = json.loads(line)
        except ValueError:
            seen.append(line.rstrip())
            continue
        seen.append(message)
        if want in message or message.get("event") == want:
            return message
    raise AssertionError(f"no {want!r} from the session within {timeout_s:g} s; got {seen}")


@pytest.mark.parametrize("loss", ["crash", "shutdown"])
def test_device_loss_keeps_the_session_running_and_sound_returns(loss, jack_server_bare, tmp_path):
    """crash: jackd is SIGKILLed (the device vanishes); shutdown: jackd is stopped (SIGTERM), so
    it tells its clients. Either way the loop runs on, reports the loss once, and the sound
    returns after the server's restart."""
    jack_server = jack_server_bare  # this process stays out of it: PortAudio aborts when its server dies
    child = subprocess.Popen(
        [sys.executable, str(PROGRAM.with_name("loss_child.py")), "--device", "JACK"],
        env=jack_server.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(child.stdout, lines), daemon=True).start()
    seen: list = []
    try:
        _next_message(lines, "ready", 60.0, seen)
        before, rate = start_capture(jack_server, tmp_path / "before.wav", 1.5).wait()
        assert rms_dbfs(before[rate // 2 :]) > SOUND_DBFS, "no sound before the loss"

        jack_server.kill() if loss == "crash" else jack_server.stop()
        killed = time.monotonic()
        _next_message(lines, "audio_lost", AUDIO_LOST_DEADLINE_S, seen)
        lost_after = time.monotonic() - killed
        time.sleep(max(0.0, 3.0 - lost_after))
        jack_server.start()
        restarted = time.monotonic()
        try:
            _next_message(lines, "audio_back", AUDIO_BACK_DEADLINE_S, seen)
        except AssertionError:
            back_after = float("nan")  # judged below, after the loop's own summary
        else:
            back_after = time.monotonic() - restarted
        after = None
        if back_after == back_after:  # reopened: record what came back
            after, rate = start_capture(jack_server, tmp_path / "after.wav", 1.5).wait()
        with contextlib.suppress(OSError):  # a child that already died is judged below
            child.stdin.write("stop\n")
            child.stdin.flush()
        summary = _next_message(lines, "summary", 60.0, seen)["summary"]
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    stderr = child.stderr.read()
    after_db = rms_dbfs(after[rate // 2 :]) if after is not None else float("nan")
    print(
        f"before the loss {rms_dbfs(before[rate // 2 :]):.1f} dBFS, after the return {after_db:.1f} dBFS; "
        f"audio_lost {lost_after:.2f} s after the kill, audio_back {back_after:.2f} s after the restart; {summary}"
    )
    assert child.returncode == 0, stderr[-3000:]
    kinds = [kind for _, kind, _ in summary["events"]]
    assert kinds[:1] == ["audio_lost"] and kinds.count("audio_lost") == 1, summary["events"]  # said once
    assert summary["losses"] == 1
    # The loop ran on through the loss and after the return; the frame thread never waited on the
    # device: it made frames while the sound was gone, and neither advance() nor drain_events()
    # made a call that could block.
    assert summary["frames_while_lost"] >= 1
    assert_advance_only_hands_over(summary["frame_thread"], summary["frames"], jack_server.period_frames)
    assert kinds == ["audio_lost", "audio_back"], summary["events"]
    assert summary["frames_after_back"] >= 1
    assert summary["reopens"] == 1
    assert rms_dbfs(after[rate // 2 :]) > SOUND_DBFS, "no sound after the server came back"
