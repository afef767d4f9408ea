import os
import sys
from pathlib import Path

import pytest

# tests/xr runs in Debian 13 with Monado, through .ci/xr-env (see tests/xr/pytest.ini)
collect_ignore = ["xr"]

pytest_plugins = ["bluez_testbed"]  # tests/bluetooth: private D-Bus + BlueZoo + test heart-rate sensor


@pytest.fixture
def cli_env(tmp_path):
    """Environment for running the `tidewell` command: its own data folder, no display."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["TIDEWELL_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def tidewell_cmd():
    """The installed console script next to this interpreter."""
    script = Path(sys.executable).with_name("tidewell")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tidewell.engine.cli"]


@pytest.fixture
def xvfb_display(monkeypatch):
    """A private Xvfb server for the test, stopped by its PID afterwards."""
    import shutil
    import subprocess

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (bash .ci/install --dev installs it)")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        server.wait()
        pytest.fail("Xvfb did not start")
    monkeypatch.setenv("DISPLAY", f":{number}")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)
