"""Each session's metrics computed once and kept in the log (sessions/session_metrics.py, table
session_metrics): stored when a real session ends, read back with every bit of every number, computed
again when the analysis changes, found for a log written before the table, and never written into a
read-only log or for a session still running."""

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tidewell.engine.session import RunOptions, run_session
from tidewell.sessions import hrv
from tidewell.sessions import session_metrics as cache
from tidewell.sessions.course_report import course_report
from tidewell.sessions.export import analyze as report_metrics
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.report.trends import client_overview
from tidewell.sessions.session_metrics import METRICS_VERSION, compute, session_metrics
from tidewell.sessions.store import MIGRATIONS, SessionStore
from tidewell.sessions.summary import summarize

V4_LOG = Path(__file__).parent / "data" / "log_v4_before_course.db"  # written by main at 5a64eea
CLIENT = "C-41"


@pytest.fixture(scope="module")
def ended(tmp_path_factory):
    """A log holding one real session (full_body_60 in 4 minutes, virtual time, simulated heart), closed."""
    folder = tmp_path_factory.mktemp("metrics")
    store = SessionStore(folder / "tidewell.db")
    program = load_program(resolve_program("full_body_60")).scaled_to(4.0)
    options = RunOptions(client=CLIENT, virtual_time=True, headless=True, seed=5, say=lambda _: None)
    result = run_session(program, options, store)
    store.close()
    return {"db": folder / "tidewell.db", "sid": result.session_id, "result": result}


def copy_of(path: Path, tmp_path: Path) -> Path:
    db = tmp_path / "data" / "tidewell.db"
    db.parent.mkdir()
    shutil.copy(path, db)
    return db


def counting(monkeypatch) -> list[int]:
    """The session ids analysed from now on."""
    analysed, analyze = [], hrv.analyze_session

    def count(store, session_id):
        analysed.append(session_id)
        return analyze(store, session_id)

    monkeypatch.setattr(hrv, "analyze_session", count)
    return analysed


def test_the_end_of_a_session_stores_its_metrics_and_the_stored_numbers_are_the_computed_ones(
    ended, tmp_path, monkeypatch
):
    store = SessionStore(copy_of(ended["db"], tmp_path))
    sid = ended["sid"]
    row = store.stored_metrics(sid)
    assert row is not None, "run_session stores the metrics when the session ends"
    assert row["version"] == METRICS_VERSION and row["computed_at"] and store.session(sid)["status"] == "completed"
    stored = json.loads(row["metrics"])
    fresh = hrv.analyze_session(store, sid)
    assert row["method"] == fresh.whole.method == stored["hrv"]["whole"]["method"]
    assert [p["name"] for p in stored["hrv"]["phases"]] == [p["name"] for p in store.phases(sid)]

    monkeypatch.setattr(hrv, "analyze_session", lambda *_: pytest.fail("read from the log, not analysed again"))
    cached = session_metrics(store, sid)
    monkeypatch.undo()
    assert cached.computed_at == row["computed_at"] and cached.version == METRICS_VERSION
    assert cached.hrv == fresh  # every field of the whole session and of every phase, bit for bit
    assert cached.hrv.whole.rmssd_ms is not None and cached.hrv.baseline_index is not None
    recomputed = compute(store, sid)
    assert cached.calm_after_baseline == recomputed.calm_after_baseline is not None
    # the table printed when the run ended, computed then, is the one read back now
    assert ended["result"].summaries == summarize(store, sid)
    store.close()


def test_the_readers_say_the_same_numbers_from_the_stored_rows(ended, tmp_path, monkeypatch):
    db = copy_of(ended["db"], tmp_path)
    store = SessionStore(db)
    warm = (client_overview(store, CLIENT, progress=False), report_metrics(store, ended["sid"]))
    warm_report = course_report(store, CLIENT)
    analysed = counting(monkeypatch)
    monkeypatch.setattr(cache, "METRICS_VERSION", "0+stale")  # every stored row is now stale
    cold = (client_overview(store, CLIENT, progress=False), report_metrics(store, ended["sid"]))
    cold_report = course_report(store, CLIENT)
    assert analysed == [ended["sid"]], "computed once, then read from the row stored with the new version"
    assert warm == cold
    assert warm_report.details == cold_report.details
    store.close()


def test_a_version_change_computes_them_again_once(ended, tmp_path, monkeypatch):
    store = SessionStore(copy_of(ended["db"], tmp_path))
    sid = ended["sid"]
    before = store.stored_metrics(sid)
    analysed = counting(monkeypatch)
    assert session_metrics(store, sid).version == METRICS_VERSION and analysed == []
    monkeypatch.setattr(cache, "METRICS_VERSION", "2+0123456789ab")
    again = session_metrics(store, sid)
    assert analysed == [sid] and again.version == "2+0123456789ab"
    row = store.stored_metrics(sid)
    assert row["version"] == "2+0123456789ab" and json.loads(row["metrics"]) == json.loads(before["metrics"])
    assert session_metrics(store, sid) == again and analysed == [sid]  # stored: not computed a third time
    store.close()


