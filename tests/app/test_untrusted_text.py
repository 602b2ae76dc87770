"""Catalog and VLM text on the real page: shown as the words it is, never as a link, an image or HTML.

Issue "Trust", hole 1: a catalog title ``![t](http://attacker/x.png) [evil](http://attacker/phish)``
loaded a remote image (a tracker) in the profile pane and made a link. Here every title and
description of a catalog carries such payloads (Markdown images and links, raw HTML, bare URLs,
``www.`` and e-mail addresses that Markdown links by itself, angle-bracket autolinks,
reference-style links, LaTeX ``\\href``), and so does every answer of the VLM (a scripted
OpenAI-compatible server) that grounds the catalog and the shopper's photo. A headless Chromium
then searches, selects, likes, dislikes, asks why, uploads a photo, asks for recommendations and
for the profile, and the test checks that no request ever left for the attacker's host, that no
element of the page points at it, and that the payloads are on the page as plain text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chroma_server import free_port
from remote_clients import launched_app
from vlm4rec_agent.app import serve
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.testing.fake_openai import FakeOpenAIServer, Reply

pytestmark = pytest.mark.slow

HOST = "attacker.test"
TITLE_TRAP = f"![t](http://{HOST}/title.png) [evil](http://{HOST}/phish)"
HTML_TRAP = f'<img src="http://{HOST}/html.png"> <a href="http://{HOST}/html">here</a>'
BARE_TRAP = f"http://{HOST}/bare www.{HOST}/www shop@{HOST} <http://{HOST}/auto> ![a](<http://{HOST}/angle.png>)"
REFERENCE_TRAP = f"[ref][1] ![pic][2]\n\n[1]: http://{HOST}/ref\n[2]: http://{HOST}/ref.png"
TEX_TRAP = f"$$\\href{{http://{HOST}/tex}}{{tex}}$$ $$\\includegraphics{{http://{HOST}/tex.png}}$$"
# What the offline assistant's turns say to each pane: the VLM's description, as parsed (one line).
VLM_DESCRIPTION = " ".join(f"A red dress. {BARE_TRAP} {TEX_TRAP} {REFERENCE_TRAP} {TITLE_TRAP}".split())
VLM_ANSWER = {  # values are at most 60 characters each
    "category": "dress",
    "colors": ["red"],
    "materials": ["linen", f"www.{HOST}/material"],
    "style": ["elegant", f"![v](http://{HOST}/style.png)"],
    "pattern": [f"<img src=http://{HOST}/pattern.png>"],
    "occasion": ["wedding", f"[evil](http://{HOST}/occasion)"],
    "season": ["summer"],
    "description": f"A red dress. {BARE_TRAP} {TEX_TRAP} {REFERENCE_TRAP} {TITLE_TRAP}",
}
# Every attribute through which an element would load or lead somewhere that names the host.
POINTING_AT_HOST = f"""() => {{
  const urls = ["href", "src", "srcset", "style", "action", "formaction", "poster", "data", "background",
                "ping", "cite", "xlink:href"];
  return [...document.querySelectorAll("*")].flatMap(e => [...e.attributes]
    .filter(a => urls.includes(a.name.toLowerCase()) && a.value.includes("{HOST}"))
    .map(a => `<${{e.tagName.toLowerCase()}} ${{a.name}}="${{a.value}}">`));
}}"""


class Page:
    """A browser page on the app that records every request it makes and lets none reach the host."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1100})
        self.requested: list[str] = []
        self.context.on("request", lambda request: self.requested.append(request.url))
        self.context.route(re.compile(re.escape(HOST)), lambda route: route.abort())  # even if asked
        self.page = self.context.new_page()
        self.page.goto(url)
        self.wait("#chat", "Tell me what")

    def wait(self, pane: str, text: str, timeout: int = 30000) -> None:
        self.page.wait_for_function(
            f"document.querySelector('{pane}')?.innerText.includes({json.dumps(text)})", timeout=timeout
        )

    def send(self, text: str, until: str) -> None:
        message = self.page.locator("#message textarea")
        message.fill(text)
        message.press("Enter")
        self.wait("#chat", until)

    def text(self, pane: str) -> str:
        return self.page.locator(pane).inner_text()

    def close(self, screenshot: Path) -> list[str]:
        """What on the page points at the host, once any request it would make has had time to go."""
        self.page.wait_for_timeout(1500)
        self.page.screenshot(path=str(screenshot), full_page=True)
        print(f"screenshot: {screenshot}")
        pointing = self.page.evaluate(POINTING_AT_HOST)
        self.context.close()
        return pointing


