"""The console's part of the treatment course, in-process with Starlette's test client and a real
SQLite log: intake, plan, precaution preview and refused starts, cybersickness after headset
sessions, progress against the plan, and the same guards as every other state change."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tidewell.engine.console.app import ConsoleConfig, build_app
from tidewell.engine.console.auth import Pairing
from tidewell.engine.console.host import ConsoleOptions, _run_started
from tidewell.engine.console.hub import ConsoleHub, StartRequest
from tidewell.sessions.course import SSQ_SYMPTOMS
from tidewell.sessions.precaution_list import PRECAUTIONS
from tidewell.sessions.store import SessionStore

ORIGIN = {"Origin": "http://127.0.0.1"}
FOREIGN = {"Origin": "http://127.0.0.1:9999"}  # another port of the same computer: another origin


@pytest.fixture
def console(tmp_path):
    """(http, app): a paired test client of a console on a fresh log in tmp_path."""
    codes = []
    hub = ConsoleHub()
    app = build_app(ConsoleConfig(tmp_path / "tidewell.db", hub, Pairing(codes.append), lambda scene: b""))
    http = TestClient(app, base_url="http://127.0.0.1")
    http.__enter__()  # the app's lifespan: its one store
    token = http.post("/api/pair", json={"code": codes[-1]}, headers=ORIGIN).json()["token"]
    http.headers.update({"Authorization": f"Bearer {token}", **ORIGIN})
    yield http, app
    http.__exit__(None, None, None)


def _client(http, pseudonym: str = "heron-4") -> int:
    return http.post("/api/clients", json={"pseudonym": pseudonym}).json()["id"]


def _log_session(app, pseudonym: str, *, target: str = "xr", status: str = "completed", pain=None) -> int:
    """A session in the console's log, as the engine would have written it (no beats: no HRV)."""

    def write(store: SessionStore) -> int:
        sid = store.begin(
            program_id="taster",
            program_title="Taster",
            program_minutes=3.0,
            client=pseudonym,
            sensor="sim",
            virtual_time=True,
            seed=0,
            target=target,
        )
        store.add_event(sid, 0.0, "precaution", "respiratory: phase 3 ('deep work'): breathing 6.0/min -> 6.0/min")
        store.writer(sid).close(status)
        if pain is not None:
            store.set_self_report(sid, "before", pain, 5)
        return sid

    return app.state.store.run_here(write)


def _problem_fields(answer) -> list[str]:
    assert answer.status_code == 422, answer.text
    return [p["field"] for p in answer.json()["problems"]]


# -- intake -------------------------------------------------------------------------------
def test_the_intake_round_trips_and_the_lists_carry_each_precautions_rule(console):
    http, _ = console
    client_id = _client(http)
    assert http.get(f"/api/clients/{client_id}/intake").json() == {"client_id": client_id, "intake": None}
    stored = http.put(
        f"/api/clients/{client_id}/intake",
        json={
            "precautions": ["respiratory", "fear_of_water"],
            "goals": ["sleep through", " ", "less neck pain"],
            "referrer": "Dr. Okafor, GP",
        },
    )
    assert stored.status_code == 200, stored.text
    intake = http.get(f"/api/clients/{client_id}/intake").json()["intake"]
    assert intake["precautions"] == ["fear_of_water", "respiratory"], "the list's order, each once"
    assert intake["goals"] == ["sleep through", "less neck pain"] and intake["referrer"] == "Dr. Okafor, GP"
    assert intake["recorded_at"] and "pseudonym" not in intake

    lists = http.get("/api/course/lists").json()
    shown = {p["name"]: p for p in lists["precautions"]}
    assert list(shown) == list(PRECAUTIONS)
    assert shown["respiratory"]["rule"] == PRECAUTIONS["respiratory"].rule and shown["respiratory"]["label"]
    assert lists["ssq_symptoms"] == list(SSQ_SYMPTOMS) and lists["fms"]["max"] == 20
    assert "0 no sickness at all, 20 frank sickness" in lists["fms"]["question"]
    assert [m["name"] for m in lists["measures"]] == ["pain", "stress", "resting_hr", "rmssd_change", "fms"]


