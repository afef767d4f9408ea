"""The console as a therapist uses it: a real headless Chromium (the system's, driven by Playwright)
against a running `tidewell console` with the simulated heart."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import re
import shutil
import sqlite3
import ssl
import threading
import time
from contextlib import contextmanager

import media_synth
import numpy as np
import pytest
from console_testbed import certificate_fingerprint, run_short_session, running_console, start_session, wait_running

CLIENT = "kestrel-7"
MARKER = "deep work: left trapezius"
HR_SEEN_WITHIN_MS = 90_000  # the beat corrector's look-ahead and the metrics window come first
PROVISIONAL_SEEN_WITHIN_MS = 30_000  # a deadline for a hung page only: it shows from the third beat


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no Chromium on this machine: bash .ci/install --dev installs Debian's chromium")


def test_a_whole_session_from_the_tablet(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    data = tmp_path / "data"
    run_short_session(data, CLIENT)  # a client with history to pick
    with running_console(data) as console, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1180, "height": 820}, color_scheme="dark")
        page.set_default_timeout(30_000)
        page.goto(f"{console.url}#pair={console.code}")
        expect(page.locator("#setup-view")).to_be_visible()
        assert "#pair" not in page.url, "the pairing code must leave the address bar"

        # 1. a client (with their history) and a program
        page.locator("#client-list button", has_text=CLIENT).click()
        expect(page.locator("#client-history tbody tr")).to_have_count(1)
        page.locator('#program-list button[data-program-id="taster"]').click()
        expect(page.locator('#program-list button[data-program-id="taster"] .timeline .seg')).not_to_have_count(0)
        thumbnail = page.locator('#program-list button[data-program-id="taster"] img')
        expect(thumbnail).to_have_js_property("complete", True)
        assert thumbnail.evaluate("img => img.naturalWidth") == 320
        page.fill("#program-minutes", "3")

        # 2. the rating before the session
        page.locator('#before-rating .scale[data-key="pain"] button[data-value="6"]').click()
        page.locator('#before-rating .scale[data-key="stress"] button[data-value="7"]').click()
        page.fill("#before-rating .note", "stiff neck")

        # 3. start, advance a phase, add a marker
        page.click("#start")
        expect(page.locator("#live-view")).to_be_visible()
        hr = page.locator("#hr")  # first the provisional rate from the raw beats (see step 4)
        expect(hr).to_have_text(re.compile(r"^~\d+$"), timeout=PROVISIONAL_SEEN_WITHIN_MS)
        expect(hr).to_have_class(re.compile(r"\bprovisional\b"))
        expect(page.locator("#live-phase")).to_contain_text("Phase 1 of")
        page.click("#next")
        expect(page.locator("#live-phase")).to_contain_text("Phase 2 of")
        page.fill("#marker-text", MARKER)
        page.click("#marker")
        expect(page.locator("#events li.marker")).to_contain_text(MARKER)
        page.screenshot(path=str(tmp_path / "live.png"))

        # 4. live heart rate: provisional ("~NN", from the raw beats) within seconds of the first beat,
        # then the corrected rate once the corrector's warm-up is over, changing.
        # Locator assertions, not wait_for_function: the page's CSP forbids the eval that one needs.
        expect(hr).to_have_text(re.compile(r"^\d+$"), timeout=HR_SEEN_WITHIN_MS)
        expect(hr).not_to_have_class(re.compile(r"\bprovisional\b"))
        first_hr = page.text_content("#hr")
        expect(page.locator("#hr")).not_to_have_text(first_hr, timeout=30_000)
        assert page.text_content("#hr").isdigit()
        page.keyboard.press("p")  # the pedal's pause key, from the key map
        expect(page.locator("#live-status")).to_have_text("paused")
        page.keyboard.press("p")
        expect(page.locator("#live-status")).not_to_have_text("paused")
        page.screenshot(path=str(tmp_path / "live-hr.png"))

        # 5. end, rate, open the report
        page.click("#end")
        expect(page.locator("#end")).to_have_text("Tap again to end")
        page.click("#end")
        expect(page.locator("#ended-view")).to_be_visible(timeout=60_000)
        page.locator('#after-rating .scale[data-key="pain"] button[data-value="3"]').click()
        page.locator('#after-rating .scale[data-key="stress"] button[data-value="2"]').click()
        page.click("#save-after")
        expect(page.locator("#after-message")).to_have_text("saved")
        with page.expect_popup() as opened:
            page.click("#report-link")
        report = opened.value
        report.wait_for_load_state()
        assert MARKER in report.content()
        report.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        session_id = int(page.locator("#report-link").get_attribute("href").split("/")[2])
        browser.close()

    with sqlite3.connect(data / "tidewell.db") as db:
        session = db.execute("SELECT client, status FROM sessions WHERE id = ?", (session_id,)).fetchone()
        kinds = [k for (k,) in db.execute("SELECT kind FROM events WHERE session_id = ?", (session_id,))]
        markers = [
            d
            for (d,) in db.execute("SELECT detail FROM events WHERE session_id = ? AND kind = 'marker'", (session_id,))
        ]
        reports = db.execute(
            "SELECT moment, pain, stress, note FROM self_reports WHERE session_id = ? ORDER BY moment", (session_id,)
        ).fetchall()
    assert session == (CLIENT, "ended_early")
    assert kinds.count("therapist_next") == 1 and kinds.count("pause") == 1 and kinds.count("resume") == 1
    assert markers == [MARKER]
    assert reports == [("after", 3, 2, ""), ("before", 6, 7, "stiff neck")]


def test_the_therapist_sees_what_the_client_sees(tmp_path):
    """The live view: a session started from the tablet shows the client's view, about 480 px wide, with
    the marker of the panorama the client lies over where the client sees it, and the toggle stops it
    (remembered by this browser)."""
    from playwright.sync_api import expect, sync_playwright

    # The taster's first phase (ember, face-down) gets a clinic's own panorama in place of the built-in
    # scene: a red marker 80 degrees below the horizon straight ahead, which face-down is just above
    # the middle of the view (the top of the picture is toward the head).
    scenes = tmp_path / "data" / "scenes"
    folder = media_synth.scene_folder(scenes, "ember", "ember.png")
    media_synth.write_image(
        folder / "ember.png", media_synth.marker_picture(1024, 512, 0.0, pitch_deg=-80.0, radius_deg=10.0)
    )
    with running_console(tmp_path / "data") as console, sync_playwright() as playwright:
        browser = _launch(playwright)
        page = browser.new_page(viewport={"width": 1180, "height": 900}, color_scheme="dark")
        page.set_default_timeout(30_000)
        page.goto(f"{console.url}#pair={console.code}")
        expect(page.locator("#setup-view")).to_be_visible()
        page.fill("#new-client", "heron-3")
        page.click("#new-client-form button")
        page.locator("#client-list button", has_text="heron-3").click()
        page.locator('#program-list button[data-program-id="taster"]').click()
        page.fill("#program-minutes", "2")
        page.click("#start")
        expect(page.locator("#live-view")).to_be_visible()

        image = page.locator("#client-view")
        expect(image).to_be_visible(timeout=60_000)
        expect(image).to_have_attribute("data-frames", re.compile(r"^([3-9]|\d\d+)$"), timeout=30_000)
        pixels = client_view_pixels(page)
        assert abs(pixels.shape[1] - 480) <= 2 and pixels.shape[0] == round(pixels.shape[1] * 9 / 16)
        deadline = time.monotonic() + 60.0  # a deadline only: the session fades in from black first
        while not marker_in(pixels).sum() > 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            pixels = client_view_pixels(page)
        red = marker_in(pixels)
        assert red.sum() > 200, "the panorama's marker is in the live view"
        rows, cols = np.nonzero(red)
        height, width = red.shape
        assert abs(cols.mean() - width / 2) < 0.1 * width and rows.mean() < height / 2, (cols.mean(), rows.mean())
        page.screenshot(path=str(tmp_path / "client-view.png"))

        page.locator("#client-view-toggle").click()  # off
        expect(image).to_be_hidden()
        expect(page.locator("#client-view-note")).to_contain_text("Off")
        page.reload()  # the choice stays with this browser
        expect(page.locator("#live-view")).to_be_visible()
        expect(page.locator("#client-view-toggle")).not_to_be_checked()
        time.sleep(2.0)  # several of the engine's periods: no picture comes while it is off
        expect(image).to_be_hidden()
        assert image.get_attribute("data-frames") is None

        page.locator("#client-view-toggle").click()  # on again
        expect(image).to_be_visible(timeout=30_000)
        page.click("#end")
        page.click("#end")
        expect(page.locator("#ended-view")).to_be_visible(timeout=60_000)
        browser.close()
    assert not list((tmp_path / "data").rglob("*.jp*g")), "live-view images are never written to disk"


def marker_in(pixels: np.ndarray) -> np.ndarray:
    red, green = pixels[..., 0].astype(int), pixels[..., 1].astype(int)
    return (red > 100) & (red > 2 * green)


def client_view_pixels(page) -> np.ndarray:
    """The live view's picture as the page holds it now, at its natural size: HxWx3 uint8."""
    from PIL import Image

    png = page.locator("#client-view").evaluate(
        """img => { const canvas = document.createElement("canvas");
            canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
            canvas.getContext("2d").drawImage(img, 0, 0); return canvas.toDataURL("image/png"); }"""
    )
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(png.split(",", 1)[1]))).convert("RGB"))


