"""Where Tidewell keeps its data: the log, session folders, thumbnails and imported scenes."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    """TIDEWELL_DATA_DIR, or the platform's user data folder (~/.local/share/tidewell on Linux)."""
    override = os.environ.get("TIDEWELL_DATA_DIR")
    return Path(override) if override else platformdirs.user_data_path("tidewell", appauthor=False)


def imported_scenes_folder() -> Path:
    """scenes/ in the data folder: where `tidewell scenes import` writes by default; the catalog reads it."""
    return data_dir() / "scenes"
