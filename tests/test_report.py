"""Session and client reports, CSV/JSON export and anonymization, on real sessions run in virtual time."""

import base64
import csv
import html
import io
import json
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tidewell.engine.session import RunOptions, run_session
from tidewell.sessions.export import beats_csv_path, load_session
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.report import (
    client_overview,
    client_text,
    clock,
    report_command,
    write_client_report,
    write_html_report,
)
from tidewell.sessions.store import SessionStore

CLIENT = "C-017"
MARKER = "left trapezius tender, client flinched"
ALERT = f"HR 84 bpm, +9 over baseline 75 in 'deep work: back and legs'; last marker: {MARKER}"
NOTE_BEFORE = "Lower back stiff after gardening"
NOTE_AFTER = "Feels looser, light-headed on sitting up"


def run(store, program="full_body_60", minutes=8.0, client=CLIENT, sensor="sim", seed=0):
    plan = load_program(resolve_program(program)).scaled_to(minutes)
    options = RunOptions(client=client, sensor=sensor, virtual_time=True, headless=True, seed=seed, say=lambda _: None)
    return run_session(plan, options, store).session_id, plan


def add_event(store, sid, t_s, kind, detail, phase_idx):
    with store.conn:
        store.conn.execute("INSERT INTO events VALUES (?,?,?,?,?)", (sid, t_s, kind, detail, phase_idx))


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """One database: a session with self-reports, markers and an alert, a second session of the same
    client, an interrupted one and one whose sensor gave only five beats."""
    folder = tmp_path_factory.mktemp("reports")
    store = SessionStore(folder / "tidewell.db")
    main, plan = run(store)
    store.set_self_report(main, "before", 6, 7, NOTE_BEFORE)
    store.set_self_report(main, "after", 3, 2, NOTE_AFTER)
    add_event(store, main, 150.0, "marker", MARKER, 2)
    add_event(store, main, 170.0, "alert", ALERT, 2)
    second, _ = run(store, seed=1)
    store.set_self_report(second, "before", 5, 6, "")
    store.set_self_report(second, "after", 4, 3, "")
    interrupted, _ = run(store, program="taster", minutes=3.0, client="C-044")
    cut_s = 100.0  # as a kill -9 at 100 s leaves it: nothing after, the running phase never ended
    with store.conn:
        for table in ("beats", "samples", "events", "packets"):
            store.conn.execute(f"DELETE FROM {table} WHERE session_id = ? AND t_s > ?", (interrupted, cut_s))
        store.conn.execute("DELETE FROM phases WHERE session_id = ? AND started_s > ?", (interrupted, cut_s))
        store.conn.execute(
            "UPDATE phases SET ended_s = NULL WHERE session_id = ? AND ended_s > ?", (interrupted, cut_s)
        )
        store.conn.execute("UPDATE sessions SET status = 'interrupted' WHERE id = ?", (interrupted,))
    rr_file = folder / "five_beats.csv"
    rr_file.write_text("t_s,rr_ms\n" + "".join(f"{0.8 * (i + 1):.1f},800\n" for i in range(5)))
    sparse, _ = run(store, program="taster", minutes=1.0, client="C-099", sensor=f"replay:{rr_file}")
    yield {
        "store": store,
        "folder": folder,
        "main": main,
        "plan": plan,
        "second": second,
        "interrupted": interrupted,
        "sparse": sparse,
    }
    store.close()


def png_images(page: str) -> list[Image.Image]:
    return [
        Image.open(io.BytesIO(base64.b64decode(data)))
        for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    ]


def not_blank(image: Image.Image) -> bool:
    pixels = np.asarray(image.convert("L"), dtype=float)
    return pixels.std() > 10 and (pixels < 100).mean() > 0.002  # real dark ink on the page, not one colour


def test_session_page_has_phase_table_method_self_report_markers_and_plots(logged, tmp_path):
    store, sid = logged["store"], logged["main"]
    path = write_html_report(store, sid, tmp_path / "report.html", progress=False)
    page = path.read_text(encoding="utf-8")

    table = page[page.index("<h2>Per phase</h2>") : page.index("<h2>Self-report")]
    for phase in logged["plan"].phases:
        assert f'<td class="l">{phase.name}</td>' in table
    record = load_session(store, sid)
    assert "Welch" in record.metrics["method"] and "Hann 64 s" in record.metrics["method"]
    assert record.metrics["method"] in html.unescape(page)
    deep = next(p for p in record.metrics["phases"] if p["kind"] == "deep-work")
    assert deep["lf_ms2"] is not None and f"{deep['lf_ms2']:.0f}" in table
    assert f"{deep['mean_hr_bpm']:.1f}" in table

    reports = page[page.index("<h2>Self-report") : page.index("<h2>Markers")]
    assert re.search(r"Pain \(NRS\)</td><td>6</td><td>3</td><td>−3</td>", reports)
    assert re.search(r"Stress</td><td>7</td><td>2</td><td>−5</td>", reports)
    assert NOTE_BEFORE in reports and NOTE_AFTER in reports
    assert MARKER in page and "M1" in page and "A1" in page
    assert CLIENT in page
    assert "<link" not in page and 'src="http' not in page  # self-contained: nothing fetched

    (plot,) = png_images(page)
    assert plot.width >= 1200 and plot.height >= 1000 and not_blank(plot)


