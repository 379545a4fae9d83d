"""The operators' dashboard in a real browser (Debian's chromium driven by Playwright) through Caddy: it loads,
its numbers change after traffic, and its chat box gets an answer."""

from __future__ import annotations

import shutil
import time

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.llm]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_is_served_with_a_strict_policy(mesh):
    page = httpx.get(mesh.url + "/dashboard", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "<title>Alice" in page.text


def test_the_guardian_view_is_for_admins_only(mesh):
    assert httpx.get(mesh.url + "/api/monitoring/guardian", timeout=10).status_code == 401
    view = httpx.get(mesh.url + "/api/monitoring/guardian", headers={"Authorization": f"Bearer {mesh.key}"}, timeout=10)
    assert view.status_code == 200 and view.json()["load"]["state"] in ("normal", "brownout", "emergency")
    assert [b["name"] for b in view.json()["breakers"]] == ["redis"]


def test_the_dashboard_shows_live_numbers_and_answers_in_its_chat_box(mesh):
    assert CHROMIUM, "chromium is required (apt-get install chromium; scripts/setup.sh installs it)"
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(mesh.url + "/dashboard")
            page.fill("#key", mesh.key)
            page.click("#connect")
            # the page's CSP forbids eval, so Playwright's expect() (no eval) and polling here, not wait_for_function
            expect(page.locator("#requests-total")).not_to_have_text("–", timeout=30_000)
            before = int(page.text_content("#requests-total") or "0")
            assert page.text_content("#slo-status") in ("ok", "warning", "critical")
            assert page.text_content("#load-state") in ("normal", "brownout", "emergency")
            assert "llm" in (page.text_content("#breakers") or "")  # the orchestrator's breakers are listed
            page.fill("#message", "vad är klockan")
            page.click("#chat-form button")
            expect(page.locator("#answer-meta")).to_contain_text("väg", timeout=60_000)
            answer = page.text_content("#answer") or ""
            assert answer.strip() and not answer.startswith("Fel"), answer
            assert "väg tool" in (page.text_content("#answer-meta") or "")
            deadline = time.monotonic() + 30
            while int(page.text_content("#requests-total") or "0") <= before:  # polled every 2 s by the page
                assert time.monotonic() < deadline, "the request count did not move after the chat"
                page.wait_for_timeout(250)
            assert page.text_content("#error") == "" and not errors, errors
        finally:
            browser.close()
