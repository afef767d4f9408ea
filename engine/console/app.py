"""The console's web application: pages, a JSON API and a WebSocket of live data (Starlette).

Only the static page and the pairing endpoint answer without a session token; everything that
reads or changes data refuses with 401 (no or unknown token) and the WebSocket closes with 4401.
Client pseudonyms travel only in request and response bodies, never in URLs: clients are
addressed by number.
"""
from __future__ import annotations

import asyncio
import html
import json
import re
from contextlib import closing as _closing
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from tidewell.engine.console.auth import COOKIE, Pairing, PairingRefused
from tidewell.engine.console.hub import ConsoleBusy, ConsoleHub, StartRequest
from tidewell.engine.keymap import default_keymap, load_keymap
from tidewell.sessions.export import json_safe
from tidewell.sessions.program import ProgramError, builtin_programs, load_program
from tidewell.sessions.store import SessionStore

STATIC = Path(__file__).with_name("static")
LIVE_PERIOD_S = 0.25
PSEUDONYM = re.compile(r"[\w.\- ]{1,40}")
NOTE_MAX = 500


class ConsoleConfig:
    def __init__(self, db_path: Path, hub: ConsoleHub, pairing: Pairing, thumbnails: Callable[[str], bytes],
                 secure_cookie: bool = False):
        self.db_path = db_path
        self.hub = hub
        self.pairing = pairing
        self.thumbnails = thumbnails
        self.secure_cookie = secure_cookie


