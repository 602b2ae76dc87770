"""The launched app through its HTTP API (gradio_client) and its MCP server (the mcp client)."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from remote_clients import JsonClient, mcp_calls, photo_data_url, tool_json
from vlm4rec_agent.tools import TOOL_NAMES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(running_app):
    url, _ = running_app
    return JsonClient(url)


def test_the_page_says_which_grounder_and_assistant_are_in_use(running_app):
    url, app = running_app
    assert httpx.get(url, timeout=30).status_code == 200
    status = app.status()
    assert "basic, offline: no vision-language model" in status
    assert "offline dialogue manager" in status and "10 items" in status


def test_a_conversation_over_the_chat_api(client):
    reply = client.predict("show me dresses", "ann", api_name="/chat")
    assert reply["intent"] == "search" and {r["id"] for r in reply["results"][:2]} == {"red-dress", "blue-dress"}
    reply = client.predict("I like #1", "ann", api_name="/chat")
    assert reply["intent"] == "like" and "Liked #1" in reply["text"]
    reply = client.predict("recommend something", "ann", api_name="/chat")
    assert reply["intent"] == "recommend" and reply["results"] and "you liked" in reply["results"][0]["explanation"]


def test_a_conversation_with_a_like_by_reference_a_photo_refinement_and_a_reset_that_waits(client):
    def chat(message: str, photo: str = "") -> dict:
        if photo:
            return client.predict(message, "gia", photo, api_name="/chat_photo")
        return client.predict(message, "gia", api_name="/chat")

    found = chat("show me dresses")
    shown = [r["id"] for r in found["results"]]
    liked = chat("the second one looks great")
    assert liked["intent"] == "like" and liked["liked"] == [shown[1]] and liked["results"] is None
    counted = chat("I want 2 red t-shirts")
    assert counted["intent"] == "search" and counted["liked"] == [shown[1]]  # a count likes nothing
    matched = chat("find something like this", photo_data_url((52, 148, 62)))
    assert matched["intent"] == "photo_similar" and matched["results"][0]["id"] == "green-vase"
    narrowed = chat("in red")
    assert narrowed["intent"] == "refine" and "Narrowing the items like your photo to red" in narrowed["text"]
    assert narrowed["results"] and all("red" in r["attributes"]["colors"] for r in narrowed["results"])
    for message in ("don't reset my profile, show me lamps", "how do I reset my profile?", "reset my profile"):
        assert chat(message)["liked"] == [shown[1]], message
    assert chat("yes")["liked"] == [] and chat("undo")["liked"] == [shown[1]]


def test_two_shoppers_never_see_each_others_likes(client):
    client.predict("oak dining table", "bea", api_name="/chat")
    client.predict("I like the first one", "bea", api_name="/chat")
    assert client.predict("bea", api_name="/show_profile")["liked"]
    assert client.predict("cy", api_name="/show_profile")["liked"] == []
    assert "not liked anything" in client.predict("recommend something", "cy", api_name="/chat")["text"]


def test_tool_endpoints_and_their_errors(client):
    found = client.predict("red dress", 3, "", "", api_name="/search_catalog")
    assert found["results"][0]["id"] == "red-dress" and len(found["results"]) == 3
    client.predict("dee", "oak-table", api_name="/like_item")
    recommended = client.predict("dee", 2, "", "", api_name="/recommend_for_user")
    assert recommended["results"][0]["id"] == "oak-chair"
    with pytest.raises(Exception, match="no item 'nope' in the catalog"):
        client.predict("dee", "nope", api_name="/like_item")


def test_mcp_lists_the_tools_and_calls_search_and_recommend(running_app):
    url, _ = running_app

    async def calls(session):
        listed = await session.list_tools()
        found = await session.call_tool("search_catalog", {"query": "green glass vase", "k": 2})
        await session.call_tool("like_item", {"user_id": "mcp-agent", "item_id": "oak-table"})
        recommended = await session.call_tool("recommend_for_user", {"user_id": "mcp-agent", "k": 3})
        described = await session.call_tool("describe_image", {"image": photo_data_url()})
        refused = await session.call_tool("describe_image", {"image": "/etc/passwd"})
        return listed, found, recommended, described, refused

    listed, found, recommended, described, refused = mcp_calls(url, calls)
    tools = {t.name: t for t in listed.tools}
    assert set(tools) == set(TOOL_NAMES)
    assert tools["search_catalog"].inputSchema["properties"]["query"]["description"].startswith("What the shopper")
    assert tool_json(found)["results"][0]["id"] == "green-vase"
    assert tool_json(recommended)["results"][0]["id"] == "oak-chair"
    assert tool_json(described)["attributes"]["colors"][0] == "green"
    assert refused.isError and "not available to this app" in refused.content[0].text


def test_the_server_does_not_serve_files_outside_what_it_should(running_app):
    """Path traversal: the catalog's own files, the store and system files are never served."""
    import urllib.error
    import urllib.parse
    import urllib.request

    url, app = running_app
    catalog_image = next(iter(app.engine.catalog.get(["red-dress"]).values())).item.image
    secrets = [
        "/etc/passwd",
        catalog_image,  # the original photo: only page-sized copies may be served
        str(app.engine.settings.chroma_path / "chroma.sqlite3"),
        str(app.thumbnails.folder / ".." / ".." / "etc" / "passwd"),
    ]
    for secret in secrets:
        for path in (f"/gradio_api/file={secret}", f"/gradio_api/file={urllib.parse.quote(secret)}",
                     f"/file={secret}", "/gradio_api/file=..%2F..%2F..%2F..%2Fetc%2Fpasswd"):  # fmt: skip
            try:
                with urllib.request.urlopen(url + path, timeout=10) as response:
                    body = response.read()
                    status = response.status
            except urllib.error.HTTPError as error:
                status, body = error.code, b""
            assert status >= 400 or (b"root:" not in body and b"SQLite format" not in body and b"JFIF" not in body), (
                path,
                status,
            )


def test_uploads_over_the_size_limit_are_refused_by_the_server(running_app):
    """The upload endpoint refuses a file over VLM4REC_MAX_UPLOAD_MB before the assistant sees it."""
    url, app = running_app
    limit = app.settings.max_upload_mb * 2**20
    small = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 35)).save(small, "JPEG")
    accepted = httpx.post(
        f"{url}/gradio_api/upload", files={"files": ("ok.jpg", small.getvalue(), "image/jpeg")}, timeout=30
    )
    assert accepted.status_code == 200, accepted.text
    too_big = httpx.post(
        f"{url}/gradio_api/upload", files={"files": ("big.jpg", b"\xff" * (limit + 1024), "image/jpeg")}, timeout=60
    )
    assert too_big.status_code == 413, (too_big.status_code, too_big.text[:200])
