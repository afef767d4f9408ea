"""A real `tidewell console` in a process of its own, on a free port, with its own data folder.

Its terminal output is collected line by line: the URL and the pairing codes it announces come
from there, as a therapist would read them off the engine's screen.
"""
from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx2

URL_LINE = re.compile(r"console: (http://127\.0\.0\.1:\d+/)#pair=(\d{6})")
CODE_LINE = re.compile(r"console pairing code: (\d{3}) (\d{3})")
START_TIMEOUT_S = 90.0  # thumbnails are rendered on llvmpipe before the server listens


class Console:
    def __init__(self, process: subprocess.Popen, data_dir: Path):
        self.process = process
        self.data_dir = data_dir
        self.url = ""
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
        raise AssertionError(f"no line matching {pattern!r} within {timeout_s:g} s; output so far:\n"
                             + "\n".join(self.lines[-40:]))

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

    def paired_client(self) -> httpx2.Client:
        """An HTTP client holding a fresh session token (pairs with the current code)."""
        client = httpx2.Client(base_url=self.url, timeout=30.0)
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


@contextmanager
def running_console(data_dir: Path, *extra: str, env: dict | None = None) -> Iterator[Console]:
    env = {k: v for k, v in (env or os.environ).items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["TIDEWELL_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    command = [sys.executable, "-m", "tidewell.engine.cli", "console", "--port", "0", "--headless", *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               start_new_session=True)
    console = Console(process, data_dir)
    try:
        console.wait_for(URL_LINE.pattern, START_TIMEOUT_S)
        yield console
    finally:
        console.stop()


def run_short_session(data_dir: Path, client: str) -> None:
    """A finished session for `client` in virtual time, so the console has history to show."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["TIDEWELL_DATA_DIR"] = str(data_dir)
    result = subprocess.run([sys.executable, "-m", "tidewell.engine.cli", "run", "--client", client, "--virtual-time",
                             "--minutes", "0.5", "--headless", "--pain", "5", "--stress", "6"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
