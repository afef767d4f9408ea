"""Files and folders readable by their owner only (0600 / 0700), whatever the umask.

Every file Tidewell writes goes through here: the session log's folders, breath.wav, the contact
sheet, reports and exports. What Tidewell creates is made owner-only; a file that already exists
keeps the mode its owner gave it, and one without its owner's write bit is never written.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tidewell.core.errors import TidewellError

FILE_MODE = 0o600
FOLDER_MODE = 0o700


class ReadOnlyFile(TidewellError, PermissionError):
    """An existing file whose owner took away the write bit: Tidewell leaves it as it is."""


class NotAFolder(TidewellError, NotADirectoryError):
    """A path Tidewell keeps files in is something other than a folder."""


class NoFreeFolder(TidewellError, FileExistsError):
    """A new folder's name and all its numbered alternatives are taken."""


def mode_text(path: Path | str) -> str:
    return f"{stat.S_IMODE(os.stat(path).st_mode):04o}"


def private_folder(path: Path | str) -> Path:
    """Create the folder and any missing parents owner-only; folders that exist keep their mode."""
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, FOLDER_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, FOLDER_MODE)  # the umask may have taken bits from mkdir's mode
    if not path.is_dir():
        raise NotAFolder(f"{path} is not a folder")
    return path


def new_private_folder(path: Path | str) -> Path:
    """A folder that did not exist before: `path`, or `path.2`, `path.3`, ... when it is taken, so
    nothing of an earlier session (say, one from a log moved aside) is ever written over."""
    path = Path(path)
    private_folder(path.parent)
    for number in range(1, 1000):
        candidate = path if number == 1 else path.with_name(f"{path.name}.{number}")
        try:
            os.mkdir(candidate, FOLDER_MODE)
        except FileExistsError:
            continue
        os.chmod(candidate, FOLDER_MODE)
        return candidate
    raise NoFreeFolder(f"{path} and 998 numbered folders beside it exist already")


def create_private(path: Path | str) -> int:
    """A new, empty owner-only file; FileExistsError when the path is taken. Returns the descriptor."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_writable(path: Path) -> None:
    """Refuse to write a file, or into a folder, its owner made read-only (root would otherwise)."""
    folder_mode = os.stat(path.parent).st_mode
    if not folder_mode & stat.S_IWUSR:
        raise ReadOnlyFile(f"the folder {path.parent} is read-only (mode {stat.S_IMODE(folder_mode):04o})")
    if path.exists():
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode) and not mode & stat.S_IWUSR:
            raise ReadOnlyFile(f"{path} is read-only (mode {stat.S_IMODE(mode):04o}): not written over")


def open_private(path: Path | str, binary: bool = False) -> IO:
    """Open for writing a file written as it goes (a WAV): created owner-only, or, when it exists
    and is writable, emptied with its mode kept."""
    path = Path(path)
    check_writable(path)
    try:
        fd = create_private(path)
    except FileExistsError:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0))
    return os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")


@contextlib.contextmanager
def replacing(path: Path | str, binary: bool = False) -> Iterator[IO]:
    """Write a whole file: into an owner-only file beside it, which then takes its place. A write that
    fails (a full disk) leaves an earlier file whole and no partial file behind. A file that exists
    keeps its mode; one its owner made read-only is refused."""
    path = Path(path)
    if path.is_symlink() or path.exists():
        path = path.resolve()
    check_writable(path)
    keep_mode = stat.S_IMODE(os.stat(path).st_mode) if path.exists() else None
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = create_private(temporary)
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
            if keep_mode is not None:
                os.fchmod(file.fileno(), keep_mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_private(path: Path | str, data: str | bytes) -> Path:
    with replacing(path, binary=isinstance(data, bytes)) as file:
        file.write(data)
    return Path(path)
