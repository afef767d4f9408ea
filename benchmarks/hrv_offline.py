"""Offline HRV of a 2-hour session: tidewell.sessions.hrv.analyze against neurokit2, in one run.

    python benchmarks/hrv_offline.py [--rounds 5]

Data: pyhrv's real 60-minute NN series (MIT-BIH NSRDB, shipped in the pyhrv package) played twice
back to back: 9368 beats, 2 hours. Timed, each as the median of --rounds runs, alternating:
- tidewell, same NN: analyze() given the series as already-corrected NN (what neurokit2 receives);
- neurokit2: hrv_time + hrv_frequency(psd_method="welch", normalize=False, interpolation_rate=4)
  on the same NN;
- tidewell, from raw RR: analyze() including the streaming Kubios-style correction (neurokit2 does
  no correction in the calls above, so this row is not part of the ratio).
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


def two_hours_of_real_nn() -> tuple[np.ndarray, np.ndarray]:
    spec = importlib.util.find_spec("pyhrv")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("hrv_offline: needs the pyhrv package for its sample recording (pip install pyhrv)")
    path = Path(next(iter(spec.submodule_search_locations))) / "files" / "SampleNNISeriesLong.npy"
    rr = np.tile(np.load(path).astype(float), 2)
    return np.cumsum(rr) / 1000.0, rr


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    try:
        import neurokit2 as nk
    except ImportError:
        sys.exit("hrv_offline: needs neurokit2 (pip install neurokit2)")
    from tidewell.sessions.hrv import analyze

    t, rr = two_hours_of_real_nn()
    ok = ["ok"] * rr.size
    intervals = {"RRI": rr, "RRI_Time": t}

    def ours() -> None:
        analyze(t, rr, quality=ok, corrected_rr_ms=rr)

    def ours_from_raw() -> None:
        analyze(t, rr)

    def neurokit() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nk.hrv_time(intervals)
            nk.hrv_frequency(intervals, psd_method="welch", normalize=False, interpolation_rate=4)

    for fn in (ours, neurokit, ours_from_raw):  # warm-up: imports, caches
        fn()
    times: dict[str, list[float]] = {"ours": [], "neurokit": [], "ours_from_raw": []}
    for _ in range(args.rounds):
        times["ours"].append(timed(ours))
        times["neurokit"].append(timed(neurokit))
        times["ours_from_raw"].append(timed(ours_from_raw))
    med = {name: statistics.median(values) for name, values in times.items()}

    print(f"2-hour session: {rr.size} beats, {(t[-1] - t[0]) / 3600:.2f} h; median of {args.rounds} rounds")
    print(f"  tidewell analyze, same NN           {med['ours'] * 1000:8.1f} ms")
    print(f"  neurokit2 hrv_time + hrv_frequency  {med['neurokit'] * 1000:8.1f} ms")
    print(f"  ratio neurokit2 / tidewell          {med['neurokit'] / med['ours']:8.2f}x")
    print(
        f"  tidewell analyze from raw RR (with correction) {med['ours_from_raw'] * 1000:8.1f} ms"
        f"  ({med['ours_from_raw'] / rr.size * 1e6:.0f} us/beat)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
