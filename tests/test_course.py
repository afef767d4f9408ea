"""The treatment course in the session log: the migration from a log written by the main before it,
intake, plan, re-assessments and cybersickness (values checked at the door), SSQ scoring, the
findings, and the `tidewell clients ...` and `tidewell rate ... --fms` commands."""

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tidewell.engine.session import RunOptions, run_session
from tidewell.sessions.course import SsqScores, course, cybersickness_findings, ssq_scores
from tidewell.sessions.precaution_list import PrecautionError
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.report import html_report
from tidewell.sessions.store import MIGRATIONS, SessionStore
from tidewell.sessions.store_course import CourseInputError

V4_LOG = Path(__file__).parent / "data" / "log_v4_before_course.db"  # written by main at 5a64eea


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("sessions", "beats", "samples", "events", "self_reports", "clients")
        }


def test_a_log_written_before_the_course_is_upgraded_and_keeps_every_row(tmp_path):
    db = tmp_path / "tidewell.db"
    shutil.copy(V4_LOG, db)
    before = counts(db)
    store = SessionStore(db, verify=True)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert counts(db) == before
    old = course(store, "K-0417")
    assert [s.session.program_title for s in old.sessions] == ["Taster (3 min)", "Back and neck (30 min)"]
    assert old.series("pain") == [(1, 6), (2, 5)]
    assert all(s.fms is None and s.target is None and s.hrv_note is None for s in old.sessions)
    assert old.intake is None and old.plan is None and old.flags == []
    store.set_intake("K-0417", ["fear_of_heights"], ["walk without pain"], "Dr. Ito")
    store.set_plan("K-0417", sessions_planned=10, per_week=2, programs=["back_neck_30"], reassess_every=2)
    store.close()
    again = SessionStore(db)  # across a restart
    restarted = course(again, "K-0417")
    assert restarted.intake.precautions == ("fear_of_heights",) and restarted.intake.referrer == "Dr. Ito"
    assert (restarted.plan.sessions_planned, restarted.sessions_done, restarted.next_program) == (10, 2, "back_neck_30")
    assert restarted.reassessment_due == 2
    again.set_reassessment("K-0417", 2, pain=4, goal_progress=3)
    assert course(again, "K-0417").reassessment_due is None


