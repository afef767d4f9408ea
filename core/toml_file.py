"""Reading the TOML files authors write (programs, scenes), with messages that say file and line."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

_HEADER = re.compile(r"^\s*\[")
_TABLE_HEADER = re.compile(r"^\s*\[([^\[\]]+)\]")


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


# Finding where a key is written, so that a message can say "file:line". The lines are the file's
# text split into lines; indexes are 0-based, the line numbers returned 1-based.


def key_line(lines: Sequence[str], key: str, start: int = 0, end: int | None = None) -> int | None:
    """The number of the first of lines[start:end] that sets `key` (bare or quoted, at the line's
    start or inside an inline table), None when none does."""
    pattern = re.compile(rf'(^|[{{,])\s*"?{re.escape(key)}"?\s*=')
    for index in range(start, len(lines) if end is None else end):
        if pattern.search(lines[index]):
            return index + 1
    return None


def table_header(lines: Sequence[str], table: str) -> int | None:
    """The index of the `[table]` header line (a dotted name such as uniforms.u_glow; quotes and
    spaces in the header are ignored), None when the file has none."""
    for index, line in enumerate(lines):
        match = _TABLE_HEADER.match(line)
        if match and re.sub(r'["\s]', "", match.group(1)) == table:
            return index
    return None


def array_headers(lines: Sequence[str], table: str) -> list[int]:
    """The indexes of the `[[table]]` header lines, one per element of the array of tables."""
    pattern = re.compile(rf"\s*\[\[\s*{re.escape(table)}\s*\]\]")
    return [index for index, line in enumerate(lines) if pattern.match(line)]


def section_end(lines: Sequence[str], start: int) -> int:
    """The index of the first table header at or after `start` (where a table's keys end), else len(lines)."""
    return next((index for index in range(start, len(lines)) if _HEADER.match(lines[index])), len(lines))
