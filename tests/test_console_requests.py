"""What the console's server accepts, over real HTTP against a running `tidewell console`: state
changes only from its own page and only as JSON, bodies capped before they are read, and every
body checked field by field (422 naming the field, never a 500)."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import threading
import time

import pytest
from console_testbed import console_with_history, start_session, wait_running
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

PSEUDONYM = "plover-3"
MB = 1024 * 1024
POST_ROUTES = [
    "/api/pair",
    "/api/unpair",
    "/api/clients",
    "/api/session/start",
    "/api/session/control",
    "/api/sessions/1/rating",
]


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with console_with_history(tmp_path_factory.mktemp("console-data"), PSEUDONYM) as running:
        yield running


@pytest.fixture(scope="module")
def http(console):
    return console.paired_client()


def _client_names(http) -> list[str]:
    return [c["pseudonym"] for c in http.get("/api/clients").json()["clients"]]


# -- same origin, JSON only ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", POST_ROUTES)
def test_a_state_change_without_an_origin_is_refused(console, http, path):
    answer = http.post(path, json={"pseudonym": "no-origin"}, headers={"Origin": ""})
    assert answer.status_code == 403, answer.text
    assert "missing Origin" in answer.json()["error"]


@pytest.mark.parametrize("path", POST_ROUTES)
def test_a_state_change_from_another_origin_is_refused(console, http, path):
    other_port = console.port + 1 if console.port < 65535 else console.port - 1
    for origin in (
        f"http://127.0.0.1:{other_port}",
        f"https://127.0.0.1:{console.port}",
        "null",
        f"http://127.0.0.1.evil.example:{console.port}",
        f"http://localhost:{other_port}",
    ):
        answer = http.post(path, json={"pseudonym": "foreign-origin"}, headers={"Origin": origin})
        assert answer.status_code == 403, (origin, answer.text)
        assert "foreign Origin" in answer.json()["error"]
    assert "foreign-origin" not in _client_names(http)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "text/plain; charset=application/json",
        None,
    ],
)
def test_a_state_change_that_is_not_json_is_refused(console, http, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    sent = http.build_request("POST", "/api/clients", content=b'{"pseudonym": "form-made"}', headers=headers)
    assert content_type is not None or "Content-Type" not in sent.headers
    answer = http.send(sent)
    assert answer.status_code == 415, answer.text
    assert "Content-Type must be application/json" in answer.json()["error"]
    assert "form-made" not in _client_names(http)
    with_charset = http.post(
        "/api/clients",
        content=b'{"pseudonym": "json-made"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert with_charset.status_code == 200


def test_the_live_feed_refuses_another_origin_by_the_same_rule(console, http):
    token = http.headers["Authorization"].split()[1]

    async def attempt(origin):
        async with connect(
            console.url.replace("http", "ws") + "ws/live",
            origin=origin,
            additional_headers={"Authorization": f"Bearer {token}"},
        ) as ws:
            return json.loads(await ws.recv())

    assert "status" in asyncio.run(attempt(console.origin))
    for origin in (f"http://127.0.0.1:{console.port + 1}", f"https://127.0.0.1:{console.port}"):
        with pytest.raises(InvalidStatus) as refused:
            asyncio.run(attempt(origin))
        assert refused.value.response.status_code == 403


@pytest.mark.parametrize("path", ["/sessions/1/report", "/api/clients", "/api/clients/1", "/api/programs", "/api/me"])
def test_reads_asked_for_by_another_sites_page_are_refused(console, http, path):
    """An <img> or no-cors fetch on a page at another port carries the cookie too."""
    for site in ("same-site", "cross-site"):
        answer = http.get(path, headers={"Sec-Fetch-Site": site})
        assert answer.status_code == 403, (site, answer.status_code)
        assert PSEUDONYM not in answer.text
    for site in ("same-origin", "none"):
        assert http.get(path, headers={"Sec-Fetch-Site": site}).status_code == 200, site
    assert http.get(path).status_code == 200, "clients that send no fetch metadata (scripts, older browsers)"
    assert console.client().get("/", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200, (
        "a link from anywhere may open the page itself"
    )


def test_another_host_name_is_refused(console):
    """A name this console does not go by (DNS rebinding) reaches nothing."""
    with console.client() as http:
        answer = http.get("/", headers={"Host": f"rebound.example:{console.port}"})
    assert answer.status_code == 400


# -- typed bodies -------------------------------------------------------------------------------------
def _refused(answer, field: str) -> str:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert field in [p["field"] for p in answer.json()["problems"]], error
    assert "Traceback" not in answer.text
    return error


def test_a_null_pseudonym_is_refused(console, http):
    error = _refused(http.post("/api/clients", json={"pseudonym": None}), "pseudonym")
    assert "1-40 letters" in error
    _refused(http.post("/api/clients", json={"pseudonym": "<script>"}), "pseudonym")
    assert "None" not in _client_names(http) and "<script>" not in _client_names(http)


@pytest.mark.parametrize("score", [5.9, -0.5, 5.0, "5", 11, -1, True])
def test_ratings_are_whole_numbers_from_0_to_10(console, http, score):
    _refused(http.post("/api/sessions/1/rating", json={"moment": "after", "pain": score}), "pain")
    _refused(
        http.post("/api/session/start", json={"client_id": 1, "program": "taster", "before": {"stress": score}}),
        "before.stress",
    )
    with sqlite3.connect(console.data_dir / "tidewell.db") as db:
        stored = db.execute("SELECT pain FROM self_reports WHERE session_id = 1 AND moment = 'after'").fetchall()
    assert stored in ([], [(None,)]), "a refused rating is not stored"


def test_free_text_carries_no_control_characters(console, http):
    """Notes and markers reach the log, the report and the engine's terminal."""
    error = _refused(http.post("/api/sessions/1/rating", json={"moment": "after", "note": "ok\x1b[2J"}), "note")
    assert "control characters" in error and "Value error" not in error
    _refused(http.post("/api/session/control", json={"action": "marker", "text": "\x1b]0;hi\x07"}), "text")
    # the same rule as the terminal's (core/terminal.py): bidi overrides reorder what is shown
    error = _refused(http.post("/api/session/control", json={"action": "marker", "text": "left \u202esuipert"}), "text")
    assert "control characters" in error
    _refused(http.post("/api/sessions/1/rating", json={"moment": "after", "note": "a\u2066b"}), "note")
    _refused(http.post("/api/session/control", json={"action": "end", "request_id": "a\nb"}), "request_id")


