"""Offline HRV (sessions/hrv.py, sessions/spectrum.py) against neurokit2 on real RR recordings.

The recordings are pyhrv's sample NN series (pyhrv 0.5.0, BSD-3-Clause; extracted by pyhrv's author
from the MIT-BIH Normal Sinus Rhythm Database): 5 min (337 beats) and 60 min (4684 beats), integer
ms. They are read from the installed package folder without importing pyhrv (its import pulls in
matplotlib, biosppy and more, none of which this needs).
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from tidewell.sensors.correction import CorrectedBeat
from tidewell.sessions import spectrum
from tidewell.sessions.hrv import JSON_KEYS, analyze, analyze_phases, analyze_session, hrv_command
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.store import SessionStore

nk = pytest.importorskip("neurokit2", reason="neurokit2 is a test dependency: pip install neurokit2")

RECORDS = {"5 min": "SampleNNISeriesShort.npy", "60 min": "SampleNNISeriesLong.npy"}


def real_nn(record: str) -> tuple[np.ndarray, np.ndarray]:
    """(beat end times in s, NN in ms) of one of pyhrv's sample recordings."""
    spec = importlib.util.find_spec("pyhrv")
    assert spec is not None and spec.submodule_search_locations, "pyhrv is a test dependency: pip install pyhrv"
    path = Path(next(iter(spec.submodule_search_locations))) / "files" / RECORDS[record]
    rr = np.load(path).astype(float)
    return np.cumsum(rr) / 1000.0, rr


def as_given_nn(t: np.ndarray, rr: np.ndarray):
    """Hand the series over as already-corrected NN, so both tools see exactly the same intervals."""
    return analyze(t, rr, quality=["ok"] * rr.size, corrected_rr_ms=rr)


# -- against neurokit2 ------------------------------------------------------------------------


@pytest.mark.parametrize("record", RECORDS)
def test_time_domain_matches_neurokit2_on_real_records(record):
    t, rr = real_nn(record)
    ours = as_given_nn(t, rr)
    ref = nk.hrv_time({"RRI": rr, "RRI_Time": t}).iloc[0]
    # Same NN, same formulas: agreement to rounding (rel 1e-9).
    assert ours.n_beats == rr.size
    assert ours.mean_hr_bpm == pytest.approx(60000.0 / ref["HRV_MeanNN"], rel=1e-9)
    assert ours.sdnn_ms == pytest.approx(ref["HRV_SDNN"], rel=1e-9)
    assert ours.rmssd_ms == pytest.approx(ref["HRV_RMSSD"], rel=1e-9)
    # neurokit2 divides NN50 by N, we by N-1 (the number of differences): rescale, then exact.
    assert ours.pnn50_pct == pytest.approx(ref["HRV_pNN50"] * rr.size / (rr.size - 1), rel=1e-9)
    assert ours.artifact_pct == 0.0


@pytest.mark.parametrize("record", RECORDS)
def test_frequency_domain_matches_neurokit2_with_the_same_windows(record):
    """neurokit2's own cubic interpolation at 4 Hz, Welch with 64 s Hann windows and 50 % overlap,
    trapezoid band integration (nk.signal_power). What still differs: neurokit2 removes the mean of
    the whole series where we detrend each window linearly, and it zero-pads to 1/128 Hz bins where
    we pad to 1/256 Hz. Measured: LF +4.4 % / +5.7 %, HF +1.4 % / +3.9 %, LF/HF +2.9 % / +1.7 %
    (5 min / 60 min). Tolerance 10 %."""
    t, rr = real_nn(record)
    ours = as_given_nn(t, rr)
    grid = np.arange(t[0], t[-1] + 1e-9, 0.25)
    resampled = nk.signal_interpolate(t, rr, x_new=grid, method="cubic")
    power = nk.signal_power(
        resampled,
        frequency_band=[spectrum.LF, spectrum.HF],
        sampling_rate=4,
        method="welch",
        window=64,
        normalize=False,
    ).iloc[0]
    lf, hf = float(power.iloc[0]), float(power.iloc[1])
    assert ours.lf_ms2 == pytest.approx(lf, rel=0.10)
    assert ours.hf_ms2 == pytest.approx(hf, rel=0.10)
    assert ours.lf_hf == pytest.approx(lf / hf, rel=0.10)