def test_an_unknown_precaution_or_bad_goal_is_a_422_naming_it(console):
    http, _ = console
    client_id = _client(http)
    answer = http.put(f"/api/clients/{client_id}/intake", json={"precautions": ["respiratory", "levitation"]})
    assert _problem_fields(answer) == ["precautions"]
    assert "'levitation'" in answer.json()["error"] and "respiratory" in answer.json()["error"]
    assert _problem_fields(http.put(f"/api/clients/{client_id}/intake", json={"goals": ["a\x1b[2Jb"]})) == ["goals.0"]
    assert _problem_fields(http.put(f"/api/clients/{client_id}/intake", json={"referer": "typo"})) == ["referer"]
    assert http.get(f"/api/clients/{client_id}/intake").json()["intake"] is None, "nothing stored"
    assert http.put("/api/clients/99/intake", json={}).status_code == 404


# -- plan ---------------------------------------------------------------------------------
PLAN = {
    "sessions_planned": 6,
    "per_week": 1.5,
    "programs": ["taster", "back_neck_30"],
    "measures": ["pain", "fms"],
    "reassess_every": 2,
}


@pytest.mark.parametrize(
    "change,field",
    [
        ({"sessions_planned": 0}, "sessions_planned"),
        ({"sessions_planned": 101}, "sessions_planned"),
        ({"sessions_planned": "6"}, "sessions_planned"),
        ({"per_week": 0}, "per_week"),
        ({"per_week": 8}, "per_week"),
        ({"programs": []}, "programs"),
        ({"programs": ["taster", "no_such_program"]}, "programs"),
        ({"measures": ["pain", "mood"]}, "measures"),
        ({"reassess_every": 0}, "reassess_every"),
        ({"sessions": 6}, "sessions"),
    ],
)
def test_a_bad_plan_is_a_422_naming_the_field(console, change, field):
    http, _ = console
    client_id = _client(http)
    answer = http.put(f"/api/clients/{client_id}/plan", json={**PLAN, **change})
    assert _problem_fields(answer) == [field]
    assert http.get(f"/api/clients/{client_id}/course").json()["plan"] is None


def test_a_plan_is_stored_with_programs_the_client_may_have(console):
    http, _ = console
    client_id = _client(http)
    answer = http.put(f"/api/clients/{client_id}/plan", json=PLAN)
    assert answer.status_code == 200, answer.text
    plan = http.get(f"/api/clients/{client_id}/course").json()["plan"]
    assert {k: plan[k] for k in PLAN} == PLAN

    http.put(f"/api/clients/{client_id}/intake", json={"precautions": ["pregnancy"]})
    refused = http.put(f"/api/clients/{client_id}/plan", json={**PLAN, "programs": ["taster", "resonance_assessment"]})
    assert _problem_fields(refused) == ["programs"] and "not safe for this client (pregnancy)" in refused.text
    assert http.get(f"/api/clients/{client_id}/course").json()["plan"]["programs"] == PLAN["programs"]
    assert http.put("/api/clients/42/plan", json=PLAN).status_code == 404


# -- before the start ---------------------------------------------------------------------
def test_the_preview_lists_what_the_precautions_change_or_why_a_program_is_refused(console):
    http, _ = console
    water, breath, plain = _client(http, "water-1"), _client(http, "breath-2"), _client(http, "plain-3")
    http.put(f"/api/clients/{water}/intake", json={"precautions": ["fear_of_water", "motion_sickness"]})
    http.put(f"/api/clients/{breath}/intake", json={"precautions": ["respiratory"]})

    taster = http.get(f"/api/clients/{water}/programs/taster/precautions").json()
    assert taster["refused"] is None
    assert any("scene sea_floor (water) replaced by ember" in c for c in taster["changes"])
    assert any(c.startswith("motion_sickness: scenes stand still") for c in taster["changes"])
    assert [p["name"] for p in taster["precautions"]] == ["motion_sickness", "fear_of_water"]

    refused = http.get(f"/api/clients/{breath}/programs/resonance_assessment/precautions").json()
    assert refused["changes"] == [] and "not safe for this client" in refused["refused"]
    assert "respiratory" in refused["refused"] and "6/min" in refused["refused"]
    gentler = http.get(f"/api/clients/{breath}/programs/taster/precautions").json()
    assert gentler["refused"] is None and all(c.startswith("respiratory: phase") for c in gentler["changes"])
    assert http.get(f"/api/clients/{plain}/programs/resonance_assessment/precautions").json()["changes"] == []
    assert http.get(f"/api/clients/{plain}/programs/nope/precautions").status_code == 404
    assert http.get("/api/clients/77/programs/taster/precautions").status_code == 404


