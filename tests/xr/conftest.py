import os
import subprocess
import shutil

import pytest
from monado_testbed import monado_service


@pytest.fixture
def monado(tmp_path):
    with monado_service(tmp_path / "monado") as service:
        yield service


@pytest.fixture
def xvfb(tmp_path):
    """A private Xvfb display, stopped by its PID afterwards."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is missing: install Debian's xvfb (.ci/xr-env does)")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        server.wait()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)
