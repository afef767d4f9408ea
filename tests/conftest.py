import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from xvfb_testbed import xvfb_server  # tests/xvfb

# An event kind missing from core/event_kinds.py raises in tests (in use it is logged with a generic
# label); set here so the `tidewell` commands the tests start inherit it.
os.environ["TIDEWELL_STRICT_EVENT_KINDS"] = "1"

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
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (bash .ci/install --dev installs it)")
    with xvfb_server() as display:
        monkeypatch.setenv("DISPLAY", display)
        yield display


@pytest.fixture
def wait_for_logged():
    """wait(db, samples=N, beats=M): poll a running session's database, read-only, until it holds at
    least that many committed rows of each; returns the counts. The deadline only stops a hung test."""

    def wait(db: Path, samples: int = 0, beats: int = 0, deadline_s: float = 90.0) -> dict[str, int]:
        deadline = time.monotonic() + deadline_s
        counts = {"samples": 0, "beats": 0}
        while time.monotonic() < deadline:
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                    counts = {
                        table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                        for table in ("samples", "beats")
                    }
                conn.close()
            except sqlite3.OperationalError:
                pass  # not created yet
            if counts["samples"] >= samples and counts["beats"] >= beats:
                return counts
            time.sleep(0.1)
        raise AssertionError(f"{db}: {counts} after {deadline_s:g} s, waiting for {samples} samples and {beats} beats")

    return wait
