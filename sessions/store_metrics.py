"""The session log's stored per-session metrics (table session_metrics, migration 6): the part of
SessionStore that keeps what sessions/session_metrics.py computed, so a trend or a course report over
many sessions reads one row per session instead of analysing every beat again."""

from __future__ import annotations

import sqlite3

from tidewell.sessions.store_schema import utc_now


class MetricsRecords:
    """Mixed into SessionStore, whose connection (`conn`) and transaction (`_writing`) it uses."""

    conn: sqlite3.Connection

    def stored_metrics(self, session_id: int) -> sqlite3.Row | None:
        """The session's stored metrics row (session_id, version, computed_at, method, metrics as JSON
        text), whatever its version; None when none is stored."""
        return self.conn.execute("SELECT * FROM session_metrics WHERE session_id = ?", (session_id,)).fetchone()

    def store_metrics(self, session_id: int, version: str, method: str, metrics_json: str) -> str:
        """Keep (or replace) the session's metrics; returns the time they were stored (computed_at)."""
        computed_at = utc_now()
        with self._writing():
            self.conn.execute(
                "INSERT OR REPLACE INTO session_metrics (session_id, version, computed_at, method, metrics)"
                " VALUES (?, ?, ?, ?, ?)",
                (session_id, version, computed_at, method, metrics_json),
            )
        return computed_at

    def beat_extent(self, session_id: int) -> tuple[int, float | None]:
        """How many beats the session logged and the last one's time (None without beats): with its phases,
        what says whether stored metrics still describe what the log holds."""
        row = self.conn.execute("SELECT COUNT(*), MAX(t_s) FROM beats WHERE session_id = ?", (session_id,)).fetchone()
        return int(row[0]), row[1]
