"""HRV formulas against hand-computed values, and the live rolling windows."""

from __future__ import annotations

import math
import os
import sys
import threading
import time

import numpy as np
import pytest

from tidewell.sensors.correction import CorrectedBeat, RRCorrector
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions import spectrum
from tidewell.sessions.metrics import LiveMetrics, RollingMetrics, mean_hr_bpm, pnn50, rmssd_ms, sdnn_ms
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.runner import SessionRunner
from tidewell.sessions.spectrum import HF, band_power, coherence_ratio, resample_rr, welch_psd

# diffs 50, -60, 110, -40; mean 840; deviations -40, 10, -50, 60, 20
NN = [800.0, 850.0, 790.0, 900.0, 860.0]


def test_time_domain_metrics_match_hand_computed_values():
    assert mean_hr_bpm(NN) == pytest.approx(60000 / 840)  # 71.43 bpm
    assert rmssd_ms(NN) == pytest.approx(math.sqrt((2500 + 3600 + 12100 + 1600) / 4))  # 70.36
    assert sdnn_ms(NN) == pytest.approx(math.sqrt((1600 + 100 + 2500 + 3600 + 400) / 4))  # 45.28
    assert pnn50(NN) == pytest.approx(50.0)  # 60 and 110 exceed 50; exactly 50 does not
    assert pnn50(np.array([1000.0, 1000.0, 1000.0])) == 0.0


def test_metrics_return_none_below_their_minimum_length():
    assert mean_hr_bpm([]) is None and mean_hr_bpm([1000.0]) == pytest.approx(60.0)
    for metric in (rmssd_ms, sdnn_ms, pnn50):
        assert metric([800.0]) is None and metric([]) is None
    assert rmssd_ms([800.0, 830.0]) == pytest.approx(30.0)
    assert sdnn_ms([800.0, 830.0]) == pytest.approx(math.sqrt(450.0))


def Beat(t_s: float, rr_ms: float, quality: str = "ok") -> CorrectedBeat:
    """A beat as the corrector hands it on: good beats keep their RR, removed ones have none."""
    return CorrectedBeat(t_s, rr_ms, rr_ms if quality == "ok" else None, quality)


def steady_beats(start_s: float, count: int, rr_ms: float, quality: str = "ok") -> list[CorrectedBeat]:
    return [Beat(start_s + (i + 1) * rr_ms / 1000, rr_ms, quality) for i in range(count)]


def test_rmssd_becomes_valid_only_after_60_seconds_of_data():
    metrics = RollingMetrics()
    rrs = [1000.0, 1040.0] * 40  # alternating: every successive difference is 40 ms
    t = 0.0
    for rr in rrs:
        t += rr / 1000
        metrics.add(Beat(t, rr, "ok"))
        live = metrics.snapshot(t)
        data_s = t - 1.0  # the first beat ends at 1.0 s
        assert live.rmssd_valid == (data_s >= 60.0)
        assert live.hr_valid == (data_s >= 10.0)
        if data_s >= 2.0:
            assert live.rmssd_ms == pytest.approx(40.0)
    assert live.hr_bpm == pytest.approx(60000 / 1020, rel=0.01) and live.artifact_fraction == 0.0


def test_windows_empty_and_turn_invalid_when_beats_stop_arriving():
    metrics = RollingMetrics()
    for beat in steady_beats(0.0, 90, 1000.0):
        metrics.add(beat)
    assert metrics.snapshot(90.0).rmssd_valid
    dropout = metrics.snapshot(105.0)  # sensor silent for 15 s
    assert dropout.hr_bpm is None and not dropout.hr_valid
    assert dropout.rmssd_valid  # 45 s of pairs still in the 60 s window
    gone = metrics.snapshot(151.0)
    assert gone.rmssd_ms is None and not gone.rmssd_valid


def test_a_removed_beat_breaks_the_successive_difference():
    beats = steady_beats(0.0, 40, 1000.0) + [Beat(40.6, 150.0, "out_of_range")] + steady_beats(40.6, 40, 800.0)
    metrics = RollingMetrics()
    for beat in beats:
        metrics.add(beat)
    live = metrics.snapshot(beats[-1].t_s)
    # every real pair of adjacent NN beats is equal; pairing across the ectopic beat would add 200 ms
    assert live.rmssd_ms == 0.0 and live.rmssd_valid
    assert rmssd_ms([b.rr_ms for b in beats if b.is_nn]) > 20.0  # what a naive pairing reports
    assert live.artifact_fraction == pytest.approx(1 / len([b for b in beats if b.t_s > beats[-1].t_s - 60]))


def test_live_rmssd_agrees_with_the_formula_on_a_simulated_session():
    heart, corrector, metrics = SimulatedHeart(seed=5, ectopic_rate=0.02), RRCorrector(), RollingMetrics()
    beats: list[CorrectedBeat] = []
    for step in range(1, 6001):  # 5 minutes at 20 Hz
        t = step * 0.05
        for raw in heart.poll(t, 0.5 - 0.5 * math.cos(2 * math.pi * t / 10)):
            for beat in corrector.push(raw.t_s, raw.rr_ms):
                beats.append(beat)
                metrics.add(beat)
    live = metrics.snapshot(300.0)

    in_window = [b for b in beats if b.t_s > 240.0]
    pairs = [
        (a.corrected_rr_ms, b.corrected_rr_ms)
        for a, b in zip(beats, beats[1:])
        if a.corrected_rr_ms is not None and b.corrected_rr_ms is not None and b.t_s > 240.0
    ]
    expected = math.sqrt(np.mean([(b - a) ** 2 for a, b in pairs]))
    assert live.rmssd_ms == pytest.approx(expected) and live.rmssd_valid
    assert live.hr_bpm == pytest.approx(
        mean_hr_bpm([b.corrected_rr_ms for b in beats if b.corrected_rr_ms is not None and b.t_s > 290.0])
    )
    assert live.artifact_fraction == pytest.approx(sum(not b.is_nn for b in in_window) / len(in_window))
    assert 0.0 < live.artifact_fraction < 0.15


# -- spectral live metrics ------------------------------------------------------------------


def oscillating_beats(
    duration_s: float,
    breath_bpm: float,
    amplitude_ms: float,
    base_ms: float = 800.0,
    noise_ms: float = 0.0,
    seed: int = 0,
) -> list[CorrectedBeat]:
    """Beats whose RR at its end time t is base + A sin(2 pi f t) (+ white noise), f = breaths/min / 60."""
    rng, f, t, beats = np.random.default_rng(seed), breath_bpm / 60.0, 0.0, []
    while True:
        rr = base_ms
        for _ in range(4):  # fixed point: the beat's RR decides when it ends
            rr = base_ms + amplitude_ms * math.sin(2 * math.pi * f * (t + rr / 1000))
        rr += noise_ms * rng.standard_normal()
        t += rr / 1000
        if t > duration_s:
            return beats
        beats.append(Beat(t, rr))


def stream(
    beats: list[CorrectedBeat],
    until_s: float,
    frame_hz: float = 8.0,
    metrics: RollingMetrics | None = None,
    guided_pace_bpm: float | None = None,
) -> list[tuple[float, LiveMetrics]]:
    """Feed beats as their time comes and take a snapshot every frame, as the session runner does."""
    metrics = metrics or RollingMetrics()
    snaps, i = [], 0
    for k in range(1, int(until_s * frame_hz) + 1):
        now = k / frame_hz
        while i < len(beats) and beats[i].t_s <= now:
            metrics.add(beats[i])
            i += 1
        snaps.append((now, metrics.snapshot(now, guided_pace_bpm)))
    return snaps


def window_spectrum(beats: list[CorrectedBeat], now_s: float) -> tuple[np.ndarray, np.ndarray]:
    inside = [b for b in beats if now_s - 64.0 < b.t_s <= now_s]
    _, x = resample_rr(np.array([b.t_s for b in inside]), np.array([b.corrected_rr_ms for b in inside]))
    return welch_psd(x)


