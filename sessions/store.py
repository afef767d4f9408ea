"""The session log: SQLite (WAL) in the user's data folder, written off the frame thread.

SessionStore is the one public class and owns every SQL statement Tidewell runs: the schema is in
store_schema.py, the clients' part in store_clients.py, the course's in store_course.py, each session's
stored metrics in store_metrics.py, the session's own rows in store_writer.py.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from tidewell.core import event_kinds
from tidewell.sessions.pseudonyms import checked_pseudonym
from tidewell.sessions.store_checks import (
    StoreDamaged,
    StoreError,
    StoreReadOnly,
    damaged,
    header_problem,
    read_only,
    read_only_reason,
    store_error,
)
from tidewell.sessions.store_clients import ClientRecords
from tidewell.sessions.store_course import CourseRecords
from tidewell.sessions.store_metrics import MetricsRecords
from tidewell.sessions.store_schema import MIGRATIONS, connect, connect_read_only, data_dir, pid_alive, utc_now
from tidewell.sessions.store_writer import (
    COMMIT_INTERVAL_S,
    RETRY_PAUSE_S,
    SPARE_ROOM_BYTES,
    WRITE_TRIES,
    SessionWriter,
)

__all__ = [
    "COMMIT_INTERVAL_S",
    "MIGRATIONS",
    "RETRY_PAUSE_S",
    "SPARE_ROOM_BYTES",
    "WRITE_TRIES",
    "SessionStore",
    "SessionWriter",
    "StoreDamaged",
    "StoreError",
    "StoreReadOnly",
    "connect",
    "connect_read_only",
    "data_dir",
]


class SessionStore(ClientRecords, CourseRecords, MetricsRecords):
    """The session log. `access="write"` (the default) refuses a log that cannot be written, with a
    StoreReadOnly saying why; `access="read"` opens such a log read-only instead. `verify` reads the
    whole file first (PRAGMA quick_check), so a damaged log is refused before anything is written
    into it. A damaged file is never written: StoreDamaged says which file and what to do."""

    def __init__(self, db_path: Path | str | None = None, *, access: str = "write", verify: bool = False):
        if access not in ("read", "write"):
            raise ValueError(f"access must be 'read' or 'write', got {access!r}")
        self.path = Path(db_path) if db_path else data_dir() / "tidewell.db"
        self._access = access
        self._open(verify)

    def _open(self, verify: bool) -> None:
        problem = header_problem(self.path)
        if problem:
            raise damaged(self.path, problem)
        reason = read_only_reason(self.path)
        if reason and self._access == "write":
            raise read_only(self.path, reason)
        self.read_only = bool(reason)
        self._verified = False
        try:
            self.conn = connect_read_only(self.path, reason) if reason else self._connect(self._access)
            self._file = _file_identity(self.path)
            if verify:
                self._verify()
            if not self.read_only:
                self._mark_orphans_interrupted(self._access)
        except sqlite3.Error as error:
            raise store_error(error, self.path) or error

    def recheck(self) -> None:
        """For a store held open a long time (the console's), before each use: raise what opening the log now
        would raise (its file damaged or made read-only since), open it anew where its path names another file
        now (the damaged one moved aside, a new log or a backup in its place), and mark sessions that a killed
        process left running interrupted, as opening does."""
        problem = header_problem(self.path)
        if problem:
            raise damaged(self.path, problem)
        if _file_identity(self.path) != self._file:
            self.conn.close()
            self._open(verify=False)
            return
        reason = read_only_reason(self.path)
        if reason and self._access == "write":
            raise read_only(self.path, reason)
        if not self.read_only:
            try:
                self._mark_orphans_interrupted(self._access)
            except sqlite3.Error as error:
                raise store_error(error, self.path) or error

    def close(self) -> None:
        self.conn.close()

    def _connect(self, access: str) -> sqlite3.Connection:
        """Read-write; for reading, read-only where SQLite cannot open the log for writing (a full disk
        has no room for its -shm file), so what is there can still be read."""
        try:
            return connect(self.path)
        except sqlite3.Error as error:
            problem = store_error(error, self.path)
            if access == "write" or problem is None or isinstance(problem, StoreDamaged):
                raise
        self.read_only = True
        return connect_read_only(self.path, str(problem))

    def _verify(self) -> None:
        findings = [" ".join(row[0].split()) for row in self.conn.execute("PRAGMA quick_check(1)").fetchall()]
        if findings != ["ok"]:
            self.conn.close()
            raise damaged(self.path, f"SQLite's check found: {findings[0].removeprefix('*** in database main *** ')}")
        self._verified = True

    @contextlib.contextmanager
    def _writing(self):
        """One transaction; what the disk or the file refuses becomes a one-line StoreError."""
        try:
            with self.conn:
                yield
        except sqlite3.Error as error:
            raise store_error(error, self.path) or error

    def _mark_orphans_interrupted(self, access: str) -> None:
        """A session still 'running' whose process is gone was killed: keep it, readable, as interrupted.
        Only into a file that passed SQLite's check (a crash can leave both); left for the next start
        when the log cannot take the write now (a full disk)."""
        rows = [
            row
            for row in self.conn.execute("SELECT id, pid FROM sessions WHERE status = 'running'").fetchall()
            if not pid_alive(row["pid"])
        ]
        if not rows:
            return
        if not self._verified:
            try:
                self._verify()
            except StoreError:
                if access == "write":
                    raise
                self.conn = connect_read_only(self.path, "it is damaged")  # read what can be read; write nothing
                self.read_only = True
                return
        try:
            with self._writing():
                for row in rows:
                    self.conn.execute(
                        "UPDATE sessions SET status = 'interrupted', ended_at = COALESCE(ended_at, ?) WHERE id = ?",
                        (utc_now(), row["id"]),
                    )
        except StoreError:
            pass

    def begin(
        self,
        *,
        program_id: str,
        program_title: str,
        program_minutes: float,
        client: str,
        sensor: str,
        virtual_time: bool,
        seed: int | None,
        target: str | None = None,
    ) -> int:
        """target: where the client saw it ("xr": a headset; cybersickness is asked after those)."""
        client = checked_pseudonym(client)
        self.ensure_client(client)
        with self._writing():
            cursor = self.conn.execute(
                "INSERT INTO sessions (started_at, status, program_id, program_title, program_minutes, client,"
                " sensor, virtual_time, seed, pid, target) VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    utc_now(),
                    program_id,
                    program_title,
                    program_minutes,
                    client,
                    sensor,
                    int(virtual_time),
                    seed,
                    os.getpid(),
                    target,
                ),
            )
        return int(cursor.lastrowid)

    def add_event(self, session_id: int, t_s: float, kind: str, detail: str, phase_index: int | None = None) -> None:
        """An event written after the session's own writer closed (e.g. an analysis result)."""
        event_kinds.kind(kind)  # an unregistered kind is still written (strict mode: raises)
        with self._writing():
            self.conn.execute("INSERT INTO events VALUES (?,?,?,?,?)", (session_id, t_s, kind, detail, phase_index))

    def mark_interrupted(self, session_id: int) -> None:
        """A session of this process that stopped on an error before its writer closed it."""
        with self._writing():
            self.conn.execute(
                "UPDATE sessions SET status = 'interrupted', ended_at = COALESCE(ended_at, ?), pid = NULL"
                " WHERE id = ? AND status = 'running'",
                (utc_now(), session_id),
            )

    def set_folder(self, session_id: int, folder: Path) -> None:
        with self._writing():
            self.conn.execute("UPDATE sessions SET folder = ? WHERE id = ?", (str(folder), session_id))

    def set_virtual_time(self, session_id: int) -> None:
        with self._writing():
            self.conn.execute("UPDATE sessions SET virtual_time = 1 WHERE id = ?", (session_id,))

    def writer(self, session_id: int) -> SessionWriter:
        try:
            return SessionWriter(self.path, session_id)
        except sqlite3.Error as error:
            raise store_error(error, self.path) or error

    # -- reading --------------------------------------------------------------------------
    def sessions(self, limit: int = 50) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM sessions ORDER BY id DESC LIMIT ?", (limit,)).fetchall()

    def session(self, session_id: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()

    def phases(self, session_id: int) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM phases WHERE session_id = ? ORDER BY idx", (session_id,)).fetchall()

    def beats(self, session_id: int) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM beats WHERE session_id = ? ORDER BY t_s", (session_id,)).fetchall()

    def events(self, session_id: int) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM events WHERE session_id = ? ORDER BY t_s, rowid", (session_id,)
        ).fetchall()

    def packets(self, session_id: int) -> list[tuple[float, bytes]]:
        rows = self.conn.execute(
            "SELECT t_s, data FROM packets WHERE session_id = ? ORDER BY t_s, rowid", (session_id,)
        ).fetchall()
        return [(row["t_s"], bytes(row["data"])) for row in rows]

    def samples(self, session_id: int) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM samples WHERE session_id = ? ORDER BY t_s", (session_id,)).fetchall()


def _file_identity(path: Path) -> tuple[int, int] | None:
    """Which file the path names now (device, inode); None when none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino
