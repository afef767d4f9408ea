"""The SQLite session log: schema, owner-only file, writes off the frame thread, crash safety."""

import ast
import os
import re
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tidewell.core.clock import VirtualClock
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.runner import SessionRunner
from tidewell.sessions.store import MIGRATIONS, SessionStore, StoreDamaged, StoreReadOnly
from tidewell.sessions.summary import format_table, summarize


def log_a_session(store, minutes=3.0, seed=0):
    program = load_program(
        resolve_program("taster"), {"dusk_ocean", "ember", "sea_floor", "eyes_closed", "aurora_night", "forest_canopy"}
    ).scaled_to(minutes)
    sid = store.begin(
        program_id=program.id,
        program_title=program.title,
        program_minutes=program.minutes,
        client="C-017",
        sensor="sim",
        virtual_time=True,
        seed=seed,
    )
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
    assert len(beats) > 150 and {b["quality"] for b in beats} <= {
        "ok",
        "ectopic",
        "long",
        "short",
        "missed",
        "extra",
        "out_of_range",
    }
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


# -- the store owns every SQL statement -----------------------------------------------------------------
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("core", "sensors", "scenes", "sessions", "audio", "engine", "benchmarks")
SQL_STATEMENT = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bINSERT\s+(OR\s+[A-Z]+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX)\b|\bPRAGMA\s+\w+",
    re.S,
)


def sql_outside_the_store(source: str, where: str) -> list[str]:
    """Each line of `source` with a `.conn` attribute or a string holding an SQL statement (f-strings
    read with their fields as {}), in order."""
    findings: dict[tuple[int, str], str] = {}
    for node in ast.walk(ast.parse(source)):
        text = None
        if isinstance(node, ast.Attribute) and node.attr == "conn":
            findings[node.lineno, "conn"] = ".conn"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        if text is not None and SQL_STATEMENT.search(text):
            findings.setdefault((node.lineno, "sql"), f"SQL {' '.join(text.split())[:70]!r}")
    return [f"{where}:{line}: {finding}" for (line, _), finding in sorted(findings.items())]


def test_the_scan_finds_sql_and_the_connection_where_they_are():
    snippet = textwrap.dedent("""
        rows = s.conn.execute("SELECT pseudonym FROM clients WHERE rowid = ?", (1,)).fetchall()
        db.execute(f"DELETE FROM {table} WHERE session_id = ?", (2,))
        cursor.execute("UPDATE sessions SET status = ?", ("x",))
        conn.execute("INSERT OR REPLACE INTO phases VALUES (?)", (3,))
        conn.execute("PRAGMA query_only = ON")
    """)
    found = sql_outside_the_store(snippet, "made_up.py")
    assert [line.split(": ", 1)[1][:8] for line in found] == [
        ".conn",
        "SQL 'SEL",
        "SQL 'DEL",
        "SQL 'UPD",
        "SQL 'INS",
        "SQL 'PRA",
    ], found
    assert (
        sql_outside_the_store(
            '"""Select a scene from the list; update the view, then set it."""\nconnection = store.connection_count\n',
            "prose.py",
        )
        == []
    )


def test_no_module_but_the_stores_own_holds_sql_or_touches_its_connection():
    found = []
    for package in SCANNED:
        for path in sorted((PACKAGE_ROOT / package).rglob("*.py")):
            relative = path.relative_to(PACKAGE_ROOT).as_posix()
            if not re.fullmatch(r"sessions/store\w*\.py", relative):
                found += sql_outside_the_store(path.read_text(encoding="utf-8"), relative)
    assert found == [], "SQL belongs in a SessionStore method (sessions/store*.py):\n" + "\n".join(found)
    scanned_store = sql_outside_the_store((PACKAGE_ROOT / "sessions" / "store_clients.py").read_text(), "store")
    assert len(scanned_store) > 5, "the scan sees the store's own statements"


def test_the_clients_overview_and_numbers_are_what_the_log_holds(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    for pseudonym in ("C-2", "C-1", "C-3"):
        store.ensure_client(pseudonym)
    first = store.begin(
        program_id="taster", program_title="t", program_minutes=3, client="C-1", sensor="sim", virtual_time=True, seed=0
    )
    store.begin(
        program_id="taster", program_title="t", program_minutes=3, client="C-1", sensor="sim", virtual_time=True, seed=0
    )
    store.set_resonance("C-3", 5.5, first)
    with store.conn:  # C-3 came later than C-1's sessions: the most recent first
        store.conn.execute("UPDATE sessions SET started_at = '2026-01-01T00:00:00+00:00' WHERE id = ?", (first,))
        store.conn.execute(
            "INSERT INTO sessions (started_at, status, program_id, program_title, program_minutes,"
            " client, sensor, virtual_time) VALUES ('2027-01-01', 'completed', 'taster', 't', 3,"
            " 'C-3', 'sim', 1)"
        )
    overview = [dict(row) for row in store.clients_overview()]
    assert [(c["pseudonym"], c["sessions"], c["resonance_bpm"]) for c in overview] == [
        ("C-3", 1, 5.5),
        ("C-1", 2, None),
        ("C-2", 0, None),
    ]
    assert overview[0]["last_started"] == "2027-01-01" and overview[2]["last_started"] is None
    numbers = {c["pseudonym"]: c["id"] for c in overview}
    assert numbers == {"C-2": 1, "C-1": 2, "C-3": 3}  # in the order they were added
    for pseudonym, number in numbers.items():
        assert store.client_id(pseudonym) == number and store.client_pseudonym(number) == pseudonym
    assert store.client_id("C-9") is None and store.client_pseudonym(99) is None
    store.close()


def test_a_store_held_open_sees_its_file_damaged_made_read_only_or_replaced(tmp_path):
    db = tmp_path / "data" / "tidewell.db"
    store = SessionStore(db)
    store.ensure_client("C-1")
    store.recheck()  # nothing changed
    original = db.read_bytes()
    db.write_bytes(b"not a database" * 400)
    with pytest.raises(StoreDamaged, match="is damaged"):
        store.recheck()
    db.write_bytes(original)
    db.chmod(0o400)
    with pytest.raises(StoreReadOnly, match="read-only"):
        store.recheck()
    db.chmod(0o600)
    store.recheck()
    assert store.client("C-1") is not None
    db.rename(db.with_name("tidewell-damaged.db"))  # moved aside: the next use starts a new log
    store.recheck()
    assert store.clients() == [] and db.is_file()
    store.ensure_client("C-2")
    store.close()
    reopened = SessionStore(db)
    assert [c["pseudonym"] for c in reopened.clients()] == ["C-2"]
    reopened.close()
