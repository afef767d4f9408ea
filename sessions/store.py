"""The session log: SQLite (WAL) in the user's data folder, written off the frame thread."""
from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

import platformdirs

from tidewell.engine.frame_state import FrameState
from tidewell.sensors.correction import CorrectedBeat
from tidewell.sessions.pseudonyms import checked_pseudonym

COMMIT_INTERVAL_S = 0.5

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'ended_early', 'interrupted')),
        program_id TEXT NOT NULL,
        program_title TEXT NOT NULL,
        program_minutes REAL NOT NULL,
        client TEXT NOT NULL,
        sensor TEXT NOT NULL,
        virtual_time INTEGER NOT NULL,
        seed INTEGER,
        folder TEXT,
        pid INTEGER
    );
    CREATE TABLE phases (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        scene TEXT NOT NULL,
        posture TEXT NOT NULL,
        planned_s REAL NOT NULL,
        started_s REAL NOT NULL,
        ended_s REAL,
        PRIMARY KEY (session_id, idx)
    );
    CREATE TABLE beats (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        t_s REAL NOT NULL,
        rr_ms REAL NOT NULL,
        quality TEXT NOT NULL
    );
    CREATE INDEX beats_by_session ON beats(session_id, t_s);
    CREATE TABLE samples (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        t_s REAL NOT NULL,
        phase_idx INTEGER NOT NULL,
        phase_progress REAL NOT NULL,
        breath_phase REAL NOT NULL,
        breath_stage TEXT NOT NULL,
        breath_level REAL NOT NULL,
        pace_bpm REAL NOT NULL,
        calm REAL NOT NULL,
        posture TEXT NOT NULL,
        scene TEXT NOT NULL,
        previous_scene TEXT,
        crossfade REAL NOT NULL,
        fade REAL NOT NULL,
        hr_bpm REAL,
        rmssd_ms REAL,
        paused INTEGER NOT NULL
    );
    CREATE INDEX samples_by_session ON samples(session_id, t_s);
    CREATE TABLE events (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        t_s REAL NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        phase_idx INTEGER
    );
    """,
    # 2: raw Bluetooth packets for exact replay; the corrected RR beside the raw one
    """
    CREATE TABLE packets (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        t_s REAL NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX packets_by_session ON packets(session_id, t_s);
    ALTER TABLE beats ADD COLUMN corrected_rr_ms REAL;
    ALTER TABLE beats ADD COLUMN inserted INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: clients (resonance pace), self-reports, richer live metrics in the samples
    """
    CREATE TABLE clients (
        pseudonym TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        resonance_bpm REAL,
        resonance_session_id INTEGER REFERENCES sessions(id),
        resonance_at TEXT
    );
    INSERT OR IGNORE INTO clients (pseudonym, created_at) SELECT DISTINCT client, MIN(started_at) FROM sessions GROUP BY client;
    CREATE TABLE self_reports (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        moment TEXT NOT NULL CHECK (moment IN ('before', 'after')),
        pain INTEGER CHECK (pain BETWEEN 0 AND 10),
        stress INTEGER CHECK (stress BETWEEN 0 AND 10),
        note TEXT NOT NULL DEFAULT '',
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (session_id, moment)
    );
    ALTER TABLE samples ADD COLUMN sdnn_ms REAL;
    ALTER TABLE samples ADD COLUMN hf_ms2 REAL;
    ALTER TABLE samples ADD COLUMN coherence REAL;
    ALTER TABLE samples ADD COLUMN breath_rate_bpm REAL;
    ALTER TABLE samples ADD COLUMN adherence REAL;
    ALTER TABLE samples ADD COLUMN target_pace_bpm REAL;
    """,
)