@pytest.mark.parametrize("breath_bpm", [4.5, 6.0, 12.0, 15.0])
def test_breathing_rate_is_the_rsa_peak_within_half_a_breath(breath_bpm):
    snaps = stream(oscillating_beats(150.0, breath_bpm, 40.0, noise_ms=5.0), 150.0)
    rates = [live.breath_rate_bpm for _, live in snaps if live.breath_rate_valid]
    assert len(rates) >= 8 * 80  # valid from 65 s on
    assert all(abs(rate - breath_bpm) <= 0.5 for rate in rates)


def test_adherence_is_high_at_the_guided_pace_and_low_away_from_it():
    for breathing, matched, other in ((6.0, 6.0, 12.0), (12.0, 12.0, 6.0)):
        beats = oscillating_beats(120.0, breathing, 40.0, noise_ms=5.0)
        on_pace = stream(beats, 120.0, guided_pace_bpm=matched)[-1][1]
        off_pace = stream(beats, 120.0, guided_pace_bpm=other)[-1][1]
        # a pure sine at the guided pace scores ~0.8: the Hann main lobe is wider than +-0.015 Hz
        assert on_pace.adherence_valid and on_pace.adherence > 0.7
        assert off_pace.adherence_valid and off_pace.adherence < 0.05
        assert stream(beats, 120.0)[-1][1].adherence is None  # no guide, no adherence


def test_a_new_guided_pace_is_scored_at_once_from_the_cached_spectrum():
    metrics = RollingMetrics()
    stream(oscillating_beats(100.0, 6.0, 40.0), 100.0, metrics=metrics, guided_pace_bpm=12.0)
    assert metrics.snapshot(100.1, 12.0).adherence < 0.05
    switched = metrics.snapshot(100.2, 6.0)
    assert switched.adherence > 0.7 and switched.spectral_at_s == 100.0  # no recomputation
    assert metrics.snapshot(100.3, None).adherence is None


def test_coherence_is_higher_for_a_clean_slow_oscillation_than_for_noise():
    clean = stream(oscillating_beats(120.0, 6.0, 50.0, noise_ms=3.0), 120.0)[-1][1]
    noise = stream(oscillating_beats(120.0, 6.0, 0.0, noise_ms=30.0, seed=3), 120.0)[-1][1]
    assert clean.coherence_valid and noise.coherence_valid
    assert clean.coherence > 2.5 and noise.coherence < 1.0  # docstring: pure sine ~3.7, white noise ~0.1


def test_hf_power_of_a_sine_is_its_variance():
    amplitude = 40.0  # a 0.25 Hz sine of amplitude A has variance A^2/2, all of it in HF
    for base_ms in (700.0, 1000.0):
        live = stream(oscillating_beats(120.0, 15.0, amplitude, base_ms=base_ms), 120.0)[-1][1]
        # measured 0.5-3 % low: the cubic spline through ~4 beats per cycle (at 60 bpm) rounds the peaks
        assert live.hf_valid and live.hf_ms2 == pytest.approx(amplitude**2 / 2, rel=0.05)


def test_validity_flags_flip_when_their_windows_fill():
    beats = oscillating_beats(90.0, 6.0, 40.0, noise_ms=5.0)
    first = beats[0].t_s  # 0.8 s
    for now, live in stream(beats, 90.0):
        assert live.sdnn_valid == (now - first >= 60.0)
        # the first 5-s recomputation whose beats span 25 s is at 30 s; 64 s of data is reached at 64.8 s
        assert (live.hf_ms2 is None) == (now < 30.0)
        expected_valid = now >= 65.0
        assert live.hf_valid == live.coherence_valid == live.breath_rate_valid == expected_valid
        assert live.adherence is None and not live.adherence_valid


