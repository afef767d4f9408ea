"""The console as a therapist uses it: a real headless Chromium (the system's, driven by Playwright)
against a running `tidewell console` with the simulated heart."""
from __future__ import annotations

import shutil
import sqlite3

import pytest
from console_testbed import run_short_session, running_console

CLIENT = "kestrel-7"
MARKER = "deep work: left trapezius"
HR_SEEN_WITHIN_MS = 90_000  # the beat corrector's look-ahead and the metrics window come first


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
        expect(page.locator("#live-phase")).to_contain_text("Phase 1 of")
        page.click("#next")
        expect(page.locator("#live-phase")).to_contain_text("Phase 2 of")
        page.fill("#marker-text", MARKER)
        page.click("#marker")
        expect(page.locator("#events li.marker")).to_contain_text(MARKER)
        page.screenshot(path=str(tmp_path / "live.png"))

        # 4. live heart rate, changing
        # Locator assertions, not wait_for_function: the page's CSP forbids the eval that one needs.
        expect(page.locator("#hr")).not_to_have_text("—", timeout=HR_SEEN_WITHIN_MS)
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
        markers = [d for (d,) in db.execute("SELECT detail FROM events WHERE session_id = ? AND kind = 'marker'",
                                            (session_id,))]
        reports = db.execute("SELECT moment, pain, stress, note FROM self_reports WHERE session_id = ? ORDER BY moment",
                             (session_id,)).fetchall()
    assert session == (CLIENT, "ended_early")
    assert kinds.count("therapist_next") == 1 and kinds.count("pause") == 1 and kinds.count("resume") == 1
    assert markers == [MARKER]
    assert reports == [("after", 3, 2, ""), ("before", 6, 7, "stiff neck")]