def test_course_values_are_checked_with_the_field_named(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    with pytest.raises(PrecautionError, match="unknown precaution 'vertigo'"):
        store.set_intake("C-1", ["vertigo"])
    with pytest.raises(CourseInputError, match="goal: text without control characters"):
        store.set_intake("C-1", [], ["sleep\x1b[2J"])
    for kwargs, field in (
        ({"sessions_planned": 0, "per_week": 1, "programs": ["taster"]}, "sessions"),
        ({"sessions_planned": 5, "per_week": 0, "programs": ["taster"]}, "per_week"),
        ({"sessions_planned": 5, "per_week": 1, "programs": []}, "program"),
        ({"sessions_planned": 5, "per_week": 1, "programs": ["taster"], "measures": ["mood"]}, "measure"),
        ({"sessions_planned": 5.5, "per_week": 1, "programs": ["taster"]}, "sessions"),
    ):
        with pytest.raises(CourseInputError, match=f"^{field}:"):
            store.set_plan("C-1", **kwargs)
    session_id = store.begin(
        program_id="taster", program_title="T", program_minutes=3, client="C-1", sensor="sim", virtual_time=True, seed=0
    )
    with pytest.raises(CourseInputError, match="fms: expected a whole number from 0 to 20, got 21"):
        store.set_cybersickness(session_id, 21)
    with pytest.raises(CourseInputError, match="ssq: expected 16 item ratings"):
        store.set_cybersickness(session_id, 2, [0] * 15)
    with pytest.raises(CourseInputError, match="ssq"):
        store.set_cybersickness(session_id, 2, [0] * 15 + [4])
    assert store.cybersickness(session_id) is None  # nothing half-written


def test_ssq_scores_use_kennedys_items_and_weights():
    ones = ssq_scores([1] * 16)
    assert ones == SsqScores(
        pytest.approx(7 * 9.54), pytest.approx(7 * 7.58), pytest.approx(7 * 13.92), pytest.approx(21 * 3.74)
    )
    nausea_only = ssq_scores([0] * 7 + [3] + [0] * 8)  # item 8, nausea: N and D
    assert (nausea_only.nausea, nausea_only.oculomotor) == (pytest.approx(3 * 9.54), 0)
    assert nausea_only.disorientation == pytest.approx(3 * 13.92)
    assert nausea_only.total == pytest.approx(6 * 3.74)
    with pytest.raises(ValueError):
        ssq_scores([0] * 15)


class Rated:
    def __init__(self, number, fms, ssq=None):
        self.number, self.fms, self.ssq = number, fms, ssq


def test_rising_cybersickness_is_flagged_and_a_high_score_suggests_eyes_closed():
    flags, suggest = cybersickness_findings([Rated(1, 1), Rated(2, 2), Rated(3, 4)])
    assert any("rising" in f for f in flags) and not suggest
    flags, suggest = cybersickness_findings([Rated(1, 2), Rated(2, 1), Rated(3, 2)])
    assert flags == [] and not suggest
    flags, suggest = cybersickness_findings([Rated(1, 6)])
    assert suggest and "eyes-closed" in flags[0]
    flags, suggest = cybersickness_findings([Rated(1, 2, ssq_scores([2] * 16))])
    assert suggest  # SSQ total 119.7 above 20, though the FMS is low


def test_a_headset_session_is_marked_and_hrv_is_not_interpretable_under_beta_blockers(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    store.set_intake("C-2", ["beta_blockers"])
    options = RunOptions(client="C-2", virtual_time=True, headless=True, say=lambda _: None)
    result = run_session(load_program(resolve_program("taster")).scaled_to(1.5), options, store)
    assert store.session(result.session_id)["target"] == "screen"
    summary = course(store, "C-2")
    assert summary.sessions[0].hrv_note.startswith("beta blockers")
    assert summary.series("resting_hr") == [] and summary.series("rmssd_change") == []
    page = html_report(store, result.session_id)
    assert "Heart-rate variability not interpretable</b> for this client: beta blockers" in page
    assert "beta_blockers: heart-rate adaptation off" in page  # listed with the session's events
    anonymized = html_report(store, result.session_id, anonymize=True)  # the fixed list's words identify nobody
    assert "not interpretable</b> for this client: beta blockers" in anonymized
    assert "C-2" not in anonymized


def tidewell(cmd, env, *args):
    return subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_course_on_the_command_line(tidewell_cmd, cli_env):
    ok = tidewell(
        tidewell_cmd, cli_env, "clients", "intake", "K-9", "--precaution", "respiratory", "--goal", "less pain"
    )
    assert ok.returncode == 0 and "breathing never slower than 6/min" in ok.stdout
    bad = tidewell(tidewell_cmd, cli_env, "clients", "intake", "K-9", "--precaution", "asthma")
    assert bad.returncode == 2 and "invalid choice: 'asthma'" in bad.stderr
    refused = tidewell(
        tidewell_cmd, cli_env, "clients", "plan", "K-9", "--sessions", "6", "--program", "resonance_assessment"
    )
    assert (
        refused.returncode == 2 and "not safe for this client" in refused.stderr and "Traceback" not in refused.stderr
    )
    planned = tidewell(tidewell_cmd, cli_env, "clients", "plan", "K-9", "--sessions", "6", "--program", "taster")
    assert planned.returncode == 0, planned.stderr
    run = tidewell(
        tidewell_cmd, cli_env, "run", "taster", "--client", "K-9", "--minutes", "0.5", "--virtual-time", "--pain", "6"
    )
    assert run.returncode == 0 and "precaution applied: respiratory" in run.stdout
    assert tidewell(tidewell_cmd, cli_env, "rate", "1", "after", "--fms", "21").returncode == 2
    assert "rate ID after" in tidewell(tidewell_cmd, cli_env, "rate", "1", "before", "--fms", "3").stderr
    ssq = ",".join(["1"] * 16)
    rated = tidewell(tidewell_cmd, cli_env, "rate", "1", "after", "--fms", "8", "--ssq", ssq)
    assert rated.returncode == 0 and "FMS 8 with the SSQ" in rated.stdout
    shown = tidewell(tidewell_cmd, cli_env, "clients", "show", "K-9")
    assert shown.returncode == 0
    assert "plan: 1 of 6 sessions done" in shown.stdout
    assert "pain before (NRS 0-10): #1 6" in shown.stdout
    assert "eyes-closed scene" in shown.stdout
    unknown = tidewell(tidewell_cmd, cli_env, "clients", "show", "nobody")
    assert unknown.returncode == 2 and "no client 'nobody'" in unknown.stderr