def build_app(config: ConsoleConfig) -> Starlette:
    hub, pairing = config.hub, config.pairing

    def store() -> SessionStore:
        return SessionStore(config.db_path)

    def token_of(request) -> str | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        return request.cookies.get(COOKIE)

    def authenticated(handler):
        async def guarded(request: Request):
            if not pairing.valid(token_of(request)):
                return JSONResponse({"error": "not paired: enter the code shown on the engine's screen"}, 401)
            return await handler(request)
        return guarded

    async def index(request: Request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def pair(request: Request):
        body = await _json(request)
        try:
            token = pairing.pair(str(body.get("code", "")))
        except PairingRefused as refused:
            if refused.retry_after_s is not None:
                return JSONResponse({"error": str(refused)}, 429,
                                    headers={"Retry-After": str(max(1, round(refused.retry_after_s)))})
            return JSONResponse({"error": str(refused)}, 403)
        response = JSONResponse({"paired": True, "token": token})
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=config.secure_cookie,
                            max_age=12 * 3600)
        return response

    async def unpair(request: Request):
        pairing.revoke(token_of(request))
        response = JSONResponse({"paired": False})
        response.delete_cookie(COOKIE)
        return response

    async def whoami(request: Request):
        return JSONResponse({"paired": True})

    async def keymap(request: Request):
        try:
            mapping = load_keymap()
        except ValueError as error:
            return JSONResponse({"keys": default_keymap(), "problem": str(error)})
        return JSONResponse({"keys": mapping})

    async def clients(request: Request):
        def read():
            with _closing(store()) as s:
                rows = s.conn.execute(
                    "SELECT c.rowid AS id, c.pseudonym, c.resonance_bpm, COUNT(s.id) AS sessions, "
                    "MAX(s.started_at) AS last_started FROM clients c LEFT JOIN sessions s ON s.client = c.pseudonym "
                    "GROUP BY c.pseudonym ORDER BY last_started IS NULL, last_started DESC, c.pseudonym").fetchall()
                return [dict(r) for r in rows]
        return JSONResponse({"clients": await asyncio.to_thread(read)})

    async def client_history(request: Request):
        client_id = request.path_params["client_id"]

        def read():
            from tidewell.sessions.report import client_overview

            with _closing(store()) as s:
                row = s.conn.execute("SELECT pseudonym FROM clients WHERE rowid = ?", (client_id,)).fetchone()
                if row is None:
                    return None
                overview = client_overview(s, row["pseudonym"], progress=False)
                return {"id": client_id, "pseudonym": row["pseudonym"], "resonance_bpm": overview.resonance_bpm,
                        "sessions": [asdict(x) for x in overview.sessions]}
        found = await asyncio.to_thread(read)
        if found is None:
            return JSONResponse({"error": f"no client {client_id}"}, 404)
        return JSONResponse(json_safe(found))

    async def add_client(request: Request):
        body = await _json(request)
        pseudonym = str(body.get("pseudonym", "")).strip()
        if not PSEUDONYM.fullmatch(pseudonym):
            return JSONResponse({"error": "a pseudonym is 1-40 letters, digits, spaces, dots, dashes or underscores"
                                          " (never a real name)"}, 422)

        def write():
            with _closing(store()) as s:
                s.ensure_client(pseudonym)
                return s.conn.execute("SELECT rowid FROM clients WHERE pseudonym = ?", (pseudonym,)).fetchone()[0]
        return JSONResponse({"id": await asyncio.to_thread(write), "pseudonym": pseudonym})

    async def programs(request: Request):
        def read():
            listed, problems = [], []
            for program_id, path in builtin_programs().items():
                try:
                    listed.append(program_view(load_program(path)))
                except ProgramError as error:
                    problems.append(str(error))
            return {"programs": listed, "problems": problems}
        return JSONResponse(await asyncio.to_thread(read))

    async def thumbnail(request: Request):
        scene = request.path_params["scene"]
        try:
            png = await asyncio.to_thread(config.thumbnails, scene)
        except KeyError:
            return JSONResponse({"error": f"no scene {scene!r}"}, 404)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    async def start(request: Request):
        body = await _json(request)
        try:
            client_id = int(body.get("client_id"))
            program_id = str(body.get("program"))
            minutes = body.get("minutes")
            minutes = None if minutes in (None, "") else float(minutes)
            if minutes is not None and not 0.1 <= minutes <= 240:
                raise ValueError("minutes must be between 0.1 and 240")
            before = _rating(body.get("before") or {})
        except (TypeError, ValueError) as error:
            return JSONResponse({"error": f"bad start request: {error}"}, 422)
        if program_id not in builtin_programs():
            return JSONResponse({"error": f"no program {program_id!r}"}, 422)

        def client_name():
            with _closing(store()) as s:
                row = s.conn.execute("SELECT pseudonym FROM clients WHERE rowid = ?", (client_id,)).fetchone()
                return row["pseudonym"] if row else None
        pseudonym = await asyncio.to_thread(client_name)
        if pseudonym is None:
            return JSONResponse({"error": f"no client {client_id}"}, 422)
        try:
            answer = hub.request_start(StartRequest(pseudonym, client_id, program_id, minutes, before),
                                       body.get("request_id"))
        except ConsoleBusy as busy:
            return JSONResponse({"error": str(busy)}, 409)
        return JSONResponse(answer)

    async def control(request: Request):
        body = await _json(request)
        action = body.get("action")
        if action == "next":
            try:
                argument: Any = int(body["from_phase"])
            except (KeyError, TypeError, ValueError):
                return JSONResponse({"error": "next needs from_phase: the phase it means to leave"}, 422)
        elif action == "pause":
            argument = bool(body.get("paused", True))
        elif action == "marker":
            argument = " ".join(str(body.get("text") or "marker").split())[:200]
        elif action == "end":
            argument = "therapist (console)"
        else:
            return JSONResponse({"error": "action must be next, pause, marker or end"}, 422)
        try:
            return JSONResponse(hub.command(action, argument, body.get("request_id")))
        except ConsoleBusy as busy:
            return JSONResponse({"error": str(busy)}, 409)

    async def rating(request: Request):
        session_id = request.path_params["session_id"]
        body = await _json(request)
        try:
            moment = body.get("moment", "after")
            report = _rating(body)
        except (TypeError, ValueError) as error:
            return JSONResponse({"error": f"bad rating: {error}"}, 422)

        def write():
            with _closing(store()) as s:
                s.set_self_report(session_id, moment, report["pain"], report["stress"], report["note"])
        try:
            await asyncio.to_thread(write)
        except ValueError as error:
            return JSONResponse({"error": str(error)}, 422)
        return JSONResponse({"stored": moment})

    async def report(request: Request):
        session_id = request.path_params["session_id"]

        def make():
            from tidewell.sessions.export import ExportError
            from tidewell.sessions.report import write_html_report

            with _closing(store()) as s:
                row = s.session(session_id)
                if row is None or row["status"] == "running":
                    return None
                folder = Path(row["folder"]) if row["folder"] else config.db_path.parent
                path = folder / "report.html"
                try:
                    write_html_report(s, session_id, path, progress=False)
                except ExportError as error:
                    return f"<p>{html.escape(str(error))}</p>"
                return path.read_text(encoding="utf-8")
        page = await asyncio.to_thread(make)
        if page is None:
            return JSONResponse({"error": f"no finished session {session_id}"}, 404)
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def live(websocket: WebSocket):
        origin = websocket.headers.get("origin")
        if origin and urlsplit(origin).netloc != websocket.headers.get("host"):
            await websocket.close(code=4403)  # another site's page, riding on the cookie
            return
        if not pairing.valid(token_of(websocket)):
            await websocket.close(code=4401)
            return
        await websocket.accept()
        points_from, events_after, sent_seq, sent_session = 0, 0, -1, None
        try:
            while True:
                if hub.seq != sent_seq:
                    view = hub.snapshot(points_from, events_after)
                    if view["session_id"] != sent_session or view["points_total"] < points_from:
                        view = hub.snapshot(0, 0)  # a new session: its whole history
                    sent_session = view["session_id"]
                    await websocket.send_text(json.dumps(view))
                    sent_seq = view["seq"]
                    points_from = view["points_total"]
                    if view["events"]:
                        events_after = view["events"][-1]["seq"]
                if not pairing.valid(token_of(websocket)):
                    await websocket.close(code=4401)
                    return
                await asyncio.sleep(LIVE_PERIOD_S)
        except (WebSocketDisconnect, RuntimeError):
            return  # the tablet went to sleep; the session is not affected

    routes = [
        Route("/", index),
        Route("/api/pair", pair, methods=["POST"]),
        Route("/api/unpair", unpair, methods=["POST"]),
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
        WebSocketRoute("/ws/live", live),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])


class SecurityHeaders:
    """Pages of this app only, never framed or sniffed; the console page loads nothing from elsewhere."""

    PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; "
                   "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                headers.setdefault("Content-Security-Policy", self.PAGE_POLICY)
            await send(message)
        await self.app(scope, receive, send_with_headers)


def program_view(program) -> dict:
    return {
        "id": program.id, "title": program.title, "description": program.description,
        "minutes": round(program.minutes, 2),
        "phases": [{"name": p.name, "kind": p.kind.value, "scene": p.scene, "posture": p.posture.value,
                    "minutes": round(p.minutes, 3), "pace": round(p.breathing.rate_bpm, 2),
                    "waits": p.advance.value == "therapist"} for p in program.phases],
    }


def _rating(body: dict) -> dict:
    out = {}
    for key in ("pain", "stress"):
        value = body.get(key)
        if value in (None, ""):
            out[key] = None
            continue
        number = int(value)
        if not 0 <= number <= 10:
            raise ValueError(f"{key} must be 0-10")
        out[key] = number
    out["note"] = str(body.get("note") or "")[:NOTE_MAX]
    return out


async def _json(request: Request) -> dict:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}

