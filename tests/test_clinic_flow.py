"""A client's path through the clinic: ratings, a resonance assessment used later, and a killed session."""

import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tidewell.engine.session import RunOptions, run_session
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.store import SessionStore
from tidewell.sessions.store_checks import StoreError


def test_resonance_assessment_finds_the_clients_pace_and_later_sessions_use_it(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    lines = []
    options = RunOptions(client="C-5", virtual_time=True, headless=True, say=lines.append)
    heart = SimulatedHeart(seed=3, start_hr=72, relaxed_hr=68, resonance_bpm=5.0)
    result = run_session(load_program(resolve_program("resonance_assessment")), options, store, source=heart)
    assert result.status == "completed"
    text = "\n".join(lines)
    assert "resonance assessment" in text and "5.0 breaths/min stored" in text
    client = store.client("C-5")
    assert client["resonance_bpm"] == 5.0 and client["resonance_session_id"] == result.session_id

    lines.clear()
    later = run_session(load_program(resolve_program("full_body_60")).scaled_to(12), options, store)
    assert "resonance pace 5.0" in "\n".join(lines)
    deep = [s for s in store.samples(later.session_id) if s["phase_idx"] == 2]
    assert deep[-1]["target_pace_bpm"] == pytest.approx(5.0)
    other = run_session(
        load_program(resolve_program("full_body_60")).scaled_to(10),
        RunOptions(client="C-6", virtual_time=True, headless=True, say=lambda _: None),
        store,
    )
    deep_other = [s for s in store.samples(other.session_id) if s["phase_idx"] == 2]
    assert deep_other[-1]["target_pace_bpm"] == pytest.approx(6.0)  # no assessment: the default


class _LogThatTurnsReadOnly(SessionStore):
    """The log stops taking writes (SQLite's query_only) as the assessment's result is stored."""

    def set_resonance(self, *args):
        self.conn.execute("PRAGMA query_only = ON")
        return super().set_resonance(*args)


def test_a_log_that_cannot_take_the_resonance_loses_only_it(tmp_path):
    store = _LogThatTurnsReadOnly(tmp_path / "tidewell.db")
    lines = []
    options = RunOptions(client="C-5", virtual_time=True, headless=True, say=lines.append)
    heart = SimulatedHeart(seed=3, start_hr=72, relaxed_hr=68, resonance_bpm=5.0)
    result = run_session(load_program(resolve_program("resonance_assessment")), options, store, source=heart)
    assert result.status == "completed" and result.summaries
    said = [line for line in lines if line.startswith("resonance not stored: ")]
    assert len(said) == 1 and "\n" not in said[0] and "the session log cannot be written" in said[0], lines
    store.conn.execute("PRAGMA query_only = OFF")
    assert store.client("C-5")["resonance_bpm"] is None
    assert store.session(result.session_id)["status"] == "completed"
    assert store.beats(result.session_id), "what the session logged is kept"


def test_an_event_the_log_refuses_is_a_one_line_store_error(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    store.conn.execute("PRAGMA query_only = ON")
    with pytest.raises(StoreError, match="the session log cannot be written"):
        store.add_event(1, 0.0, "marker", "x")


def test_ratings_before_and_after_from_the_cli(tidewell_cmd, cli_env):
    run = subprocess.run(
        [
            *tidewell_cmd,
            "run",
            "--minutes",
            "0.5",
            "--client",
            "C-9",
            "--pain",
            "6",
            "--stress",
            "7",
            "--note",
            "lower back after lifting",
        ],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    rate = subprocess.run(
        [*tidewell_cmd, "rate", "1", "after", "--pain", "3", "--stress", "2", "--note", "lighter"],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert rate.returncode == 0 and "pain 3" in rate.stdout
    bad = subprocess.run(
        [*tidewell_cmd, "rate", "1", "after", "--pain", "11"], env=cli_env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "0 to 10" in bad.stderr and "Traceback" not in bad.stderr
    missing = subprocess.run(
        [*tidewell_cmd, "rate", "99", "after", "--pain", "1"], env=cli_env, capture_output=True, text=True
    )
    assert missing.returncode == 2 and "no session 99" in missing.stderr
    store = SessionStore(Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db")
    reports = store.self_reports(1)
    assert (reports["before"]["pain"], reports["before"]["stress"]) == (6, 7)
    assert reports["before"]["note"] == "lower back after lifting"
    assert (reports["after"]["pain"], reports["after"]["stress"], reports["after"]["note"]) == (3, 2, "lighter")


def test_kill_9_mid_session_keeps_what_was_committed_and_leaves_an_interrupted_session(
    tidewell_cmd, cli_env, wait_for_logged
):
    """The log is committed as the session goes (seen from another connection while it runs), so a
    kill loses only what was not yet committed: at most COMMIT_INTERVAL_S of a running writer, a
    design figure, not one this test times."""
    proc = subprocess.Popen(
        [*tidewell_cmd, "run", "--real-time", "--headless", "--client", "C-3"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db"
    first = wait_for_logged(db, samples=8)
    seen = wait_for_logged(db, samples=first["samples"] + 32)  # committed again, 8 s of session later
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(db) as raw:  # as the kill left it
        status, samples = raw.execute("SELECT status, (SELECT COUNT(*) FROM samples) FROM sessions").fetchone()
    assert status == "running"
    assert samples >= seen["samples"] > first["samples"], "every committed sample survives the kill"
    listed = subprocess.run([*tidewell_cmd, "sessions", "list"], env=cli_env, capture_output=True, text=True)
    assert "interrupted" in listed.stdout  # the next start marks it
    shown = subprocess.run([*tidewell_cmd, "sessions", "show", "1"], env=cli_env, capture_output=True, text=True)
    assert shown.returncode == 0 and "settle" in shown.stdout


def test_report_and_hrv_commands(tidewell_cmd, cli_env, tmp_path):
    import json

    assert (
        subprocess.run(
            [*tidewell_cmd, "run", "--minutes", "3", "--client", "C-4"], env=cli_env, capture_output=True
        ).returncode
        == 0
    )
    page = tmp_path / "report.html"
    report = subprocess.run(
        [*tidewell_cmd, "report", "1", "--html", str(page), "--csv", str(tmp_path / "s.csv")],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert report.returncode == 0, report.stderr
    assert "C-4" in page.read_text() and (tmp_path / "s_beats.csv").exists()
    anonymous = subprocess.run(
        [*tidewell_cmd, "report", "1", "--json", str(tmp_path / "a.json"), "--anonymize"],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert anonymous.returncode == 0 and "C-4" not in (tmp_path / "a.json").read_text()
    trends = subprocess.run([*tidewell_cmd, "report", "--client", "C-4"], env=cli_env, capture_output=True, text=True)
    assert trends.returncode == 0 and "Taster" in trends.stdout

    rr = tmp_path / "rr.csv"
    subprocess.run(
        [*tidewell_cmd, "report", "1", "--csv", str(tmp_path / "x.csv")], env=cli_env, check=True, capture_output=True
    )
    rows = (tmp_path / "x_beats.csv").read_text().splitlines()[1:]
    rr.write_text("t_s,rr_ms\n" + "\n".join(",".join(r.split(",")[:2]) for r in rows) + "\n")
    hrv = subprocess.run([*tidewell_cmd, "hrv", str(rr), "--json"], env=cli_env, capture_output=True, text=True)
    assert hrv.returncode == 0, hrv.stderr
    result = json.loads(hrv.stdout)
    assert set(result) == {
        "n_beats",
        "mean_hr_bpm",
        "sdnn_ms",
        "rmssd_ms",
        "pnn50_pct",
        "lf_ms2",
        "hf_ms2",
        "lf_hf",
        "coherence",
        "artifact_pct",
    }
    assert 60 < result["mean_hr_bpm"] < 90 and result["lf_ms2"] > 0
