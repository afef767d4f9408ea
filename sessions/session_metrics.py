"""Each session's metrics, computed once and kept in the log: the one way every reader of a logged
session's HRV gets it (the table after a run, `sessions show`, the report and the exports, a client's
trends, the course and its reports), so a trend over a hundred sessions reads a hundred stored rows
instead of analysing every beat of every session again.

session_metrics(store, id) returns the stored result when it was made by the analysis of today
(METRICS_VERSION) from the log as it is now (the same phases and the same number of beats up to the same
last one: a log changed by hand, or a test's, is never answered from an older row), and otherwise computes it (sessions/hrv.py, the one per-phase HRV path, and the
mean calm after the baseline phase), stores it and returns it. So a session is analysed when it ends
(engine/session.py prints its table through summarize(), which reads through here), and a session
logged before the table existed, or by an older analysis, on its first read. Nothing is stored for a
session still running (its beats are still coming), in a log opened read-only, or in one that cannot
take the row now (a full disk): those are computed on every read, with the same numbers.

METRICS_VERSION changes by itself whenever the analysis or the corrector changes: it is the layout's
number and a digest of the source of every module the numbers come from (ANALYSIS_MODULES) and of the
baseline rule. Any edit to those files, even to a comment, makes every stored row stale; each is then
computed again once, on its next read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tidewell.sessions import hrv
from tidewell.sessions.hrv import HrvResult, PhaseHrv, SessionHrv
from tidewell.sessions.program import baseline_phase_index
from tidewell.sessions.store import SessionStore, StoreError

METRICS_FORMAT = 1  # the stored JSON's layout: raise it when the layout changes
# Where the numbers come from: the analysis, its spectrum and time-domain formulas, the corrector (the
# logged beats' and the raw-RR path's), and this module (what it adds and how it stores it).
ANALYSIS_MODULES = (
    "tidewell.sessions.hrv",
    "tidewell.sessions.spectrum",
    "tidewell.sessions.metrics",
    "tidewell.sensors.correction",
    "tidewell.sensors.batch_correction",
    "tidewell.sessions.session_metrics",
)


def analysis_digest() -> str:
    """12 hex digits of SHA-256 over the source of ANALYSIS_MODULES (those that exist) and the baseline rule."""
    digest = hashlib.sha256()
    for name in ANALYSIS_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            digest.update(name.encode() + b"\0" + Path(spec.origin).read_bytes() + b"\0")
    digest.update(inspect.getsource(baseline_phase_index).encode())
    return digest.hexdigest()[:12]


METRICS_VERSION = f"{METRICS_FORMAT}+{analysis_digest()}"


@dataclass(frozen=True)
class SessionMetrics:
    hrv: SessionHrv  # the whole session and each phase (sessions/hrv.py analyze_session)
    calm_after_baseline: float | None  # mean logged calm index (0-1) after the baseline phase
    version: str  # the METRICS_VERSION that computed them
    computed_at: str | None  # when they were stored; None when they were not (see the module's text)

    @property
    def baseline(self) -> PhaseHrv | None:
        return next((p for p in self.hrv.phases if p.index == self.hrv.baseline_index), None)


def session_metrics(store: SessionStore, session_id: int) -> SessionMetrics:
    """The session's metrics: stored ones of this METRICS_VERSION, else computed now (and stored where the
    session has ended and the log can be written). Raises ValueError for a session not in the log."""
    session = store.session(session_id)  # its status first: a session that ends while read is not stored
    if session is None:
        raise ValueError(f"no session {session_id} in the log")
    inputs = logged_inputs(store, session_id)
    row = store.stored_metrics(session_id)
    if row is not None and row["version"] == METRICS_VERSION:
        stored = json.loads(row["metrics"])
        if stored["inputs"] == inputs:
            return from_json(stored, row["version"], row["computed_at"])
    computed = compute(store, session_id)
    if session["status"] == "running" or store.read_only:
        return computed
    text = to_json(computed, inputs)
    try:
        computed_at = store.store_metrics(session_id, computed.version, computed.hrv.whole.method, text)
    except StoreError:
        return computed  # the log cannot take it now (a full disk): computed again on the next read
    return replace(computed, computed_at=computed_at)


def compute(store: SessionStore, session_id: int) -> SessionMetrics:
    """The metrics from the logged beats, phases and samples, stored nowhere."""
    result = hrv.analyze_session(store, session_id)  # ValueError for an unknown session
    base = next((p for p in result.phases if p.index == result.baseline_index), None)
    after_s = base.end_s if base else 0.0
    calm = [row["calm"] for row in store.samples(session_id) if row["t_s"] > after_s]
    return SessionMetrics(result, sum(calm) / len(calm) if calm else None, METRICS_VERSION, None)


def logged_inputs(store: SessionStore, session_id: int) -> dict:
    """What the metrics were computed from, as the stored JSON holds it: each phase row and the beats' extent."""
    count, last_s = store.beat_extent(session_id)
    phases = [[p["idx"], p["name"], p["kind"], p["started_s"], p["ended_s"]] for p in store.phases(session_id)]
    return {"beats": count, "last_beat_s": last_s, "phases": phases}


def to_json(metrics: SessionMetrics, inputs: dict) -> str:
    """The stored text: every field of the SessionHrv (each HrvResult with its method), the calm mean and
    what they were computed from. Floats keep every bit (Python writes the shortest text that reads back as
    the same float)."""
    return json.dumps(
        {"hrv": asdict(metrics.hrv), "calm_after_baseline": metrics.calm_after_baseline, "inputs": inputs}
    )


def from_json(data: dict, version: str, computed_at: str | None) -> SessionMetrics:
    stored = data["hrv"]
    phases = [PhaseHrv(**{**p, "hrv": HrvResult(**p["hrv"])}) for p in stored["phases"]]
    result = SessionHrv(stored["session_id"], HrvResult(**stored["whole"]), phases, stored["baseline_index"])
    return SessionMetrics(result, data["calm_after_baseline"], version, computed_at)
