"""Limits on what people type or ask for, the same at every door (the command line, the console, the log)."""

from __future__ import annotations

MAX_NOTE_CHARS = 2000  # a self-report's note
MAX_ROW_ID = 2**63 - 1  # SQLite's largest integer: the largest session or client id there can be
