"""`tidewell console --lan` over TLS: a real `tidewell console` serving HTTPS and WSS with its own
certificate, reached by clients pinned to the fingerprint it prints (on 127.0.0.1 only); and the
certificate's life in the config folder (made once, owner-only, remade only when it must be)."""

from __future__ import annotations

import os
import socket
import ssl
import stat

import httpx2
import pytest
from console_testbed import certificate_fingerprint, pinned_context, running_console, start_session, wait_running
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from tidewell.engine.console.certificate import CERT_FILE, KEY_FILE, console_certificate

NAMES = ["192.0.2.7", "clinic-pc", "clinic-pc.local", "localhost", "127.0.0.1"]


@pytest.fixture(scope="module")
def lan_console(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lan")
    with running_console(folder / "data", "--lan", config_dir=folder / "config") as console:
        yield console


def test_the_console_on_the_clinic_network_speaks_only_tls_with_the_printed_certificate(lan_console):
    assert lan_console.url.startswith("https://127.0.0.1:")
    text = "\n".join(lan_console.lines)
    assert "certificate SHA-256: " + lan_console.fingerprint in text
    assert "█" in text or "▀" in text, "a QR code of the address is drawn in the terminal"
    context = pinned_context("127.0.0.1", lan_console.port, lan_console.fingerprint)
    with (
        socket.create_connection(("127.0.0.1", lan_console.port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert certificate_fingerprint(tls.getpeercert(binary_form=True)) == lan_console.fingerprint
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(httpx2.HTTPError):
        httpx2.get(lan_console.url.replace("https", "http"), timeout=10)  # no clear text on this port


def test_a_client_pinned_to_another_fingerprint_is_refused(lan_console, tmp_path):
    wrong = "00:" * 31 + "00"
    with pytest.raises(ssl.SSLError, match="not the one printed"):
        pinned_context("127.0.0.1", lan_console.port, wrong)
    other = console_certificate(NAMES, tmp_path / "other", say=lambda text: None)
    trusting_another = ssl.create_default_context(cafile=str(other.cert_path))
    trusting_another.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx2.get(lan_console.url, verify=trusting_another, timeout=30)


def test_pairing_over_tls_gives_a_secure_cookie_and_wss_carries_live_data(lan_console):
    context = lan_console.verify()
    paired = httpx2.post(
        lan_console.url + "api/pair",
        json={"code": lan_console.code},
        verify=context,
        headers={"Origin": lan_console.origin},
        timeout=30,
    )
    set_cookie = paired.headers["set-cookie"].lower()
    assert paired.status_code == 200 and "; secure" in set_cookie and "httponly" in set_cookie, set_cookie
    http = lan_console.paired_client()
    token = http.headers["Authorization"].split()[1]
    start_session(http, minutes=1.0, request_id="tls-start")
    view = wait_running(lan_console.url, token, ssl_context=context)
    assert view["status"] == "running" and view["latest"]["t_s"] >= 0
    help_ = httpx2.get(lan_console.url + "api/pairing-help", verify=context, timeout=30).json()
    assert set(help_) == {"url", "qr"} and help_["qr"].startswith("data:image/png;base64,")
    assert help_["url"].startswith("https://") and help_["url"].endswith(f":{lan_console.port}/")
    http.post("/api/session/control", json={"action": "end", "request_id": "tls-end"})
    lan_console.wait_for("session over", 90)


def test_the_certificate_is_kept_owner_only_and_reused_by_the_next_console(lan_console, tmp_path):
    config = lan_console.data_dir.with_name("config")
    for name in (CERT_FILE, KEY_FILE):
        assert stat.S_IMODE((config / name).stat().st_mode) == 0o600
    assert "certificate made now" in "\n".join(lan_console.lines)
    with running_console(tmp_path / "data", "--lan", config_dir=config) as again:
        assert again.fingerprint == lan_console.fingerprint
        assert "certificate made now" not in "\n".join(again.lines)


def test_a_certificate_names_every_address_and_is_made_once(tmp_path):
    old = os.umask(0)
    try:
        made = console_certificate(NAMES, tmp_path / "config", say=lambda text: None)
    finally:
        os.umask(old)
    assert made.made
    for path in (made.cert_path, made.key_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, "owner-only whatever the umask"
    cert = x509.load_pem_x509_certificate(made.cert_path.read_bytes())
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in alt.get_values_for_type(x509.IPAddress)] == ["192.0.2.7", "127.0.0.1"]
    assert alt.get_values_for_type(x509.DNSName) == ["clinic-pc", "clinic-pc.local", "localhost"]
    assert ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days >= 800
    again = console_certificate(NAMES, tmp_path / "config", say=lambda text: None)
    assert not again.made and again.fingerprint == made.fingerprint


def test_a_certificate_is_remade_when_damaged_or_the_address_changed(tmp_path):
    folder = tmp_path / "config"
    first = console_certificate(NAMES, folder, say=lambda text: None)
    moved = console_certificate(["192.0.2.99", *NAMES[1:]], folder, say=lambda text: None)
    assert moved.made and moved.fingerprint != first.fingerprint, "a new LAN address needs a new certificate"
    (folder / CERT_FILE).write_bytes((folder / CERT_FILE).read_bytes()[:200])
    damaged = console_certificate(["192.0.2.99", *NAMES[1:]], folder, say=lambda text: None)
    assert damaged.made and damaged.fingerprint != moved.fingerprint
    (folder / KEY_FILE).unlink()
    assert console_certificate(["192.0.2.99", *NAMES[1:]], folder, say=lambda text: None).made


def test_a_mode_the_user_set_is_left_alone(tmp_path):
    folder = tmp_path / "config"
    console_certificate(NAMES, folder, say=lambda text: None)
    (folder / KEY_FILE).chmod(0o640)
    said = []
    kept = console_certificate(NAMES, folder, say=said.append)
    assert not kept.made
    assert stat.S_IMODE((folder / KEY_FILE).stat().st_mode) == 0o640
    assert any("can be read by others" in line and "0640" in line for line in said)


def test_a_folder_that_cannot_hold_the_certificate_is_named(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(OSError, match="cannot keep the console's TLS certificate in .*a-file/config"):
        console_certificate(NAMES, tmp_path / "a-file" / "config", say=lambda text: None)


def test_without_lan_the_console_stays_on_plain_http_and_makes_no_certificate(tmp_path):
    config = tmp_path / "config"
    with running_console(tmp_path / "data", config_dir=config) as console:
        assert console.url.startswith("http://127.0.0.1:")
        assert httpx2.get(console.url + "api/pairing-help", timeout=30).json() == {"url": None, "qr": None}
    assert not (config / CERT_FILE).exists()
