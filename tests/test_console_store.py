"""The console's one session log store (engine/console/shared_store.py), in-process with Starlette's
test client: opened with the app and closed at its shutdown, shared by concurrent requests, and still
naming a log damaged while the console serves, then going on once the damaged file is moved aside."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from tidewell.engine.console import shared_store
from tidewell.engine.console.app import ConsoleConfig, build_app
from tidewell.engine.console.auth import Pairing
from tidewell.engine.console.hub import ConsoleHub
from tidewell.sessions.store import SessionStore, StoreError

ORIGIN = {"Origin": "http://127.0.0.1"}


@pytest.fixture
def opened(monkeypatch):
    """Every SessionStore the console opens."""
    stores = []

    class Counted(SessionStore):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            stores.append(self)

    monkeypatch.setattr(shared_store, "SessionStore", Counted)
    return stores


def _paired(app) -> TestClient:
    codes = []
    app.state.console.pairing = Pairing(codes.append)
    client = TestClient(app, base_url="http://127.0.0.1")
    client.__enter__()  # runs the app's lifespan
    token = client.post("/api/pair", json={"code": codes[-1]}, headers=ORIGIN).json()["token"]
    client.headers.update({"Authorization": f"Bearer {token}", **ORIGIN})
    return client


def test_one_store_serves_concurrent_requests_and_closes_with_the_app(tmp_path, opened):
    app = build_app(
        ConsoleConfig(tmp_path / "tidewell.db", ConsoleHub(), Pairing(lambda code: None), lambda scene: b"")
    )
    http = _paired(app)
    names = [f"C-{n:02d}" for n in range(24)]

    def add_and_list(name):
        added = http.post("/api/clients", json={"pseudonym": name})
        listed = http.get("/api/clients")
        return added.status_code, added.json(), listed.status_code

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(add_and_list, names))
    assert {(added, listed) for added, _, listed in answers} == {(200, 200)}
    ids = {body["pseudonym"]: body["id"] for _, body, _ in answers}
    assert sorted(ids.values()) == list(range(1, len(names) + 1))
    overview = http.get("/api/clients").json()["clients"]
    assert {c["pseudonym"]: c["id"] for c in overview} == ids
    assert http.get(f"/api/clients/{ids['C-07']}").json()["pseudonym"] == "C-07"
    assert len(opened) == 1, "one store for the app, none per request"
    http.__exit__(None, None, None)  # the app shuts down
    with pytest.raises(StoreError, match="the console is closing"):
        app.state.store.run_here(lambda store: store.clients())
    with pytest.raises(Exception, match="closed database"):
        opened[0].conn.execute("SELECT 1")


def test_a_log_damaged_while_serving_gives_503_and_a_new_log_serves_again(tmp_path, opened):
    db = tmp_path / "tidewell.db"
    app = build_app(ConsoleConfig(db, ConsoleHub(), Pairing(lambda code: None), lambda scene: b""))
    http = _paired(app)
    try:
        assert http.post("/api/clients", json={"pseudonym": "C-1"}).status_code == 200
        db.write_bytes(b"\x00" * 8192)
        for answer in (
            http.get("/api/clients"),
            http.get("/api/clients/1"),
            http.post("/api/clients", json={"pseudonym": "C-2"}),
        ):
            assert answer.status_code == 503, answer.text
            assert "damaged" in answer.json()["error"] and str(db) in answer.json()["error"]
        db.rename(db.with_name("tidewell-damaged.db"))  # as the message says
        assert http.get("/api/clients").json() == {"clients": []}
        assert http.post("/api/clients", json={"pseudonym": "C-2"}).json() == {"id": 1, "pseudonym": "C-2"}
        assert len(opened) == 1
    finally:
        http.__exit__(None, None, None)
    assert [c["pseudonym"] for c in SessionStore(db, access="read").clients()] == ["C-2"]