@pytest.fixture(scope="module")
def trapped_app(tmp_path_factory, model_cache, encoder, catalog_writer):
    """The real app over the small catalog with traps in every title and description, grounded by
    a VLM whose every answer carries traps too."""
    folder = tmp_path_factory.mktemp("trapped-catalog")
    catalog = catalog_writer(folder)
    rows = [json.loads(line) for line in catalog.read_text("utf-8").splitlines()]
    for row in rows:
        row["title"] = f"{row['title']} {TITLE_TRAP} {HTML_TRAP}"
        row["description"] = f"{row['description']} {BARE_TRAP}\n\n{REFERENCE_TRAP}\n\n{TEX_TRAP}"
    catalog.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    vlm = FakeOpenAIServer(lambda request: Reply(content=json.dumps(VLM_ANSWER))).start()
    home = tmp_path_factory.mktemp("trapped-home")
    vlm_settings = {"grounder": "openai", "openai_base_url": vlm.url, "vlm_model": "fake-vlm", "learn_heads": False}
    with launched_app(catalog, home, model_cache, 10, **vlm_settings) as (url, _, app):
        yield url, app
    vlm.stop()


def test_no_catalog_or_vlm_text_becomes_a_link_an_image_or_html_anywhere_on_the_page(
    trapped_app, browser, draw, tmp_path
):
    url, _ = trapped_app
    browsing = Page(browser, url)
    page = browsing.page

    title = f"{TITLE_TRAP} {HTML_TRAP}"  # what follows each item's name in its title

    def pick(n: int) -> str:
        """Select result ``n``; its name (the title before the traps)."""
        page.locator("#results img").nth(n).click()
        browsing.wait("#selected", f"#{n + 1} ", 15000)
        return re.match(rf"#{n + 1} (\w[\w ]*) {re.escape(title)} · score", browsing.text("#selected")).group(1)

    def rate(button: str, until: str) -> None:
        page.locator(button).click()
        browsing.wait("#profile", until, 15000)

    browsing.send("show me dresses", "Searching for")
    page.wait_for_function("document.querySelectorAll('#results img').length >= 3", timeout=30000)
    names = [pick(0)]
    first = browsing.text("#selected")
    rate("#like", "1 liked")
    names.append(pick(1))
    rate("#like", "2 liked")
    names.append(pick(2))
    rate("#dislike", "1 disliked")
    browsing.wait("#profile", "in common", 15000)
    disliked, profile = browsing.text("#selected"), browsing.text("#profile")
    browsing.send("why #1?", "score")
    browsing.send("show my profile", "You liked")
    page.locator("#message input[type=file]").set_input_files(str(draw(tmp_path / "my-photo.png", (200, 30, 35))))
    browsing.send("find something like this", "Your photo looks like")
    browsing.send("recommend something", "Recommended for you")
    page.wait_for_selector("#liked img", timeout=15000)
    chat, status = browsing.text("#chat"), browsing.text("#status")
    liked = page.locator("#liked .caption-label").all_text_contents()
    results = page.locator("#results .caption-label").all_text_contents()
    pointing = browsing.close(tmp_path / "untrusted-text.png")

    assert [u for u in browsing.requested if HOST in u] == []
    assert pointing == []
    # ... and every trap is on the page, as the words it is, in every pane it reaches.
    for value in (f"style: elegant, ![v](http://{HOST}/style.png)", f"material: linen, www.{HOST}/material"):
        assert value in first  # the VLM's values
    assert f"pattern: <img src=http://{HOST}/pattern.png>" in first and VLM_DESCRIPTION in first
    assert disliked.startswith(f"Disliked #3 {names[2]} {title}.")
    assert f"Disliked: {names[2]} {title}" in profile
    for common in (f"material: www.{HOST}/material (2)", f"occasion: [evil](http://{HOST}/occasion) (2)"):
        assert common in profile  # what the likes have in common
    assert liked == [f"{names[0]} {title}", f"{names[1]} {title}"]  # the liked items' whole titles
    assert len(results) == 6 and all(re.fullmatch(r"#\d \S.*…", c) for c in results), results
    assert chat.count(f"{names[0]} {title}") >= 3  # the search, why #1 and the profile
    assert VLM_DESCRIPTION in chat and "Your photo looks like a red dress, as described by openai (fake-vlm)" in chat
    assert f"You disliked: {names[2]} {title}." in chat
    assert "Catalog: 10 items" in status


