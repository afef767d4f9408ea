"""The session log: SQLite (WAL) in the user's data folder, written off the frame thread."""
from __future__ import annotations

import contextlib
import glob
import os
import queue
import sqlite3
import threading
import time
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

import platformdirs

from tidewell.core import event_kinds
from tidewell.core.errors import UsageError
from tidewell.core.frame_state import FrameState
from tidewell.core.terminal import control_characters
from tidewell.sensors.correction import CorrectedBeat
from tidewell.core.limits import MAX_NOTE_CHARS
from tidewell.core.private_files import create_private, private_folder
from tidewell.sessions.pseudonyms import checked_pseudonym
from tidewell.sessions.store_checks import (ENVIRONMENT_CODES, SQLITE_CANTOPEN, StoreDamaged, StoreError,
                                            StoreReadOnly, damaged, describe, header_problem, read_only,
                                            read_only_reason, store_error, wal_has_records)

COMMIT_INTERVAL_S = 0.5
WRITE_TRIES = 3  # a failing commit of the session's rows is tried this often ...
RETRY_PAUSE_S = 1.0  # ... this far apart, before the session is told its log cannot be written
SPARE_ROOM_BYTES = 2**20  # held on the log's disk during a session, let go when the disk is full

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
)


def data_dir() -> Path:
    """TIDEWELL_DATA_DIR, or the platform's user data folder (~/.local/share/tidewell on Linux)."""
    override = os.environ.get("TIDEWELL_DATA_DIR")
    return Path(override) if override else platformdirs.user_data_path("tidewell", appauthor=False)


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
    _migrate(conn)
    return conn


