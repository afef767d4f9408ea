"""A client's sessions side by side: each session's HR and RMSSD, its baseline phase's, the change of
the phases after the baseline, and the pain and stress ratings before and after. Each session's HRV is
read through sessions/session_metrics.py: stored once, not analysed again on every read."""

from __future__ import annotations

from dataclasses import dataclass

from tidewell.sessions.export import ExportError, anonymous_code, progress_bar
from tidewell.sessions.hrv import PhaseHrv
from tidewell.sessions.session_metrics import session_metrics
from tidewell.sessions.store import SessionStore


@dataclass
class ClientSession:
    session_id: int
    started_at: str | None
    program_title: str
    status: str
    duration_s: float
    n_beats: int
    mean_hr_bpm: float | None
    rmssd_ms: float | None
    baseline_hr_bpm: float | None
    baseline_rmssd_ms: float | None
    hr_change_bpm: float | None  # duration-weighted mean of the changes of the phases after the baseline
    rmssd_change_ms: float | None
    pain: tuple[int | None, int | None]  # before, after
    stress: tuple[int | None, int | None]


@dataclass
class ClientOverview:
    client: str  # the pseudonym, or its code when anonymized
    anonymized: bool
    resonance_bpm: float | None
    resonance_session_id: int | None
    sessions: list[ClientSession]


def client_overview(
    store: SessionStore, pseudonym: str, anonymize: bool = False, progress: bool | None = None
) -> ClientOverview:
    """Every session of a client, oldest first; raises ExportError for an unknown client."""
    rows = store.sessions_of_client(pseudonym)
    client = store.client(pseudonym)
    if not rows and client is None:
        known = ", ".join(c["pseudonym"] for c in store.clients()[:10]) or "none yet"
        raise ExportError(f"no client {pseudonym!r} in {store.path} (known clients: {known})")
    sessions = [
        _client_session(store, row, anonymize)
        for row in progress_bar(rows, desc="client sessions", progress=progress, unit="session")
    ]
    return ClientOverview(
        client=anonymous_code(store, pseudonym) if anonymize else pseudonym,
        anonymized=anonymize,
        resonance_bpm=client["resonance_bpm"] if client else None,
        resonance_session_id=client["resonance_session_id"] if client else None,
        sessions=sessions,
    )


def _client_session(store: SessionStore, row, anonymize: bool) -> ClientSession:
    metrics = session_metrics(store, row["id"])
    result, base = metrics.hrv, metrics.baseline
    reports = store.self_reports(row["id"])
    after = [p for p in result.phases if base is not None and p.index > base.index]

    def pair(key):
        return tuple(reports[k][key] if k in reports else None for k in ("before", "after"))

    return ClientSession(
        session_id=row["id"],
        started_at=None if anonymize else row["started_at"],
        program_title=row["program_title"],
        status=row["status"],
        duration_s=max((p.end_s for p in result.phases), default=0.0),
        n_beats=result.whole.n_beats,
        mean_hr_bpm=result.whole.mean_hr_bpm,
        rmssd_ms=result.whole.rmssd_ms,
        baseline_hr_bpm=base.hrv.mean_hr_bpm if base else None,
        baseline_rmssd_ms=base.hrv.rmssd_ms if base else None,
        hr_change_bpm=weighted_change(after, "hr_change_bpm"),
        rmssd_change_ms=weighted_change(after, "rmssd_change_ms"),
        pain=pair("pain"),
        stress=pair("stress"),
    )


def weighted_change(phases: list[PhaseHrv], attr: str) -> float | None:
    """The mean of the phases' change, each weighted by its length; None when none has one."""
    pairs = [
        (p.end_s - p.start_s, getattr(p, attr)) for p in phases if getattr(p, attr) is not None and p.end_s > p.start_s
    ]
    total = sum(w for w, _ in pairs)
    return sum(w * v for w, v in pairs) / total if total > 0 else None
