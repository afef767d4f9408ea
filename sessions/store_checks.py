"""What can be wrong with the session log's file, said in one line: read-only, damaged, full.

Nothing here writes. The checks read modes and mount flags rather than trying a write, so they
say the same for root (whom file modes do not stop) as for anyone else.
"""

from __future__ import annotations

import os
import pwd
import sqlite3
import stat
import threading
from pathlib import Path

from tidewell.core.errors import TidewellError

SQLITE_HEADER = b"SQLite format 3\x00"

# primary SQLite result codes (https://sqlite.org/rescode.html)
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 3, 5, 6, 8
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 10, 11, 13, 14, 26
# what the disk or the file did, not a mistake in Tidewell's SQL
ENVIRONMENT_CODES = frozenset(
    {
        SQLITE_PERM,
        SQLITE_BUSY,
        SQLITE_LOCKED,
        SQLITE_READONLY,
        SQLITE_IOERR,
        SQLITE_CORRUPT,
        SQLITE_FULL,
        SQLITE_CANTOPEN,
        SQLITE_NOTADB,
    }
)


class StoreError(OSError, TidewellError):
    """The session log cannot be used as asked; the message says which file, why, and what to do."""


class StoreReadOnly(StoreError):
    pass


class StoreDamaged(StoreError):
    pass


def companions(db_path: Path) -> tuple[Path, Path]:
    return Path(f"{db_path}-wal"), Path(f"{db_path}-shm")


def wal_has_records(db_path: Path) -> bool:
    wal = companions(db_path)[0]
    return wal.is_file() and wal.stat().st_size > 0


def damaged(db_path: Path, why: str) -> StoreDamaged:
    aside = db_path.with_name(f"{db_path.stem}-damaged{db_path.suffix}")
    pairs = [(db_path, aside)]
    if wal_has_records(db_path):  # records not yet merged into the file go with it
        pairs += [(old, new) for old, new in zip(companions(db_path), companions(aside)) if old.exists()]
    moves = "; ".join(f"mv {old} {new}" for old, new in pairs)
    return StoreDamaged(
        f"the session log {db_path} is damaged ({why}). Tidewell keeps it as it is and writes "
        f"nothing into it: move it aside ({moves}) and the next session starts a new log, "
        f"or put back a copy from your backup"
    )


# Closing any descriptor of a file drops every POSIX lock this process holds on it, SQLite's own
# included: a console whose request handler read the header with open() and closed it left its
# long-lived connection with "disk I/O error". So each log's header is read through one descriptor
# kept open for the life of the process, replaced only when the path names another file.
_header_descriptors: dict[str, int] = {}
_header_lock = threading.Lock()


