"""Reading the TOML files authors write (programs, scenes), with messages that say file and line."""
from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path


def read_toml(path: Path, error: type[Exception], missing: str) -> tuple[str, dict]:
    """The file's text (for finding key lines later) and its data. Every failure raises `error`
    as "path: what" or "path:line: what"; `missing` says what a missing file means."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise error(f"{path}:{match.group(1) if match else 1}: TOML syntax error: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise error(f"{path}: too deeply nested (arrays or tables inside each other thousands deep)") from None


def is_number(value) -> bool:
    """A finite int or float: TOML's inf and nan, and integers beyond any float, are no usable number."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
