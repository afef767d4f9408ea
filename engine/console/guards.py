"""ASGI middleware in front of every console route: response headers, same-origin JSON-only
state changes, and a cap on request bodies.

A page on another port of the same host is another origin but the same site, so SameSite cookies
ride along with its forms and no-cors fetches; only the Origin header tells them apart. Browsers
send Origin on every POST and every WebSocket handshake.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders

from tidewell.core.errors import TidewellError

MAX_BODY_BYTES = 64 * 1024
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
OPEN_PATHS = ("/", "/favicon.ico")  # a link from anywhere may open the page itself
DEFAULT_PORTS = {"http": 80, "https": 443}
HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?")


def origin_refusal(scope, hosts: tuple[str, ...], origin: str | None) -> str | None:
    """Why `origin` is not this server's own (scheme, host and port), or None when it is."""
    if not origin:
        return "missing Origin header"
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    server = scope.get("server") or (None, None)
    try:
        parts = urlsplit(origin)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return "malformed Origin header"
    if parts.scheme != scheme or parts.hostname not in hosts or port != server[1]:
        return f"foreign Origin {origin[:100]!r}: only this console's own page may change anything"
    return None


def _refuse(status: int, message: str):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status)


class SecurityHeaders:
    """Pages of this app only, never framed, sniffed or cached (they carry health data); the console
    page loads nothing from elsewhere."""

    PAGE_POLICY = (
        "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' {socket}; "
        "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # The live socket by name too: older Safari does not count ws:/wss: of its own host as 'self'.
        host = Headers(scope=scope).get("host", "")
        socket = f"{'wss' if scope.get('scheme') == 'https' else 'ws'}://{host}" if HOST.fullmatch(host) else ""
        policy = self.PAGE_POLICY.format(socket=socket)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                headers.setdefault("Content-Security-Policy", policy)
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SameOriginJson:
    """Every state-changing request comes from this console's own page (Origin) and is JSON
    (Content-Type), so no form or no-cors fetch from another page can make one. Reads are refused
    too when the browser says another site's page asked (Sec-Fetch-Site): an <img> pointing at a
    report would otherwise have the engine draw it again and again during a session."""

    def __init__(self, app, hosts: tuple[str, ...]):
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] in SAFE_METHODS:
            site = Headers(scope=scope).get("sec-fetch-site")
            if (
                site not in (None, "same-origin", "none")
                and scope["path"] not in OPEN_PATHS
                and not scope["path"].startswith("/static/")
            ):
                return await _refuse(403, f"asked for by another site's page (Sec-Fetch-Site: {site[:20]})")(
                    scope, receive, send
                )
        else:
            headers = Headers(scope=scope)
            refusal = origin_refusal(scope, self.hosts, headers.get("origin"))
            if refusal:
                return await _refuse(403, refusal)(scope, receive, send)
            media_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != "application/json":
                shown = media_type or "none"
                return await _refuse(415, f"Content-Type must be application/json, not {shown[:60]}")(
                    scope, receive, send
                )
        await self.app(scope, receive, send)


class BodyTooLarge(TidewellError):
    pass


class BodyLimit:
    """Request bodies over `limit` bytes are refused with 413: at once when Content-Length says so,
    else as soon as the bytes received pass the limit (chunked or lying bodies), before any route
    has buffered or parsed them."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = _refuse(413, f"request body over the console's limit of {self.limit // 1024} KiB")
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await too_large(scope, receive, send)
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge()
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await too_large(scope, receive, send)