def test_anonymized_page_keeps_markers_but_drops_pseudonym_texts_and_dates(logged, tmp_path):
    store, sid = logged["store"], logged["main"]
    page = write_html_report(store, sid, tmp_path / "anon.html", anonymize=True, progress=False).read_text()
    started = store.session(sid)["started_at"]
    for secret in (CLIENT, MARKER, NOTE_BEFORE, NOTE_AFTER, "last marker", started[:10]):
        assert secret not in page, secret
    code = re.search(r"client-[0-9a-f]{6}", page).group(0)
    again = write_html_report(store, sid, tmp_path / "again.html", anonymize=True, progress=False).read_text()
    assert code in again  # stable for this database
    assert "M1" in page and "A1" in page and "text removed (anonymized)" in page
    assert "Pain (NRS)</td><td>6</td><td>3</td>" in page  # scores stay
    assert "Anonymized report" in page and "self-report notes" in page
    assert len(png_images(page)) == 1


def test_json_export_round_trips_with_every_beat_and_sample(logged, tmp_path):
    store, sid = logged["store"], logged["main"]
    out = tmp_path / "session.json"
    assert report_command(store, sid, None, None, None, str(out), False, progress=False) == 0
    data = json.loads(out.read_text())

    def count(table):
        return store.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE session_id = ?", (sid,)).fetchone()[0]

    assert len(data["beats"]) == count("beats") > 400
    assert len(data["samples"]) == count("samples") > 1000
    assert len(data["events"]) == count("events")
    assert [p["name"] for p in data["phases"]] == [p.name for p in logged["plan"].phases]
    assert [p["name"] for p in data["metrics"]["phases"]] == [p.name for p in logged["plan"].phases]
    assert set(data["metrics"]["session"]) == {
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
    assert data["self_reports"]["before"]["pain"] == 6 and data["self_reports"]["after"]["note"] == NOTE_AFTER
    db_beats = store.beats(sid)
    assert [b["rr_ms"] for b in data["beats"]] == [b["rr_ms"] for b in db_beats]
    assert [b["corrected_rr_ms"] for b in data["beats"]] == [b["corrected_rr_ms"] for b in db_beats]
    assert data["session"]["client"] == CLIENT and data["anonymized"] is False


def test_anonymized_json_has_no_pseudonym_dates_or_free_text(logged, tmp_path):
    store, sid = logged["store"], logged["main"]
    out = tmp_path / "anon.json"
    assert report_command(store, sid, None, None, None, str(out), True, progress=False) == 0
    text = out.read_text()
    for secret in (CLIENT, MARKER, NOTE_BEFORE, store.session(sid)["started_at"][:10], str(logged["folder"])):
        assert secret not in text, secret
    data = json.loads(text)
    assert data["anonymized"] is True and data["removed"]
    assert data["session"]["started_at"] is None and data["session"]["client"].startswith("client-")
    kinds = [e["kind"] for e in data["events"]]
    assert "marker" in kinds and "alert" in kinds
    assert all(e["detail"] == "" for e in data["events"] if e["kind"] in ("marker", "alert"))
    assert data["self_reports"]["after"]["pain"] == 3 and data["self_reports"]["after"]["note"] == ""


def test_csv_export_has_a_header_and_one_row_per_sample_and_per_beat(logged, tmp_path, capsys):
    store, sid = logged["store"], logged["main"]
    out = tmp_path / "session.csv"
    assert report_command(store, sid, None, None, str(out), None, False, progress=False) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and str(beats_csv_path(out)) in printed
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    samples = store.samples(sid)
    assert len(rows) == len(samples)
    assert list(rows[0])[:3] == ["t_s", "phase_idx", "phase"] and "hr_bpm" in rows[0] and "calm" in rows[0]
    assert float(rows[-1]["t_s"]) == pytest.approx(samples[-1]["t_s"])
    assert {r["phase"] for r in rows} == {p.name for p in logged["plan"].phases}
    with beats_csv_path(out).open(newline="") as f:
        beats = list(csv.DictReader(f))
    assert beats_csv_path(out).name == "session_beats.csv"
    assert len(beats) == len(store.beats(sid)) and list(beats[0]) == [
        "t_s",
        "rr_ms",
        "quality",
        "corrected_rr_ms",
        "inserted",
    ]


def test_interrupted_session_still_reports_and_says_so(logged, tmp_path, capsys):
    store, sid = logged["store"], logged["interrupted"]
    html = tmp_path / "interrupted.html"
    assert report_command(store, sid, None, str(html), None, None, False, progress=False) == 0
    page = html.read_text()
    assert "Interrupted: the session stopped unexpectedly" in page and "settle" in page
    record = load_session(store, sid)
    last = record.metrics["phases"][-1]
    assert record.phases[-1]["ended_s"] is None and last["end_s"] <= 100.0 and last["n_beats"] > 0
    assert f"up to {clock(record.duration_s)}" in page
    assert len(png_images(page)) == 1
    assert report_command(store, sid, None, None, None, None, False, progress=False) == 0
    assert "interrupted" in capsys.readouterr().out.lower()


def test_session_with_five_beats_says_not_enough_data(logged, tmp_path):
    store, sid = logged["store"], logged["sparse"]
    page = write_html_report(store, sid, tmp_path / "sparse.html", progress=False).read_text()
    assert "— = not enough data" in page and "Not enough data for heart-rate variability: 5 beats" in page
    record = load_session(store, sid)
    assert record.metrics["session"]["mean_hr_bpm"] is None and record.metrics["session"]["lf_ms2"] is None
    assert "Heart data replayed" in page
    assert len(png_images(page)) == 1


def test_unknown_session_or_client_returns_2_with_a_message(logged, capsys):
    store = logged["store"]
    assert report_command(store, 999, None, None, None, None, False) == 2
    err = capsys.readouterr().err
    assert "no session 999" in err and "Traceback" not in err
    assert report_command(store, None, "nobody", None, None, None, False) == 2
    err = capsys.readouterr().err
    assert "no client 'nobody'" in err and CLIENT in err
    assert report_command(store, None, None, None, None, None, False) == 2
    assert report_command(store, None, CLIENT, None, "x.csv", None, False) == 2
    assert "--csv and --json" in capsys.readouterr().err


def test_unwritable_output_returns_1_with_a_message(logged, tmp_path, capsys):
    missing = tmp_path / "no such folder" / "r.html"
    assert report_command(logged["store"], logged["main"], None, str(missing), None, None, False, progress=False) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "Traceback" not in err


def test_client_report_shows_trends_across_sessions(logged, tmp_path, capsys):
    store = logged["store"]
    assert report_command(store, None, CLIENT, str(tmp_path / "client.html"), None, None, False, progress=False) == 0
    printed = capsys.readouterr().out
    assert f"client {CLIENT}: 2 sessions" in printed and "6 → 3" in printed and "5 → 4" in printed
    page = (tmp_path / "client.html").read_text()
    for sid in (logged["main"], logged["second"]):
        assert f"<tr><td>{sid}</td>" in page
    assert "6 → 3" in page and "7 → 2" in page
    (plot,) = png_images(page)
    assert not_blank(plot)
    overview = client_overview(store, CLIENT)
    assert all(s.mean_hr_bpm and s.hr_change_bpm is not None for s in overview.sessions)

    anon = write_client_report(store, CLIENT, tmp_path / "anon.html", anonymize=True, progress=False).read_text()
    assert CLIENT not in anon and store.session(logged["main"])["started_at"][:10] not in anon
    assert CLIENT not in client_text(client_overview(store, CLIENT, anonymize=True))


def test_progress_bar_goes_to_stderr_only_when_asked(logged, tmp_path, capsys):
    store, sid = logged["store"], logged["main"]
    write_html_report(store, sid, tmp_path / "a.html", progress=True)
    captured = capsys.readouterr()
    assert "HTML report" in captured.err and "%" in captured.err and captured.out == ""
    write_html_report(store, sid, tmp_path / "b.html", progress=None)  # stderr is not a terminal here
    write_html_report(store, sid, tmp_path / "c.html", progress=False)
    assert capsys.readouterr().err == ""


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (the CI installs it)")
def test_report_page_renders_in_a_browser(logged, tmp_path):
    page = write_html_report(logged["store"], logged["main"], tmp_path / "report.html", progress=False)
    shot = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--screenshot={shot}",
                "--window-size=1200,2400",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert shot.exists(), result.stderr
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 2400)
    pixels = np.asarray(image, dtype=float)
    assert pixels[:40].mean() > 240  # white page
    assert not_blank(image)
    colourful = np.abs(pixels[..., 0] - pixels[..., 2]) > 60  # the plotted lines and the alert in colour
    assert colourful.mean() > 0.001