def test_the_start_endpoint_refuses_a_program_the_precautions_rule_out(console):
    http, app = console
    client_id = _client(http)
    http.put(f"/api/clients/{client_id}/intake", json={"precautions": ["respiratory"]})
    refused = http.post(
        "/api/session/start", json={"client_id": client_id, "program": "resonance_assessment", "request_id": "r1"}
    )
    assert _problem_fields(refused) == ["program"]
    assert "not safe for this client" in refused.json()["error"]
    hub = app.state.console.hub
    assert hub.starts.empty() and hub.snapshot()["status"] == "idle", "nothing was queued for the engine"
    allowed = http.post("/api/session/start", json={"client_id": client_id, "program": "taster", "request_id": "r2"})
    assert allowed.json() == {"status": "starting"} and hub.starts.get_nowait().program_id == "taster"


def test_the_eyes_closed_variant_is_previewed_and_started_on_request(console):
    http, app = console
    client_id = _client(http)
    http.put(f"/api/clients/{client_id}/intake", json={"precautions": ["fear_of_water"]})
    base = f"/api/clients/{client_id}/programs/back_neck_30/precautions"
    assert any("replaced by" in change for change in http.get(base).json()["changes"])
    assert http.get(base + "?eyes_closed=1").json()["changes"] == []  # nothing of water left to replace
    http.put(f"/api/clients/{client_id}/intake", json={"precautions": ["hearing_impaired"]})
    heard = http.get(base + "?eyes_closed=1").json()["changes"]
    assert heard and all("scene eyes_closed (audio_led) replaced by" in change for change in heard)
    started = http.post(
        "/api/session/start",
        json={"client_id": client_id, "program": "taster", "request_id": "e1", "eyes_closed": True},
    )
    assert started.json() == {"status": "starting"}
    assert app.state.console.hub.starts.get_nowait().eyes_closed is True


def test_a_refusal_in_the_engine_reaches_the_console_as_a_failed_start(tmp_path):
    """The intake may change between the console's check and the start: the engine refuses then,
    before anything is logged, and the console says why."""
    store = SessionStore(tmp_path / "tidewell.db")
    store.set_intake("heron-4", ["beta_blockers"])
    hub, said = ConsoleHub(), []
    hub.request_start(StartRequest("heron-4", 1, "resonance_assessment", None, {}), "s1")
    _run_started(hub.starts.get_nowait(), ConsoleOptions(headless=True, say=said.append), store, hub)
    view = hub.snapshot()
    assert view["status"] == "idle" and view["session_id"] is None
    failed = [e for e in view["events"] if e["kind"] == "start_failed"]
    assert len(failed) == 1 and "cannot be used for this client (beta blockers)" in failed[0]["detail"]
    assert failed[0]["label"] == "could not start"
    assert store.sessions() == [], "nothing logged"
    assert any("could not start" in line and "heron-4" not in line for line in said)
    store.close()


