"""The SQLite session log: schema, owner-only file, writes off the frame thread, crash safety."""
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest

from tidewell.core.clock import VirtualClock
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.runner import SessionRunner
from tidewell.sessions.store import MIGRATIONS, SessionStore
from tidewell.sessions.summary import format_table, summarize


def log_a_session(store, minutes=3.0, seed=0):
    program = load_program(resolve_program("taster"), {"dusk_ocean", "ember", "sea_floor", "eyes_closed", "aurora_night", "forest_canopy"}).scaled_to(minutes)
    sid = store.begin(program_id=program.id, program_title=program.title, program_minutes=program.minutes,
                      client="C-017", sensor="sim", virtual_time=True, seed=seed)
    writer = store.writer(sid)
    runner = SessionRunner(program, SimulatedHeart(seed=seed), unattended=True)
    clock = VirtualClock()
    next_sample = 0.0
    while not runner.finished:
        state = runner.step(clock.now())
        for e in runner.drain_events():
            writer.event(e.t_s, e.kind, e.detail, e.phase_index)
            if e.kind == "phase_start":
                writer.phase_start(e.phase_index, program.phases[e.phase_index], e.t_s)
            elif e.kind == "phase_end":
                writer.phase_end(e.phase_index, e.t_s)
        writer.beats(runner.drain_beats())
        if clock.now() >= next_sample:
            writer.sample(state)
            next_sample += 0.25
        clock.advance(1 / 30)
    writer.close("completed")
    return sid, program


def test_a_logged_session_has_every_table_filled(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    sid, program = log_a_session(store)
    row = store.session(sid)
    assert row["status"] == "completed" and row["client"] == "C-017" and row["ended_at"]
    phases = store.phases(sid)
    assert [p["name"] for p in phases] == [p.name for p in program.phases]
    assert all(p["ended_s"] is not None for p in phases)
    beats = store.beats(sid)
    assert len(beats) > 150 and {b["quality"] for b in beats} <= {"ok", "ectopic", "long", "short", "missed", "extra", "out_of_range"}
    for b in beats:  # raw and corrected series are both kept
        if b["quality"] == "ok":
            assert b["corrected_rr_ms"] == b["rr_ms"]
        elif b["corrected_rr_ms"] is None:
            assert b["quality"] in ("extra", "out_of_range")
    samples = store.samples(sid)
    duration = samples[-1]["t_s"] - samples[0]["t_s"]
    assert len(samples) / duration >= 2.0  # at least 2 Hz
    assert {s["breath_stage"] for s in samples} >= {"inhale", "exhale"}
    kinds = [e["kind"] for e in store.events(sid)]
    assert kinds.count("phase_start") == len(program.phases) and "program_end" in kinds


def test_database_is_owner_only_in_wal_mode_and_versioned(tmp_path):
    path = tmp_path / "data" / "tidewell.db"
    store = SessionStore(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    store.close()
    SessionStore(path).close()  # reopening does not re-run migrations
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_per_phase_summary_has_hr_rmssd_and_change_from_settle_baseline(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    sid, program = log_a_session(store, minutes=20)
    rows = summarize(store, sid)
    assert len(rows) == len(program.phases)
    settle = rows[0]
    assert settle.kind == "settle" and settle.hr_change_bpm == 0.0
    assert all(r.mean_hr_bpm and 45 < r.mean_hr_bpm < 100 for r in rows)
    assert all(r.rmssd_ms and 5 < r.rmssd_ms < 150 for r in rows)
    assert rows[-1].hr_change_bpm < 0  # the simulated client relaxed over the session
    table = format_table(rows)
    assert "settle" in table and "RMSSD" in table and len(table.splitlines()) == len(rows) + 2


def test_killed_process_leaves_a_readable_session_marked_interrupted(tmp_path):
    db = tmp_path / "tidewell.db"
    script = textwrap.dedent(f"""
        import os, signal, sqlite3, time
        from tidewell.sessions.store import SessionStore
        store = SessionStore({str(db)!r})
        sid = store.begin(program_id="taster", program_title="t", program_minutes=3, client="x",
                          sensor="sim", virtual_time=False, seed=0)
        writer = store.writer(sid)
        writer.event(1.0, "phase_start", "settle", 0)
        deadline = time.monotonic() + 60  # the writer commits on its own; another connection sees it
        reader = sqlite3.connect("file:{db}?mode=ro", uri=True)
        while not reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == -9, result.stderr
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT status FROM sessions").fetchone()[0] == "running"
    store = SessionStore(db)  # the next start finds the orphan
    row = store.sessions()[0]
    assert row["status"] == "interrupted"
    assert [e["kind"] for e in store.events(row["id"])] == ["phase_start"]
