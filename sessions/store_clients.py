"""The session log's clients and their self-reports: the part of SessionStore that speaks of people."""

from __future__ import annotations

import sqlite3

from tidewell.core.errors import UsageError
from tidewell.core.limits import MAX_NOTE_CHARS
from tidewell.core.terminal import control_characters
from tidewell.sessions.pseudonyms import checked_pseudonym
from tidewell.sessions.store_schema import utc_now


class ClientRecords:
    """Mixed into SessionStore, whose connection (`conn`), transaction (`_writing`) and `session` it uses."""

    conn: sqlite3.Connection

    def ensure_client(self, pseudonym: str) -> sqlite3.Row:
        pseudonym = checked_pseudonym(pseudonym)  # PseudonymError (a ValueError) naming the rule
        with self._writing():
            self.conn.execute(
                "INSERT OR IGNORE INTO clients (pseudonym, created_at) VALUES (?, ?)", (pseudonym, utc_now())
            )
        return self.client(pseudonym)

    def client(self, pseudonym: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM clients WHERE pseudonym = ?", (pseudonym,)).fetchone()

    def clients(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM clients ORDER BY pseudonym").fetchall()

    def clients_overview(self) -> list[sqlite3.Row]:
        """Every client with its number (id), pseudonym, resonance_bpm, how many sessions it had and when the
        last began (last_started): the most recently seen first, clients without a session last."""
        return self.conn.execute(
            "SELECT c.rowid AS id, c.pseudonym, c.resonance_bpm, COUNT(s.id) AS sessions, "
            "MAX(s.started_at) AS last_started FROM clients c LEFT JOIN sessions s ON s.client = c.pseudonym "
            "GROUP BY c.pseudonym ORDER BY last_started IS NULL, last_started DESC, c.pseudonym"
        ).fetchall()

    def client_pseudonym(self, client_id: int) -> str | None:
        """The pseudonym of the client numbered `client_id` (the console's address for it), or None."""
        row = self.conn.execute("SELECT pseudonym FROM clients WHERE rowid = ?", (client_id,)).fetchone()
        return None if row is None else row["pseudonym"]

    def client_id(self, pseudonym: str) -> int | None:
        """The number of the client `pseudonym`, or None."""
        row = self.conn.execute("SELECT rowid FROM clients WHERE pseudonym = ?", (pseudonym,)).fetchone()
        return None if row is None else int(row[0])

    def set_resonance(self, pseudonym: str, rate_bpm: float, session_id: int) -> None:
        self.ensure_client(pseudonym)
        with self._writing():
            self.conn.execute(
                "UPDATE clients SET resonance_bpm = ?, resonance_session_id = ?, resonance_at = ? WHERE pseudonym = ?",
                (rate_bpm, session_id, utc_now(), pseudonym),
            )

    def sessions_of_client(self, pseudonym: str) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM sessions WHERE client = ? ORDER BY id", (pseudonym,)).fetchall()

    def set_self_report(
        self, session_id: int, moment: str, pain: int | None, stress: int | None, note: str = ""
    ) -> None:
        if moment not in ("before", "after"):
            raise ValueError(f"self-report moment must be 'before' or 'after', got {moment!r}")
        for label, value in (("pain", pain), ("stress", stress)):
            if value is not None and not (isinstance(value, int) and 0 <= value <= 10):
                raise ValueError(f"{label} must be a whole number from 0 to 10, got {value!r}")
        if len(note) > MAX_NOTE_CHARS:
            raise ValueError(f"a note is at most {MAX_NOTE_CHARS} characters, got {len(note)}")
        if control_characters(note):
            raise ValueError(f"a note has no control characters, got {note!r}")
        if self.session(session_id) is None:
            raise UsageError(f"no session {session_id}")
        with self._writing():
            self.conn.execute(
                "INSERT OR REPLACE INTO self_reports VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, moment, pain, stress, note, utc_now()),
            )

    def self_reports(self, session_id: int) -> dict[str, sqlite3.Row]:
        rows = self.conn.execute("SELECT * FROM self_reports WHERE session_id = ?", (session_id,)).fetchall()
        return {row["moment"]: row for row in rows}