# -- cybersickness ------------------------------------------------------------------------
def test_cybersickness_is_asked_after_a_headset_session_and_checked(console):
    http, app = console
    _client(http)
    headset = _log_session(app, "heron-4", target="xr")
    screen = _log_session(app, "heron-4", target="screen")
    asked = http.get(f"/api/sessions/{headset}/cybersickness").json()
    assert asked["asked"] is True and asked["target"] == "xr" and asked["fms"] is None
    assert http.get(f"/api/sessions/{screen}/cybersickness").json()["asked"] is False

    path = f"/api/sessions/{headset}/cybersickness"
    assert _problem_fields(http.put(path, json={"fms": 21})) == ["fms"]
    assert _problem_fields(http.put(path, json={"fms": -1})) == ["fms"]
    assert _problem_fields(http.put(path, json={"fms": True})) == ["fms"]
    assert _problem_fields(http.put(path, json={"fms": 3, "ssq": [1] * 15})) == ["ssq"]
    assert _problem_fields(http.put(path, json={"fms": 3, "ssq": [0] * 15 + [4]})) == ["ssq.15"]
    assert http.get(path).json()["fms"] is None, "nothing stored"

    items = [0] * 16
    items[7] = 2  # nausea
    stored = http.put(path, json={"fms": 7, "ssq": items})
    assert stored.status_code == 200 and stored.json()["ssq_total"] == pytest.approx(2 * 2 * 3.74, abs=0.05)
    again = http.get(path).json()
    assert again["fms"] == 7 and again["ssq"] == items and again["ssq_scores"]["nausea"] == pytest.approx(2 * 9.54)
    assert http.put(f"/api/sessions/{screen}/cybersickness", json={"fms": 0}).status_code == 200, "any session"
    assert http.put("/api/sessions/999/cybersickness", json={"fms": 0}).status_code == 404


# -- progress -----------------------------------------------------------------------------
def test_the_client_view_shows_progress_against_the_plan(console):
    http, app = console
    client_id = _client(http)
    assert http.put(f"/api/clients/{client_id}/plan", json=PLAN).status_code == 200
    first = _log_session(app, "heron-4", pain=6)
    _log_session(app, "heron-4", status="interrupted", pain=7)  # not a session done
    second = _log_session(app, "heron-4", pain=4)
    third = _log_session(app, "heron-4", target="screen", pain=3)
    http.put(f"/api/sessions/{first}/cybersickness", json={"fms": 2})
    http.put(f"/api/sessions/{second}/cybersickness", json={"fms": 6})

    view = http.get(f"/api/clients/{client_id}/course").json()
    assert (view["sessions_done"], view["sessions_planned"]) == (3, 6)
    assert view["next_program"] == "back_neck_30", "the 4th session: the plan's programs cycled"
    assert view["reassessment_due"] is None, "re-assess every 2: not after 3"
    series = {m["name"]: m["series"] for m in view["measures"]}
    assert series == {"pain": [[1, 6], [2, 7], [3, 4], [4, 3]], "fms": [[1, 2], [3, 6]]}
    assert [m["label"] for m in view["measures"]] == ["pain before (NRS 0-10)", "cybersickness (FMS 0-20)"]
    by_id = {s["session_id"]: s for s in view["sessions"]}
    assert by_id[first]["fms"] == 2 and not by_id[first]["cybersickness_asked"]
    assert by_id[third]["target"] == "screen" and not by_id[third]["cybersickness_asked"]
    assert by_id[first]["precautions"] == ["respiratory: phase 3 ('deep work'): breathing 6.0/min -> 6.0/min"]
    assert any("eyes-closed scene" in f for f in view["flags"]) and view["suggest_eyes_closed"] is True
    assert any(f.startswith("cybersickness rising") for f in view["flags"])

    unrated = _log_session(app, "heron-4", pain=2)
    view = http.get(f"/api/clients/{client_id}/course").json()
    assert view["reassessment_due"] == 4 and view["next_program"] == "taster"
    assert next(s for s in view["sessions"] if s["session_id"] == unrated)["cybersickness_asked"] is True
    bad = http.post(f"/api/clients/{client_id}/reassessment", json={"sessions_done": 4, "goal_progress": 11})
    assert _problem_fields(bad) == ["goal_progress"]
    stored = http.post(
        f"/api/clients/{client_id}/reassessment",
        json={"sessions_done": 4, "pain": 3, "stress": 4, "goal_progress": 6, "note": "turns her head freely"},
    )
    assert stored.json() == {"stored": 4}
    view = http.get(f"/api/clients/{client_id}/course").json()
    assert view["reassessment_due"] is None
    assert [(r["sessions_done"], r["goal_progress"], r["note"]) for r in view["reassessments"]] == [
        (4, 6, "turns her head freely")
    ]


# -- the guards ---------------------------------------------------------------------------
WRITES = [
    ("PUT", "/api/clients/1/intake", {"precautions": ["respiratory"]}),
    ("PUT", "/api/clients/1/plan", PLAN),
    ("POST", "/api/clients/1/reassessment", {"sessions_done": 0, "pain": 3}),
    ("PUT", "/api/sessions/1/cybersickness", {"fms": 4}),
]
READS = [
    "/api/course/lists",
    "/api/clients/1/course",
    "/api/clients/1/intake",
    "/api/clients/1/programs/taster/precautions",
    "/api/sessions/1/cybersickness",
]


