"""Offline HRV of a recording, a session phase or a whole session (formulas in shared/science.md).

NN series: the corrected RR series (Kubios-style correction, tidewell.sensors.correction), as
Kubios and the live metrics use it. A beat without a corrected value (an extra beat merged away,
an out-of-range interval) is dropped and breaks the chain of successive differences: RMSSD and
pNN50 never pair the beats on either side of it. The frequency domain splines over such gaps.

Minimum data (otherwise the value is None, never an exception):
- mean HR and SDNN: MIN_NN_BEATS (10) NN intervals;
- RMSSD and pNN50: MIN_NN_PAIRS (10) successive differences between adjacent NN intervals;
- LF, HF, LF/HF and coherence: NN beats spanning at least one Welch window (spectrum.WINDOW_S, 64 s).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tidewell.core.words import plural
from tidewell.sensors.batch_correction import correct_recording
from tidewell.sensors.correction import CorrectedBeat
from tidewell.sensors.replay import ReplayError, load_rr_file
from tidewell.sessions import spectrum
from tidewell.sessions.metrics import mean_hr_bpm, pnn50, rmssd_ms, sdnn_ms
from tidewell.sessions.program import baseline_phase_index
from tidewell.sessions.store import SessionStore

MIN_NN_BEATS = 10
MIN_NN_PAIRS = 10
MIN_SPECTRUM_S = spectrum.WINDOW_S

JSON_KEYS = (
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
)
TIME_METHOD = (
    "mean HR = 60000 / mean NN; SDNN ddof=1; RMSSD and pNN50 (> 50 ms, denominator N-1) over "
    "successive differences of adjacent NN intervals only"
)
FREQUENCY_METHOD = (
    f"{spectrum.METHOD}; LF {spectrum.LF[0]:g}-{spectrum.LF[1]:g} Hz, "
    f"HF {spectrum.HF[0]:g}-{spectrum.HF[1]:g} Hz (ms^2)"
)
COHERENCE_METHOD = (
    "coherence = power within +-0.015 Hz of the highest peak in 0.04-0.26 Hz / "
    "(power in 0.0033-0.40 Hz - that peak power)"
)
NN_SOURCES = {
    "corrected": "NN = corrected RR (Kubios-style correction)",
    "quality": "NN = beats of quality 'ok' only (no corrected series given)",
    "raw": "NN = raw RR run through Kubios-style correction (tidewell.sensors.batch_correction)",
}


@dataclass(frozen=True)
class HrvResult:
    n_beats: int  # NN intervals analysed (after correction; a beat inserted into a missed one counts)
    mean_hr_bpm: float | None
    sdnn_ms: float | None
    rmssd_ms: float | None
    pnn50_pct: float | None
    lf_ms2: float | None
    hf_ms2: float | None
    lf_hf: float | None
    coherence: float | None
    artifact_pct: float | None  # % of received beats (inserted ones not counted) whose quality != "ok"
    method: str

    def as_json(self) -> dict:
        return {key: getattr(self, key) for key in JSON_KEYS}


@dataclass(frozen=True)
class PhaseHrv:
    index: int
    name: str
    kind: str
    start_s: float
    end_s: float  # the last beat's time for a phase that never ended (interrupted session)
    hrv: HrvResult
    hr_change_bpm: float | None  # against the baseline phase (SessionHrv.baseline_index)
    rmssd_change_ms: float | None


@dataclass(frozen=True)
class SessionHrv:
    session_id: int
    whole: HrvResult
    phases: list[PhaseHrv]
    baseline_index: int | None  # program.baseline_phase_index of the logged phases


def analyze(
    t_s: Sequence[float] | np.ndarray,
    rr_ms: Sequence[float] | np.ndarray,
    quality: Sequence[str] | None = None,
    corrected_rr_ms: Sequence[float | None] | np.ndarray | None = None,
    inserted: Sequence[bool] | None = None,
) -> HrvResult:
    """HRV of one stretch of beats (times in s at which each beat ends, intervals in ms).

    - corrected_rr_ms given (the session log): NN = those values; None/NaN entries are dropped and
      break successive differences. quality and inserted, where given, feed artifact_pct.
    - only quality given: NN = the beats whose quality is "ok".
    - raw RR only: tidewell.sensors.batch_correction.correct_recording classifies and corrects them
      first (the streaming corrector's rules over the whole recording at once, with centred windows).
    """
    t = np.asarray(t_s, dtype=float)
    rr = np.asarray(rr_ms, dtype=float)
    if t.ndim != 1 or t.shape != rr.shape:
        raise ValueError(f"analyze: t_s and rr_ms must be 1-D and of equal length, got {t.shape} and {rr.shape}")
    for label, values in (("quality", quality), ("corrected_rr_ms", corrected_rr_ms), ("inserted", inserted)):
        if values is not None and len(values) != t.size:
            raise ValueError(f"analyze: {label} has {len(values)} entries for {t.size} beats")
    source, t, nn, quality, inserted = _nn_series(t, rr, quality, corrected_rr_ms, inserted)

    usable = np.isfinite(nn)
    runs = _runs(nn, usable)
    flat = nn[usable]
    pairs = sum(r.size - 1 for r in runs)
    enough_beats, enough_pairs = flat.size >= MIN_NN_BEATS, pairs >= MIN_NN_PAIRS
    lf, hf, coherence = _frequency_domain(t[usable], flat)
    return HrvResult(
        n_beats=int(flat.size),
        mean_hr_bpm=mean_hr_bpm(flat) if enough_beats else None,
        sdnn_ms=sdnn_ms(flat) if enough_beats else None,
        rmssd_ms=_pooled(runs, rmssd_ms, squared=True) if enough_pairs else None,
        pnn50_pct=_pooled(runs, pnn50, squared=False) if enough_pairs else None,
        lf_ms2=lf,
        hf_ms2=hf,
        lf_hf=lf / hf if lf is not None and hf else None,
        coherence=coherence,
        artifact_pct=_artifact_pct(quality, inserted, t.size),
        method=f"{NN_SOURCES[source]}. Time domain: {TIME_METHOD}. Frequency domain: {FREQUENCY_METHOD}. "
        f"{COHERENCE_METHOD}.",
    )


def _nn_series(t: np.ndarray, rr: np.ndarray, quality, corrected_rr_ms, inserted):
    """(source, t, NN with NaN for an unusable beat, quality, inserted) as analyze describes them."""
    if corrected_rr_ms is not None:
        nn = np.array([np.nan if v is None else v for v in corrected_rr_ms], dtype=float)
        return "corrected", t, nn, quality, inserted
    if quality is not None:
        return "quality", t, np.where(np.asarray(quality, dtype=object) == "ok", rr, np.nan), quality, inserted
    fixed = correct_recording(t, rr)
    return "raw", fixed.t_s, fixed.corrected_rr_ms, fixed.quality, fixed.inserted


def _artifact_pct(quality, inserted, size: int) -> float | None:
    """% of received beats (inserted ones not counted) whose quality is not "ok"."""
    received = np.ones(size, bool) if inserted is None else ~np.asarray(inserted, dtype=bool)
    if quality is None or not received.any():
        return None
    artifacts = np.asarray(quality, dtype=object)[received] != "ok"
    return float(100.0 * np.count_nonzero(artifacts) / artifacts.size)


def _frequency_domain(t: np.ndarray, nn: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """LF, HF and coherence of the usable beats, when they span one Welch window."""
    if nn.size < 4 or t[-1] - t[0] < MIN_SPECTRUM_S:
        return None, None, None
    _, even = spectrum.resample_rr(t, nn)
    freqs, psd = spectrum.welch_psd(even)
    lf, hf = spectrum.band_power(freqs, psd, *spectrum.LF), spectrum.band_power(freqs, psd, *spectrum.HF)
    return lf, hf, spectrum.coherence_ratio(freqs, psd)


def _runs(nn: np.ndarray, usable: np.ndarray) -> list[np.ndarray]:
    """Runs of adjacent usable NN intervals; an unusable beat ends a run."""
    index = np.flatnonzero(usable)
    if index.size == 0:
        return []
    return np.split(nn[index], np.flatnonzero(np.diff(index) > 1) + 1)


def _pooled(runs: list[np.ndarray], per_run, squared: bool) -> float:
    """Combine a per-run statistic of successive differences, weighting each run by its number of
    differences: exactly the statistic over all within-run differences pooled together."""
    weighted = [(r.size - 1, per_run(r)) for r in runs if r.size >= 2]
    pairs = sum(n for n, _ in weighted)
    if squared:
        return math.sqrt(sum(n * v * v for n, v in weighted) / pairs)
    return sum(n * v for n, v in weighted) / pairs


# -- the session log ----------------------------------------------------------------------------


def _beat_columns(rows) -> dict[str, list]:
    return {
        "t_s": [r["t_s"] for r in rows],
        "rr_ms": [r["rr_ms"] for r in rows],
        "quality": [r["quality"] for r in rows],
        "corrected_rr_ms": [r["corrected_rr_ms"] for r in rows],
        "inserted": [bool(r["inserted"]) for r in rows],
    }


def logged_beats(rows) -> list[CorrectedBeat]:
    """The session log's beat rows as the corrector handed them to the log."""
    return [CorrectedBeat(r["t_s"], r["rr_ms"], r["corrected_rr_ms"], r["quality"], bool(r["inserted"])) for r in rows]


def span_hrv(beats: Sequence[CorrectedBeat], start_s: float, end_s: float) -> HrvResult:
    """HRV of the beats ending in (start_s, end_s]: every per-phase row (report, export, terminal table)
    and the baseline the running session announces and adapts to, so they are one number."""
    inside = [b for b in beats if start_s < b.t_s <= end_s]
    return analyze(
        [b.t_s for b in inside],
        [b.rr_ms for b in inside],
        quality=[b.quality for b in inside],
        corrected_rr_ms=[b.corrected_rr_ms for b in inside],
        inserted=[b.inserted for b in inside],
    )


def analyze_phases(store: SessionStore, session_id: int) -> list[PhaseHrv]:
    """HRV per phase (beats ending in (start_s, end_s]) with HR and RMSSD change against the
    baseline phase (program.baseline_phase_index). Every per-phase table reads these rows: the one
    printed after a run and by `tidewell sessions show` (sessions/summary.py), the report and the export."""
    beats = logged_beats(store.beats(session_id))
    measured = []
    for phase in store.phases(session_id):
        start = float(phase["started_s"])
        end = phase["ended_s"] if phase["ended_s"] is not None else (beats[-1].t_s if beats else start)
        measured.append((phase, start, float(end), span_hrv(beats, start, end)))
    position = baseline_phase_index([m[0]["kind"] for m in measured])
    base = measured[position][3] if position is not None else None
    phases = []
    for phase, start, end, result in measured:
        phases.append(
            PhaseHrv(
                index=phase["idx"],
                name=phase["name"],
                kind=phase["kind"],
                start_s=start,
                end_s=end,
                hrv=result,
                hr_change_bpm=_change(result.mean_hr_bpm, base.mean_hr_bpm if base else None),
                rmssd_change_ms=_change(result.rmssd_ms, base.rmssd_ms if base else None),
            )
        )
    return phases


def analyze_session(store: SessionStore, session_id: int) -> SessionHrv:
    """HRV of the whole session and of each phase (see analyze_phases)."""
    if store.session(session_id) is None:
        raise ValueError(f"no session {session_id} in the log")
    phases = analyze_phases(store, session_id)
    position = baseline_phase_index([p.kind for p in phases])
    return SessionHrv(
        session_id=session_id,
        whole=analyze(**_beat_columns(store.beats(session_id))),
        phases=phases,
        baseline_index=phases[position].index if position is not None else None,
    )


def _change(value: float | None, base: float | None) -> float | None:
    return None if value is None or base is None else value - base


# -- tidewell hrv FILE.csv [--json] -------------------------------------------------------------


def hrv_command(path: str, as_json: bool) -> int:
    """Offline HRV of an RR file: columns t_s,rr_ms, or a beats CSV or session JSON of `tidewell report`,
    whose corrected series is used as the session's own report uses it (the same numbers). Bad rows go
    to stderr as 'FILE:LINE: problem' and the good rows are used. Prints a table with the method, or
    one JSON object. Returns the exit status: 0, or 1 when the file cannot be read at all."""
    try:
        recorded, problems = load_rr_file(path)
    except ReplayError as e:
        print(f"tidewell hrv: {e}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"tidewell hrv: skipped {problem}", file=sys.stderr)
    result = analyze(
        recorded.t_s,
        recorded.rr_ms,
        quality=recorded.quality,
        corrected_rr_ms=recorded.corrected_rr_ms,
        inserted=recorded.inserted,
    )
    if as_json:
        print(json.dumps(result.as_json()))
    else:
        print(format_result(result, title=f"HRV of {path} ({plural(len(recorded), 'beat')} read)"))
    return 0


def format_result(result: HrvResult, title: str = "HRV") -> str:
    def num(value: float | None, fmt: str, unit: str = "") -> str:
        return "— (too short)" if value is None else f"{format(value, fmt)}{unit}"

    lines = [
        title,
        f"  NN intervals     {result.n_beats}",
        f"  artifacts        {num(result.artifact_pct, '.1f', ' %')}",
        f"  mean HR          {num(result.mean_hr_bpm, '.1f', ' bpm')}",
        f"  SDNN             {num(result.sdnn_ms, '.1f', ' ms')}",
        f"  RMSSD            {num(result.rmssd_ms, '.1f', ' ms')}",
        f"  pNN50            {num(result.pnn50_pct, '.1f', ' %')}",
        f"  LF               {num(result.lf_ms2, '.0f', ' ms^2')}",
        f"  HF               {num(result.hf_ms2, '.0f', ' ms^2')}",
        f"  LF/HF            {num(result.lf_hf, '.2f')}",
        f"  coherence        {num(result.coherence, '.2f')}",
        f"method: {result.method}",
    ]
    return "\n".join(lines)