def read_header(db_path: Path) -> bytes:
    """The file's first 100 bytes, read without ever closing a descriptor of a file SQLite may lock."""
    key = os.path.abspath(db_path)
    with _header_lock:
        fd = _header_descriptors.get(key)
        now = os.stat(key)
        if fd is not None:
            held = os.fstat(fd)
            if (held.st_dev, held.st_ino) != (now.st_dev, now.st_ino):
                os.close(fd)  # the path names another file now (the old one was moved aside)
                fd = None
        if fd is None:
            fd = _header_descriptors[key] = os.open(key, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        return os.pread(fd, 100, 0)


def header_problem(db_path: Path) -> str | None:
    """Why the file cannot be a SQLite database, from its size and 100-byte header alone; None when it
    looks whole (or is missing or empty: a new log)."""
    if db_path.is_dir():
        return "it is a folder, not a file"
    try:
        size = db_path.stat().st_size
    except FileNotFoundError:
        return None
    except NotADirectoryError as error:  # the data folder, or a folder above it, is a file
        raise StoreError(str(error)) from None
    if size == 0:
        return None
    head = read_header(db_path)
    if len(head) < 100 or not head.startswith(SQLITE_HEADER):
        return "it is not a SQLite database: its first bytes are not SQLite's header"
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"its header names an impossible page size, {page_size}"
    if wal_has_records(db_path):
        return None  # pages still in the -wal file may complete it
    if size % page_size:
        return f"it is cut short: {size} bytes is not a whole number of {page_size}-byte pages"
    pages = int.from_bytes(head[28:32], "big")
    if pages and head[24:28] == head[92:96] and pages * page_size > size:
        return f"it is cut short: its header says {pages * page_size} bytes, the file has {size}"
    return None


def mount_point(path: Path) -> Path:
    path = path.resolve()
    device = path.stat().st_dev
    while path.parent != path and path.parent.stat().st_dev == device:
        path = path.parent
    return path


def _owner(st: os.stat_result) -> str:
    try:
        return pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        return f"uid {st.st_uid}"


def _unwritable(path: Path) -> str | None:
    st = path.stat()
    mode = stat.S_IMODE(st.st_mode)
    folder = stat.S_ISDIR(st.st_mode)
    needed = stat.S_IWUSR | (stat.S_IXUSR if folder else 0)
    what = "the folder " if folder else ""
    if st.st_mode & needed != needed:
        return f"{what}{path} is read-only (mode {mode:04o})"
    if not os.access(path, os.W_OK | (os.X_OK if folder else 0)):
        return f"{what}{path} is not writable by you (it belongs to {_owner(st)}, mode {mode:04o})"
    return None


def read_only_reason(db_path: Path) -> str | None:
    """Why the session log cannot be written (its file, its -wal and -shm, its folder, the session
    folders' folder, or the mount they are on); None when it can."""
    db_path = Path(db_path)
    existing = db_path.parent
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        return f"{existing} is on a read-only file system (mounted read-only at {mount_point(existing)})"
    for path in (db_path, *companions(db_path), db_path.parent / "sessions", existing):
        if path.exists():
            reason = _unwritable(path)
            if reason:
                return reason
    return None


def read_only(db_path: Path, reason: str) -> StoreReadOnly:
    return StoreReadOnly(
        f"the session log cannot be written: {reason}. Tidewell never changes a mode you set; "
        f"reading works (tidewell sessions list, sessions show, clients, report)"
    )


def describe(error: sqlite3.Error) -> str:
    text = str(error)
    return text[:1].lower() + text[1:] if text else type(error).__name__


FULL_BELOW_BYTES = 2**20  # a disk with less room than this counts as full for SQLite's -shm and -wal files


def disk_full(db_path: Path) -> str | None:
    """'its disk (MOUNT) is full (N kB left)' when it is; None otherwise."""
    folder = db_path.parent if db_path.parent.exists() else Path("/")
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    room = st.f_bavail * st.f_frsize
    if room >= FULL_BELOW_BYTES:
        return None
    return f"its disk ({mount_point(folder)}) is full ({room // 1024} kB left)"


def store_error(error: sqlite3.Error, db_path: Path) -> StoreError | None:
    """The one-line StoreError for what SQLite said about the disk or the file; None when what it said is
    a mistake in Tidewell itself (a bug keeps its traceback)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return None
    code &= 0xFF
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return damaged(db_path, describe(error))
    if code == SQLITE_READONLY:
        return read_only(db_path, read_only_reason(db_path) or f"SQLite says {describe(error)}")
    full = disk_full(db_path)
    if code in (SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN) and (full or code == SQLITE_FULL):
        return StoreError(
            f"cannot write the session log {db_path}: {full or 'its disk is full'} "
            f"(SQLite: {describe(error)}); free some space there and try again"
        )
    if code == SQLITE_CANTOPEN:
        why = read_only_reason(db_path) or describe(error)
        return StoreError(f"cannot open the session log {db_path}: {why}")
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return StoreError(
            f"the session log {db_path} is locked by another program ({describe(error)}); try again when it is done"
        )
    if code in ENVIRONMENT_CODES:
        return StoreError(f"cannot read or write the session log {db_path}: {describe(error)}")
    return None
