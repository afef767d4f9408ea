"""Streaming cost of the live metrics per beat, against recomputing everything on every beat.

    python benchmarks/live_metrics.py [--minutes 30] [--frame-hz 90] [--seed 0]

A simulated session (SimulatedHeart breathing at 6/min through RRCorrector) is generated first,
untimed. The streaming run then replays it as a live session does: at each frame (90 Hz) the
beats that have arrived go to RollingMetrics.add() and one RollingMetrics.snapshot() follows,
which recomputes the spectral values at each multiple of 5 s. Reported, in microseconds:
add() per call, snapshot() per call, one spectral recomputation (the snapshots that did one), and
the streaming cost per beat = all add() and snapshot() time divided by the beats (mean, and p99
over the per-beat totals: a beat's add() plus the snapshots up to the next beat).
The baseline recomputes every live value from the window arrays on every beat (HR over 10 s,
RMSSD over 60 s with breaks at removed beats, SDNN over 60 s, and the 64 s spectrum with HF,
coherence, breathing rate and adherence); it skips the 90 Hz snapshots, which would only
return its cached values. The ratio printed is baseline mean / streaming mean per beat.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from tidewell.sensors.correction import CorrectedBeat, RRCorrector
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions import spectrum
from tidewell.sessions.metrics import SPECTRAL_WINDOW_S, RollingMetrics, adherence, breath_rate_bpm

GUIDED_PACE_BPM = 6.0


def simulated_beats(minutes: float, seed: int) -> list[CorrectedBeat]:
    heart, corrector, beats = SimulatedHeart(seed=seed, ectopic_rate=0.01), RRCorrector(), []
    for step in range(1, int(minutes * 60 * 20) + 1):
        t = step / 20
        for raw in heart.poll(t, 0.5 - 0.5 * math.cos(2 * math.pi * t * GUIDED_PACE_BPM / 60)):
            beats.extend(corrector.push(raw.t_s, raw.rr_ms))
    return beats + corrector.flush()


def streaming(beats: list[CorrectedBeat], frame_hz: float) -> dict[str, np.ndarray]:
    metrics, clock = RollingMetrics(), time.perf_counter
    add_s, snap_s, recompute_s, per_beat_s = [], [], [], []
    current, i, last_at = 0.0, 0, None  # current: the time charged to the newest beat so far
    frames = int(beats[-1].t_s * frame_hz) + 1
    for k in range(1, frames + 1):
        now = k / frame_hz
        while i < len(beats) and beats[i].t_s <= now:
            if i:
                per_beat_s.append(current)
            t0 = clock()
            metrics.add(beats[i])
            current = clock() - t0
            add_s.append(current)
            i += 1
        t0 = clock()
        live = metrics.snapshot(now, GUIDED_PACE_BPM)
        spent = clock() - t0
        current += spent
        (recompute_s if live.spectral_at_s is not None and live.spectral_at_s != last_at else snap_s).append(spent)
        last_at = live.spectral_at_s
    per_beat_s.append(current)
    total = sum(add_s) + sum(snap_s) + sum(recompute_s)
    return {
        "add": np.array(add_s),
        "snapshot": np.array(snap_s),
        "recompute": np.array(recompute_s),
        "per_beat": np.array(per_beat_s),
        "mean_per_beat": np.array([total / len(beats)]),
    }


def from_scratch(beats: list[CorrectedBeat]) -> np.ndarray:
    t = np.array([b.t_s for b in beats])
    rr = np.array([np.nan if b.corrected_rr_ms is None else b.corrected_rr_ms for b in beats])
    per_beat_s = []
    for j in range(len(beats)):
        t0 = time.perf_counter()
        now = t[j]
        lo10, lo60, lo64 = (np.searchsorted(t[: j + 1], now - w, side="right") for w in (10.0, 60.0, SPECTRAL_WINDOW_S))
        hr_window = rr[lo10 : j + 1][~np.isnan(rr[lo10 : j + 1])]
        _hr = 60000.0 / hr_window.mean() if hr_window.size else None
        w60 = rr[max(lo60 - 1, 0) : j + 1]
        diffs = np.diff(w60)[t[max(lo60 - 1, 0) + 1 : j + 1] > now - 60.0]
        diffs = diffs[~np.isnan(diffs)]
        _rmssd = math.sqrt(np.mean(diffs**2)) if diffs.size else None
        nn60 = rr[lo60 : j + 1][~np.isnan(rr[lo60 : j + 1])]
        _sdnn = float(np.std(nn60, ddof=1)) if nn60.size >= 2 else None
        ok = ~np.isnan(rr[lo64 : j + 1])
        ts, xs = t[lo64 : j + 1][ok], rr[lo64 : j + 1][ok]
        if ts.size >= 4 and ts[-1] - ts[0] >= 25.0:
            _, x = spectrum.resample_rr(ts, xs)
            freqs, psd = spectrum.welch_psd(x)
            spectrum.band_power(freqs, psd, *spectrum.HF)
            spectrum.coherence_ratio(freqs, psd)
            breath_rate_bpm(freqs, psd)
            adherence(freqs, psd, GUIDED_PACE_BPM)
        per_beat_s.append(time.perf_counter() - t0)
    return np.array(per_beat_s)


def us(x: np.ndarray) -> str:
    return f"mean {1e6 * x.mean():8.2f} us   p99 {1e6 * np.percentile(x, 99):8.2f} us   (n={x.size})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--frame-hz", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.minutes <= 2 or args.frame_hz <= 0:
        parser.error("need --minutes > 2 and --frame-hz > 0")

    beats = simulated_beats(args.minutes, args.seed)
    print(f"{len(beats)} corrected beats over {args.minutes:g} min, snapshots at {args.frame_hz:g} Hz")
    stream = streaming(beats, args.frame_hz)
    print(f"add()                                        {us(stream['add'])}")
    print(f"snapshot() between recomputations            {us(stream['snapshot'])}")
    print(f"snapshot() with a 5-s spectral recomputation {us(stream['recompute'])}")
    print(f"streaming per beat (add + snapshots)         {us(stream['per_beat'])}")
    n = len(beats)
    print(
        f"  of which, per beat: add {1e6 * stream['add'].sum() / n:.2f} us, plain snapshots "
        f"{1e6 * stream['snapshot'].sum() / n:.2f} us, recomputations {1e6 * stream['recompute'].sum() / n:.2f} us"
    )
    baseline = from_scratch(beats)
    print(f"from scratch per beat                        {us(baseline)}")
    print(f"ratio from-scratch / streaming (mean per beat): {baseline.mean() / stream['mean_per_beat'][0]:.1f}x")


if __name__ == "__main__":
    main()
