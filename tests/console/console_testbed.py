"""A real `tidewell console` in a process of its own, on a free port, with its own data folder.

Its terminal output is collected line by line: the URL, the pairing codes and (with --lan) the
certificate's fingerprint it announces come from there, as a therapist would read them off the
engine's screen. A --lan console listens on every address, but tests reach it only on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import queue
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx2

URL_LINE = re.compile(r"console: (http://127\.0\.0\.1:\d+/)#pair=(\d{6})")
LAN_LINE = re.compile(r"console on the clinic network: https://\S+:(\d+)/  pairing code: (\d{3}) (\d{3})")
FINGERPRINT_LINE = re.compile(r"certificate SHA-256: ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})")
CODE_LINE = re.compile(r"console pairing code: (\d{3}) (\d{3})")
START_TIMEOUT_S = 90.0  # thumbnails are rendered on llvmpipe before the server listens


class Console:
    def __init__(self, process: subprocess.Popen, data_dir: Path):
        self.process = process
        self.data_dir = data_dir
        self.url = ""
        self.fingerprint = ""  # of the TLS certificate (--lan)
        self.lines: list[str] = []
        self._codes: list[str] = []
        self._new_lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            found = URL_LINE.search(line)
            if found:
                self.url = found.group(1)
                self._codes.append(found.group(2))
            found = LAN_LINE.search(line)
            if found:
                self.url = f"https://127.0.0.1:{found.group(1)}/"
                self._codes.append(found.group(2) + found.group(3))
            found = FINGERPRINT_LINE.search(line)
            if found:
                self.fingerprint = found.group(1)
            found = CODE_LINE.search(line)
            if found:
                self._codes.append(found.group(1) + found.group(2))
            self._new_lines.put(line)

    def wait_for(self, pattern: str, timeout_s: float) -> str:
        """The first new line matching `pattern` (a regex)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._new_lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if re.search(pattern, line):
                return line
        raise AssertionError(
            f"no line matching {pattern!r} within {timeout_s:g} s; output so far:\n" + "\n".join(self.lines[-40:])
        )

    @property
    def code(self) -> str:
        """The pairing code the engine shows now."""
        deadline = time.monotonic() + 30.0  # only a deadline: the code comes as soon as the engine prints it
        while not self._codes and time.monotonic() < deadline:
            time.sleep(0.05)
        return self._codes[-1]

    def code_after(self, count: int, timeout_s: float = 30.0) -> str:
        deadline = time.monotonic() + timeout_s
        while len(self._codes) <= count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self._codes[-1]

    @property
    def codes_shown(self) -> int:
        return len(self._codes)

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")

    @property
    def port(self) -> int:
        return int(self.origin.rsplit(":", 1)[1])

    def verify(self) -> ssl.SSLContext | bool:
        """For a TLS console: a context trusting exactly the certificate whose fingerprint was printed."""
        return pinned_context("127.0.0.1", self.port, self.fingerprint) if self.url.startswith("https") else True

    def client(self, **options) -> httpx2.Client:
        """An HTTP client as the console's own page is one: its Origin on every request."""
        return httpx2.Client(
            base_url=self.url, timeout=30.0, headers={"Origin": self.origin}, verify=self.verify(), **options
        )

    def paired_client(self) -> httpx2.Client:
        """An HTTP client holding a fresh session token (pairs with the current code)."""
        client = self.client()
        shown = self.codes_shown
        answer = client.post("/api/pair", json={"code": self.code})
        assert answer.status_code == 200, answer.text
        self.code_after(shown)  # the engine shows the next code
        client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        return client

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def pinned_context(host: str, port: int, fingerprint: str) -> ssl.SSLContext:
    """Trust exactly the server certificate whose SHA-256 is `fingerprint` (ssl.SSLError otherwise),
    host name checked as usual."""
    pem = ssl.get_server_certificate((host, port))
    seen = certificate_fingerprint(ssl.PEM_cert_to_DER_cert(pem))
    if seen != fingerprint:
        raise ssl.SSLError(f"the server's certificate {seen} is not the one printed ({fingerprint})")
    context = ssl.create_default_context(cadata=pem)
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a self-signed server certificate as its own anchor
    return context


def certificate_fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).digest().hex(":").upper()


@contextmanager
def running_console(
    data_dir: Path, *extra: str, env: dict | None = None, config_dir: Path | None = None, port: int = 0
) -> Iterator[Console]:
    env = {k: v for k, v in (env or os.environ).items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["TIDEWELL_DATA_DIR"] = str(data_dir)
    env["TIDEWELL_CONFIG_DIR"] = str(config_dir or data_dir.with_name(data_dir.name + "-config"))
    env["PYTHONUNBUFFERED"] = "1"
    command = [sys.executable, "-m", "tidewell.engine.cli", "console", "--port", str(port), "--headless", *extra]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    console = Console(process, data_dir)
    try:
        console.wait_for("waiting for the console to start a session", START_TIMEOUT_S)  # after the URL and codes
        yield console
    finally:
        console.stop()


@contextmanager
def console_with_history(data_dir: Path, client: str) -> Iterator[Console]:
    """A console over a data folder that already holds one finished session of `client`."""
    run_short_session(data_dir, client)
    with running_console(data_dir) as running:
        yield running


def run_short_session(data_dir: Path, client: str) -> None:
    """A finished session for `client` in virtual time, so the console has history to show."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["TIDEWELL_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tidewell.engine.cli",
            "run",
            "--client",
            client,
            "--virtual-time",
            "--minutes",
            "0.5",
            "--headless",
            "--pain",
            "5",
            "--stress",
            "6",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def start_session(http: httpx2.Client, minutes: float = 1.0, request_id: str = "start-1") -> dict:
    """Starts the taster for a client "wren-2" as the page does, with a double tap."""
    client_id = http.post("/api/clients", json={"pseudonym": "wren-2"}).json()["id"]
    body = {
        "client_id": client_id,
        "program": "taster",
        "minutes": minutes,
        "request_id": request_id,
        "before": {"pain": 4, "stress": 6, "note": "tight shoulders"},
    }
    answers = [http.post("/api/session/start", json=body) for _ in range(2)]  # a double tap
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    return body


def wait_running(http_url: str, token: str, timeout_s: float = 60.0, ssl_context: ssl.SSLContext | None = None) -> dict:
    """The first live view (over the WebSocket, WSS for an https URL) of a running session."""
    from websockets.asyncio.client import connect

    async def watch():
        async with connect(
            http_url.replace("http", "ws", 1) + "ws/live",
            ssl=ssl_context,
            additional_headers={"Authorization": f"Bearer {token}"},
        ) as ws:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                view = json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout_s))
                if view["status"] == "running" and view["latest"]:
                    return view
        raise AssertionError("the session did not start")

    with ThreadPoolExecutor(1) as worker:  # a loop of its own, also beside Playwright's
        return worker.submit(asyncio.run, watch()).result()
