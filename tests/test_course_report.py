"""The course report for the referring provider: the PDF read as a reader would (pages rendered by
pdftoppm, text by pdftotext), the FHIR R4 bundle validated by fhir.resources, --anonymize in both, a
client with nothing yet, a course too long for two pages, and the errors a person can act on, through
the real `tidewell` command too. Sessions are real, short, virtual-time runs with a simulated heart."""

import json
import os
import re
import shutil
import stat
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from fhir.resources.R4B.bundle import Bundle
from PIL import Image

from tidewell.engine.session import RunOptions, run_session
from tidewell.sessions.course import Course, CourseSession, ssq_scores
from tidewell.sessions.course_report import LOCAL_CODES, MAX_PAGES, CourseReport, bundle_json, course_pdf
from tidewell.sessions.course_report.data import SessionDetail
from tidewell.sessions.course_report.plots import SICK_COLOUR
from tidewell.sessions.export import anonymous_code
from tidewell.sessions.hrv import HrvResult
from tidewell.sessions.precaution_list import PRECAUTIONS
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.report import ClientSession, report_command
from tidewell.sessions.report.figures import CALM_COLOUR, HR_COLOUR, RMSSD_COLOUR
from tidewell.sessions.store import SessionStore
from tidewell.sessions.store_course import MEASURES, Intake, Plan

CLIENT = "C-017"
NEW_CLIENT = "C-200"  # an intake and nothing else
WALK_IN = "C-300"  # one session, no intake, plan or ratings
GOALS = ("Turn the head to reverse the car without neck pain", "Sleep through the night")
REFERRER = "Dr. Ada Example, physiotherapy"
NOTE = "turning the head is easier"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SSQ_ITEMS = [1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0]


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (poppler-utils; bash .ci/install --dev installs it)")
    return path


@pytest.fixture(scope="module")
def course_db(tmp_path_factory):
    """Three 2-minute sessions of C-017: ratings before and after, FMS and SSQ, a re-assessment, and the
    intake changed to add beta blockers before the third (its HRV is then not interpretable)."""
    folder = tmp_path_factory.mktemp("course")
    store = SessionStore(folder / "tidewell.db")
    store.set_intake(CLIENT, ["fear_of_water", "motion_sickness"], GOALS, REFERRER)
    store.set_plan(CLIENT, sessions_planned=6, per_week=2, programs=["taster"], reassess_every=2)
    store.set_intake(NEW_CLIENT, ["claustrophobia"], ["less stress"], "")
    program = load_program(resolve_program("taster")).scaled_to(2.0)

    def run(seed: int, client: str = CLIENT) -> int:
        options = RunOptions(
            client=client, sensor="sim", virtual_time=True, headless=True, seed=seed, say=lambda _: None
        )
        return run_session(program, options, store).session_id

    run(3, WALK_IN)

    ids = [run(0), run(1)]
    for sid, (pain, stress, fms) in zip(ids, ((6, 7, 1), (5, 6, 3))):
        store.set_self_report(sid, "before", pain, stress, "")
        store.set_self_report(sid, "after", pain - 2, stress - 3, "")
        store.set_cybersickness(sid, fms, SSQ_ITEMS)
    store.set_reassessment(CLIENT, 2, pain=4, stress=4, goal_progress=3, note=NOTE)
    store.set_intake(CLIENT, ["fear_of_water", "motion_sickness", "beta_blockers"], GOALS, REFERRER)
    ids.append(run(2))
    store.set_self_report(ids[2], "before", 4, 5, "")
    store.set_cybersickness(ids[2], 7)
    yield {"store": store, "folder": folder, "ids": ids}
    store.close()


def write(store, tmp_path, capsys, anonymize=False, client=CLIENT, **files) -> tuple[int, str, str]:
    paths = {kind: str(tmp_path / name) for kind, name in files.items()}
    code = report_command(store, None, client, None, None, None, anonymize, progress=False, **paths)
    out, err = capsys.readouterr()
    return code, out, err