def test_spectral_values_update_on_a_5_second_cadence_over_the_last_64_seconds():
    beats = oscillating_beats(100.0, 9.0, 30.0, noise_ms=10.0, seed=1)
    snaps = stream(beats, 100.0, frame_hz=90.0, guided_pace_bpm=9.0)
    changes = []
    for (_, before), (now, live) in zip(snaps, snaps[1:]):
        spectral = (live.hf_ms2, live.coherence, live.breath_rate_bpm, live.adherence, live.spectral_at_s)
        if spectral != (
            before.hf_ms2,
            before.coherence,
            before.breath_rate_bpm,
            before.adherence,
            before.spectral_at_s,
        ):
            changes.append((now, live))
    # one recomputation at the first frame at or after each multiple of 5 s (from 30 s, once 25 s of beats exist)
    assert [live.spectral_at_s for _, live in changes] == [now for now, _ in changes]
    assert [math.floor(now / 5) for now, _ in changes] == list(range(6, 21))
    assert all(now - 5 * math.floor(now / 5) < 1 / 90 for now, _ in changes)
    hr_changes = sum(a.hr_bpm != b.hr_bpm for (_, a), (_, b) in zip(snaps, snaps[1:]))
    assert hr_changes > 10 * len(changes)  # time-domain values move with every beat meanwhile
    for now, live in changes[-3:]:  # each recomputation covers exactly the last 64 s of beats
        freqs, psd = window_spectrum(beats, now)
        assert live.hf_ms2 == pytest.approx(band_power(freqs, psd, *HF))
        assert live.coherence == pytest.approx(coherence_ratio(freqs, psd))


def test_spectral_values_turn_invalid_after_a_dropout():
    beats = [b for b in oscillating_beats(170.0, 6.0, 40.0) if not 90.0 < b.t_s < 100.0]
    snaps = dict(stream(beats, 170.0))
    assert snaps[90.0].hf_valid and snaps[90.0].breath_rate_valid
    for now in (100.0, 130.0, 150.0):  # the 10 s hole lies inside the 64 s window
        assert not (snaps[now].hf_valid or snaps[now].coherence_valid or snaps[now].breath_rate_valid)
    assert snaps[165.0].hf_valid  # the hole has left the window


def test_live_sdnn_matches_the_formula_over_the_window():
    beats = oscillating_beats(200.0, 6.0, 40.0, noise_ms=20.0, seed=2)
    metrics = RollingMetrics()
    for now, live in stream(beats, 200.0, metrics=metrics)[::40]:
        window = [b.corrected_rr_ms for b in beats if now - 60.0 < b.t_s <= now]
        if len(window) < 2:
            assert live.sdnn_ms is None
        else:
            assert live.sdnn_ms == pytest.approx(sdnn_ms(window), rel=1e-9)


def test_a_bad_guided_pace_is_refused_with_a_message():
    with pytest.raises(ValueError, match="guided_pace_bpm"):
        RollingMetrics().snapshot(1.0, guided_pace_bpm=0.0)


def test_simulated_heart_breathing_at_6_per_minute_reads_6():
    heart, corrector, metrics = SimulatedHeart(seed=2), RRCorrector(), RollingMetrics()
    checked = 0
    for step in range(1, 20 * 240 + 1):  # 4 minutes at 20 Hz, following a 10-s breath
        t = step * 0.05
        for raw in heart.poll(t, 0.5 - 0.5 * math.cos(2 * math.pi * t / 10)):
            for beat in corrector.push(raw.t_s, raw.rr_ms):
                metrics.add(beat)
        live = metrics.snapshot(t, guided_pace_bpm=6.0)
        if t >= 70.0 and step % 20 == 0:
            assert live.breath_rate_valid and live.breath_rate_bpm == pytest.approx(6.0, abs=0.5)
            assert live.adherence > 0.4  # RSA at 0.1 Hz over the simulator's AR(1) noise
            checked += 1
    assert checked == 171


# -- the spectrum off the frame thread: RollingMetrics(background=True) -----------------------------
# Each 5-s recomputation goes to one worker thread; the figures are inline's, a failure is told as an
# event, and the session's end leaves no thread.

