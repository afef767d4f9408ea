"""The console's app and hub in-process (Starlette's test client): alerts reach the console,
foreign pages cannot ride on the cookie, and the hub's answers to repeated commands."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tidewell.engine.console.app import ConsoleConfig, build_app
from tidewell.engine.console.auth import Pairing
from tidewell.engine.console.hub import ConsoleBusy, ConsoleHub, StartRequest
from tidewell.engine.render.scene_states import scene_state
from tidewell.sessions.controls import Control, drain


@pytest.fixture
def served(tmp_path):
    codes = []
    hub = ConsoleHub()
    pairing = Pairing(codes.append)
    app = build_app(ConsoleConfig(tmp_path / "tidewell.db", hub, pairing, lambda scene: b""))
    client = TestClient(app, base_url="http://127.0.0.1")
    token = client.post("/api/pair", json={"code": codes[-1]}, headers={"Origin": "http://127.0.0.1"}).json()["token"]
    return hub, client, token


def _running(hub: ConsoleHub) -> None:
    hub.request_start(StartRequest("c", 1, "taster", None, {}), "s1")
    hub.session_began(7, 1, {"id": "taster", "title": "Taster", "minutes": 3, "phases": []})
    hub.frame(scene_state("ember", t_s=12.0, hr_bpm=71.0))


def test_an_alert_reaches_the_console_as_it_happens(served):
    hub, client, token = served
    _running(hub)
    with client.websocket_connect("ws://127.0.0.1/ws/live", headers={"Authorization": f"Bearer {token}"}) as ws:
        first = ws.receive_json()
        assert first["status"] == "running" and first["latest"]["hr"] == 71.0
        hub.event(95.0, "alert", "HR 92 bpm, +17 over baseline 75 in 'deep work'; last marker: left trapezius", 2)
        hub.event(95.1, "phase_end", "deep work", 2)  # internal events stay in the log only
        update = ws.receive_json()
    assert [e["kind"] for e in update["events"]] == ["alert"]
    assert "last marker: left trapezius" in update["events"][0]["detail"]
    assert update["points"] == [], "only new plot points travel after the first message"


def test_a_page_from_another_site_cannot_open_the_live_feed(served):
    hub, client, token = served
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(
            "ws://127.0.0.1/ws/live", headers={"Cookie": f"tidewell_token={token}", "Origin": "http://evil.example"}
        ) as ws:
            ws.receive_json()
    assert refused.value.code == 4403


def test_the_hub_applies_each_intent_once():
    hub = ConsoleHub()
    with pytest.raises(ConsoleBusy):
        hub.command("next", 0, "n0")  # no session
    _running(hub)
    with pytest.raises(ConsoleBusy):
        hub.request_start(StartRequest("c", 1, "taster", None, {}), "s2")  # one session at a time
    assert hub.request_start(StartRequest("c", 1, "taster", None, {}), "s1") == {"status": "starting"}  # a resend
    assert hub.command("next", 0, "a") == {"applied": True}
    assert hub.command("next", 0, "b")["applied"] is False  # another tap from the same phase
    assert hub.command("next", 0, "a") == {"applied": True}  # a resend gets the same answer
    assert hub.command("marker", "left calf", "m") == hub.command("marker", "left calf", "m")
    assert drain(hub.controls) == [Control("next", 0), Control("marker", "left calf")]


def test_the_hubs_commands_are_controls_on_the_sessions_queue_and_a_new_session_starts_with_none():
    hub = ConsoleHub()
    _running(hub)
    hub.command("pause", True, None)
    hub.command("pause", False, None)
    hub.command("end", "therapist (console)", None)
    assert drain(hub.controls) == [Control("pause"), Control("resume"), Control("end", "therapist (console)")]
    hub.command("marker", "left calf", None)
    hub.session_ended("completed")
    assert hub.controls.empty(), "a control the last session did not take is not for the next one"


@pytest.mark.parametrize("began", [False, True])
def test_a_bug_in_a_console_session_shows_its_traceback_and_the_console_goes_on(tmp_path, monkeypatch, capsys, began):
    """A TidewellError is one line; anything else reaching the console's session thread is a bug: its
    traceback is printed whole, the session ends (or never starts) and the console takes the next one."""
    from tidewell.engine.console import host
    from tidewell.sessions.store import SessionStore

    def buggy_run(program, run, store):
        if began:
            run.on_begin(
                store.begin(
                    program_id=program.id,
                    program_title=program.title,
                    program_minutes=program.minutes,
                    client=run.client,
                    sensor="sim",
                    virtual_time=False,
                    seed=0,
                )
            )
        raise ZeroDivisionError("a bug in the loop")

    monkeypatch.setattr(host, "run_session", buggy_run)
    said: list[str] = []
    hub = ConsoleHub()
    store = SessionStore(tmp_path / "tidewell.db")
    host._run_started(StartRequest("C-1", 1, "taster", None, {}), host.ConsoleOptions(say=said.append), store, hub)
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: a bug in the loop" in err
    view = hub.snapshot()
    if began:
        assert "ended on an error" in said[-1] and view["result"] == "interrupted"
        assert store.session(1)["status"] == "interrupted"
    else:
        assert said[-1] == "the session could not start: a bug in the loop" and view["status"] == "idle"


def test_a_console_session_checks_the_log_again_before_it_starts(tmp_path, monkeypatch):
    """The console holds its session log open for days: a log damaged since the last session stops
    the next start with the reason, and once the damaged file is moved aside the next session is
    logged in a new file, not in the one moved away."""
    from tidewell.engine.console import host
    from tidewell.sessions.store import SessionStore

    ran: list[str] = []
    monkeypatch.setattr(host, "run_session", lambda program, run, store: ran.append(store.path) or _Ended())
    said: list[str] = []
    hub = ConsoleHub()
    path = tmp_path / "tidewell.db"
    store = SessionStore(path)
    store.ensure_client("C-1")
    start = StartRequest("C-1", 1, "taster", None, {})
    with open(path, "r+b") as log:
        log.write(b"not an SQLite log at all")
    host._run_started(start, host.ConsoleOptions(say=said.append), store, hub)
    assert ran == [] and said[-1].startswith("the session could not start:") and str(path) in said[-1]
    path.rename(tmp_path / "damaged.db")
    host._run_started(start, host.ConsoleOptions(say=said.append), store, hub)
    assert ran == [path] and store.clients_overview() == []  # a new, empty log in the old one's place


class _Ended:
    status = "completed"
