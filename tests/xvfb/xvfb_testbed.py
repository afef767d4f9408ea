"""A private Xvfb display for window tests (the main suite and tests/xr).

    with xvfb_server() as display:    # ":N"; the server is stopped by its PID afterwards

Raises XvfbError when Xvfb is not installed (Debian package `xvfb`) or does not start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


class XvfbError(RuntimeError):
    pass


@contextmanager
def xvfb_server() -> Iterator[str]:
    if shutil.which("Xvfb") is None:
        raise XvfbError("Xvfb is not installed (Debian package xvfb)")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        server.wait()
        raise XvfbError("Xvfb did not start")
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)