def _launch(playwright, *args: str):
    return playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", *args])


@contextmanager
def _pages_on_another_port(pages: dict[str, str]):
    """Another site on this host: http://127.0.0.1:<another port>/NAME serving pages[NAME]."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages[self.path.lstrip("/")].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_port_cannot_end_the_session_or_add_a_client(tmp_path):
    """The attack that worked: the therapist's browser holds the console's cookie (SameSite does not
    look at ports), and a page on another port of the same host auto-submits a text/plain form
    that reads as JSON, and makes a no-cors fetch."""
    from playwright.sync_api import expect, sync_playwright

    with running_console(tmp_path / "data") as console, sync_playwright() as playwright:
        browser = _launch(playwright)
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{console.url}#pair={console.code}")
        expect(page.locator("#setup-view")).to_be_visible()
        assert any(c["name"] == "tidewell_token" for c in context.cookies())
        api = console.paired_client()
        token = api.headers["Authorization"].split()[1]
        start_session(api, minutes=2.0, request_id="csrf-start")
        running = wait_running(console.url, token)

        target = console.url + "api/session/control"
        attack = f"""<!doctype html><html><body>
<form id="f" method="POST" action="{target}" enctype="text/plain">
<input name='{{"action": "end", "request_id": "csrf", "x": "' value='"}}'>
</form>
<script>
fetch("{console.url}api/clients", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{pseudonym: "csrf-made"}})}})
  .finally(() => document.getElementById("f").submit());
