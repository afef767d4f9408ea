"""The console's web application: pages, a JSON API and a WebSocket of live data (Starlette).

Only the static page, the pairing endpoint and the pairing help answer without a session token;
everything that reads or changes data refuses with 401 (no or unknown token) and the WebSocket
closes with 4401. Every state change must come from the console's own page as JSON (guards.py).
Client pseudonyms travel only in request and response bodies, never in URLs: clients are
addressed by number.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from tidewell.core.keymap import default_keymap, load_keymap
from tidewell.core.limits import MAX_ROW_ID
from tidewell.engine.console.auth import COOKIE, Pairing, PairingRefused
from tidewell.engine.console.bodies import BadBody, Control, NewClient, PairBody, RatingBody, StartBody, parse
from tidewell.engine.console.course_routes import course_routes
from tidewell.engine.console.guards import LOOPBACK_HOSTS, BodyLimit, SameOriginJson, SecurityHeaders, origin_refusal
from tidewell.engine.console.hub import ConsoleBusy, ConsoleHub, StartRequest
from tidewell.engine.console.live_socket import stream_live
from tidewell.engine.console.program_views import program_view, start_refusal
from tidewell.engine.console.shared_store import SharedStore
from tidewell.sessions.export import json_safe
from tidewell.sessions.program import ProgramError, builtin_programs, load_program
from tidewell.sessions.store_checks import StoreError, store_error

STATIC = Path(__file__).with_name("static")
TOKEN_MAX_AGE_S = 12 * 3600


@dataclass
class ConsoleConfig:
    db_path: Path
    hub: ConsoleHub
    pairing: Pairing
    thumbnails: Callable[[str], bytes]
    hosts: tuple[str, ...] = LOOPBACK_HOSTS  # the names this console is reached by (Host and Origin)
    public_url: str | None = None  # set once the server listens on the clinic network
    _qr: str | None = None


def build_app(config: ConsoleConfig) -> Starlette:
    routes = [
        Route("/", index),
        Route("/api/pair", pair, methods=["POST"]),
        Route("/api/unpair", unpair, methods=["POST"]),
        Route("/api/pairing-help", pairing_help),
        Route("/api/me", authenticated(whoami)),
        Route("/api/keymap", authenticated(keymap)),
        Route("/api/clients", authenticated(clients)),
        Route("/api/clients", authenticated(add_client), methods=["POST"]),
        Route("/api/clients/{client_id:int}", authenticated(client_history)),
        Route("/api/programs", authenticated(programs)),
        Route("/api/scenes/{scene}/thumbnail.png", authenticated(thumbnail)),
        Route("/api/session/start", authenticated(start), methods=["POST"]),
        Route("/api/session/control", authenticated(control), methods=["POST"]),
        Route("/api/sessions/{session_id:int}/rating", authenticated(rating), methods=["POST"]),
        Route("/sessions/{session_id:int}/report", authenticated(report)),
        *course_routes(authenticated),
        WebSocketRoute("/ws/live", live),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(config.hosts)),
        Middleware(SameOriginJson, hosts=config.hosts),
        Middleware(BodyLimit),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={BadBody: _bad_body, StoreError: _store_problem, sqlite3.Error: _store_problem},
        lifespan=_lifespan,
    )
    app.state.console = config
    app.state.store = SharedStore(config.db_path)  # one for the app's life: a log that cannot be used says so now
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette):
    try:
        yield
    finally:
        app.state.store.close()


def _config(connection: HTTPConnection) -> ConsoleConfig:
    return connection.app.state.console


def _store(connection: HTTPConnection) -> SharedStore:
    return connection.app.state.store


def _token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return connection.cookies.get(COOKIE)


def _row_id(request: Request, name: str) -> int | None:
    """A path id that SQLite can hold, or None (no such row)."""
    value = request.path_params[name]
    return value if 1 <= value <= MAX_ROW_ID else None


async def _body(request: Request, schema):
    return parse(schema, await request.body())


async def _bad_body(request: Request, error: BadBody) -> JSONResponse:
    return JSONResponse({"error": f"bad request body: {error}", "problems": error.problems}, 422)


async def _store_problem(request: Request, error: Exception) -> JSONResponse:
    """The session log is damaged, read-only or on a full disk: one line for the therapist, not a 500."""
    problem = error if isinstance(error, StoreError) else store_error(error, _config(request).db_path)
    if problem is None:
        raise error  # a mistake in Tidewell itself keeps its traceback
    return JSONResponse({"error": str(problem)}, 503)


def authenticated(handler):
    async def guarded(request: Request):
        if not _config(request).pairing.valid(_token(request)):
            return JSONResponse({"error": "not paired: enter the code shown on the engine's screen"}, 401)
        return await handler(request)

    return guarded


async def index(request: Request):
    return FileResponse(STATIC / "index.html")


async def pair(request: Request):
    body = await _body(request, PairBody)
    try:
        token = _config(request).pairing.pair(body.code)
    except PairingRefused as refused:
        if refused.retry_after_s is not None:
            return JSONResponse(
                {"error": str(refused)}, 429, headers={"Retry-After": str(max(1, round(refused.retry_after_s)))}
            )
        return JSONResponse({"error": str(refused)}, 403)
    response = JSONResponse({"paired": True, "token": token})
    response.set_cookie(COOKIE, token, max_age=TOKEN_MAX_AGE_S, **_cookie_flags(request))
    return response


async def unpair(request: Request):
    _config(request).pairing.revoke(_token(request))
    response = JSONResponse({"paired": False})
    response.delete_cookie(COOKIE, **_cookie_flags(request))
    return response


def _cookie_flags(request: Request) -> dict:
    return {"httponly": True, "samesite": "strict", "secure": request.url.scheme == "https"}


async def pairing_help(request: Request):
    """What the pair view shows: the console's address on the clinic network, as text and as a QR
    code; nothing else, so it needs no token (a device that can ask already has the address). Not
    the certificate's fingerprint: a page shows what the server sends, so under a man in the middle
    it would still match the engine's screen; the fingerprint to compare is the browser's own."""
    config = _config(request)
    if config.public_url and config._qr is None:
        import segno

        config._qr = segno.make(config.public_url, error="m").png_data_uri(
            scale=6, border=2, dark="#101418", light="#c9ced6"
        )
    return JSONResponse({"url": config.public_url, "qr": config._qr})


async def whoami(request: Request):
    return JSONResponse({"paired": True})


async def keymap(request: Request):
    try:
        mapping = load_keymap()
    except ValueError as error:
        return JSONResponse({"keys": default_keymap(), "problem": str(error)})
    return JSONResponse({"keys": mapping})


async def clients(request: Request):
    listed = await _store(request).run(lambda s: [dict(row) for row in s.clients_overview()])
    return JSONResponse(json_safe({"clients": listed}))


async def client_history(request: Request):
    client_id = _row_id(request, "client_id")

    def read(s):
        from tidewell.sessions.report import client_overview

        pseudonym = s.client_pseudonym(client_id)
        if pseudonym is None:
            return None
        overview = client_overview(s, pseudonym, progress=False)
        return {
            "id": client_id,
            "pseudonym": pseudonym,
            "resonance_bpm": overview.resonance_bpm,
            "sessions": [asdict(x) for x in overview.sessions],
        }

    found = None if client_id is None else await _store(request).run(read)
    if found is None:
        return JSONResponse({"error": f"no client {request.path_params['client_id']}"}, 404)
    return JSONResponse(json_safe(found))


async def add_client(request: Request):
    pseudonym = (await _body(request, NewClient)).pseudonym

    def write(s):
        s.ensure_client(pseudonym)
        return s.client_id(pseudonym)

    return JSONResponse({"id": await _store(request).run(write), "pseudonym": pseudonym})


async def programs(request: Request):
    def read():
        listed, problems = [], []
        for path in builtin_programs().values():
            try:
                listed.append(program_view(load_program(path)))
            except ProgramError as error:
                problems.append(str(error))
        return {"programs": listed, "problems": problems}

    return JSONResponse(json_safe(await asyncio.to_thread(read)))


async def thumbnail(request: Request):
    scene = request.path_params["scene"]
    try:
        png = await asyncio.to_thread(_config(request).thumbnails, scene)
    except KeyError:
        return JSONResponse({"error": f"no scene {scene[:60]!r}"}, 404)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


async def start(request: Request):
    body = await _body(request, StartBody)
    if body.program not in builtin_programs():
        return JSONResponse(
            {
                "error": f"bad request body: program: no program {body.program!r}",
                "problems": [{"field": "program", "problem": "no such program"}],
            },
            422,
        )

    def client_and_intake(s):
        pseudonym = s.client_pseudonym(body.client_id)
        return (None, None, None) if pseudonym is None else (pseudonym, s.client(pseudonym), s.intake(pseudonym))

    pseudonym, client, intake = await _store(request).run(client_and_intake)
    if pseudonym is None:
        return JSONResponse(
            {
                "error": f"bad request body: client_id: no client {body.client_id}",
                "problems": [{"field": "client_id", "problem": "no such client"}],
            },
            422,
        )
    refusal = await asyncio.to_thread(start_refusal, body.program, client, intake, body.eyes_closed)  # engine too
    if refusal:
        return JSONResponse({"error": refusal, "problems": [{"field": "program", "problem": refusal}]}, 422)
    try:
        answer = _config(request).hub.request_start(
            StartRequest(
                pseudonym, body.client_id, body.program, body.minutes, body.before.model_dump(), body.eyes_closed
            ),
            body.request_id,
        )
    except ConsoleBusy as busy:
        return JSONResponse({"error": str(busy)}, 409)
    return JSONResponse(answer)


async def control(request: Request):
    body = await _body(request, Control)
    argument: Any
    if body.action == "next":
        argument = body.from_phase
    elif body.action == "pause":
        argument = body.paused
    elif body.action == "marker":
        argument = " ".join((body.text or "").split()) or "marker"
    else:
        argument = "therapist (console)"
    try:
        return JSONResponse(_config(request).hub.command(body.action, argument, body.request_id))
    except ConsoleBusy as busy:
        return JSONResponse({"error": str(busy)}, 409)


async def rating(request: Request):
    session_id = _row_id(request, "session_id")
    body = await _body(request, RatingBody)

    if session_id is None:
        return JSONResponse({"error": f"no session {request.path_params['session_id']}"}, 404)
    try:
        await _store(request).run(
            lambda s: s.set_self_report(session_id, body.moment, body.pain, body.stress, body.note)
        )
    except ValueError as error:
        return JSONResponse({"error": str(error)}, 404 if str(error).startswith("no session") else 422)
    return JSONResponse({"stored": body.moment})


async def report(request: Request):
    session_id = _row_id(request, "session_id")

    def make(s):  # made in memory: nothing is written, so a read-only folder or report.html is no obstacle
        from tidewell.sessions.export import ExportError
        from tidewell.sessions.report import html_report

        row = s.session(session_id)
        if row is None or row["status"] == "running":
            return None
        try:
            return html_report(s, session_id)
        except ExportError as error:
            return f"<p>{html.escape(str(error))}</p>"

    page = None if session_id is None else await _store(request).run(make)
    if page is None:
        return JSONResponse({"error": f"no finished session {request.path_params['session_id']}"}, 404)
    return HTMLResponse(page)


async def live(websocket: WebSocket):
    config = _config(websocket)
    origin = websocket.headers.get("origin")
    if origin and origin_refusal(websocket.scope, config.hosts, origin):
        await websocket.close(code=4403)  # another site's page, riding on the cookie
        return
    if not config.pairing.valid(_token(websocket)):
        await websocket.close(code=4401)
        return
    await websocket.accept()
    await stream_live(websocket, config.hub, lambda: config.pairing.valid(_token(websocket)))
