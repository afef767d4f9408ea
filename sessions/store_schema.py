"""The session log's file: its schema and migrations, and opening it read-write or read-only."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from tidewell.core.data_folder import data_dir  # noqa: F401 - where the store has always offered it
from tidewell.core.private_files import create_private, private_folder
from tidewell.sessions.store_checks import SQLITE_CANTOPEN, StoreReadOnly, wal_has_records

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
    # 4: the fade as the client heard it, beside `fade` as the client saw it (they differ while the
    # headset is off and the sound plays on, or the sound device is lost); NULL in older rows: as `fade`
    """
    ALTER TABLE samples ADD COLUMN sound_fade REAL;
    """,
    # 5: the treatment course: intake (precautions, goals, referrer), the plan, re-assessments, cybersickness
    """
    CREATE TABLE intakes (
        pseudonym TEXT PRIMARY KEY REFERENCES clients(pseudonym),
        precautions TEXT NOT NULL DEFAULT '[]',
        goals TEXT NOT NULL DEFAULT '[]',
        referrer TEXT NOT NULL DEFAULT '',
        recorded_at TEXT NOT NULL
    );
    CREATE TABLE plans (
        pseudonym TEXT PRIMARY KEY REFERENCES clients(pseudonym),
        sessions_planned INTEGER NOT NULL CHECK (sessions_planned BETWEEN 1 AND 100),
        per_week REAL NOT NULL CHECK (per_week > 0 AND per_week <= 7),
        programs TEXT NOT NULL,
        measures TEXT NOT NULL,
        reassess_every INTEGER NOT NULL CHECK (reassess_every BETWEEN 1 AND 100),
        recorded_at TEXT NOT NULL
    );
    CREATE TABLE reassessments (
        pseudonym TEXT NOT NULL REFERENCES clients(pseudonym),
        sessions_done INTEGER NOT NULL,
        pain INTEGER CHECK (pain BETWEEN 0 AND 10),
        stress INTEGER CHECK (stress BETWEEN 0 AND 10),
        goal_progress INTEGER CHECK (goal_progress BETWEEN 0 AND 10),
        note TEXT NOT NULL DEFAULT '',
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (pseudonym, sessions_done)
    );
    CREATE TABLE cybersickness (
        session_id INTEGER PRIMARY KEY REFERENCES sessions(id),
        fms INTEGER NOT NULL CHECK (fms BETWEEN 0 AND 20),
        ssq TEXT,
        recorded_at TEXT NOT NULL
    );
    ALTER TABLE sessions ADD COLUMN target TEXT;
    """,
    # 6: each ended session's metrics, computed once (sessions/session_metrics.py): the whole-session and
    # per-phase HRV and what the trends and the course need, as JSON; `version` names the analysis that
    # made them (METRICS_VERSION), and a row of another version is computed again when next read
    """
    CREATE TABLE session_metrics (
        session_id INTEGER PRIMARY KEY REFERENCES sessions(id),
        version TEXT NOT NULL,
        computed_at TEXT NOT NULL,
        method TEXT NOT NULL,
        metrics TEXT NOT NULL
    );
    """,
)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def connect(db_path: Path) -> sqlite3.Connection:
    private_folder(db_path.parent)
    try:
        # Create it owner-only before SQLite writes a byte of client data into it; a file that
        # exists keeps the mode its owner gave it.
        os.close(create_private(db_path))
    except FileExistsError:
        pass
    conn = sqlite3.connect(db_path, timeout=10.0, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn)
    return conn


def connect_read_only(db_path: Path, reason: str) -> sqlite3.Connection:
    """Read a log that cannot be written (`reason` says why) without writing a byte: no migration, no
    -wal or -shm file made. No log yet reads as an empty one."""
    if not db_path.is_file() or db_path.stat().st_size == 0:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        conn.row_factory = sqlite3.Row
        migrate(conn)
        return conn
    uri = f"{db_path.absolute().as_uri()}?mode=ro"
    if not wal_has_records(db_path):
        # The file alone is the whole log, and nothing can change it: SQLite need not make its -shm file.
        conn = sqlite3.connect(f"{uri}&immutable=1", uri=True, check_same_thread=False)
    else:
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=10.0, check_same_thread=False)
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # SQLite opens the file on first use
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorcode", 0) & 0xFF != SQLITE_CANTOPEN:
                raise
            raise StoreReadOnly(
                f"{db_path}-wal holds records not yet merged into {db_path}, and they can only be "
                f"read where SQLite may make its -shm file beside them: {reason}"
            ) from None
    conn.row_factory = sqlite3.Row
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version < len(MIGRATIONS):
        conn.close()
        raise StoreReadOnly(
            f"{db_path} was written by an older Tidewell and must be upgraded, which writes to it;"
            f" it cannot be written: {reason}"
        )
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
