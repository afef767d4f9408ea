"""The report's and the terminal's text on real sessions run in virtual time: names drawn and written
literally, the session's status in words, one baseline, counts in words, and exports read back by
`tidewell hrv` and `tidewell run --sensor replay`."""

import base64
import csv
import html
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.text import Text
from PIL import Image

from tidewell.core.words import plural
from tidewell.engine.session import RunOptions, run_session
from tidewell.sessions.controls import Control
from tidewell.sessions.export import load_session
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.report import session_figure, write_client_report, write_html_report
from tidewell.sessions.store import SessionStore


def png_images(page: str) -> list[Image.Image]:
    return [
        Image.open(io.BytesIO(base64.b64decode(data)))
        for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    ]


def not_blank(image: Image.Image) -> bool:
    pixels = np.asarray(image.convert("L"), dtype=float)
    return pixels.std() > 10 and (pixels < 100).mean() > 0.002


MATH_NAME = r"deep $\alpha$ work $x^2$"
BROKEN_MATH_NAME = r"$\frac$"  # matplotlib's math parser raised on this: no report at all
HTML_NAME = "<b>release</b> & rest"
TITLE = r"Names $\beta$ & <i>tags</i>"
MARKER = "<script>alert(1)</script>"
NOTE = "pain & stiffness <b>left</b>"


def cli_env(data_dir) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["TIDEWELL_DATA_DIR"] = str(data_dir)
    return env


