"""One per-phase HRV path: the table printed after a run (and by `tidewell sessions show`), the report's
page and terminal summary, and the JSON export show the same HR and RMSSD for every phase, with one
minimum-data rule (sessions/hrv.py), on a real session run in virtual time."""

import html
import json
import re

import numpy as np
import pytest

from tidewell.engine.session import RunOptions, run_session
from tidewell.sessions import hrv
from tidewell.sessions.export import export_json, load_session
from tidewell.sessions.metrics import mean_hr_bpm
from tidewell.sessions.program import baseline_phase_index, load_program, resolve_program
from tidewell.sessions.report import session_text, write_html_report
from tidewell.sessions.store import SessionStore
from tidewell.sessions.summary import format_table, summarize


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """full_body_60 in 3 minutes: the 2-minute turn-over becomes 6 s, about 7 beats: fewer than hrv's
    MIN_NN_BEATS, where the terminal's own rule (any beat) used to print an HR the report did not."""
    folder = tmp_path_factory.mktemp("tables")
    store = SessionStore(folder / "tidewell.db")
    plan = load_program(resolve_program("full_body_60")).scaled_to(3.0)
    options = RunOptions(client="C-9", virtual_time=True, headless=True, seed=3, say=lambda _: None)
    result = run_session(plan, options, store)
    yield {"store": store, "sid": result.session_id, "result": result, "folder": folder}
    store.close()


def shown(value: float | None) -> str:
    """A number as every table rounds it, or — for not enough data."""
    return "—" if value is None else f"{value:.1f}"


def page_rows(page: str) -> dict[int, tuple[str, str]]:
    """Phase number -> (mean HR, RMSSD) cells of the report page's per-phase table."""
    table = page.split("<h2>Per phase</h2>", 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S):
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        rows[int(cells[0])] = (cells[4], cells[6])
    return rows


def terminal_rows(text: str, hr_column: int, rmssd_column: int) -> dict[int, tuple[str, str]]:
    """Phase number -> (HR, RMSSD) of a terminal table, columns counted from the right (names have spaces)."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\s*(\d+)\s{2}", line)
        if match:
            columns = line.split()
            rows[int(match.group(1))] = (columns[hr_column], columns[rmssd_column])
    return rows


def test_every_per_phase_table_shows_the_same_hr_and_rmssd(logged, tmp_path):
    store, sid = logged["store"], logged["sid"]
    phases = hrv.analyze_phases(store, sid)
    expected = {p.index + 1: (shown(p.hrv.mean_hr_bpm), shown(p.hrv.rmssd_ms)) for p in phases}

    after_run = logged["result"].summaries  # the rows `tidewell run` prints when the session ends
    assert after_run == summarize(store, sid)  # and `tidewell sessions show`
    assert {s.index + 1: (shown(s.mean_hr_bpm), shown(s.rmssd_ms)) for s in after_run} == expected
    assert {s.index + 1: (s.hr_change_bpm, s.rmssd_change_ms) for s in after_run} == {
        p.index + 1: (p.hr_change_bpm, p.rmssd_change_ms) for p in phases
    }
    # the terminal table: "#  phase scene min beats HR ΔHR RMSSD ΔRMSSD"
    assert terminal_rows(format_table(after_run), -4, -2) == expected

    page = write_html_report(store, sid, tmp_path / "report.html", progress=False).read_text(encoding="utf-8")
    assert page_rows(page) == expected

    # `tidewell report N`: "#  phase beats HR SDNN RMSSD LF/HF coh ΔHR art%"
    summary = session_text(load_session(store, sid, progress=False))
    assert terminal_rows(summary, -7, -5) == expected

    exported = json.loads(
        export_json(load_session(store, sid, progress=False), tmp_path / "s.json", progress=False).read_text()
    )
    assert {
        p["index"] + 1: (shown(p["mean_hr_bpm"]), shown(p["rmssd_ms"])) for p in exported["metrics"]["phases"]
    } == expected


def test_a_phase_with_too_few_beats_is_not_enough_data_in_every_table(logged):
    """The case where the terminal and the report used to disagree: a phase of a handful of beats."""
    store, sid = logged["store"], logged["sid"]
    phases = hrv.analyze_phases(store, sid)
    (short,) = [p for p in phases if p.kind == "turn-over"]
    assert 0 < short.hrv.n_beats < hrv.MIN_NN_BEATS
    nn = [
        b.corrected_rr_ms
        for b in hrv.logged_beats(store.beats(sid))
        if short.start_s < b.t_s <= short.end_s and b.corrected_rr_ms is not None
    ]
    assert mean_hr_bpm(np.array(nn)) is not None  # the old terminal rule printed this phase's HR

    row = next(s for s in summarize(store, sid) if s.kind == "turn-over")
    assert (row.beats, row.mean_hr_bpm, row.rmssd_ms, row.hr_change_bpm) == (short.hrv.n_beats, None, None, None)
    line = next(line for line in format_table(summarize(store, sid)).splitlines() if "turn" in line)
    assert line.split()[-4:] == ["—"] * 4
    assert all(p.hrv.mean_hr_bpm is not None for p in phases if p.kind != "turn-over")


def test_one_baseline_phase_for_the_runner_and_the_tables(logged):
    store, sid = logged["store"], logged["sid"]
    plan = load_program(resolve_program("full_body_60"))
    session = hrv.analyze_session(store, sid)
    assert session.baseline_index == plan.baseline_phase_index == 0
    assert next(s for s in summarize(store, sid) if s.index == session.baseline_index).hr_change_bpm == 0.0
    assert baseline_phase_index(["warm-up", "settle", "settle"]) == 1
    assert baseline_phase_index(["warm-up", "release"]) == 0
    assert baseline_phase_index([]) is None
