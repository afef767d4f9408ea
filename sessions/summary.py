"""Per-phase summary of a logged session for the terminal: mean HR, RMSSD and their change from the
baseline phase, as sessions/hrv.py computes them for the report (read through sessions/session_metrics.py,
which stores them once the session has ended: the call at the end of a run computes and stores them)."""

from __future__ import annotations

from dataclasses import dataclass

from tidewell.sessions.session_metrics import session_metrics
from tidewell.sessions.store import SessionStore


@dataclass(frozen=True)
class PhaseSummary:
    index: int
    name: str
    kind: str
    scene: str
    minutes: float
    beats: int  # NN intervals analysed, as in the report's table
    mean_hr_bpm: float | None
    rmssd_ms: float | None
    hr_change_bpm: float | None  # against the settle (baseline) phase
    rmssd_change_ms: float | None


def summarize(store: SessionStore, session_id: int) -> list[PhaseSummary]:
    """The per-phase rows of sessions/hrv.py (the report's numbers), for the terminal."""
    summaries = []
    for phase, measured in zip(store.phases(session_id), session_metrics(store, session_id).hrv.phases):
        summaries.append(
            PhaseSummary(
                index=measured.index,
                name=measured.name,
                kind=measured.kind,
                scene=phase["scene"],
                minutes=(measured.end_s - measured.start_s) / 60,
                beats=measured.hrv.n_beats,
                mean_hr_bpm=measured.hrv.mean_hr_bpm,
                rmssd_ms=measured.hrv.rmssd_ms,
                hr_change_bpm=measured.hr_change_bpm,
                rmssd_change_ms=measured.rmssd_change_ms,
            )
        )
    return summaries


def format_table(summaries: list[PhaseSummary]) -> str:
    def num(value, fmt):  # fmt starts with its width: "—" takes the same room
        return format(value, fmt) if value is not None else "—".rjust(int(fmt.lstrip("+").split(".")[0]))

    header = f"{'#':>2}  {'phase':<16} {'scene':<12} {'min':>5} {'beats':>5} {'HR bpm':>7} {'ΔHR':>6} {'RMSSD ms':>9} {'ΔRMSSD':>7}"
    lines = [header, "-" * len(header)]
    for s in summaries:
        lines.append(
            f"{s.index + 1:>2}  {s.name[:16]:<16} {s.scene[:12]:<12} {s.minutes:>5.1f} {s.beats:>5} "
            f"{num(s.mean_hr_bpm, '7.1f')} {num(s.hr_change_bpm, '+6.1f')} {num(s.rmssd_ms, '9.1f')} "
            f"{num(s.rmssd_change_ms, '+7.1f')}"
        )
    return "\n".join(lines)