SPECTRAL = (
    "hf_ms2",
    "hf_valid",
    "coherence",
    "coherence_valid",
    "breath_rate_bpm",
    "breath_rate_valid",
    "adherence",
    "adherence_valid",
    "spectral_at_s",
)
WAIT_S = 30.0  # the longest a test waits for the worker before failing (it takes milliseconds)


def figures(live) -> tuple:
    return tuple(getattr(live, name) for name in SPECTRAL)


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("tidewell-spectrum")]


def wait_for(condition, poll):
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "the spectrum worker gave nothing back"
        time.sleep(0.002)
        poll()


@pytest.fixture
def welch_threads(monkeypatch):
    """The name of the thread of every welch_psd call."""
    calls: list[str] = []
    real = spectrum.welch_psd

    def counted(*args, **kwargs):
        calls.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(spectrum, "welch_psd", counted)
    return calls


def stream_frames(metrics: RollingMetrics, beats, until_s: float, frame_hz: float = 90.0, wait_at_marks: bool = False):
    """As the runner does: beats as their time comes, a snapshot every frame. wait_at_marks: after each
    frame that reached a 5-s mark, snapshot that frame again until the worker's spectrum is in."""
    snaps, i, mark = [], 0, 30.0  # the first recomputation with 25 s of beats is at 30 s
    for k in range(1, int(until_s * frame_hz) + 1):
        now = k / frame_hz
        while i < len(beats) and beats[i].t_s <= now:
            metrics.add(beats[i])
            i += 1
        snaps.append((now, metrics.snapshot(now, 9.0)))
        if wait_at_marks and now >= mark:
            wait_for(
                lambda now=now: snaps[-1][1].spectral_at_s == now,
                lambda now=now: snaps.append((now, metrics.snapshot(now, 9.0))),
            )
            mark += 5.0
    return snaps


def test_the_worker_gives_the_inline_figures_for_the_same_beats(welch_threads):
    beats = oscillating_beats(100.0, 9.0, 30.0, noise_ms=10.0, seed=1)
    inline = stream_frames(RollingMetrics(), beats, 100.0)
    expected = {live.spectral_at_s: figures(live) for _, live in inline}
    inline_calls = len(welch_threads)
    assert inline_calls == 15 and set(welch_threads) == {threading.current_thread().name}

    background = RollingMetrics(background=True)
    try:
        waited = stream_frames(background, beats, 100.0, wait_at_marks=True)
    finally:
        background.close()
    assert {live.spectral_at_s for _, live in waited} == set(expected)  # every recomputation arrived
    for now, live in waited:  # each frame shows exactly what inline showed for that recomputation
        assert figures(live) == expected[live.spectral_at_s]
        assert live.spectral_at_s is None or live.spectral_at_s <= now
    worker_calls = welch_threads[inline_calls:]
    assert len(worker_calls) == 15 and all(name.startswith("tidewell-spectrum") for name in worker_calls)


def test_without_waiting_every_frame_shows_a_finished_inline_figure():
    beats = oscillating_beats(100.0, 9.0, 30.0, noise_ms=10.0, seed=1)
    expected = {live.spectral_at_s: figures(live) for _, live in stream_frames(RollingMetrics(), beats, 100.0)}
    background = RollingMetrics(background=True)
    try:
        snaps = stream_frames(background, beats, 100.0)
        wait_for(
            lambda: snaps[-1][1].spectral_at_s == 100.0, lambda: snaps.append((100.0, background.snapshot(100.0, 9.0)))
        )
    finally:
        background.close()
    assert all(figures(live) == expected[live.spectral_at_s] for _, live in snaps)


def full_body_runner(**kwargs) -> SessionRunner:
    program = load_program(resolve_program("full_body_60"))
    return SessionRunner(program, SimulatedHeart(seed=3), unattended=True, **kwargs)