def connect_read_only(db_path: Path, reason: str) -> sqlite3.Connection:
    """Read a log that cannot be written (`reason` says why) without writing a byte: no migration, no
    -wal or -shm file made. No log yet reads as an empty one."""
    if not db_path.is_file() or db_path.stat().st_size == 0:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        conn.row_factory = sqlite3.Row
        _migrate(conn)
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
            raise StoreReadOnly(f"{db_path}-wal holds records not yet merged into {db_path}, and they can only be "
                                f"read where SQLite may make its -shm file beside them: {reason}") from None
    conn.row_factory = sqlite3.Row
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version < len(MIGRATIONS):
        conn.close()
        raise StoreReadOnly(f"{db_path} was written by an older Tidewell and must be upgraded, which writes to it;"
                            f" it cannot be written: {reason}")
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
    """The session log. `access="write"` (the default) refuses a log that cannot be written, with a
    StoreReadOnly saying why; `access="read"` opens such a log read-only instead. `verify` reads the
    whole file first (PRAGMA quick_check), so a damaged log is refused before anything is written
    into it. A damaged file is never written: StoreDamaged says which file and what to do."""

    def __init__(self, db_path: Path | str | None = None, *, access: str = "write", verify: bool = False):
        if access not in ("read", "write"):
            raise ValueError(f"access must be 'read' or 'write', got {access!r}")
        self.path = Path(db_path) if db_path else data_dir() / "tidewell.db"
        problem = header_problem(self.path)
        if problem:
            raise damaged(self.path, problem)
        reason = read_only_reason(self.path)
        if reason and access == "write":
            raise read_only(self.path, reason)
        self.read_only = bool(reason)
        self._verified = False
        try:
            self.conn = connect_read_only(self.path, reason) if reason else self._connect(access)
            if verify:
                self._verify()
            if not self.read_only:
                self._mark_orphans_interrupted(access)
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
        rows = [row for row in self.conn.execute("SELECT id, pid FROM sessions WHERE status = 'running'").fetchall()
                if not _pid_alive(row["pid"])]
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
                        (_utc_now(), row["id"]),
                    )
        except StoreError:
            pass

    def begin(self, *, program_id: str, program_title: str, program_minutes: float, client: str,
              sensor: str, virtual_time: bool, seed: int | None) -> int:
        client = checked_pseudonym(client)
        self.ensure_client(client)
        with self._writing():
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
        with self._writing():
            self.conn.execute("INSERT OR IGNORE INTO clients (pseudonym, created_at) VALUES (?, ?)",
                              (pseudonym, _utc_now()))
        return self.client(pseudonym)

    def client(self, pseudonym: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM clients WHERE pseudonym = ?", (pseudonym,)).fetchone()

    def clients(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM clients ORDER BY pseudonym").fetchall()

    def set_resonance(self, pseudonym: str, rate_bpm: float, session_id: int) -> None:
        self.ensure_client(pseudonym)
        with self._writing():
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
        if len(note) > MAX_NOTE_CHARS:
            raise ValueError(f"a note is at most {MAX_NOTE_CHARS} characters, got {len(note)}")
        if control_characters(note):
            raise ValueError(f"a note has no control characters, got {note!r}")
        if self.session(session_id) is None:
            raise UsageError(f"no session {session_id}")
        with self._writing():
            self.conn.execute(
                "INSERT OR REPLACE INTO self_reports VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, moment, pain, stress, note, _utc_now()),
            )

    def self_reports(self, session_id: int) -> dict[str, sqlite3.Row]:
        rows = self.conn.execute("SELECT * FROM self_reports WHERE session_id = ?", (session_id,)).fetchall()
        return {row["moment"]: row for row in rows}

    def add_event(self, session_id: int, t_s: float, kind: str, detail: str, phase_index: int | None = None) -> None:
        """An event written after the session's own writer closed (e.g. an analysis result)."""
        event_kinds.kind(kind)  # an unregistered kind is still written (strict mode: raises)
        with self._writing():
            self.conn.execute("INSERT INTO events VALUES (?,?,?,?,?)", (session_id, t_s, kind, detail, phase_index))

    def mark_interrupted(self, session_id: int) -> None:
        """A session of this process that stopped on an error before its writer closed it."""
        with self._writing():
            self.conn.execute("UPDATE sessions SET status = 'interrupted', ended_at = COALESCE(ended_at, ?), pid = NULL"
                              " WHERE id = ? AND status = 'running'", (_utc_now(), session_id))

    def set_folder(self, session_id: int, folder: Path) -> None:
        with self._writing():
            self.conn.execute("UPDATE sessions SET folder = ? WHERE id = ?", (str(folder), session_id))

    def set_virtual_time(self, session_id: int) -> None:
        with self._writing():
            self.conn.execute("UPDATE sessions SET virtual_time = 1 WHERE id = ?", (session_id,))

    def writer(self, session_id: int) -> "SessionWriter":
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
        return self.conn.execute(
            "SELECT * FROM samples WHERE session_id = ? ORDER BY t_s", (session_id,)
        ).fetchall()


_STOP = object()


class SessionWriter:
    """Takes rows from the frame thread through a queue and commits them from its own thread
    at least every COMMIT_INTERVAL_S, so the frame loop never waits on the disk.

    A commit the disk or the file refuses (a full disk, an I/O error) is tried again, `tries` times
    `retry_pause_s` apart, with every row it held. When it still fails, drain_problems() hands the
    frame thread one ("log_write_failed", why) and the writer lets go of the spare room it holds
    beside the log (SPARE_ROOM_BYTES), so that on a full disk the rows until the session's gentle end
    and its final status still fit. Rows go on being kept and tried once per commit; close() tries
    the final status by itself last. What was written stays whole."""

    def __init__(self, db_path: Path, session_id: int, tries: int = WRITE_TRIES,
                 retry_pause_s: float = RETRY_PAUSE_S):
        self.session_id = session_id
        self.path = Path(db_path)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._conn = connect(self.path)
        self._tries = max(1, tries)
        self._retry_pause_s = retry_pause_s
        self._pending: list = []  # rows not yet committed, in order
        self._problems: queue.SimpleQueue = queue.SimpleQueue()
        self.failure: str | None = None  # why the log stopped taking rows, once it gave up
        self._bug: BaseException | None = None
        self._spare = self._hold_spare_room()
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
    _SAMPLE_SQL = (f"INSERT INTO samples (session_id, {', '.join(c for c, _ in SAMPLE_COLUMNS)}, sound_fade)"
                   f" VALUES ({', '.join('?' * (len(SAMPLE_COLUMNS) + 2))})")

    def sample(self, s: FrameState, sound_fade: float | None = None) -> None:
        """`s` as the client saw it (its `fade`: the light), `sound_fade` as they heard it (None: s.fade)."""
        values = []
        for _, field in self.SAMPLE_COLUMNS:
            value = getattr(s, field)
            values.append(value.value if isinstance(value, Enum) else int(value) if isinstance(value, bool) else value)
        self._row((self._SAMPLE_SQL, (self.session_id, *values, s.fade if sound_fade is None else sound_fade)))

    def beats(self, beats: list[CorrectedBeat]) -> None:
        if beats:
            self._row((
                "INSERT INTO beats (session_id, t_s, rr_ms, quality, corrected_rr_ms, inserted) VALUES (?,?,?,?,?,?)",
                [(self.session_id, b.t_s, b.rr_ms, b.quality, b.corrected_rr_ms, int(b.inserted)) for b in beats],
            ))

    def packets(self, packets: list[tuple[float, bytes]]) -> None:
        if packets:
            self._row((
                "INSERT INTO packets VALUES (?,?,?)", [(self.session_id, t, bytes(data)) for t, data in packets]
            ))

    def event(self, t_s: float, kind: str, detail: str, phase_index: int | None) -> None:
        event_kinds.kind(kind)  # an unregistered kind is still written (strict mode: raises)
        self._row(("INSERT INTO events VALUES (?,?,?,?,?)", (self.session_id, t_s, kind, detail, phase_index)))

    def phase_start(self, index: int, phase, t_s: float) -> None:
        self._row((
            "INSERT OR REPLACE INTO phases VALUES (?,?,?,?,?,?,?,?,NULL)",
            (self.session_id, index, phase.name, phase.kind.value, phase.scene, phase.posture.value,
             phase.duration_s, t_s),
        ))

    def phase_scene(self, index: int, scene: str) -> None:
        """The scene the client saw in a phase, where it is not the program's (that one could not be drawn)."""
        self._row((
            "UPDATE phases SET scene = ? WHERE session_id = ? AND idx = ?", (scene, self.session_id, index)
        ))

    def phase_end(self, index: int, t_s: float) -> None:
        self._row((
            "UPDATE phases SET ended_s = ? WHERE session_id = ? AND idx = ?", (t_s, self.session_id, index)
        ))

    def _row(self, item) -> None:
        if self._closed:  # the writer thread is gone: the row would be lost without a word
            raise RuntimeError(f"session {self.session_id}: a row after the session log's writer closed: {item[0]}")
        self._queue.put(item)

    def drain_problems(self) -> list[tuple[str, str]]:
        """(kind, detail) of what went wrong with the log since the last call (from the frame thread)."""
        problems = []
        while True:
            try:
                problems.append(self._problems.get_nowait())
            except queue.Empty:
                return problems

    def close(self, status: str) -> None:
        """Flush everything, then mark the session with its final status. Safe to call twice.
        A log the disk refused is not an error here (the session was told); a bug in a row is."""
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
        self._let_go_of_spare_room()
        if self._bug is not None:
            raise RuntimeError(f"session log write failed: {self._bug}") from self._bug

    # -- the writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        last_commit = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=COMMIT_INTERVAL_S)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._flush(closing=True)
                return
            if item is not None:
                self._pending.append(item)
            if time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
                self._flush()
                last_commit = time.monotonic()

    def _flush(self, closing: bool = False) -> None:
        if not self._pending:
            return
        tries = self._tries if closing or self.failure is None else 1
        error = None
        for attempt in range(tries):
            if attempt:
                time.sleep(self._retry_pause_s)
            error = self._commit(self._pending)
            if error is None:
                self._pending.clear()
                return
        if self.failure is None:
            self.failure = (f"cannot write the session log {self.path}: {describe(error)} "
                            f"(tried {tries} times, {self._retry_pause_s:g} s apart)")
            self._problems.put(("log_write_failed", self.failure))
            if self._let_go_of_spare_room() and self._commit(self._pending) is None:
                self._pending.clear()
                return
        if closing and len(self._pending) > 1:
            # The final status alone may still fit, the more so once the -wal file's pages are merged
            # into the log and the -wal file emptied.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            self._commit(self._pending[-1:])

    def _hold_spare_room(self) -> Path | None:
        """A file of SPARE_ROOM_BYTES beside the log, named for this process and session (PID.SESSION):
        another process's session (a `tidewell run` beside the console's) keeps its own."""
        prefix = f".{self.path.name}-spare."
        for left in self.path.parent.glob(glob.escape(prefix) + "*"):
            pid = left.name.removeprefix(prefix).split(".")[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    left.unlink()  # left by a session that was killed
        spare = self.path.with_name(f"{prefix}{os.getpid()}.{self.session_id}")
        try:
            fd = create_private(spare)
        except OSError:
            return None
        try:
            os.write(fd, bytes(SPARE_ROOM_BYTES))
            os.fsync(fd)
        except OSError:
            os.close(fd)
            spare.unlink()
            return None
        os.close(fd)
        return spare

    def _let_go_of_spare_room(self) -> bool:
        spare, self._spare = self._spare, None
        if spare is None:
            return False
        with contextlib.suppress(FileNotFoundError):
            spare.unlink()
        return True

    def _commit(self, items: list) -> sqlite3.Error | None:
        """Every item in one transaction; the error that stopped it (rolled back), or None."""
        try:
            for sql, params in items:
                try:
                    if isinstance(params, list):
                        self._conn.executemany(sql, params)
                    else:
                        self._conn.execute(sql, params)
                except sqlite3.Error as error:
                    if getattr(error, "sqlite_errorcode", 0) & 0xFF in ENVIRONMENT_CODES:
                        raise
                    self._bug = self._bug or error  # a mistake in the row, not the disk: raised at close
            self._conn.commit()
            return None
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                self._conn.rollback()
            return error
