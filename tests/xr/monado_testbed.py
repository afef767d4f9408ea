"""Monado's monado-service with its simulated headset and null compositor, for the XR tests.

    with monado_service(tmp_path) as service:    # a private XDG_RUNTIME_DIR, so runs never share a service
        env = service.client_env()               # for a process that opens an OpenXR session
        service.hide_session("Tidewell")         # another client takes the headset: ours is hidden
        service.stop()                           # the runtime goes away (SIGKILL), mid-session if wanted

Runs where Monado is installed: Debian 13, or the Debian 13 root of .ci/xr-env. A missing
monado-service fails with what to install; nothing skips.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

RUNTIME_JSON = "/usr/share/openxr/1/openxr_monado.json"
START_TIMEOUT_S = 60.0  # a deadline for the service to come up, generous for a busy machine
RIVAL = Path(__file__).with_name("rival_client.py")


class MonadoError(RuntimeError):
    pass


class MonadoService:
    def __init__(self, folder: Path):
        self.folder = folder
        self.runtime_dir = folder / "xdg"
        self.runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_path = folder / "monado-service.log"
        self.process: subprocess.Popen | None = None
        self.rivals: list[subprocess.Popen] = []

    def start(self) -> None:
        binary = shutil.which("monado-service")
        if binary is None or not Path(RUNTIME_JSON).exists():
            raise MonadoError(
                "monado-service not found: install Debian 13's monado-service and libopenxr1-monado, "
                "or run the XR tests through `bash .ci/xr-env run pytest tests/xr`"
            )
        env = dict(
            os.environ,
            XDG_RUNTIME_DIR=str(self.runtime_dir),
            XRT_COMPOSITOR_NULL="1",
            SIMULATED_ENABLE="1",
            XRT_NO_STDIN="1",
        )
        self.process = subprocess.Popen(
            [binary], env=env, stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        socket = self.runtime_dir / "monado_comp_ipc"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not socket.exists():
            if self.process.poll() is not None:
                raise MonadoError(f"monado-service exited with {self.process.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise MonadoError(
                    f"monado-service did not open {socket} within {START_TIMEOUT_S:.0f} s: {self.log_tail()}"
                )
            time.sleep(0.05)

    def client_env(self, **extra: str) -> dict[str, str]:
        return dict(
            os.environ, XDG_RUNTIME_DIR=str(self.runtime_dir), XR_RUNTIME_JSON=RUNTIME_JSON, XRT_LOG="warning", **extra
        )

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-chars:].decode(errors="replace")
        except OSError:
            return "(no log)"

    def hide_session(self, seconds: float) -> subprocess.Popen:
        """Another OpenXR application takes the headset for `seconds`: the runtime stops showing
        ours, as it does when the headset is taken off, and shows it again when that one leaves."""
        rival = subprocess.Popen(
            [sys.executable, str(RIVAL), str(seconds)],
            env=self.client_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.rivals.append(rival)
        return rival

    def stop(self) -> None:
        for rival in self.rivals:
            if rival.poll() is None:
                rival.kill()
                rival.wait(timeout=10)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@contextmanager
def monado_service(folder: Path):
    service = MonadoService(Path(folder))
    try:
        service.start()
        yield service
    finally:
        service.stop()
