"""The therapist console's server, over real HTTP and WebSocket against a running `tidewell console`:
authentication, pairing, idempotent controls, reconnects and two consoles at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx2
import pytest
from console_testbed import console_with_history, run_short_session, running_console, start_session, wait_running
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

PSEUDONYM = "heron-4"


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with console_with_history(tmp_path_factory.mktemp("console-data"), PSEUDONYM) as running:
        yield running


DATA_ENDPOINTS = [
    ("GET", "/api/me"),
    ("GET", "/api/clients"),
    ("GET", "/api/clients/1"),
    ("GET", "/api/programs"),
    ("GET", "/api/keymap"),
    ("GET", "/api/scenes/ember/thumbnail.png"),
    ("GET", "/sessions/1/report"),
    ("POST", "/api/clients"),
    ("POST", "/api/session/start"),
    ("POST", "/api/session/control"),
    ("POST", "/api/sessions/1/rating"),
]


@pytest.mark.parametrize("method,path", DATA_ENDPOINTS)
def test_every_data_and_control_endpoint_refuses_without_a_token(console, method, path):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Cookie": "tidewell_token=forged"}):
        headers = {**headers, "Origin": console.origin}  # past the same-origin check, to the token check
        answer = httpx2.request(method, console.url.rstrip("/") + path, headers=headers, json={}, timeout=30)
        assert answer.status_code == 401, (method, path, headers, answer.status_code)
        assert PSEUDONYM not in answer.text


def test_the_page_itself_carries_no_data(console):
    page = httpx2.get(console.url, timeout=30)
    assert page.status_code == 200 and "Tidewell console" in page.text
    assert PSEUDONYM not in page.text
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
    assert f"connect-src 'self' ws://127.0.0.1:{console.port};" in policy, "the live socket of this host, no other"
    assert page.headers["cache-control"] == "no-store"
    assert "server" not in page.headers, "the server does not name its software"
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"


def test_no_answer_that_carries_data_is_cached(console):
    http = console.paired_client()
    for path in ("/api/clients", "/api/clients/1", "/api/me", "/api/programs", "/sessions/1/report"):
        answer = http.get(path)
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store", path
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_websocket_refuses_an_unauthenticated_client(console):
    async def attempt(headers):
        async with connect(console.url.replace("http", "ws") + "ws/live", additional_headers=headers) as ws:
            await ws.recv()

    for headers in ({}, {"Cookie": "tidewell_token=forged"}):
        with pytest.raises(InvalidStatus) as refused:
            asyncio.run(attempt(headers))
        assert refused.value.response.status_code == 403


def test_controls_are_idempotent_and_two_consoles_see_the_same_session(console):
    tablet, phone = console.paired_client(), console.paired_client()
    tokens = [c.headers["Authorization"].split()[1] for c in (tablet, phone)]
    start_session(tablet, minutes=1.0)
    view = wait_running(console.url, tokens[0])
    assert view["program"]["id"] == "taster"
    busy = tablet.post(
        "/api/session/start", json={"client_id": view["client_id"], "program": "taster", "request_id": "another"}
    )
    assert busy.status_code == 409

    leave = view["latest"]["phase"]
    first = tablet.post("/api/session/control", json={"action": "next", "from_phase": leave, "request_id": "n1"})
    again = phone.post("/api/session/control", json={"action": "next", "from_phase": leave, "request_id": "n2"})
    repeat = tablet.post("/api/session/control", json={"action": "next", "from_phase": leave, "request_id": "n1"})
    assert first.json() == {"applied": True}
    assert repeat.json() == first.json()
    for _ in range(2):  # the same marker sent twice (a resend after a reconnect)
        tablet.post(
            "/api/session/control", json={"action": "marker", "text": "deep work: left trapezius", "request_id": "m1"}
        )
    for paused in (True, True, False):
        phone.post("/api/session/control", json={"action": "pause", "paused": paused, "request_id": f"p{time.time()}"})
    time.sleep(1.0)

    async def both_views():
        async def one(token):
            async with connect(
                console.url.replace("http", "ws") + "ws/live", additional_headers={"Authorization": f"Bearer {token}"}
            ) as ws:
                return json.loads(await ws.recv())

        return await asyncio.gather(*(one(t) for t in tokens))

    views = asyncio.run(both_views())
    assert views[0]["session_id"] == views[1]["session_id"]
    assert views[0]["latest"]["phase"] == views[1]["latest"]["phase"] == leave + 1, "one phase, not two"
    assert again.json()["applied"] is False, "the second console's 'next' from the same phase must not apply"

    session_id = views[0]["session_id"]
    tablet.post("/api/session/control", json={"action": "end", "request_id": "e1"})
    tablet.post("/api/session/control", json={"action": "end", "request_id": "e2"})
    console.wait_for(r"session over", 90.0)
    with sqlite3.connect(console.data_dir / "tidewell.db") as db:
        events = db.execute("SELECT kind, detail FROM events WHERE session_id = ?", (session_id,)).fetchall()
        reports = db.execute(
            "SELECT moment, pain, stress, note FROM self_reports WHERE session_id = ?", (session_id,)
        ).fetchall()
    kinds = [kind for kind, _ in events]
    assert kinds.count("therapist_next") == 1
    assert [d for k, d in events if k == "marker"] == ["deep work: left trapezius"]
    assert kinds.count("pause") == 1 and kinds.count("resume") == 1
    assert kinds.count("gentle_end") == 1
    assert reports == [("before", 4, 6, "tight shoulders")]


def test_a_console_that_drops_and_reconnects_does_not_touch_the_session(console):
    http = console.paired_client()
    token = http.headers["Authorization"].split()[1]
    start_session(http, minutes=1.0, request_id="start-2")
    first = wait_running(console.url, token)  # connects, reads, drops (the tablet sleeps)
    time.sleep(2.0)
    second = wait_running(console.url, token)  # wakes up and reconnects
    assert second["session_id"] == first["session_id"]
    assert second["latest"]["t_s"] > first["latest"]["t_s"], "the session ran on while no console watched"
    assert second["points_from"] == 0 and len(second["points"]) >= len(first["points"]), "the history is resent"
    http.post("/api/session/control", json={"action": "end", "request_id": "e3"})
    console.wait_for(r"session over", 90.0)
    rating = http.post(
        f"/api/sessions/{first['session_id']}/rating",
        json={"moment": "after", "pain": 2, "stress": 3, "note": "lighter"},
    )
    assert rating.status_code == 200
    bad = http.post(f"/api/sessions/{first['session_id']}/rating", json={"moment": "after", "pain": 11})
    assert (
        bad.status_code == 422 and "pain" in bad.json()["error"] and "less than or equal to 10" in bad.json()["error"]
    )
    report = http.get(f"/sessions/{first['session_id']}/report")
    assert report.status_code == 200 and "lighter" in report.text


def test_ctrl_c_stops_the_session_and_keeps_it_while_the_console_stays(console):
    http = console.paired_client()
    token = http.headers["Authorization"].split()[1]
    start_session(http, minutes=2.0, request_id="start-ctrl-c")
    view = wait_running(console.url, token)
    time.sleep(1.5)
    console.process.send_signal(signal.SIGINT)
    console.wait_for(r"stopped \(Ctrl-C\)", 30.0)
    console.wait_for(r"session over", 30.0)
    assert console.process.poll() is None, "the first Ctrl-C ends the session, not the console"
    assert http.get("/api/me").status_code == 200
    with sqlite3.connect(console.data_dir / "tidewell.db") as db:
        status = db.execute("SELECT status FROM sessions WHERE id = ?", (view["session_id"],)).fetchone()[0]
        samples = db.execute("SELECT COUNT(*) FROM samples WHERE session_id = ?", (view["session_id"],)).fetchone()[0]
    assert status == "interrupted" and samples >= 4  # 4 Hz: what was logged is kept


def test_a_taken_port_gives_a_clear_message(console, tmp_path):
    port = int(console.url.rsplit(":", 1)[1].strip("/"))
    env = {**os.environ, "TIDEWELL_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "tidewell.engine.cli", "console", "--port", str(port), "--headless"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert f"could not listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def test_no_client_data_in_the_console_output(console):
    """The engine's terminal is the server's log: pseudonyms never appear in it."""
    text = "\n".join(console.lines)
    assert "client #" in text  # sessions are named by number
    for pseudonym in (PSEUDONYM, "wren-2"):
        assert pseudonym not in text


def test_pairing_gives_a_token_once_per_code_and_wrong_codes_are_rate_limited(console):
    """Last in this module: its lockout holds all pairing for a minute."""
    http = console.client()
    code = console.code
    shown = console.codes_shown
    first = http.post("/api/pair", json={"code": f"{code[:3]} {code[3:]}"})  # as read off the screen
    assert first.status_code == 200
    token = first.json()["token"]
    assert first.cookies.get("tidewell_token") == token
    assert (
        "httponly" in first.headers["set-cookie"].lower() and "samesite=strict" in first.headers["set-cookie"].lower()
    )
    assert console.code_after(shown) != code, "a used code must be replaced"
    assert http.post("/api/pair", json={"code": code}).status_code == 403, "a code pairs one device only"

    answers = [
        http.post("/api/pair", json={"code": "000000" if console.code != "000000" else "111111"}) for _ in range(5)
    ]
    assert [a.status_code for a in answers[:4]] == [403] * 4  # the used code above was the first failure
    limited = http.post("/api/pair", json={"code": console.code})  # even the right code waits now
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "too many" in limited.json()["error"]

    me = httpx2.get(console.url + "api/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert me.status_code == 200, "tokens handed out earlier keep working during a lockout"


def test_a_headset_console_without_a_runtime_says_so_and_keeps_serving(tmp_path):
    """`tidewell console --target xr` where no OpenXR runtime is installed: a start says what is
    missing, logs no session, and the console stays up for the next try."""
    env = {**os.environ, "XR_RUNTIME_JSON": str(tmp_path / "no-such-runtime.json")}
    with running_console(tmp_path / "data", "--target", "xr", env=env) as console:
        http = console.paired_client()
        start_session(http, minutes=1.0)
        line = console.wait_for("the session could not start", 60)
        assert "no OpenXR runtime found" in line
        assert "Traceback" not in "\n".join(console.lines)
        assert http.get("/api/clients").status_code == 200
        assert http.get("/api/me").status_code == 200
    with sqlite3.connect(tmp_path / "data" / "tidewell.db") as db:
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


def _view_once(console, token: str, wanted, timeout_s: float = 60.0) -> dict:
    """The first live view for which wanted(view) holds."""

    async def watch():
        async with connect(
            console.url.replace("http", "ws", 1) + "ws/live", additional_headers={"Authorization": token}
        ) as ws:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                view = json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout_s))
                if wanted(view):
                    return view
        raise AssertionError("the console never showed the expected view")

    return asyncio.run(watch())


def test_an_error_after_the_session_began_ends_it_and_the_console_keeps_serving(tmp_path):
    """The session is in the log when its folder cannot be made (here a file stands where the sessions
    folder goes): that is a session that ended on an error, not one that could not start."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "sessions").write_text("not a folder")
    with running_console(data) as console:
        http = console.paired_client()
        start_session(http, minutes=1.0)
        line = console.wait_for("ended on an error", 60)
        assert "session 1 ended on an error (interrupted; what was logged is kept)" in line
        view = _view_once(console, http.headers["Authorization"], lambda v: v["status"] == "ended")
        assert view["session_id"] == 1 and view["result"] == "interrupted"
        assert [e["kind"] for e in view["events"]][-1] == "session_failed"
        assert "could not start" not in "\n".join(console.lines)
        assert "Traceback" not in "\n".join(console.lines)
        assert http.get("/api/clients").status_code == 200
        assert console.process.poll() is None, "the console keeps serving"
        start_session(http, minutes=1.0, request_id="start-2")  # and takes the next start
        console.wait_for("session 2 ended on an error", 60)
    with sqlite3.connect(data / "tidewell.db") as db:
        assert db.execute("SELECT id, status FROM sessions").fetchall() == [(1, "interrupted"), (2, "interrupted")]


def test_the_report_is_served_when_the_sessions_report_file_is_read_only(tmp_path):
    """The console makes the report in memory: a report.html its owner made read-only stays as it is."""
    data = tmp_path / "data"
    run_short_session(data, "plover-3")
    kept = data / "sessions" / "00001" / "report.html"
    kept.write_text("the owner's own copy")
    kept.chmod(0o400)
    with running_console(data) as console:
        http = console.paired_client()
        page = http.get("/sessions/1/report")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Tidewell session 1" in page.text and "plover-3" in page.text and "cannot write" not in page.text
    assert kept.read_text() == "the owner's own copy" and kept.stat().st_mode & 0o777 == 0o400