@pytest.mark.parametrize("record", RECORDS)
def test_frequency_domain_close_to_neurokit2_hrv_frequency(record):
    """nk.hrv_frequency(psd_method="welch", normalize=False, interpolation_rate=4) keeps choices it
    does not let a caller change through hrv_frequency: quadratic (not cubic) interpolation,
    Welch windows of half the recording (not 64 s), mean removal (not linear detrend). The
    literature's warning (up to 60 % apart on LF/HF from method alone) applies; measured here:
    LF +19 % / -8 %, HF +13 % / -1.5 %, LF/HF +5 % / -7 % (5 min / 60 min). Tolerance 25 %."""
    t, rr = real_nn(record)
    ours = as_given_nn(t, rr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = nk.hrv_frequency(
            {"RRI": rr, "RRI_Time": t}, psd_method="welch", normalize=False, interpolation_rate=4
        ).iloc[0]
    assert ours.lf_ms2 == pytest.approx(ref["HRV_LF"], rel=0.25)
    assert ours.hf_ms2 == pytest.approx(ref["HRV_HF"], rel=0.25)
    assert ours.lf_hf == pytest.approx(ref["HRV_LFHF"], rel=0.25)


# -- synthetic series with known answers ----------------------------------------------------------


def sine_rr(freq_hz: float, amplitude_ms: float = 50.0, minutes: float = 5.0, mean_ms: float = 900.0):
    """RR oscillating at freq_hz, sampled at the beats it defines."""
    t, rr = [], []
    now = 0.0
    while now < minutes * 60:
        interval = mean_ms + amplitude_ms * np.sin(2 * np.pi * freq_hz * now)
        now += interval / 1000.0
        t.append(now)
        rr.append(interval)
    return np.array(t), np.array(rr)


@pytest.mark.parametrize("freq_hz, band", [(0.06, "lf"), (0.10, "lf"), (0.20, "hf"), (0.30, "hf")])
def test_a_sine_puts_its_power_in_its_band(freq_hz, band):
    t, rr = sine_rr(freq_hz)
    result = as_given_nn(t, rr)
    inside, outside = (result.lf_ms2, result.hf_ms2) if band == "lf" else (result.hf_ms2, result.lf_ms2)
    # a sine of amplitude A has variance A^2 / 2 = 1250 ms^2; beat sampling and the spline cost a little
    assert inside == pytest.approx(50.0**2 / 2, rel=0.05)
    assert outside < 0.01 * inside


def test_coherence_is_high_for_a_pure_slow_oscillation_and_low_for_noise():
    t, rr = sine_rr(0.1)
    coherent = as_given_nn(t, rr).coherence
    rng = np.random.default_rng(7)
    noisy_rr = 900.0 + 40.0 * rng.standard_normal(400)
    noisy = as_given_nn(np.cumsum(noisy_rr) / 1000.0, noisy_rr).coherence
    assert coherent > 3.0  # most power inside the 0.030 Hz window around 0.1 Hz
    assert noisy < 0.3  # white noise: about 0.030 / 0.4 of the power in any window
    # the formula by hand on the spectrum: peak window over the rest of 0.0033-0.40 Hz
    freqs, psd = spectrum.welch_psd(spectrum.resample_rr(t, rr)[1])
    f_peak = freqs[(freqs >= 0.04) & (freqs <= 0.26)][np.argmax(psd[(freqs >= 0.04) & (freqs <= 0.26)])]
    peak = spectrum.band_power(freqs, psd, f_peak - 0.015, f_peak + 0.015)
    total = spectrum.band_power(freqs, psd, 0.0033, 0.40)
    assert f_peak == pytest.approx(0.1, abs=0.004)
    assert coherent == pytest.approx(peak / (total - peak), rel=1e-12)


def test_a_removed_beat_breaks_the_successive_differences():
    corrected = [800.0] * 20 + [None] + [1000.0] * 20  # bridging the gap would add one 200 ms jump
    t = np.cumsum([800.0] * 20 + [400.0] + [1000.0] * 20) / 1000.0
    result = analyze(
        t, [c or 400.0 for c in corrected], quality=["ok"] * 20 + ["extra"] + ["ok"] * 20, corrected_rr_ms=corrected
    )
    assert result.rmssd_ms == 0.0 and result.pnn50_pct == 0.0
    assert result.n_beats == 40
    assert result.artifact_pct == pytest.approx(100 / 41)
    assert result.mean_hr_bpm == pytest.approx(60000.0 / 900.0)


def test_raw_rr_are_corrected_before_analysis():
    """Five missed beats (two real intervals merged into one) in 1200 real beats: the corrector splits
    them again and RMSSD stays within 1 % of the clean record; taken as they are, RMSSD is ~50 % high."""
    t, rr = real_nn("60 min")
    rr = rr[:1200]
    clean = analyze(np.cumsum(rr) / 1000.0, rr)
    merged = list(rr)
    for i in (1000, 800, 600, 400, 200):
        merged[i : i + 2] = [merged[i] + merged[i + 1]]
    merged = np.array(merged)
    t_merged = np.cumsum(merged) / 1000.0
    corrected = analyze(t_merged, merged)
    uncorrected = as_given_nn(t_merged, merged)
    assert "Kubios-style correction" in corrected.method
    assert corrected.artifact_pct > clean.artifact_pct
    assert corrected.rmssd_ms == pytest.approx(clean.rmssd_ms, rel=0.01)
    assert uncorrected.rmssd_ms > 1.3 * clean.rmssd_ms


def test_too_short_series_give_none_not_exceptions():
    for n in (0, 1, 5):
        rr = np.full(n, 850.0)
        result = analyze(np.cumsum(rr) / 1000.0, rr)
        assert result.n_beats == n
        assert all(getattr(result, k) is None for k in JSON_KEYS if k not in ("n_beats", "artifact_pct"))
    t, rr = sine_rr(0.25, minutes=0.5)  # 30 s: time domain yes, a 64 s spectrum no
    result = as_given_nn(t, rr)
    assert result.rmssd_ms is not None and result.mean_hr_bpm is not None
    assert result.lf_ms2 is None and result.hf_ms2 is None and result.lf_hf is None and result.coherence is None


# -- the session log ------------------------------------------------------------------------------


def test_phases_and_session_from_the_log(tmp_path):
    """A real SQLite log: a settle phase on the real 5 min record, a deep-work phase on the same
    record 100 ms slower. HR falls by exactly the difference of 60000 / mean NN."""
    t, rr = real_nn("5 min")
    program = load_program(
        resolve_program("taster"), {"dusk_ocean", "ember", "sea_floor", "eyes_closed", "aurora_night", "forest_canopy"}
    )
    settle, deep = program.phases[0], program.phases[2]
    store = SessionStore(tmp_path / "tidewell.db")
    sid = store.begin(
        program_id=program.id,
        program_title=program.title,
        program_minutes=program.minutes,
        client="C-042",
        sensor="replay",
        virtual_time=True,
        seed=None,
    )
    writer = store.writer(sid)
    second = t[-1] + np.cumsum(rr + 100.0) / 1000.0
    writer.phase_start(0, settle, 0.0)
    writer.beats([CorrectedBeat(a, b, b, "ok") for a, b in zip(t, rr)])
    writer.phase_end(0, float(t[-1]))
    writer.phase_start(1, deep, float(t[-1]))
    writer.beats(
        [CorrectedBeat(a, b, b, "ok") for a, b in zip(second, rr + 100.0)]
        + [CorrectedBeat(float(second[-1]) + 0.3, 300.0, None, "extra")]
    )
    writer.close("interrupted")  # the last phase never ended: it runs to the last beat

    phases = analyze_phases(store, sid)
    assert [(p.name, p.kind) for p in phases] == [(settle.name, "settle"), (deep.name, deep.kind.value)]
    assert phases[1].end_s == pytest.approx(float(second[-1]) + 0.3)
    assert phases[0].hrv.rmssd_ms == pytest.approx(as_given_nn(t, rr).rmssd_ms, rel=1e-12)
    expected_change = 60000.0 / (rr.mean() + 100.0) - 60000.0 / rr.mean()
    assert phases[1].hr_change_bpm == pytest.approx(expected_change, rel=1e-9)
    assert phases[1].rmssd_change_ms == pytest.approx(0.0, abs=1e-9)  # a constant shift keeps RMSSD
    assert phases[0].hr_change_bpm == 0.0
    assert phases[1].hrv.artifact_pct == pytest.approx(100 / (rr.size + 1))

    session = analyze_session(store, sid)
    assert session.baseline_index == 0 and session.phases == phases
    assert session.whole.n_beats == 2 * rr.size
    assert session.whole.lf_ms2 is not None and "Welch" in session.whole.method
    with pytest.raises(ValueError, match="no session 999"):
        analyze_session(store, 999)
    store.close()


# -- tidewell hrv FILE.csv ----------------------------------------------------------------------


def write_csv(path: Path, t: np.ndarray, rr: np.ndarray, extra_lines: dict[int, str] | None = None) -> Path:
    lines = ["t_s,rr_ms"] + [f"{a:.3f},{b:g}" for a, b in zip(t, rr)]
    for at, line in sorted((extra_lines or {}).items()):
        lines.insert(at - 1, line)  # so that it ends up on line `at` of the file
    path.write_text("\n".join(lines) + "\n")
    return path


def test_hrv_command_json_has_exactly_the_documented_keys(tmp_path, capsys):
    t, rr = real_nn("5 min")
    path = write_csv(tmp_path / "rr.csv", t, rr)
    assert hrv_command(str(path), as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == [
        "n_beats",
        "mean_hr_bpm",
        "sdnn_ms",
        "rmssd_ms",
        "pnn50_pct",
        "lf_ms2",
        "hf_ms2",
        "lf_hf",
        "coherence",
        "artifact_pct",
    ]
    direct = analyze(np.round(t, 3), rr).as_json()
    assert out == pytest.approx(direct, rel=1e-12)


def test_hrv_command_table_states_the_method(tmp_path, capsys):
    t, rr = real_nn("5 min")
    assert hrv_command(str(write_csv(tmp_path / "rr.csv", t, rr)), as_json=False) == 0
    out = capsys.readouterr().out
    assert "RMSSD" in out and "LF/HF" in out and "coherence" in out
    assert "method: " in out and "cubic-spline resampling at 4 Hz" in out and "Hann 64 s windows" in out


def test_hrv_command_reports_bad_rows_with_line_numbers_and_uses_the_rest(tmp_path, capsys):
    t, rr = real_nn("5 min")
    path = write_csv(tmp_path / "rr.csv", t, rr, {5: "12.5,abc", 9: "1,2,3"})
    assert hrv_command(str(path), as_json=True) == 0
    captured = capsys.readouterr()
    assert f"{path}:5: rr_ms 'abc' is not a number" in captured.err
    assert f"{path}:9: expected 2 columns" in captured.err
    assert json.loads(captured.out)["n_beats"] >= rr.size  # every good row was used (missed beats add)


def test_hrv_command_on_a_missing_file_says_so(tmp_path, capsys):
    assert hrv_command(str(tmp_path / "nope.csv"), as_json=True) == 1
    captured = capsys.readouterr()
    assert "not found" in captured.err and captured.out == ""
