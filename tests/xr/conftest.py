import os

import pytest
from monado_testbed import monado_service
from xvfb_testbed import xvfb_server

os.environ["TIDEWELL_STRICT_EVENT_KINDS"] = "1"  # as tests/conftest.py: an unregistered event kind raises


@pytest.fixture
def monado(tmp_path):
    with monado_service(tmp_path / "monado") as service:
        yield service


@pytest.fixture
def xvfb():
    """A private Xvfb display (Debian's xvfb, which .ci/xr-env installs); fails without one."""
    with xvfb_server() as display:
        yield display
