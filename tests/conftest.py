import os
import sys
from pathlib import Path

import pytest


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
