"""Per-phase summary of a logged session: mean HR, RMSSD and HR change from the baseline phase."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tidewell.sessions.metrics import mean_hr_bpm, rmssd_ms
from tidewell.sessions.store import SessionStore


@dataclass(frozen=True)
class PhaseSummary:
    index: int
    name: str
    kind: str
    scene: str
    minutes: float
    beats: int
    mean_hr_bpm: float | None
    rmssd_ms: float | None
    hr_change_bpm: float | None  # against the settle (baseline) phase
    rmssd_change_ms: float | None


def summarize(store: SessionStore, session_id: int) -> list[PhaseSummary]:
    beats = store.beats(session_id)
    t = np.array([b["t_s"] for b in beats], dtype=float)
    # the corrected series, as for live metrics; NULL (no beat) breaks successive differences
    rr = np.array([b["corrected_rr_ms"] if b["corrected_rr_ms"] is not None else np.nan for b in beats], dtype=float)
    ok = ~np.isnan(rr)
    rows = []
    for phase in store.phases(session_id):
        end = phase["ended_s"] if phase["ended_s"] is not None else (t[-1] if len(t) else phase["started_s"])
        inside = (t > phase["started_s"]) & (t <= end)
        nn = _nn_runs(rr, ok, inside)
        flat = np.concatenate(nn) if nn else np.array([])
        rows.append((phase, int(inside.sum()), mean_hr_bpm(flat), _rmssd_of_runs(nn), (end - phase["started_s"]) / 60))
    baseline = next((r for r in rows if r[0]["kind"] == "settle"), rows[0] if rows else None)
    summaries = []
    for phase, count, hr, rmssd, minutes in rows:
        base_hr = baseline[2] if baseline else None
        base_rmssd = baseline[3] if baseline else None
        summaries.append(PhaseSummary(
            index=phase["idx"], name=phase["name"], kind=phase["kind"], scene=phase["scene"], minutes=minutes,
            beats=count, mean_hr_bpm=hr, rmssd_ms=rmssd,
            hr_change_bpm=None if hr is None or base_hr is None else hr - base_hr,
            rmssd_change_ms=None if rmssd is None or base_rmssd is None else rmssd - base_rmssd,
        ))
    return summaries


def _nn_runs(rr: np.ndarray, ok: np.ndarray, inside: np.ndarray) -> list[np.ndarray]:
    """Runs of consecutive usable beats: a removed beat breaks the chain of successive differences."""
    mask = ok & inside
    runs, current = [], []
    for value, good in zip(rr, mask):
        if good:
            current.append(value)
        elif current:
            runs.append(np.array(current))
            current = []
    if current:
        runs.append(np.array(current))
    return runs


def _rmssd_of_runs(runs: list[np.ndarray]) -> float | None:
    diffs = [np.diff(r) for r in runs if len(r) > 1]
    if not diffs:
        return None
    d = np.concatenate(diffs)
    if len(d) < 2:
        return None
    return float(np.sqrt(np.mean(d * d)))


def format_table(summaries: list[PhaseSummary]) -> str:
    def num(value, fmt):
        return "—" if value is None else format(value, fmt)

    header = f"{'#':>2}  {'phase':<16} {'scene':<12} {'min':>5} {'beats':>5} {'HR bpm':>7} {'ΔHR':>6} {'RMSSD ms':>9} {'ΔRMSSD':>7}"
    lines = [header, "-" * len(header)]
    for s in summaries:
        lines.append(
            f"{s.index + 1:>2}  {s.name[:16]:<16} {s.scene[:12]:<12} {s.minutes:>5.1f} {s.beats:>5} "
            f"{num(s.mean_hr_bpm, '7.1f')} {num(s.hr_change_bpm, '+6.1f')} {num(s.rmssd_ms, '9.1f')} "
            f"{num(s.rmssd_change_ms, '+7.1f')}"
        )
    return "\n".join(lines)
