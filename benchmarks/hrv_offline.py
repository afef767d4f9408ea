"""Offline HRV of a 2-hour recording from raw RR: tidewell against neurokit2, in one run.

    python benchmarks/hrv_offline.py [--rounds 5]

Data: pyhrv's real NN series (MIT-BIH NSRDB, shipped in the pyhrv package; read from its folder
without importing pyhrv). The 60-minute record played twice back to back is the 2-hour session:
9368 beats. Timed, each as the median of --rounds runs, alternating:
- from raw RR (the goal: tidewell >= 1.5x faster):
  tidewell: analyze(t, rr), i.e. batch Kubios-style correction + time + frequency domain;
  neurokit2: signal_fixpeaks(method="Kubios") (its default, iterative) on the beat times, then
  hrv_time + hrv_frequency(psd_method="welch", normalize=False, interpolation_rate=4) on the
  corrected intervals;
- correction alone: tidewell's batch corrector (correct_recording), neurokit2's signal_fixpeaks,
  and tidewell's streaming corrector over the whole series (the live path, for scale);
- the same NN, no correction: analyze() given the series as already-corrected NN against
  neurokit2's hrv_time + hrv_frequency on it.
Then the share of beats each corrector flags on the two real records (5 min and 60 min), which are
clean normal-sinus recordings: tidewell streaming and batch, neurokit2 iterative (its default) and
non-iterative.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

RECORDS = {"5 min": "SampleNNISeriesShort.npy", "60 min": "SampleNNISeriesLong.npy"}


def real_nn(name: str) -> np.ndarray:
    spec = importlib.util.find_spec("pyhrv")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("hrv_offline: needs the pyhrv package for its sample recordings (pip install pyhrv)")
    return np.load(Path(next(iter(spec.submodule_search_locations))) / "files" / RECORDS[name]).astype(float)


def peaks_of(rr: np.ndarray) -> np.ndarray:
    """Beat times in samples at 1000 Hz, as neurokit2's peak correction takes them."""
    return np.concatenate([[0], np.cumsum(np.round(rr).astype(int))])


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def neurokit_flags(nk, rr: np.ndarray, iterative: bool) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info, _ = nk.signal_fixpeaks(peaks_of(rr), sampling_rate=1000, iterative=iterative, method="Kubios")
    return sum(len(info[kind]) for kind in ("ectopic", "missed", "extra", "longshort"))


def flagged_shares(nk) -> list[str]:
    from tidewell.sensors.batch_correction import correct_recording
    from tidewell.sensors.correction import correct_series

    lines = ["flagged beats on clean NSRDB records (count, % of beats)"]
    for name in RECORDS:
        rr = real_nn(name)
        t = np.cumsum(rr) / 1000.0
        batch = correct_recording(t, rr)
        counts = {
            "tidewell streaming": sum(1 for b in correct_series(t, rr) if not b.inserted and b.quality != "ok"),
            "tidewell batch": int(np.count_nonzero((batch.quality != "ok") & ~batch.inserted)),
            "neurokit2 iterative": neurokit_flags(nk, rr, iterative=True),
            "neurokit2 non-iterative": neurokit_flags(nk, rr, iterative=False),
        }
        cells = "  ".join(f"{who} {n} ({100.0 * n / rr.size:.2f} %)" for who, n in counts.items())
        lines.append(f"  {name} ({rr.size} beats): {cells}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    try:
        import neurokit2 as nk
    except ImportError:
        sys.exit("hrv_offline: needs neurokit2 (pip install neurokit2)")
    from tidewell.sensors.batch_correction import correct_recording
    from tidewell.sensors.correction import correct_series
    from tidewell.sessions.hrv import analyze

    rr = np.tile(real_nn("60 min"), 2)
    t = np.cumsum(rr) / 1000.0
    peaks = peaks_of(rr)
    ok = ["ok"] * rr.size

    def neurokit_spectrum(nn: np.ndarray, nn_t: np.ndarray) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            intervals = {"RRI": nn, "RRI_Time": nn_t}
            nk.hrv_time(intervals)
            nk.hrv_frequency(intervals, psd_method="welch", normalize=False, interpolation_rate=4)

    def neurokit_fixpeaks():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return nk.signal_fixpeaks(peaks, sampling_rate=1000, method="Kubios")[1]

    def neurokit_from_raw() -> None:
        fixed = neurokit_fixpeaks()
        neurokit_spectrum(np.diff(fixed).astype(float), fixed[1:] / 1000.0)

    runs = {
        "ours_raw": lambda: analyze(t, rr),
        "nk_raw": neurokit_from_raw,
        "ours_fix": lambda: correct_recording(t, rr),
        "nk_fix": neurokit_fixpeaks,
        "ours_nn": lambda: analyze(t, rr, quality=ok, corrected_rr_ms=rr),
        "nk_nn": lambda: neurokit_spectrum(rr, t),
    }
    for fn in runs.values():  # warm-up: imports, caches
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            times[name].append(timed(fn))
    med = {name: statistics.median(values) for name, values in times.items()}
    streaming = timed(lambda: correct_series(t, rr))

    def row(label: str, seconds: float) -> str:
        return f"  {label:<48} {seconds * 1000:8.1f} ms  ({seconds / rr.size * 1e6:5.1f} us/beat)"

    print(f"2-hour session: {rr.size} beats, {(t[-1] - t[0]) / 3600:.2f} h; median of {args.rounds} rounds")
    print("from raw RR: correction + time + frequency domain")
    print(row("tidewell analyze (batch correction)", med["ours_raw"]))
    print(row("neurokit2 signal_fixpeaks + hrv_time + frequency", med["nk_raw"]))
    print(f"  ratio neurokit2 / tidewell (goal >= 1.5)         {med['nk_raw'] / med['ours_raw']:8.2f}x")
    print("correction alone")
    print(row("tidewell batch correct_recording", med["ours_fix"]))
    print(row("neurokit2 signal_fixpeaks (Kubios, iterative)", med["nk_fix"]))
    print(f"  ratio neurokit2 / tidewell                       {med['nk_fix'] / med['ours_fix']:8.2f}x")
    print(row("tidewell streaming correct_series (one run)", streaming))
    print("same NN, no correction: time + frequency domain")
    print(row("tidewell analyze", med["ours_nn"]))
    print(row("neurokit2 hrv_time + hrv_frequency", med["nk_nn"]))
    print(f"  ratio neurokit2 / tidewell                       {med['nk_nn'] / med['ours_nn']:8.2f}x")
    print("\n".join(flagged_shares(nk)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
