"""A real browser on the launched app: headless Chromium, driven by Playwright.

It loads the page, sends a message, uploads a photo, sees result pictures with explanations,
selects a result, likes it, and sees the profile show it. A screenshot is saved under the
test's temporary folder (its path is printed).
"""

from __future__ import annotations

import shutil

import pytest

pytestmark = pytest.mark.slow
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def test_a_shopper_searches_uploads_a_photo_likes_and_sees_the_profile(running_app, browser, draw, tmp_path):
    url, _ = running_app
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(url)
    page.wait_for_selector("#chat")
    page.wait_for_function(
        "document.querySelector('#chat').innerText.includes('Tell me what you are looking for')", timeout=30000
    )
    page.wait_for_function("document.querySelector('#status').innerText.includes('basic, offline')", timeout=30000)

    message = page.locator("#message textarea")
    message.fill("show me dresses")
    message.press("Enter")
    page.wait_for_selector("#results img", timeout=30000)
    page.wait_for_function("document.querySelectorAll('#results img').length >= 6", timeout=30000)
    chat = page.locator("#chat")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('Matches your search')", timeout=30000)
    assert "Searching for “dresses”" in chat.inner_text()

    photo = draw(tmp_path / "my-photo.png", (52, 148, 62))
    page.locator("#message input[type=file]").set_input_files(str(photo))
    message.fill("find something like this")
    message.press("Enter")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('Items like it')", timeout=30000)
    page.wait_for_function("document.querySelector('#chat').innerText.trim().endsWith('not leather.')", timeout=30000)
    assert "Your photo looks like" in chat.inner_text() and "Items like it" in chat.inner_text()

    page.locator("#results img").first.click()
    page.wait_for_function("document.querySelector('#selected').innerText.includes('Why:')", timeout=15000)
    assert "#1 Vase" in page.locator("#selected").inner_text()
    page.locator("#like").click()
    page.wait_for_function("document.querySelector('#profile').innerText.includes('1 liked')", timeout=15000)
    page.wait_for_selector("#liked img", timeout=15000)

    screenshot = tmp_path / "shopping-assistant.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")
    page.close()