def tidewell(env, *args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "tidewell.engine.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def names_program(folder: Path) -> Path:
    """The taster with names that look like math text and HTML."""
    text = resolve_program("taster").read_text(encoding="utf-8")
    for old, new in (
        ('name = "deep work"', MATH_NAME),
        ('name = "warm-up"', BROKEN_MATH_NAME),
        ('name = "release"', HTML_NAME),
        ('title = "Taster (3 min)"', TITLE),
    ):
        key = old.split(" = ")[0]
        assert old in text
        text = text.replace(old, f"{key} = {json.dumps(new)}")
    path = folder / "names.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_with(store, program, *, controls_at=(), seed=0, attended=False, client="C-5"):
    """A virtual-time session; controls_at: (condition on the frame state, command) sent once each."""
    pending = list(controls_at)
    options = RunOptions(
        client=client, virtual_time=True, headless=True, seed=seed, say=lambda _: None, attended=attended
    )

    def on_frame(state):
        for item in list(pending):
            condition, command = item
            if condition(state):
                options.controls.put(Control(*command))
                pending.remove(item)

    options.on_frame = on_frame
    result = run_session(program, options, store)
    assert not pending, "every control was sent"
    return result


@pytest.fixture(scope="module")
def names_session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("names")
    store = SessionStore(folder / "data" / "tidewell.db")
    program = load_program(names_program(folder))
    result = run_with(
        store,
        program,
        controls_at=[(lambda s: s.t_s > 40, ("marker", MARKER)), (lambda s: s.t_s > 100, ("marker", "dry & warm"))],
    )
    store.set_self_report(result.session_id, "before", 4, 5, NOTE)
    yield {"store": store, "folder": folder, "sid": result.session_id, "program": program}
    store.close()


# -- names are text ----------------------------------------------------------------------------
def test_math_text_and_html_in_names_are_drawn_and_written_literally(names_session):
    store, sid, folder = names_session["store"], names_session["sid"], names_session["folder"]
    env = cli_env(folder / "data")
    page_path = folder / "report.html"
    done = tidewell(env, "report", str(sid), "--html", str(page_path))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    page = page_path.read_text(encoding="utf-8")

    for text in (MATH_NAME, BROKEN_MATH_NAME, HTML_NAME, TITLE, MARKER, NOTE):
        assert html.escape(text) in page, text
    assert all(tag not in page for tag in ("<script>", "<b>left</b>", "<b>release</b>", "<i>tags</i>"))
    assert "&amp;" in page and "dry &amp; warm" in page
    (plot,) = png_images(page)
    assert not_blank(plot)

    figure = session_figure(load_session(store, sid))
    texts = figure.findobj(Text)
    shown = " ".join(t.get_text().replace("\n", " ") for t in texts)
    assert MATH_NAME in shown and BROKEN_MATH_NAME in shown and HTML_NAME in shown
    assert all(not t.get_usetex() and not t.get_parse_math() for t in texts if "$" in t.get_text())

    text_summary = tidewell(env, "report", str(sid))
    assert text_summary.returncode == 0 and MATH_NAME[:22] in text_summary.stdout


def test_the_client_page_writes_program_titles_as_text(names_session, tmp_path):
    page = write_client_report(names_session["store"], "C-5", tmp_path / "client.html", progress=False)
    page = page.read_text(encoding="utf-8")
    assert f'<td class="l">{html.escape(TITLE)}</td>' in page
    assert "<i>tags</i>" not in page and "&amp;" in page


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (the CI installs it)")
def test_report_with_such_names_renders_in_chromium_as_text(names_session, tmp_path):
    from playwright.sync_api import sync_playwright

    page_path = write_html_report(
        names_session["store"], names_session["sid"], tmp_path / "report.html", progress=False
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(page_path.resolve().as_uri())
        body = page.inner_text("body")
        plot_width = page.evaluate("document.querySelector('img.plot').naturalWidth")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert dialogs == [], "a marker's script never runs"
    for text in (MATH_NAME, BROKEN_MATH_NAME, HTML_NAME, TITLE, MARKER, NOTE):
        assert text in body, text
    assert plot_width >= 1200


# -- completed or ended early --------------------------------------------------------------------
def test_a_gentle_end_in_the_last_phase_completes_the_session(tmp_path):
    store = SessionStore(tmp_path / "data" / "tidewell.db")
    taster = load_program(resolve_program("taster"))
    last = len(taster.phases) - 1
    in_last = run_with(
        store, taster, controls_at=[(lambda s: s.phase_index == last and s.phase_progress > 0.3, ("end", "therapist"))]
    )
    early = run_with(store, taster, controls_at=[(lambda s: s.phase_index == 1, ("end", "therapist"))])
    # a last phase the therapist advances: its time is up, the program waits, the therapist ends gently
    waiting = load_program(resolve_program("back_neck_30")).scaled_to(3.0)
    after = run_with(
        store,
        waiting,
        attended=True,
        controls_at=[
            (
                lambda s: (
                    s.phase_index == len(waiting.phases) - 1 and s.phase_elapsed_s > waiting.phases[-1].duration_s + 20
                ),
                ("end", "therapist"),
            )
        ],
    )
    assert (in_last.status, early.status, after.status) == ("completed", "ended_early", "completed")

    env = cli_env(tmp_path / "data")
    listed = tidewell(env, "sessions", "list").stdout.splitlines()
    statuses = {int(line.split()[0]): line for line in listed}
    assert "completed" in statuses[in_last.session_id] and "completed" in statuses[after.session_id]
    assert "ended early" in statuses[early.session_id] and "ended_early" not in "\n".join(listed)
    assert "status completed" in tidewell(env, "sessions", "show", str(after.session_id)).stdout
    assert "status ended early" in tidewell(env, "sessions", "show", str(early.session_id)).stdout

    page = write_html_report(store, in_last.session_id, tmp_path / "last.html", progress=False).read_text()
    assert "<dt>Status</dt><dd>completed</dd>" in page
    assert "ended early" not in page.lower() and "gentle end" in page
    page = write_html_report(store, early.session_id, tmp_path / "early.html", progress=False).read_text()
    assert "<dt>Status</dt><dd>ended early</dd>" in page and "before the program's last phase" in html.unescape(page)
    store.close()


# -- one baseline ----------------------------------------------------------------------------------
@pytest.mark.parametrize("program", ["taster", "back_neck_30"])
def test_the_baseline_line_and_every_settle_row_are_one_number(program, tmp_path):
    env = cli_env(tmp_path / "data")
    args = ["run", program, "--virtual-time", "--headless"] + (["--minutes", "4"] if program != "taster" else [])
    ran = tidewell(env, *args)
    assert ran.returncode == 0, ran.stderr
    (said,) = re.findall(r"baseline: HR (\d+\.\d) bpm", ran.stdout)
    settle_row = next(line for line in ran.stdout.splitlines() if re.match(r"\s*1\s+settle\s", line))
    assert settle_row.split()[5] == said, settle_row
    shown = tidewell(env, "sessions", "show", "1").stdout
    assert next(line for line in shown.splitlines() if re.match(r"\s*1\s+settle\s", line)).split()[5] == said
    assert f"baseline       HR {said} bpm" in shown
    report = tidewell(env, "report", "1").stdout
    assert next(line for line in report.splitlines() if re.match(r"\s*1\s+settle\s", line)).split()[3] == said
    exported = tmp_path / "session.json"
    assert tidewell(env, "report", "1", "--json", str(exported)).returncode == 0
    settle = json.loads(exported.read_text())["metrics"]["phases"][0]
    assert settle["name"] == "settle" and f"{settle['mean_hr_bpm']:.1f}" == said


# -- counts in words -------------------------------------------------------------------------------
def test_counts_are_in_words_for_one_and_for_many(names_session, tmp_path):
    assert [plural(n, "session") for n in (0, 1, 2)] == ["0 sessions", "1 session", "2 sessions"]
    env = cli_env(names_session["folder"] / "data")
    clients = tidewell(env, "clients").stdout
    assert re.search(r"C-5\s+1 session\s", clients), clients
    report = tidewell(env, "report", "--client", "C-5").stdout
    assert "client C-5: 1 session\n" in report
    one_phase = tmp_path / "one.toml"
    one_phase.write_text(
        '[program]\ntitle = "One"\n[[phase]]\nname = "settle"\nkind = "settle"\nminutes = 1\n'
        'scene = "ember"\nposture = "prone"\nbreathing = { rate_bpm = 6, ratio = 0.7 }\n'
    )
    assert "(One, 1 phase, 1 min)" in tidewell(env, "programs", "validate", str(one_phase)).stdout
    one_beat = tmp_path / "one_beat.csv"
    one_beat.write_text("t_s,rr_ms\n0.8,800\n")
    assert "(1 beat read)" in tidewell(env, "hrv", str(one_beat)).stdout


# -- exports read back -----------------------------------------------------------------------------
def rr_file_with_a_missed_beat(path: Path) -> Path:
    """A steady 800 ms rhythm with one beat the sensor missed (a 1600 ms interval): the corrector splits
    it, so the log and its exports hold an inserted beat that the sensor never sent."""
    rows, t = [], 0.0
    for i in range(260):
        rr = 1600.0 if i == 120 else 800.0 + 25.0 * ((i * 7) % 5 - 2)
        t += rr / 1000
        rows.append(f"{t:.3f},{rr:.1f}")
    path.write_text("t_s,rr_ms\n" + "\n".join(rows) + "\n")
    return path


def test_beats_csv_and_json_exports_feed_hrv_and_replay(tmp_path):
    env = cli_env(tmp_path / "data")
    source = rr_file_with_a_missed_beat(tmp_path / "missed.csv")
    first = tidewell(env, "run", "taster", "--virtual-time", "--headless", "--sensor", f"replay:{source}")
    assert first.returncode == 0, first.stderr
    out = tmp_path / "export.csv"
    exported = tidewell(env, "report", "1", "--csv", str(out), "--json", str(tmp_path / "export.json"))
    assert exported.returncode == 0, exported.stderr
    beats_csv = tmp_path / "export_beats.csv"
    with beats_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sum(r["inserted"] == "1" for r in rows) == 1  # the beat the corrector put into the missed one
    report = json.loads((tmp_path / "export.json").read_text())

    for exported_file in (beats_csv, tmp_path / "export.json"):
        hrv = tidewell(env, "hrv", str(exported_file), "--json")
        assert hrv.returncode == 0 and hrv.stderr == "", hrv.stderr
        assert json.loads(hrv.stdout) == pytest.approx(report["metrics"]["session"]), exported_file
    table = tidewell(env, "hrv", str(beats_csv)).stdout
    assert "NN = corrected RR" in table

    for session_id, replayed in ((2, beats_csv), (3, tmp_path / "export.json")):
        again = tidewell(env, "run", "taster", "--virtual-time", "--headless", "--sensor", f"replay:{replayed}")
        assert again.returncode == 0 and "skipped" not in again.stdout, again.stderr + again.stdout
        with sqlite3.connect(tmp_path / "data" / "tidewell.db") as db:
            sent = db.execute(
                "SELECT t_s, rr_ms FROM beats WHERE session_id = ? AND inserted = 0 ORDER BY t_s", (session_id,)
            ).fetchall()
            original = db.execute(
                "SELECT t_s, rr_ms FROM beats WHERE session_id = 1 AND inserted = 0 ORDER BY t_s"
            ).fetchall()
            inserted = db.execute(
                "SELECT COUNT(*) FROM beats WHERE session_id = ? AND inserted = 1", (session_id,)
            ).fetchone()[0]
        assert sent == original and inserted == 1, "the raw beats again, the inserted one not sent"

    samples = tidewell(env, "hrv", str(out))
    assert samples.returncode == 1 and "export_beats.csv" in samples.stderr and "Traceback" not in samples.stderr


def test_an_exported_file_with_bad_rows_names_them_and_uses_the_rest(tmp_path):
    env = cli_env(tmp_path / "data")
    rows = ["t_s,quality,rr_ms,corrected_rr_ms,inserted"]  # columns found by name, in any order
    rows += [f"{0.8 * (i + 1):.1f},ok,800,800,0" for i in range(30)]
    rows[5] = "4.0,great,800,800,0"
    rows[9] = "7.2,ok,800,800,maybe"
    rows[12] = "9.6,ok,800,,0"  # the corrector dropped this one: no NN value, still a row
    (tmp_path / "beats.csv").write_text("\n".join(rows) + "\n")
    done = tidewell(env, "hrv", str(tmp_path / "beats.csv"), "--json")
    assert done.returncode == 0
    assert re.findall(r"beats\.csv:(\d+): ", done.stderr) == ["6", "10"]
    assert "quality 'great'" in done.stderr and "inserted 'maybe'" in done.stderr
    assert json.loads(done.stdout)["n_beats"] == 27


def test_the_console_serves_the_report_of_such_a_session_as_text(names_session):
    from console_testbed import running_console

    with running_console(names_session["folder"] / "data") as console:
        answer = console.paired_client().get(f"/sessions/{names_session['sid']}/report")
    assert answer.status_code == 200, answer.text
    for text in (MATH_NAME, BROKEN_MATH_NAME, HTML_NAME, TITLE, MARKER, NOTE):
        assert html.escape(text) in answer.text, text
    assert "<script>" not in answer.text
    (plot,) = png_images(answer.text)
    assert not_blank(plot)