def test_every_course_write_needs_the_consoles_own_origin_json_and_a_token(console):
    http, app = console
    _client(http)
    _log_session(app, "heron-4")
    token = http.headers["Authorization"]
    for method, path, body in WRITES:
        foreign = http.request(method, path, json=body, headers=FOREIGN)
        assert foreign.status_code == 403 and "foreign Origin" in foreign.json()["error"], (path, foreign.text)
        missing = TestClient(app, base_url="http://127.0.0.1").request(
            method, path, json=body, headers={"Authorization": token}
        )
        assert missing.status_code == 403, "no Origin header: refused"
        form = http.request(method, path, content=b"fms=4", headers={"Content-Type": "text/plain"})
        assert form.status_code == 415, path
        anonymous = TestClient(app, base_url="http://127.0.0.1").request(method, path, json=body, headers=ORIGIN)
        assert anonymous.status_code == 401, path
        huge = http.request(
            method, path, content=b"[" + b"0," * 40_000 + b"0]", headers={"Content-Type": "application/json"}
        )
        assert huge.status_code == 413, path
    view = http.get("/api/clients/1/course").json()
    assert view["intake"] is None and view["plan"] is None and view["reassessments"] == []
    assert view["sessions"][0]["fms"] is None, "nothing was changed"
    for path in READS:
        assert TestClient(app, base_url="http://127.0.0.1").get(path).status_code == 401, path
        assert http.get(path, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403, path
        assert http.get(path).status_code == 200, path


# -- the page -----------------------------------------------------------------------------
def test_the_client_view_in_chromium(tmp_path):
    """The course as the therapist sees it: progress, trends, the precaution preview that disables the
    start of a refused program, the re-assessment prompt, and cybersickness after a headset session."""
    from playwright.sync_api import expect, sync_playwright

    from tidewell.engine.console.host import _start_server
    from tidewell.engine.console.program_views import program_view
    from tidewell.sessions.program import builtin_programs, load_program

    store = SessionStore(tmp_path / "tidewell.db")
    store.set_intake("kestrel-7", ["respiratory", "fear_of_water"], ["sleep through the night"], "Dr. Okafor")
    store.set_plan(
        "kestrel-7",
        sessions_planned=6,
        per_week=1,
        programs=["taster", "back_neck_30"],
        measures=["pain", "stress", "fms"],
        reassess_every=2,
    )
    sessions = []
    for pain, stress, fms in ((6, 7, 2), (4, 5, None)):
        sid = store.begin(
            program_id="taster",
            program_title="Taster",
            program_minutes=3.0,
            client="kestrel-7",
            sensor="sim",
            virtual_time=True,
            seed=0,
            target="xr",
        )
        store.writer(sid).close("completed")
        store.set_self_report(sid, "before", pain, stress)
        if fms is not None:
            store.set_cybersickness(sid, fms)
        sessions.append(sid)
    store.close()

    codes, hub = [], ConsoleHub()
    app = build_app(ConsoleConfig(tmp_path / "tidewell.db", hub, Pairing(codes.append), lambda scene: b""))
    server, thread = _start_server(app, ConsoleOptions(port=0), {})
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1180, "height": 900}, color_scheme="dark")
            page.set_default_timeout(30_000)
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on(
                "console",
                lambda m: (
                    errors.append(m.text)
                    if m.type == "error" and "thumbnail" not in m.text and "Failed to load resource" not in m.text
                    else None
                ),
            )
            page.goto(f"{url}#pair={codes[-1]}")
            page.locator("#client-list button", has_text="kestrel-7").click()

            # progress against the plan, the trends, the flags and the re-assessment that is due
            expect(page.locator("#course-progress")).to_contain_text("2 of 6 sessions done")
            expect(page.locator("#course-progress")).to_contain_text("Next: session 3, Taster")
            expect(page.locator("#course-trends figure")).to_have_count(3)
            expect(page.locator("#course-trends figure").first).to_contain_text("6 → 4")
            expect(page.locator("#course-trends figure").first.locator("circle")).to_have_count(2)
            expect(page.locator("#course-reassess")).to_be_visible()
            expect(page.locator("#course-sessions-summary")).to_contain_text("1 headset session not yet rated")

            # before the start: what the precautions change, or why the program is refused
            page.locator('#program-list button[data-program-id="taster"]').click()
            preview = page.locator("#precaution-preview")
            expect(preview).to_contain_text("change Taster")
            expect(preview.locator("li").first).to_contain_text("replaced by ember")
            expect(page.locator("#start")).to_be_enabled()
            page.locator('#program-list button[data-program-id="resonance_assessment"]').click()
            expect(preview).to_have_class("preview refused")
            expect(preview).to_contain_text("not safe for this client")
            expect(page.locator("#start")).to_be_disabled()
            page.locator("#intake-box summary").click()
            page.locator("#plan-box summary").click()
            page.locator("#course-sessions-box summary").click()
            page.screenshot(path=str(tmp_path / "client-view.png"), full_page=True)

            # the headset session not yet rated, then the re-assessment
            page.locator("#course-sessions button", has_text="Ask now").click()
            page.locator('#course-cyber .fms button[data-value="5"]').click()
            page.locator("#course-cyber button", has_text="Save cybersickness").click()
            expect(page.locator("#course-cyber .message")).to_have_text("saved: FMS 5")
            expect(page.locator("#course-sessions-summary")).to_have_text("Sessions and cybersickness")
            expect(page.locator("#course-flags li")).to_have_text(["cybersickness rising across sessions: FMS 2 -> 5"])
            page.locator('#reassess-rating .scale[data-key="goal_progress"] button[data-value="6"]').click()
            page.click("#save-reassess")
            expect(page.locator("#course-reassess")).to_be_hidden()

            # the intake: one more precaution, and the preview follows
            page.locator('#intake-precautions input[value="respiratory"]').uncheck()
            page.locator("#intake-form button[type=submit]").click()
            expect(page.locator("#intake-message")).to_have_text("saved")
            expect(preview).not_to_have_class("preview refused")
            expect(page.locator("#start")).to_be_enabled()

            # the plan: two more sessions, and the resonance assessment added to the programs
            page.fill("#plan-sessions", "8")
            page.locator("#plan-program-choices button", has_text="Resonance breathing assessment").click()
            expect(page.locator("#plan-programs li")).to_have_count(3)
            page.locator("#plan-form button[type=submit]").click()
            expect(page.locator("#plan-message")).to_have_text("saved")
            expect(page.locator("#course-progress")).to_contain_text("2 of 8 sessions done")

            # after a headset session the console asks the FMS
            program = program_view(load_program(builtin_programs()["taster"]))
            hub.request_start(StartRequest("kestrel-7", 1, "taster", None, {}), "s1")
            hub.session_began(sessions[1], 1, program)
            expect(page.locator("#live-view")).to_be_visible()
            hub.session_ended("completed")
            expect(page.locator("#ended-view")).to_be_visible()
            expect(page.locator("#cyber-after")).to_contain_text("How sick do you feel right now?")
            expect(page.locator("#cyber-after .fms button")).to_have_count(21)
            page.locator("#cyber-after summary").click()
            expect(page.locator("#cyber-after .ssq tr")).to_have_count(16)
            page.screenshot(path=str(tmp_path / "after-headset.png"), full_page=True)
            browser.close()
        assert errors == []
    finally:
        server.should_exit = True
        thread.join(timeout=5.0)

    store = SessionStore(tmp_path / "tidewell.db", access="read")
    assert store.cybersickness(sessions[1])["fms"] == 5
    assert [(r["sessions_done"], r["goal_progress"]) for r in store.reassessments("kestrel-7")] == [(2, 6)]
    assert store.intake("kestrel-7").precautions == ("fear_of_water",)
    plan = store.plan("kestrel-7")
    assert plan.sessions_planned == 8 and plan.programs == ("taster", "back_neck_30", "resonance_assessment")
    store.close()


def _chromium() -> str:
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no Chromium on this machine: bash .ci/install --dev installs Debian's chromium")