def test_a_note_has_the_same_limit_as_on_the_command_line(console, http):
    """2000 characters at every door (core/limits.py)."""
    long_note = "loosened " * 222  # 1998 characters
    assert http.post("/api/sessions/1/rating", json={"moment": "after", "note": long_note}).status_code == 200
    with sqlite3.connect(console.data_dir / "tidewell.db") as db:
        assert db.execute("SELECT note FROM self_reports WHERE session_id = 1 AND moment = 'after'").fetchall() == [
            (long_note,)
        ]
    error = _refused(http.post("/api/sessions/1/rating", json={"moment": "after", "note": "x" * 2001}), "note")
    assert "2000" in error


@pytest.mark.parametrize("minutes", [0.04, 240.5])
def test_a_start_asks_for_minutes_within_the_programs_bounds(console, http, minutes):
    error = _refused(
        http.post("/api/session/start", json={"client_id": 1, "program": "taster", "minutes": minutes}), "minutes"
    )
    assert ("0.05" if minutes < 1 else "240") in error
    # the program module's own bounds (sessions/program.py), a 3 s try-out included
    from tidewell.engine.console.bodies import StartBody, parse
    from tidewell.sessions.program import MIN_SCALED_MINUTES

    assert (
        parse(StartBody, b'{"client_id": 1, "program": "taster", "minutes": %g}' % MIN_SCALED_MINUTES).minutes
        == MIN_SCALED_MINUTES
    )


def test_pause_takes_a_json_boolean(console, http):
    error = _refused(http.post("/api/session/control", json={"action": "pause", "paused": "false"}), "paused")
    assert "boolean" in error
    _refused(http.post("/api/session/control", json={"action": "next", "from_phase": "1"}), "from_phase")
    _refused(http.post("/api/session/control", json={"action": "jump"}), "action")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"client_id": 1e309, "program": "taster"}',
        b'{"client_id": 99999999999999999999999999999, "program": "taster"}',
        b'{"client_id": 9223372036854775808, "program": "taster"}',
        b'{"client_id": 1, "program": "taster", "minutes": 1e309}',
        b'{"client_id": 1, "program": "taster", "minutes": -1e309}',
    ],
)
def test_overflowing_numbers_are_refused(console, http, raw):
    field = "minutes" if b"minutes" in raw else "client_id"
    _refused(http.post("/api/session/start", content=raw, headers={"Content-Type": "application/json"}), field)