def test_a_log_changed_after_its_metrics_were_stored_is_never_answered_from_the_older_row(ended, tmp_path):
    """As a killed session's log is cut in tests/test_report.py, or a phase renamed in tests/test_inputs.py."""
    store = SessionStore(copy_of(ended["db"], tmp_path))
    sid = ended["sid"]
    whole = session_metrics(store, sid)
    with store.conn:
        store.conn.execute("DELETE FROM beats WHERE session_id = ? AND t_s > 100", (sid,))
    cut = session_metrics(store, sid)
    assert cut.hrv == hrv.analyze_session(store, sid) and cut.hrv.whole.n_beats < whole.hrv.whole.n_beats
    assert json.loads(store.stored_metrics(sid)["metrics"])["inputs"]["beats"] == len(store.beats(sid))
    with store.conn:
        store.conn.execute("UPDATE phases SET name = 'renamed' WHERE session_id = ? AND idx = 0", (sid,))
    assert session_metrics(store, sid).hrv.phases[0].name == "renamed" == summarize(store, sid)[0].name
    store.close()


def test_the_version_follows_the_source_of_the_analysis(tmp_path, monkeypatch):
    assert METRICS_VERSION == f"{cache.METRICS_FORMAT}+{cache.analysis_digest()}"
    assert {"tidewell.sessions.hrv", "tidewell.sensors.correction"} <= set(cache.ANALYSIS_MODULES)
    module = tmp_path / "made_up_analysis.py"
    module.write_text("def rmssd(nn):\n    return 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cache, "ANALYSIS_MODULES", ("made_up_analysis", "no_such_module_here"))
    first = cache.analysis_digest()
    assert first == cache.analysis_digest()
    module.write_text("def rmssd(nn):\n    return 2.0\n")
    assert cache.analysis_digest() != first


def test_a_log_written_before_the_table_gets_each_sessions_metrics_on_its_first_read(tmp_path, monkeypatch):
    db = copy_of(V4_LOG, tmp_path)
    store = SessionStore(db)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    ids = [row["id"] for row in store.sessions_of_client("K-0417")]
    assert ids and all(store.stored_metrics(i) is None for i in ids)
    expected = {i: hrv.analyze_session(store, i) for i in ids}
    analysed = counting(monkeypatch)
    cold = client_overview(store, "K-0417", progress=False)
    assert analysed == ids
    assert all(store.stored_metrics(i)["version"] == METRICS_VERSION for i in ids)
    assert [session_metrics(store, i).hrv for i in ids] == [expected[i] for i in ids]
    assert client_overview(store, "K-0417", progress=False) == cold and analysed == ids
    assert store.stored_metrics(3) is None, "another client's session is not read, so not computed"
    store.close()


def test_a_read_only_log_is_answered_and_never_written(tmp_path):
    db = copy_of(V4_LOG, tmp_path)
    SessionStore(db).close()  # upgraded (that writes), then left alone
    db.chmod(0o400)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    store = SessionStore(db, access="read")
    assert store.read_only
    first = session_metrics(store, 2)
    assert first.computed_at is None and first.hrv == hrv.analyze_session(store, 2)
    assert client_overview(store, "K-0417", progress=False).sessions[1].rmssd_ms == first.hrv.whole.rmssd_ms
    assert store.stored_metrics(2) is None
    store.close()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in db.parent.iterdir()) == ["tidewell.db"]


def test_a_session_still_running_is_computed_and_not_stored(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    sid = store.begin(
        program_id="taster",
        program_title="T",
        program_minutes=3,
        client=CLIENT,
        sensor="sim",
        virtual_time=True,
        seed=0,
    )
    assert store.session(sid)["status"] == "running"  # this process is alive: it stays running
    assert session_metrics(store, sid).computed_at is None
    assert store.stored_metrics(sid) is None
    with pytest.raises(ValueError, match="no session 99"):
        session_metrics(store, 99)
    store.close()


def test_the_table_holds_one_row_per_session_tied_to_it(tmp_path):
    db = copy_of(V4_LOG, tmp_path)
    store = SessionStore(db)
    session_metrics(store, 1)
    store.close()
    with sqlite3.connect(db) as raw:
        columns = [r[1] for r in raw.execute("PRAGMA table_info(session_metrics)")]
        keys = raw.execute("PRAGMA foreign_key_list(session_metrics)").fetchall()
        rows = raw.execute("SELECT session_id, version FROM session_metrics").fetchall()
    raw.close()
    assert columns == ["session_id", "version", "computed_at", "method", "metrics"]
    assert [(k[2], k[3], k[4]) for k in keys] == [("sessions", "session_id", "id")]
    assert rows == [(1, METRICS_VERSION)]
