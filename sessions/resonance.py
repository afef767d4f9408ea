"""Resonance-frequency assessment: which slow breathing pace makes this client's heart rate swing most.

Protocol (Lehrer et al. 2000; Shaffer & Meehan 2020): blocks of a few minutes at 6.5, 6.0, 5.5, 5.0
and 4.5 breaths/min (the program's phases with pace = "fixed"). For each block, after the first
TRANSITION_S, we measure LF power (0.04-0.15 Hz, Welch as in tidewell.sessions.spectrum) and the mean
peak-to-trough swing of instantaneous HR within each guided breath. Blocks are ranked on both; the
best rank sum wins (ties go to the larger LF power). The result is stored for the client and used by
the phases of their later sessions that ask for rate_bpm = "resonance".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tidewell.sessions import spectrum
from tidewell.sessions.program import Pace, Program
from tidewell.sessions.store import SessionStore

TRANSITION_S = 30.0  # the heart needs a few breaths to settle into a new pace
MIN_BLOCK_DATA_S = 60.0
MIN_BLOCKS = 3


@dataclass(frozen=True)
class BlockResult:
    phase_name: str
    rate_bpm: float
    lf_ms2: float | None
    swing_bpm: float | None
    beats: int


def assessment_blocks(program: Program) -> list[int]:
    return [i for i, phase in enumerate(program.phases) if phase.pace is Pace.FIXED]


def is_assessment(program: Program) -> bool:
    return len(assessment_blocks(program)) >= MIN_BLOCKS


def assess(store: SessionStore, session_id: int, program: Program) -> tuple[list[BlockResult], float | None]:
    beats = [b for b in store.beats(session_id) if b["corrected_rr_ms"] is not None]
    t = np.array([b["t_s"] for b in beats], dtype=float)
    rr = np.array([b["corrected_rr_ms"] for b in beats], dtype=float)
    phases = {row["idx"]: row for row in store.phases(session_id)}
    results = []
    for index in assessment_blocks(program):
        row = phases.get(index)
        rate = program.phases[index].breathing.rate_bpm
        if row is None or row["ended_s"] is None:
            continue
        start, end = row["started_s"] + TRANSITION_S, row["ended_s"]
        inside = (t > start) & (t <= end)
        if end - start < MIN_BLOCK_DATA_S or inside.sum() < 20:
            results.append(BlockResult(row["name"], rate, None, None, int(inside.sum())))
            continue
        grid_t, grid_rr = spectrum.resample_rr(t[inside], rr[inside])
        freqs, psd = spectrum.welch_psd(grid_rr)
        lf = spectrum.band_power(freqs, psd, *spectrum.LF)
        results.append(BlockResult(row["name"], rate, lf, _mean_swing(t[inside], rr[inside], rate), int(inside.sum())))
    usable = [r for r in results if r.lf_ms2 is not None and r.swing_bpm is not None]
    if len(usable) < MIN_BLOCKS:
        return results, None
    lf_rank = {r.rate_bpm: rank for rank, r in enumerate(sorted(usable, key=lambda r: r.lf_ms2))}
    swing_rank = {r.rate_bpm: rank for rank, r in enumerate(sorted(usable, key=lambda r: r.swing_bpm))}
    best = max(usable, key=lambda r: (lf_rank[r.rate_bpm] + swing_rank[r.rate_bpm], r.lf_ms2))
    return results, best.rate_bpm


def _mean_swing(t: np.ndarray, rr: np.ndarray, rate_bpm: float) -> float | None:
    """Mean of (max - min) instantaneous HR over consecutive windows one guided breath long."""
    hr = 60000.0 / rr
    cycle = 60.0 / rate_bpm
    swings = []
    edge = t[0]
    while edge + cycle <= t[-1]:
        inside = (t >= edge) & (t < edge + cycle)
        if inside.sum() >= 3:
            swings.append(hr[inside].max() - hr[inside].min())
        edge += cycle
    return float(np.mean(swings)) if swings else None


def format_results(results: list[BlockResult], chosen: float | None) -> str:
    lines = [f"{'block':<22} {'pace':>6} {'LF ms²':>9} {'HR swing':>9} {'beats':>6}"]
    for r in results:
        lf = "—" if r.lf_ms2 is None else f"{r.lf_ms2:9.0f}"
        swing = "—" if r.swing_bpm is None else f"{r.swing_bpm:9.1f}"
        mark = "  <- resonance" if chosen is not None and r.rate_bpm == chosen else ""
        lines.append(f"{r.phase_name[:22]:<22} {r.rate_bpm:6.1f} {lf:>9} {swing:>9} {r.beats:>6}{mark}")
    if chosen is None:
        lines.append("not enough clean data in enough blocks to choose a resonance pace")
    return "\n".join(lines)
