"""Writing a course report's file: owner-only (core/private_files.py), whole or not at all, and a one-line
ExportError when it cannot be written."""

from __future__ import annotations

from pathlib import Path

from tidewell.core.private_files import write_private
from tidewell.sessions.export import ExportError


def write_file(path: Path, data: str | bytes) -> Path:
    try:
        write_private(path, data)  # owner-only: it holds client data
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