</script></body></html>"""
        peek = f"""<!doctype html><a id="a" href="{console.url}api/clients">clients</a>
<script>document.getElementById("a").click();</script>"""
        with _pages_on_another_port({"attack": attack, "peek": peek}) as attacker:
            assert not attacker.startswith(console.url)
            other = context.new_page()
            with other.expect_navigation(url=target):
                other.goto(attacker + "attack")
            assert "foreign Origin" in other.content(), "the form reached the console and was refused"
            with other.expect_navigation(url=console.url + "api/clients"):
                other.goto(attacker + "peek")
            assert "another site's page" in other.content() and "wren-2" not in other.content()
        time.sleep(1.0)
        still = wait_running(console.url, token)
        assert still["session_id"] == running["session_id"] and still["latest"]["t_s"] > running["latest"]["t_s"]
        assert [e for e in still["events"] if e["kind"] == "gentle_end"] == []
        names = [c["pseudonym"] for c in api.get("/api/clients").json()["clients"]]
        assert "csrf-made" not in names
        browser.close()
        api.post("/api/session/control", json={"action": "end", "request_id": "csrf-test-end"})
        console.wait_for("session over", 90)


def test_after_an_engine_restart_the_page_asks_to_pair_again(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    data = tmp_path / "data"
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        with running_console(data) as first:
            port = first.port
            page.goto(f"{first.url}#pair={first.code}")
            expect(page.locator("#setup-view")).to_be_visible()
            expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator("#connection")).to_have_text("reconnecting")
        with running_console(data, port=port) as second:
            # the new engine knows no token: its handshake refusal must lead to the pair view
            expect(page.locator("#pair-view")).to_be_visible(timeout=60_000)
            page.fill("#pair-code", second.code)
            page.click("#pair-form button")
            expect(page.locator("#setup-view")).to_be_visible()
            expect(page.locator("#connection")).to_have_text("live")
        browser.close()


def test_the_tablet_pairs_and_watches_over_https(tmp_path):
    """Chromium trusts exactly the console's key (by its SPKI hash, as a tablet's user accepts the
    certificate once after comparing fingerprints), pairs over HTTPS and sees live data over WSS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from playwright.sync_api import expect, sync_playwright

    run_short_session(tmp_path / "data", CLIENT)
    with (
        running_console(tmp_path / "data", "--lan", config_dir=tmp_path / "config") as console,
        sync_playwright() as playwright,
    ):
        pem = ssl.get_server_certificate(("127.0.0.1", console.port))
        assert certificate_fingerprint(ssl.PEM_cert_to_DER_cert(pem)) == console.fingerprint
        spki = (
            x509.load_pem_x509_certificate(pem.encode())
            .public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        spki_hash = base64.b64encode(hashlib.sha256(spki).digest()).decode()
        browser = _launch(playwright, f"--ignore-certificate-errors-spki-list={spki_hash}")
        page = browser.new_page(viewport={"width": 1180, "height": 820})
        page.set_default_timeout(30_000)
        page.goto(console.url)
        assert page.url.startswith("https://127.0.0.1:")
        expect(page.locator("#pair-view")).to_be_visible()
        expect(page.locator("#pair-url")).to_have_text(re.compile(rf"^https://\S+:{console.port}/$"))
        expect(page.locator("#pair-certificate")).to_contain_text("fingerprint")
        expect(page.locator("#pair-qr")).to_have_js_property("complete", True)
        assert page.locator("#pair-qr").evaluate("img => img.naturalWidth") > 100
        page.fill("#pair-code", console.code)
        page.click("#pair-form button")
        expect(page.locator("#setup-view")).to_be_visible()
        cookie = [c for c in page.context.cookies() if c["name"] == "tidewell_token"]
        assert cookie and cookie[0]["secure"] and cookie[0]["httpOnly"]
        page.locator("#client-list button", has_text=CLIENT).click()
        page.locator('#program-list button[data-program-id="taster"]').click()
        page.fill("#program-minutes", "1")
        page.click("#start")
        expect(page.locator("#live-view")).to_be_visible(timeout=60_000)
        expect(page.locator("#live-phase")).to_contain_text("Phase 1 of")
        expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator("#live-status")).to_contain_text("session")
        page.click("#end")
        page.click("#end")
        expect(page.locator("#ended-view")).to_be_visible(timeout=60_000)
        browser.close()
