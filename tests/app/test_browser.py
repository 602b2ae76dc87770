"""A real browser on the launched app: headless Chromium, driven by Playwright.

On a desktop it loads the page, sends a message, uploads a photo, sees result pictures with
explanations, selects a result, likes it, and sees the profile show it; on a phone it sees the
results between the chat and the message box. Screenshots are saved under each test's temporary
folder (their paths are printed).
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow
DESKTOP = {"viewport": {"width": 1400, "height": 1100}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
# Where the results stand: each picture's and the message box's place in the window, each caption's
# text and whether it fits, the gallery's inner scrolling and the empty space under its last row.
LAYOUT = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom}; };
  const items = [...document.querySelectorAll("#results .thumbnail-item")];
  const wrap = document.querySelector("#results .grid-wrap");
  return {
    window: window.innerHeight,
    pictures: [...document.querySelectorAll("#results img")].map(box),
    message: box(document.querySelector("#message")),
    captions: [...document.querySelectorAll("#results .caption-label")].map(e => ({
      text: e.innerText, fits: e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight})),
    selected: items.filter(e => e.classList.contains("selected")).length,
    scrolls: wrap !== null && wrap.scrollHeight > wrap.clientHeight + 1,
    space: items.length && box(document.querySelector("#results")).bottom - Math.max(...items.map(e => box(e).bottom)),
  };
}"""


def open_page(browser, url: str, device: dict):
    context = browser.new_context(**device)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#chat")
    page.wait_for_function(
        "document.querySelector('#chat').innerText.includes('Tell me what you are looking for')", timeout=30000
    )
    page.wait_for_function("document.querySelector('#status')?.innerText.includes('basic, offline')", timeout=30000)
    return context, page


def send(page, text: str) -> None:
    message = page.locator("#message textarea")
    message.fill(text)
    message.press("Enter")


def assert_results_fit(layout: dict) -> None:
    """Short captions shown whole (no score: the selected-result panel has it), and a gallery as tall as its rows."""
    captions = [c["text"] for c in layout["captions"]]
    assert all(re.fullmatch(r"#\d+ \S.*", c) and not re.search(r"\d\.\d\d", c) for c in captions), captions
    assert all(c["fits"] for c in layout["captions"]), layout["captions"]
    assert not layout["scrolls"] and layout["space"] < 40, layout  # no inner scroll bar, no empty band


def test_a_shopper_searches_uploads_a_photo_likes_and_sees_the_profile(running_app, browser, draw, tmp_path):
    url, _ = running_app
    context, page = open_page(browser, url, DESKTOP)
    status = page.locator("#status li").all_inner_texts()
    assert [s.split(":")[0] for s in status[:3]] == ["Grounder", "Assistant", "Catalog"], status  # one chip each

    send(page, "show me dresses")
    page.wait_for_function("document.querySelectorAll('#results img').length >= 6", timeout=30000)
    chat = page.locator("#chat")
    page.wait_for_function("document.querySelector('#chat').innerText.trim().endsWith('not leather.')", timeout=30000)
    assert "Searching for “dresses”" in chat.inner_text() and "Linen dress — red" in chat.inner_text()
    assert_results_fit(page.evaluate(LAYOUT))
    page.locator("#results img").first.click()
    page.wait_for_function("document.querySelector('#selected').innerText.includes('Why:')", timeout=15000)
    assert page.evaluate(LAYOUT)["selected"] == 1

    photo = draw(tmp_path / "my-photo.png", (52, 148, 62))
    page.locator("#message input[type=file]").set_input_files(str(photo))
    send(page, "find something like this")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('Items like it')", timeout=30000)
    page.wait_for_function(  # the photo's result lines, after its lead
        "(t => t.slice(t.lastIndexOf('Items like it')).includes('Vase'))(document.querySelector('#chat').innerText)",
        timeout=30000,
    )
    assert "Your photo looks like" in chat.inner_text() and "Items like it" in chat.inner_text()
    page.wait_for_function("document.querySelector('#results .caption-label')?.innerText === '#1 Vase'")
    layout = page.evaluate(LAYOUT)
    assert layout["selected"] == 0, "the new results still show the old selection"
    assert page.locator("#selected").inner_text().startswith("Select a result")
    assert_results_fit(layout)

    page.locator("#results img").first.click()
    page.wait_for_function("document.querySelector('#selected').innerText.includes('Why:')", timeout=15000)
    assert "#1 Vase" in page.locator("#selected").inner_text() and "score" in page.locator("#selected").inner_text()
    page.locator("#like").click()
    page.wait_for_function("document.querySelector('#profile').innerText.includes('1 liked')", timeout=15000)
    page.wait_for_selector("#liked img", timeout=15000)

    page.mouse.move(1, 1)  # a hovered picture has the same orange border as a selected one
    screenshot = tmp_path / "desktop.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")
    context.close()


def test_on_a_phone_the_results_come_between_the_chat_and_the_message_box(running_app, browser, tmp_path):
    url, _ = running_app
    context, page = open_page(browser, url, PHONE)
    layout = page.evaluate(LAYOUT)
    assert layout["message"]["bottom"] <= layout["window"] + 1, layout  # the message box is on the first screen
    assert not page.locator("#like").is_visible()  # no results yet, so no results panel

    send(page, "show me dresses")
    page.wait_for_function("document.querySelectorAll('#results img').length >= 6", timeout=30000)
    page.wait_for_function("document.querySelector('#chat').innerText.trim().endsWith('not leather.')", timeout=30000)
    # The results and the message box in view together (the page scrolls them there), results first.
    page.wait_for_function(
        """() => { const m = document.querySelector('#message').getBoundingClientRect();
                   const p = document.querySelector('#results img').getBoundingClientRect();
                   return p.top >= 0 && m.bottom <= window.innerHeight + 1; }""",
        timeout=10000,
    )
    layout = page.evaluate(LAYOUT)
    first = layout["pictures"][0]
    assert first["bottom"] <= layout["message"]["top"], layout  # the pictures before the input
    assert_results_fit(layout)

    in_view, whole = tmp_path / "phone.png", tmp_path / "phone-full-page.png"
    page.screenshot(path=str(in_view))
    page.screenshot(path=str(whole), full_page=True)
    assert in_view.stat().st_size > 10_000 and whole.stat().st_size > 10_000
    print(f"screenshots: {in_view} {whole}")
    context.close()