def test_the_runner_step_never_computes_the_spectrum_on_the_frame_thread(welch_threads):
    runner = full_body_runner(spectrum_worker=True)
    frame = threading.current_thread().name
    try:
        states = [runner.step(k / 90) for k in range(90 * 100 + 1)]
        wait_for(
            lambda: runner.metrics.snapshot(100.0, runner.pacer.pattern.rate_bpm).spectral_at_s == 100.0,
            lambda: states.append(runner.step(100.0)),
        )
        states.append(runner.step(100.0))
    finally:
        runner.flush_beats()
    assert len(welch_threads) == 15 and frame not in welch_threads  # the marks from 30 s to 100 s, all on the worker
    assert states[-1].coherence is not None and states[-1].breath_rate_bpm is not None

    inline = full_body_runner()  # the same counter sees the inline runner compute on this thread
    for k in range(90 * 35):
        inline.step(k / 90)
    assert welch_threads.count(frame) >= 1


def test_the_worker_stops_when_the_session_ends_and_later_spectra_run_inline(welch_threads):
    runner = full_body_runner(spectrum_worker=True)
    for k in range(30 * 40):
        runner.step(k / 30)
    wait_for(lambda: runner.metrics.snapshot(39.99).spectral_at_s == 35.0, lambda: None)
    [worker] = worker_threads()  # started with the first recomputation (30 s)
    if sys.platform.startswith("linux"):  # below the frame thread, so a busy machine serves frames first
        assert os.getpriority(os.PRIO_PROCESS, worker.native_id) == min(os.getpriority(os.PRIO_PROCESS, 0) + 10, 19)
    runner.flush_beats()  # the session's end path, on a completed run or a stop
    assert worker_threads() == []
    before = welch_threads.count(threading.current_thread().name)
    runner.step(45.0)  # a step after the end (none is taken in a session) computes inline
    assert welch_threads.count(threading.current_thread().name) == before + 1
    assert runner.metrics.snapshot(45.1).spectral_at_s == 45.0  # at once: no worker


def test_a_failing_spectrum_is_told_once_and_the_session_goes_on(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise FloatingPointError("bad window")

    monkeypatch.setattr(spectrum, "welch_psd", broken)
    runner = full_body_runner(spectrum_worker=True)
    events, states = [], []

    def step(now: float) -> None:
        states.append(runner.step(now))
        events.extend(runner.drain_events())

    try:
        for k in range(30 * 50):  # marks at 30, 35, 40, 45 s: every recomputation fails
            step(k / 30)
        wait_for(lambda: any(e.kind == "metrics_problem" for e in events), lambda: step(50.0))
        step(50.1)
    finally:
        runner.flush_beats()
    problems = [e for e in events if e.kind == "metrics_problem"]
    assert len(problems) == 1, problems  # told once, not every 5 s
    assert "blank" in problems[0].detail and "FloatingPointError: bad window" in problems[0].detail
    assert "live spectrum failed" in caplog.text and "FloatingPointError" in caplog.text  # with its traceback
    assert states[-1].hf_ms2 is None and states[-1].coherence is None  # blank, not stale
    assert states[-1].hr_bpm is not None and not runner.finished  # the rest of the session goes on


@pytest.mark.parametrize("worker", [None, True])
def test_a_session_computes_the_spectrum_inline_in_virtual_time_unless_told_and_leaves_no_thread(
    tmp_path, welch_threads, worker
):
    from tidewell.engine.session import RunOptions, run_session
    from tidewell.sessions.store import SessionStore

    options = RunOptions(client="C-1", virtual_time=True, headless=True, say=lambda _: None, spectrum_worker=worker)
    result = run_session(
        load_program(resolve_program("taster")).scaled_to(1.0), options, SessionStore(tmp_path / "tidewell.db")
    )
    assert result.status == "completed"
    frame = threading.current_thread().name
    if worker is None:  # virtual time: reproducible, every recomputation in the frame's step
        assert welch_threads and set(welch_threads) == {frame}
    else:
        assert frame not in welch_threads
    assert worker_threads() == []  # the session's end stopped the worker