def test_json_nested_100k_deep_is_refused(console, http):
    """100k deep is 200 KB: the size cap refuses it; 30k deep fits under the cap and the parser
    refuses its depth."""
    for depth, status in ((100_000, 413), (30_000, 422)):
        deep = b"[" * depth + b"]" * depth
        for path in ("/api/clients", "/api/session/control", "/api/pair"):
            answer = http.post(
                path, content=b'{"pseudonym": ' + deep + b"}", headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == status, answer.text
            if status == 422:
                assert "recursion" in _refused(answer, "body")
    assert "Traceback" not in "\n".join(console.lines)


@pytest.mark.parametrize(
    "path",
    [
        "/api/clients/99999999999999999999",
        "/api/clients/9223372036854775808",
        "/api/clients/0",
        "/sessions/99999999999999999999/report",
    ],
)
def test_ids_beyond_sqlite_give_404(console, http, path):
    answer = http.get(path)
    assert answer.status_code == 404, answer.text


def test_a_rating_for_an_id_beyond_sqlite_gives_404(console, http):
    answer = http.post("/api/sessions/99999999999999999999/rating", json={"moment": "after", "pain": 1})
    assert answer.status_code == 404, answer.text


GARBAGE = [
    b"",
    b"null",
    b"[]",
    b"{",
    b'"text"',
    b"1e309",
    b"-0",
    b"\xff\xfe\x00",
    b'{"a": NaN}',
    b"{}",
    b'{"code": {"$ne": 1}}',
    b'{"pseudonym": ["a"]}',
    b'{"action": null}',
    b'{"action": "next", "from_phase": 1e400}',
    b'{"client_id": -1, "program": null}',
    b'{"moment": "during"}',
    b'{"note": "' + b"x" * 600 + b'"}',
    b'{"__proto__": {}}',
    json.dumps({"request_id": "r" * 1000}).encode(),
    b"\x00" * 100,
]


@pytest.mark.parametrize("path", POST_ROUTES)
def test_garbage_bodies_never_give_a_server_error(console, path):
    http = console.paired_client()  # of its own: an unpair revokes it
    for raw in GARBAGE:
        answer = http.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert answer.status_code < 500, (path, raw[:40], answer.status_code, answer.text)
        assert "Traceback" not in answer.text
    assert "Traceback" not in "\n".join(console.lines)


# -- body size ----------------------------------------------------------------------------------------
def _post_raw(port: int, path: str, size: int, chunked: bool) -> tuple[int, int]:
    """POST `size` bytes of a digit-filled pairing code; (status, bytes the server let through)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n")
        + "\r\n"
    ).encode()
    body = b'{"code": "' + b"1" * (size - 12) + b'"}'
    sent = [0]

    def upload(sock):
        try:
            for start in range(0, len(body), MB):
                piece = body[start : start + MB]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent[0] += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: the rest is not wanted

    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head)
        uploader = threading.Thread(target=upload, args=(sock,), daemon=True)
        uploader.start()
        answer = b""
        while b"\r\n" not in answer:
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
        uploader.join(timeout=120)
    return int(answer.split()[1]), sent[0]


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_64_kib_is_refused_before_it_is_read(console, chunked):
    status, _ = _post_raw(console.port, "/api/pair", 10 * MB, chunked)
    assert status == 413


def test_a_body_just_under_the_cap_is_read(console, http):
    answer = http.post("/api/clients", json={"pseudonym": "x" * (60 * 1024)})
    assert answer.status_code == 422  # read and judged, not cut off
    over = http.post("/api/clients", json={"pseudonym": "x" * (65 * 1024)})
    assert over.status_code == 413 and "64 KiB" in over.json()["error"]


def test_a_100_mb_upload_during_a_session_neither_pairs_nor_stalls_it(console, http):
    """The frame samples (4 Hz) keep their usual spacing while someone uploads 100 MB to the
    pairing endpoint; compared with the same session's own gaps before the upload."""
    token = http.headers["Authorization"].split()[1]
    start_session(http, minutes=1.0, request_id="start-upload")
    running = wait_running(console.url, token)
    time.sleep(8.0)  # samples to compare with
    upload_from = wait_running(console.url, token)["latest"]["t_s"]
    answers = [_post_raw(console.port, "/api/pair", 100 * MB, chunked) for chunked in (False, True)]
    upload_to = wait_running(console.url, token)["latest"]["t_s"] + 2.0
    http.post("/api/session/control", json={"action": "end", "request_id": "end-upload"})
    console.wait_for(r"session over", 90.0)

    assert [status for status, _ in answers] == [413, 413]
    with sqlite3.connect(console.data_dir / "tidewell.db") as db:
        times = [
            t
            for (t,) in db.execute(
                "SELECT t_s FROM samples WHERE session_id = ? ORDER BY t_s", (running["session_id"],)
            )
        ]
    gaps = [(b, b - a) for a, b in zip(times, times[1:])]
    before = [gap for t, gap in gaps if 2.0 < t < upload_from]
    during = [gap for t, gap in gaps if upload_from <= t <= upload_to]
    assert len(before) >= 10 and during, (len(before), len(during))
    assert max(during) <= 4 * max(before), (
        f"the upload stalled the session: gaps {max(during):.2f} s vs {max(before):.2f} s before"
    )
