"""Drift between the audio breath and the visual breath (the frame state) over long runs.

    python benchmarks/audio_sync.py [--offline-minutes 60] [--minutes 10] [--skip-offline] [--skip-live]

Both come from one clock: renderers draw the FrameState of each frame; audio renders the same
states. What is measured is when the sound's breath envelope peaks relative to the frame state's
fullest lung, breath by breath:

- offline (virtual time): full_body_60 for --offline-minutes at 60 fps, rendered to WAV by WavOutput
  (24 kHz mono). For every breath, a fresh synth renders the states around its peak with each state
  placed at sample round(t_s * rate), independently of WavOutput's bookkeeping (its noise loops
  set to the same position, so the two differ only in timing and in the fresh synth's fade-in); the shift that
  best aligns the long file's envelope with that reference is the breath's offset. Goal: the
  offset never drifts by more than 20 ms over 60 minutes.
- live: full_body_60 scaled to --minutes through DeviceOutput on a JACK dummy server while
  jack_rec captures (tests/audio_jack); the capture is placed on the session clock by a marker
  and compared breath by breath with the WAV render of the same states.

Prints the offset at the start and the end (mean of the first and last 10 breaths), its slope
(least squares, ms/hour) and the largest offset.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "audio_jack"))

from audio_analysis import binned_power, breath_peak_times, envelope_db, envelope_from_bins, lag_at, smooth_db  # noqa: E402

HOP_S = 0.001
GOAL_MS = 20.0
SETTLE_S = 6.0  # a reference render starts this long before the breath's peak, so its fades have settled
AFTER_S = 3.5


def drift_summary(peaks: np.ndarray, lags_s: np.ndarray) -> dict:
    ok = np.isfinite(lags_s)
    peaks, lags_ms = peaks[ok], 1e3 * lags_s[ok]
    n = min(10, len(lags_ms))
    slope = float(np.polyfit(peaks / 3600.0, lags_ms, 1)[0]) if len(lags_ms) > 2 else float("nan")
    return {
        "breaths": int(len(lags_ms)),
        "span_min": float((peaks[-1] - peaks[0]) / 60.0) if len(peaks) else 0.0,
        "start_ms": float(np.mean(lags_ms[:n])),
        "end_ms": float(np.mean(lags_ms[-n:])),
        "drift_ms": float(np.mean(lags_ms[-n:]) - np.mean(lags_ms[:n])),
        "slope_ms_per_hour": slope,
        "max_abs_ms": float(np.max(np.abs(lags_ms))),
        "sd_ms": float(np.std(lags_ms)),
    }


def _wav_chunks(path: Path, seconds: float = 60.0):
    with wave.open(str(path), "rb") as wav:
        per = int(seconds * wav.getframerate())
        channels = wav.getnchannels()
        while True:
            raw = wav.readframes(per)
            if not raw:
                return
            yield np.frombuffer(raw, dtype="<i2").reshape(-1, channels).astype(np.float64) / 32768.0


def offline(minutes: float, rate: int = 24000, fps: float = 60.0) -> dict:
    from tidewell.audio.output import WavOutput
    from tidewell.audio.synth import BreathSynth
    from tidewell.core.clock import VirtualClock
    from tidewell.sensors.simulated import SimulatedHeart
    from tidewell.sessions.program import load_program, resolve_program
    from tidewell.sessions.runner import SessionRunner

    program = load_program(resolve_program("full_body_60")).scaled_to(minutes)
    runner = SessionRunner(program, SimulatedHeart(seed=0), unattended=True)
    clock = VirtualClock()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tidewell-sync-") as folder:
        path = Path(folder) / "offline.wav"
        states, last_t = [], 0.0
        with WavOutput(path, sample_rate=rate, channels=1, seed=0) as output:
            while not runner.finished:
                now = clock.now()
                state = runner.step(now)
                output.advance(state, now - last_t)
                last_t = now
                states.append(state)
                clock.advance(1.0 / fps)
        rendered = time.perf_counter() - started
        times, long_db = envelope_from_bins(binned_power(_wav_chunks(path), rate, HOP_S), HOP_S)
    long_db = smooth_db(long_db, HOP_S)
    t = np.asarray([s.t_s for s in states])
    peaks = breath_peak_times(t, [s.breath_level for s in states], [s.breath_phase for s in states])
    peaks = peaks[(peaks > SETTLE_S + 1.0) & (peaks < t[-1] - AFTER_S)]

    pristine = BreathSynth(sample_rate=rate, channels=1, seed=0)
    lags = np.full(len(peaks), np.nan)
    for k, peak in enumerate(peaks):
        first = int(np.searchsorted(t, peak - SETTLE_S))
        last = int(np.searchsorted(t, peak + AFTER_S))
        synth = copy.deepcopy(pristine)
        start = round(t[first] * rate)
        if hasattr(synth, "_samples"):
            # Its noise loops start where the long render's are at that sample: the same noise, so
            # only timing can tell the two envelopes apart.
            synth._samples = start
        pieces, position = [], start
        for j in range(first + 1, last):
            end = round(t[j] * rate)  # each state's block ends exactly at its time on the clock
            if end > position:
                pieces.append(synth.render(states[j], end - position))
                position = end
        ref_t, ref_db = envelope_db(np.concatenate(pieces), rate, HOP_S)
        ref_t = ref_t + start / rate
        grid = (ref_t >= peak - SETTLE_S + 2.0) & (ref_t <= ref_t[-1])
        grid_t = ref_t[grid]
        ref_db = smooth_db(ref_db, HOP_S)[grid]
        long_on_grid = np.interp(grid_t, times, long_db)
        lags[k] = lag_at(peak, grid_t, long_on_grid, ref_db)
    summary = drift_summary(peaks, lags)
    summary.update(
        session_min=t[-1] / 60.0, frames=len(states), render_s=rendered, total_s=time.perf_counter() - started
    )
    return summary


def live(minutes: float, realtime_jack: bool) -> dict:
    from jack_testbed import jack_testbed
    from live_session import render_reference, run_live_session

    from tidewell.sessions.program import load_program, resolve_program

    program = load_program(resolve_program("full_body_60")).scaled_to(minutes)
    with tempfile.TemporaryDirectory(prefix="tidewell-sync-live-") as folder:
        folder = Path(folder)
        with jack_testbed(folder / "jack", realtime=realtime_jack) as server:
            run = run_live_session(server, program, minutes * 60.0 + 1.0, folder / "capture.wav", mono_capture=True)
            xruns = server.xruns()
        ref, rate = render_reference(
            run.states, folder / "reference.wav", sample_rate=run.sample_rate, channels=1, like=run
        )
    times, ref_db = envelope_db(ref, rate, HOP_S)
    cap_t, cap_db = envelope_db(run.capture, run.sample_rate, HOP_S)
    cap_db = np.interp(times, cap_t + run.capture_session_times()[0], cap_db)
    ref_db, cap_db = smooth_db(ref_db, HOP_S), smooth_db(cap_db, HOP_S)
    t = np.asarray([s.t_s for s in run.states])
    peaks = breath_peak_times(t, [s.breath_level for s in run.states], [s.breath_phase for s in run.states])
    peaks = peaks[(peaks > 3.0) & (peaks < t[-1] - 3.0)]
    lags = np.asarray([lag_at(p, times, cap_db, ref_db) for p in peaks])
    summary = drift_summary(peaks, lags)
    tolerance = run.period_frames / run.sample_rate + run.device_latency_s + 1.0 / run.fps + run.lead_s
    summary.update(
        session_min=run.session_s / 60.0,
        tolerance_ms=1e3 * tolerance,
        underruns=run.stats["underruns"],
        status_flags=run.stats["status_flags"],
        jack_xruns_client=xruns["client"],
        losses=run.stats["losses"],
    )
    return summary


def _print(label: str, s: dict) -> None:
    print(
        f"  {label}: {s['breaths']} breaths over {s['span_min']:.1f} min; offset start {s['start_ms']:+.1f} ms, "
        f"end {s['end_ms']:+.1f} ms, drift {s['drift_ms']:+.1f} ms, slope {s['slope_ms_per_hour']:+.2f} ms/hour, "
        f"largest |offset| {s['max_abs_ms']:.1f} ms, sd {s['sd_ms']:.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline-minutes", type=float, default=60.0)
    parser.add_argument("--minutes", type=float, default=10.0, help="live JACK run length (default 10)")
    parser.add_argument("--skip-offline", action="store_true")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument(
        "--jack-no-realtime",
        action="store_true",
        help="run jackd without real-time scheduling, as the tests do (default: jackd -R; an xrun "
        "shifts the capture's timeline by a period, so the live figure needs a run without them)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results, ok = {}, True
    if not args.skip_offline:
        print(f"offline: full_body_60, {args.offline_minutes:g} min, virtual clock at 60 fps, WavOutput 24 kHz...")
        s = offline(args.offline_minutes)
        _print("audio envelope peak - frame-state peak", s)
        print(
            f"  ({s['frames']} frames rendered in {s['render_s']:.0f} s, {s['total_s']:.0f} s in all); "
            f"goal: drift <= {GOAL_MS:g} ms over 60 minutes"
        )
        ok &= abs(s["drift_ms"]) <= GOAL_MS and s["max_abs_ms"] <= GOAL_MS
        results["offline"] = s
    if not args.skip_live:
        print(
            f"live: full_body_60 scaled to {args.minutes:g} min through DeviceOutput on JACK, captured by jack_rec..."
        )
        s = live(args.minutes, realtime_jack=not args.jack_no_realtime)
        _print("captured envelope peak - frame-state peak", s)
        print(
            f"  bound for any single breath: one period + output latency + one frame + render lead = {s['tolerance_ms']:.1f} ms; "
            f"underruns {s['status_flags']}, jackd client xruns {s['jack_xruns_client']}, losses {s['losses']}"
        )
        ok &= abs(s["drift_ms"]) <= GOAL_MS and s["max_abs_ms"] <= s["tolerance_ms"]
        results["live"] = s
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