def data_dir() -> Path:
    """TIDEWELL_DATA_DIR, or the platform's user data folder (~/.local/share/tidewell on Linux)."""
    override = os.environ.get("TIDEWELL_DATA_DIR")
    return Path(override) if override else platformdirs.user_data_path("tidewell", appauthor=False)


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def connect(db_path: Path) -> sqlite3.Connection:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not db_path.exists()
    if fresh:
        # Create it owner-only before SQLite writes a byte of client data into it.
        os.close(os.open(db_path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(db_path, 0o600)
    conn = sqlite3.connect(db_path, timeout=10.0, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    _migrate(conn)
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SessionStore:
    def __init__(self, db_path: Path | str | None = None):
        self.path = Path(db_path) if db_path else data_dir() / "tidewell.db"
        self.conn = connect(self.path)
        self._mark_orphans_interrupted()

    def close(self) -> None:
        self.conn.close()

    def _mark_orphans_interrupted(self) -> None:
        """A session still 'running' whose process is gone was killed: keep it, readable, as interrupted."""
        rows = self.conn.execute("SELECT id, pid FROM sessions WHERE status = 'running'").fetchall()
        with self.conn:
            for row in rows:
                if not _pid_alive(row["pid"]):
                    self.conn.execute(
                        "UPDATE sessions SET status = 'interrupted', ended_at = COALESCE(ended_at, ?) WHERE id = ?",
                        (_utc_now(), row["id"]),
                    )

    def begin(self, *, program_id: str, program_title: str, program_minutes: float, client: str,
              sensor: str, virtual_time: bool, seed: int | None) -> int:
        client = checked_pseudonym(client)
        self.ensure_client(client)
        with self.conn:
            cursor = self.conn.execute(
                "INSERT INTO sessions (started_at, status, program_id, program_title, program_minutes, client,"
                " sensor, virtual_time, seed, pid) VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                (_utc_now(), program_id, program_title, program_minutes, client, sensor, int(virtual_time), seed,
                 os.getpid()),
            )
        return int(cursor.lastrowid)

    # -- clients and self-reports ---------------------------------------------------------
    def ensure_client(self, pseudonym: str) -> sqlite3.Row:
        pseudonym = checked_pseudonym(pseudonym)  # PseudonymError (a ValueError) naming the rule
        with self.conn:
            self.conn.execute("INSERT OR IGNORE INTO clients (pseudonym, created_at) VALUES (?, ?)",
                              (pseudonym, _utc_now()))
        return self.client(pseudonym)

    def client(self, pseudonym: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM clients WHERE pseudonym = ?", (pseudonym,)).fetchone()

    def clients(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM clients ORDER BY pseudonym").fetchall()

    def set_resonance(self, pseudonym: str, rate_bpm: float, session_id: int) -> None:
        self.ensure_client(pseudonym)
        with self.conn:
            self.conn.execute(
                "UPDATE clients SET resonance_bpm = ?, resonance_session_id = ?, resonance_at = ? WHERE pseudonym = ?",
                (rate_bpm, session_id, _utc_now(), pseudonym),
            )

    def sessions_of_client(self, pseudonym: str) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM sessions WHERE client = ? ORDER BY id", (pseudonym,)).fetchall()

    def set_self_report(self, session_id: int, moment: str, pain: int | None, stress: int | None,
                        note: str = "") -> None:
        if moment not in ("before", "after"):
            raise ValueError(f"self-report moment must be 'before' or 'after', got {moment!r}")
        for label, value in (("pain", pain), ("stress", stress)):
            if value is not None and not (isinstance(value, int) and 0 <= value <= 10):
                raise ValueError(f"{label} must be a whole number from 0 to 10, got {value!r}")
        if self.session(session_id) is None:
            raise ValueError(f"no session {session_id}")
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO self_reports VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, moment, pain, stress, note, _utc_now()),
            )

    def self_reports(self, session_id: int) -> dict[str, sqlite3.Row]:
        rows = self.conn.execute("SELECT * FROM self_reports WHERE session_id = ?", (session_id,)).fetchall()
        return {row["moment"]: row for row in rows}

    def add_event(self, session_id: int, t_s: float, kind: str, detail: str, phase_index: int | None = None) -> None:
        """An event written after the session's own writer closed (e.g. an analysis result)."""
        with self.conn:
            self.conn.execute("INSERT INTO events VALUES (?,?,?,?,?)", (session_id, t_s, kind, detail, phase_index))

    def set_folder(self, session_id: int, folder: Path) -> None:
        with self.conn:
            self.conn.execute("UPDATE sessions SET folder = ? WHERE id = ?", (str(folder), session_id))

    def writer(self, session_id: int) -> "SessionWriter":
        return SessionWriter(self.path, session_id)

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
        return self.conn.execute(
            "SELECT * FROM samples WHERE session_id = ? ORDER BY t_s", (session_id,)
        ).fetchall()


_STOP = object()


class SessionWriter:
    """Takes rows from the frame thread through a queue and commits them from its own thread
    at least every COMMIT_INTERVAL_S, so the frame loop never waits on the disk."""

    def __init__(self, db_path: Path, session_id: int):
        self.session_id = session_id
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._conn = connect(db_path)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tidewell-log", daemon=True)
        self._thread.start()
        self._closed = False

    # -- called from the frame thread -----------------------------------------------------
    # (column, FrameState field) of the samples table
    SAMPLE_COLUMNS = (("t_s", "t_s"), ("phase_idx", "phase_index"), ("phase_progress", "phase_progress"),
                      ("breath_phase", "breath_phase"), ("breath_stage", "breath_stage"),
                      ("breath_level", "breath_level"), ("pace_bpm", "pace_bpm"), ("calm", "calm"),
                      ("posture", "posture"), ("scene", "scene"), ("previous_scene", "previous_scene"),
                      ("crossfade", "crossfade"), ("fade", "fade"), ("hr_bpm", "hr_bpm"), ("rmssd_ms", "rmssd_ms"),
                      ("paused", "paused"), ("sdnn_ms", "sdnn_ms"), ("hf_ms2", "hf_ms2"), ("coherence", "coherence"),
                      ("breath_rate_bpm", "breath_rate_bpm"), ("adherence", "adherence"),
                      ("target_pace_bpm", "target_pace_bpm"))
    _SAMPLE_SQL = (f"INSERT INTO samples (session_id, {', '.join(c for c, _ in SAMPLE_COLUMNS)})"
                   f" VALUES ({', '.join('?' * (len(SAMPLE_COLUMNS) + 1))})")

    def sample(self, s: FrameState) -> None:
        values = []
        for _, field in self.SAMPLE_COLUMNS:
            value = getattr(s, field)
            values.append(value.value if isinstance(value, Enum) else int(value) if isinstance(value, bool) else value)
        self._queue.put((self._SAMPLE_SQL, (self.session_id, *values)))

    def beats(self, beats: list[CorrectedBeat]) -> None:
        if beats:
            self._queue.put((
                "INSERT INTO beats (session_id, t_s, rr_ms, quality, corrected_rr_ms, inserted) VALUES (?,?,?,?,?,?)",
                [(self.session_id, b.t_s, b.rr_ms, b.quality, b.corrected_rr_ms, int(b.inserted)) for b in beats],
            ))

    def packets(self, packets: list[tuple[float, bytes]]) -> None:
        if packets:
            self._queue.put((
                "INSERT INTO packets VALUES (?,?,?)", [(self.session_id, t, bytes(data)) for t, data in packets]
            ))

    def event(self, t_s: float, kind: str, detail: str, phase_index: int | None) -> None:
        self._queue.put(("INSERT INTO events VALUES (?,?,?,?,?)", (self.session_id, t_s, kind, detail, phase_index)))

    def phase_start(self, index: int, phase, t_s: float) -> None:
        self._queue.put((
            "INSERT OR REPLACE INTO phases VALUES (?,?,?,?,?,?,?,?,NULL)",
            (self.session_id, index, phase.name, phase.kind.value, phase.scene, phase.posture.value,
             phase.duration_s, t_s),
        ))

    def phase_end(self, index: int, t_s: float) -> None:
        self._queue.put((
            "UPDATE phases SET ended_s = ? WHERE session_id = ? AND idx = ?", (t_s, self.session_id, index)
        ))

    def close(self, status: str) -> None:
        """Flush everything, then mark the session with its final status. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._queue.put((
            "UPDATE sessions SET status = ?, ended_at = ?, pid = NULL WHERE id = ?",
            (status, _utc_now(), self.session_id),
        ))
        self._queue.put(_STOP)
        self._thread.join()
        self._conn.close()
        if self._error is not None:
            raise RuntimeError(f"session log write failed: {self._error}") from self._error

    # -- the writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        last_commit = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=COMMIT_INTERVAL_S)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._commit()
                return
            if item is not None:
                self._execute(item)
            if time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
                self._commit()
                last_commit = time.monotonic()

    def _execute(self, item) -> None:
        sql, params = item
        try:
            if isinstance(params, list):
                self._conn.executemany(sql, params)
            else:
                self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            self._error = exc

    def _commit(self) -> None:
        try:
            self._conn.commit()
        except sqlite3.Error as exc:
            self._error = exc