def pdf_text(path: Path) -> str:
    text = subprocess.run([poppler("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def pdf_pages(path: Path, folder: Path) -> list[Image.Image]:
    folder.mkdir()
    subprocess.run([poppler("pdftoppm"), "-r", "80", "-png", str(path), str(folder / "page")], check=True)
    return [Image.open(p).convert("RGB") for p in sorted(folder.glob("page-*.png"))]


def not_blank(page: Image.Image) -> bool:
    grey = np.asarray(page.convert("L"), dtype=float)
    return grey.std() > 10 and (grey < 100).mean() > 0.002  # dark ink on the page, not one colour


def ink_of(page: Image.Image, colour: str) -> int:
    """Pixels within a small distance of `colour` ('#rrggbb'): a plotted series' lines and points."""
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return int((np.linalg.norm(np.asarray(page, dtype=float) - rgb, axis=-1) < 40).sum())


def private(path: Path) -> bool:
    return stat.S_IMODE(os.stat(path).st_mode) == 0o600


# -- the PDF ----------------------------------------------------------------------------------------
def test_pdf_has_the_course_on_at_most_two_pages_with_plots(course_db, tmp_path, capsys):
    code, out, err = write(course_db["store"], tmp_path, capsys, pdf="course.pdf")
    assert code == 0, err
    path = tmp_path / "course.pdf"
    assert f"wrote course report PDF: {path}" in out and f"client {CLIENT}: 3 sessions" in out
    assert path.read_bytes().startswith(b"%PDF-") and private(path)
    pages = pdf_pages(path, tmp_path / "pages")
    assert 1 <= len(pages) <= MAX_PAGES
    assert all(not_blank(page) for page in pages)
    for colour in (HR_COLOUR, CALM_COLOUR, RMSSD_COLOUR, SICK_COLOUR):  # every panel's series is drawn, on page 1
        assert ink_of(pages[0], colour) > 40, colour
    text = pdf_text(path)
    for expected in (
        "Treatment course report",
        f"client {CLIENT}",
        f"for the referring provider: {REFERRER}",
        "Sessions done: 3 of 6 planned",
        *GOALS,
        "Measures over the course",
        "Precautions applied",
        PRECAUTIONS["fear_of_water"].label,
        "scene sea_floor (water) replaced by ember (sessions 1-3)",
        "heart-rate adaptation off",
        "Cybersickness",
        "cybersickness rising across sessions",
        "eyes-closed scene is suggested",
        "Re-assessments",
        NOTE,
        "Method notes",
        "SDNN = standard deviation",
        "HRV not interpretable in session 3: beta blockers",
    ):
        assert expected in text, expected
    assert re.search("6 ?→ ?4", text) and "n.i." in text  # pain before → after; session 3's RMSSD withheld


def test_a_course_too_long_for_two_pages_lists_the_latest_sessions(tmp_path):
    report = long_course(sessions=60)
    path = tmp_path / "long.pdf"
    path.write_bytes(course_pdf(report))
    assert len(pdf_pages(path, tmp_path / "pages")) <= MAX_PAGES
    text = pdf_text(path)
    assert "Sessions 1-" in text and "are not listed here" in text
    assert "Sessions done: 60 of 100 planned" in text
    Bundle.model_validate(bundle_json(report))  # 60 encounters and their observations


def long_course(sessions: int) -> CourseReport:
    """A made-up course at the limits: every precaution, ten long goals, `sessions` rated sessions."""
    goals = tuple(f"goal {n}: " + "walk to the shops and back without resting, " * 40 for n in range(10))
    intake = Intake("L-1", tuple(PRECAUTIONS), goals, "Dr. Long", "2026-01-05T09:00:00+00:00")
    plan = Plan("L-1", 100, 2.0, ("taster", "full_body_60"), MEASURES, 4, "2026-01-05T09:00:00+00:00")
    hrv = HrvResult(600, 70.0, 40.0, 35.0, 10.0, 500.0, 400.0, 1.25, 0.5, 0.0, "method")
    course_sessions, details = [], {}
    for n in range(1, sessions + 1):
        started = f"2026-{1 + n // 28:02d}-{1 + n % 28:02d}T09:00:00+00:00"
        cs = ClientSession(
            session_id=n,
            started_at=started,
            program_title="Full body (60 min)",
            status="completed",
            duration_s=3600.0,
            n_beats=4000,
            mean_hr_bpm=70.0 - n / 10,
            rmssd_ms=35.0,
            baseline_hr_bpm=71.0,
            baseline_rmssd_ms=30.0,
            hr_change_bpm=-2.0,
            rmssd_change_ms=5.0,
            pain=(6, 4),
            stress=(7, 3),
        )
        changes = [
            f"fear_of_water: phase {p} ('deep work'): scene sea_floor (water) replaced by ember" for p in range(7)
        ]
        course_sessions.append(CourseSession(n, cs, "xr", n % 9, ssq_scores(SSQ_ITEMS), changes, None))
        details[n] = SessionDetail(started, started, hrv, (0.0, 300.0), 0.6, {"before": started}, started)
    flags = ["cybersickness rising across sessions: FMS 6 -> 7 -> 8"]
    course = Course("L-1", intake, plan, course_sessions, [], flags)
    return CourseReport(course, False, "2026-06-01T09:00:00+00:00", details)


# -- the FHIR bundle --------------------------------------------------------------------------------
def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_fhir_bundle_validates_with_loinc_codes_ucum_units_and_an_encounter_per_session(course_db, tmp_path, capsys):
    code, out, err = write(course_db["store"], tmp_path, capsys, fhir="bundle.json")
    assert code == 0, err
    path = tmp_path / "bundle.json"
    assert f"wrote FHIR R4 bundle: {path}" in out and private(path)
    bundle = json.loads(path.read_text())
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection" and bundle["timestamp"]
    (patient,) = resources(bundle, "Patient")
    assert "name" not in patient and [i["value"] for i in patient["identifier"]] == [CLIENT]
    encounters = resources(bundle, "Encounter")
    assert [e["identifier"][0]["value"] for e in encounters] == [str(i) for i in course_db["ids"]]
    full_urls = {e["resource"]["id"]: e["fullUrl"] for e in bundle["entry"]}
    observations = resources(bundle, "Observation")
    for obs in observations:
        assert obs["subject"]["reference"] == full_urls[patient["id"]]
        assert obs["encounter"]["reference"] in {full_urls[e["id"]] for e in encounters}
        assert "effectiveDateTime" in obs or "effectivePeriod" in obs
        assert ("valueQuantity" in obs) != ("dataAbsentReason" in obs)
        if "valueQuantity" in obs:
            assert obs["valueQuantity"]["system"] == UCUM and obs["valueQuantity"]["code"]
    codes = {
        (c["system"], c["code"], o.get("valueQuantity", {}).get("code"))
        for o in observations
        for c in o["code"]["coding"]
    }
    for expected in ((LOINC, "8867-4", "/min"), (LOINC, "80404-7", "ms"), (LOINC, "72514-3", "{score}")):
        assert expected in codes, expected
    for local, unit in (
        ("rmssd", "ms"),
        ("calm-index", "1"),
        ("stress", "{score}"),
        ("fms", "{score}"),
        ("ssq-total", "{score}"),
    ):
        assert (LOCAL_CODES, local, unit) in codes, local
    third = full_urls[encounters[2]["id"]]
    withheld = [o for o in observations if o["encounter"]["reference"] == third and "dataAbsentReason" in o]
    assert {o["code"]["coding"][0]["code"] for o in withheld} == {
        "8867-4",
        "80404-7",
        "rmssd",
        "rmssd-change",
        "calm-index",
    }
    assert all("beta blockers" in o["dataAbsentReason"]["text"] for o in withheld)
    pain = [o["valueQuantity"]["value"] for o in observations if o["code"]["coding"][0]["code"] == "72514-3"]
    assert pain == [6, 4, 5, 3, 4]


# -- --anonymize ------------------------------------------------------------------------------------
def test_anonymize_removes_the_pseudonym_dates_and_free_text_from_pdf_and_bundle(course_db, tmp_path, capsys):
    store = course_db["store"]
    code, out, err = write(store, tmp_path, capsys, anonymize=True, pdf="anon.pdf", fhir="anon.json")
    assert code == 0, err
    assert "anonymized: client pseudonym (replaced by a stable code)" in out
    anon = anonymous_code(store, CLIENT)
    day = store.session(course_db["ids"][0])["started_at"][:10]
    text = pdf_text(tmp_path / "anon.pdf")
    assert anon in text and CLIENT not in text and day not in text
    assert REFERRER not in text and NOTE not in text and not any(goal in text for goal in GOALS)
    assert "withheld: free text is removed by --anonymize" in text
    info = subprocess.run([poppler("pdfinfo"), str(tmp_path / "anon.pdf")], capture_output=True, text=True).stdout
    assert CLIENT not in info and str(datetime.now().year) not in info  # a fixed creation date
    assert CLIENT.encode() not in (tmp_path / "anon.pdf").read_bytes()

    raw = (tmp_path / "anon.json").read_text()
    assert CLIENT not in raw and not re.search(r"\d{4}-\d{2}-\d{2}", raw)
    bundle = json.loads(raw)
    Bundle.model_validate(bundle)
    (patient,) = resources(bundle, "Patient")
    assert patient["identifier"][0]["value"] == anon and "timestamp" not in bundle
    assert len(resources(bundle, "Encounter")) == 3 and all("length" in e for e in resources(bundle, "Encounter"))


# -- edges and errors -------------------------------------------------------------------------------
def test_a_client_with_an_intake_only_gets_a_one_page_report_and_a_bundle_with_the_patient(course_db, tmp_path, capsys):
    code, _, err = write(course_db["store"], tmp_path, capsys, client=NEW_CLIENT, pdf="new.pdf", fhir="new.json")
    assert code == 0, err
    assert len(pdf_pages(tmp_path / "new.pdf", tmp_path / "pages")) == 1
    text = pdf_text(tmp_path / "new.pdf")
    assert "Sessions done: 0 (no plan recorded" in text and "no sessions logged yet" in text
    assert "claustrophobia" in text and "no FMS or SSQ ratings recorded" in text
    bundle = json.loads((tmp_path / "new.json").read_text())
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Patient"]


def test_a_client_with_a_session_but_no_intake_plan_or_ratings_gets_a_sensible_report(course_db, tmp_path, capsys):
    code, _, err = write(course_db["store"], tmp_path, capsys, client=WALK_IN, pdf="walk.pdf", fhir="walk.json")
    assert code == 0, err
    pages = pdf_pages(tmp_path / "walk.pdf", tmp_path / "pages")
    assert len(pages) == 1 and not_blank(pages[0])
    assert ink_of(pages[0], HR_COLOUR) > 8 and ink_of(pages[0], RMSSD_COLOUR) > 8  # one point each: resting HR, RMSSD
    text = pdf_text(tmp_path / "walk.pdf")
    for expected in (
        "Sessions done: 1 (no plan recorded",
        "no goals recorded at intake",
        "no precautions recorded at intake",
        "no FMS or SSQ ratings recorded",
        "HRV is interpretable in every session",
    ):
        assert expected in text, expected
    bundle = json.loads((tmp_path / "walk.json").read_text())
    Bundle.model_validate(bundle)
    codes = [o["code"]["coding"][0]["code"] for o in resources(bundle, "Observation")]
    assert len(resources(bundle, "Encounter")) == 1 and "8867-4" in codes and "80404-7" in codes
    assert not {"72514-3", "stress", "fms", "ssq-total"} & set(codes)  # nothing rated: nothing made up


def test_unwritable_outputs_give_one_line_and_write_nothing(course_db, tmp_path, capsys):
    store = course_db["store"]
    code, _, err = write(store, tmp_path, capsys, pdf="no such folder/course.pdf")
    assert code == 1 and "cannot write" in err and "no such folder" in err and "Traceback" not in err
    locked = tmp_path / "locked.json"
    locked.write_text("{}")
    locked.chmod(0o400)
    code, _, err = write(store, tmp_path, capsys, fhir="locked.json")
    assert code == 1 and "read-only" in err and err.strip().count("\n") == 0
    assert locked.read_text() == "{}"
    assert report_command(store, course_db["ids"][0], None, None, None, None, False, pdf=str(tmp_path / "x.pdf")) == 2
    assert "--pdf and --fhir write a client's course report" in capsys.readouterr().err


def test_the_tidewell_command_writes_both_and_names_an_unknown_client(course_db, tidewell_cmd, cli_env, tmp_path):
    env = {**cli_env, "TIDEWELL_DATA_DIR": str(course_db["folder"])}

    def tidewell(*args):
        return subprocess.run([*tidewell_cmd, "report", *args], env=env, capture_output=True, text=True, timeout=120)

    done = tidewell("--client", CLIENT, "--pdf", str(tmp_path / "c.pdf"), "--fhir", str(tmp_path / "c.json"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "c.pdf").read_bytes().startswith(b"%PDF-") and json.loads((tmp_path / "c.json").read_text())
    unknown = tidewell("--client", "nobody", "--pdf", str(tmp_path / "n.pdf"))
    assert unknown.returncode == 2 and "no client 'nobody'" in unknown.stderr
    assert "Traceback" not in unknown.stderr and not (tmp_path / "n.pdf").exists()
    unwritable = tidewell("--client", CLIENT, "--fhir", str(tmp_path / "missing" / "c.json"))
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stderr and "Traceback" not in unwritable.stderr