def test_a_language_models_answer_keeps_its_emphasis_but_links_and_loads_nothing(trapped_app, browser, tmp_path):
    """The LLM assistant, with a scripted model that searches and then answers with the traps it
    read in the results (as a model talked into it would), and some Markdown of its own."""
    from vlm4rec_agent.assistant.llm import LlmAssistant

    url, app = trapped_app
    answer = f"I found these:\n\n- **Linen dress** {TITLE_TRAP} {HTML_TRAP}\n- *Silk dress* {BARE_TRAP}\n\n{TEX_TRAP}"

    def model(request: dict) -> Reply:
        if request["messages"][-1]["role"] == "user":
            return Reply(tool_calls=[{"name": "search_catalog", "arguments": {"query": "dresses", "k": 6}}])
        return Reply(content=answer)

    offline = app.assistant
    with FakeOpenAIServer(model) as chat_model:
        configured = app.settings.model_copy(update={"chat_base_url": chat_model.url, "chat_model": "scripted"})
        app.assistant = LlmAssistant.from_settings(app.shop, configured)
        try:
            browsing = Page(browser, url)
            browsing.send("show me dresses", "I found these")
            browsing.wait("#chat", TEX_TRAP)  # the whole answer: it streams, and its last words are these
            browsing.page.wait_for_function("document.querySelectorAll('#results img').length >= 3", timeout=30000)
            chat = browsing.text("#chat")
            emphasis = browsing.page.locator("#chat strong, #chat em").all_inner_texts()
            items = browsing.page.locator("#chat li").all_inner_texts()
            pointing = browsing.close(tmp_path / "llm-answer.png")
        finally:
            app.assistant = offline

    assert [u for u in browsing.requested if HOST in u] == []
    assert pointing == []
    assert "Linen dress" in emphasis and "Silk dress" in emphasis  # its Markdown is rendered
    assert items == [f"Linen dress {TITLE_TRAP} {HTML_TRAP}", f"Silk dress {BARE_TRAP}"]
    assert TEX_TRAP in chat


def test_the_status_line_and_the_greeting_show_what_they_quote_as_words(tmp_path, model_cache, browser):
    """A catalog that cannot be read (its file name and a column name are traps) and a notice that
    quotes a URL (as a Space's failed download does): the status chips and the greeting."""
    catalog = tmp_path / f"www.{HOST}.jsonl"
    column = f"![c](http://{HOST}/c.png)"
    catalog.write_text(json.dumps({"code": 1, "image": "x.jpg", column: 2}) + "\n", "utf-8")
    notice = f"the demo catalog could not be downloaded from https://{HOST}/catalog.zip"
    settings = Settings(home=tmp_path / "home", model_cache=model_cache, app_catalog=catalog, app_port=free_port())
    demo, app = serve(settings, block=False, notice=notice)
    try:
        assert app.job.wait(60) and app.job.error
        browsing = Page(browser, f"http://127.0.0.1:{settings.app_port}")
        browsing.wait("#status", "failed")
        chips = browsing.page.locator("#status li").all_inner_texts()
        greeting = browsing.text("#chat")
        pointing = browsing.close(tmp_path / "status.png")
    finally:
        demo.close()
        app.close()
    assert [u for u in browsing.requested if HOST in u] == [] and pointing == []
    assert chips[3].startswith(f"Adding www.{HOST}.jsonl failed: www.{HOST}.jsonl has no column named id")
    assert f"(line 1 has: code, image, {column})" in chips[3]
    assert chips[4] == notice and notice in greeting
