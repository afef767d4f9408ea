"""The session's rows on their way into the log: queued by the frame thread, committed by a thread of their own."""

from __future__ import annotations

import contextlib
import glob
import os
import queue
import sqlite3
import threading
import time
from enum import Enum
from pathlib import Path

from tidewell.core import event_kinds
from tidewell.core.frame_state import FrameState
from tidewell.core.private_files import create_private
from tidewell.sensors.correction import CorrectedBeat
from tidewell.sessions.store_checks import ENVIRONMENT_CODES, describe
from tidewell.sessions.store_schema import connect, pid_alive, utc_now

COMMIT_INTERVAL_S = 0.5
WRITE_TRIES = 3  # a failing commit of the session's rows is tried this often ...
RETRY_PAUSE_S = 1.0  # ... this far apart, before the session is told its log cannot be written
SPARE_ROOM_BYTES = 2**20  # held on the log's disk during a session, let go when the disk is full

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

    def __init__(self, db_path: Path, session_id: int, tries: int = WRITE_TRIES, retry_pause_s: float = RETRY_PAUSE_S):
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
    SAMPLE_COLUMNS = (
        ("t_s", "t_s"),
        ("phase_idx", "phase_index"),
        ("phase_progress", "phase_progress"),
        ("breath_phase", "breath_phase"),
        ("breath_stage", "breath_stage"),
        ("breath_level", "breath_level"),
        ("pace_bpm", "pace_bpm"),
        ("calm", "calm"),
        ("posture", "posture"),
        ("scene", "scene"),
        ("previous_scene", "previous_scene"),
        ("crossfade", "crossfade"),
        ("fade", "fade"),
        ("hr_bpm", "hr_bpm"),
        ("rmssd_ms", "rmssd_ms"),
        ("paused", "paused"),
        ("sdnn_ms", "sdnn_ms"),
        ("hf_ms2", "hf_ms2"),
        ("coherence", "coherence"),
        ("breath_rate_bpm", "breath_rate_bpm"),
        ("adherence", "adherence"),
        ("target_pace_bpm", "target_pace_bpm"),
    )
    _SAMPLE_SQL = (
        f"INSERT INTO samples (session_id, {', '.join(c for c, _ in SAMPLE_COLUMNS)}, sound_fade)"
        f" VALUES ({', '.join('?' * (len(SAMPLE_COLUMNS) + 2))})"
    )

    def sample(self, s: FrameState, sound_fade: float | None = None) -> None:
        """`s` as the client saw it (its `fade`: the light), `sound_fade` as they heard it (None: s.fade)."""
        values = []
        for _, field in self.SAMPLE_COLUMNS:
            value = getattr(s, field)
            values.append(value.value if isinstance(value, Enum) else int(value) if isinstance(value, bool) else value)
        self._row((self._SAMPLE_SQL, (self.session_id, *values, s.fade if sound_fade is None else sound_fade)))

    def beats(self, beats: list[CorrectedBeat]) -> None:
        if beats:
            self._row(
                (
                    "INSERT INTO beats (session_id, t_s, rr_ms, quality, corrected_rr_ms, inserted) VALUES (?,?,?,?,?,?)",
                    [(self.session_id, b.t_s, b.rr_ms, b.quality, b.corrected_rr_ms, int(b.inserted)) for b in beats],
                )
            )

    def packets(self, packets: list[tuple[float, bytes]]) -> None:
        if packets:
            self._row(
                ("INSERT INTO packets VALUES (?,?,?)", [(self.session_id, t, bytes(data)) for t, data in packets])
            )

    def event(self, t_s: float, kind: str, detail: str, phase_index: int | None) -> None:
        event_kinds.kind(kind)  # an unregistered kind is still written (strict mode: raises)
        self._row(("INSERT INTO events VALUES (?,?,?,?,?)", (self.session_id, t_s, kind, detail, phase_index)))

    def phase_start(self, index: int, phase, t_s: float) -> None:
        self._row(
            (
                "INSERT OR REPLACE INTO phases VALUES (?,?,?,?,?,?,?,?,NULL)",
                (
                    self.session_id,
                    index,
                    phase.name,
                    phase.kind.value,
                    phase.scene,
                    phase.posture.value,
                    phase.duration_s,
                    t_s,
                ),
            )
        )

    def phase_scene(self, index: int, scene: str) -> None:
        """The scene the client saw in a phase, where it is not the program's (that one could not be drawn)."""
        self._row(("UPDATE phases SET scene = ? WHERE session_id = ? AND idx = ?", (scene, self.session_id, index)))

    def phase_end(self, index: int, t_s: float) -> None:
        self._row(("UPDATE phases SET ended_s = ? WHERE session_id = ? AND idx = ?", (t_s, self.session_id, index)))

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
        self._queue.put(
            (
                "UPDATE sessions SET status = ?, ended_at = ?, pid = NULL WHERE id = ?",
                (status, utc_now(), self.session_id),
            )
        )
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
            self.failure = (
                f"cannot write the session log {self.path}: {describe(error)} "
                f"(tried {tries} times, {self._retry_pause_s:g} s apart)"
            )
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
            if pid.isdigit() and not pid_alive(int(pid)):
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
