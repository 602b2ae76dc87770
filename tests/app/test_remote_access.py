"""Who may act for whom, against the launched app with tokens required (issue "Trust"): bearer
tokens over MCP and HTTP, guests of their own, the Host allow-list, and served picture URLs."""

from __future__ import annotations

import json

import httpx
import pytest
from gradio_client import Client

from remote_clients import JsonClient, launched_app, mcp_calls, photo_data_url, tool_answer
from vlm4rec_agent.data_envelope import DATA_NOTE
from vlm4rec_agent.errors import InvalidInputError
from vlm4rec_agent.store.sql_tokens import SqlTokenStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def guarded_app(tmp_path_factory, model_cache, encoder, catalog_writer):
    catalog = catalog_writer(tmp_path_factory.mktemp("guarded-catalog"))
    home = tmp_path_factory.mktemp("guarded-home")
    with launched_app(catalog, home, model_cache, 10, mcp_server=True, require_token=True) as (url, _, app):
        yield url, app, SqlTokenStore(app.engine.ratings)


def liked(app, user: str) -> list[str]:
    return [i.id for i in app.engine.profile(user).liked]


def test_an_mcp_client_without_a_token_cannot_reset_another_shopper(guarded_app):
    url, app, _ = guarded_app
    app.engine.like("alice", "oak-table")
    app.engine.like("alice", "red-dress")

    async def calls(session):
        return (
            await session.call_tool("reset_profile", {"user_id": "alice"}),
            await session.call_tool("show_profile", {"user_id": "alice"}),
            await session.call_tool("like_item", {"user_id": "alice", "item_id": "blue-dress"}),
        )

    reset, shown, like = (tool_answer(r) for r in mcp_calls(url, calls))
    assert liked(app, "alice") == ["oak-table", "red-dress"]  # untouched, and nothing added
    for answer in (reset, shown, like):
        assert answer["shopper"].startswith("guest-") and "not for 'alice'" in answer["access"]
    assert reset["data"] == {"user": reset["shopper"], "removed": 0}
    assert shown["data"]["liked"] == [] and shown["shopper"] != reset["shopper"]  # each call: its own guest
    assert [i["id"] for i in like["data"]["liked"]] == ["blue-dress"]
    guest = like["shopper"]
    assert liked(app, guest) == ["blue-dress"]

    # the guest token handed back goes on with that guest, and still never reaches alice
    guest_token = like["access"].split("Bearer ")[1].split("'")[0]

    async def as_guest(session):
        return await session.call_tool("show_profile", {"user_id": "alice"})

    again = tool_answer(mcp_calls(url, as_guest, token=guest_token))
    assert again["shopper"] == guest and [i["id"] for i in again["data"]["liked"]] == ["blue-dress"]


def test_an_mcp_client_with_the_shoppers_token_resets_them_and_no_one_else(guarded_app):
    url, app, tokens = guarded_app
    for user in ("carol", "dan"):
        app.engine.like(user, "oak-chair")
    token = tokens.create("carol", "test agent").token

    async def calls(session):
        return (
            await session.call_tool("reset_profile", {"user_id": "carol"}),
            await session.call_tool("reset_profile", {"user_id": "dan"}),
        )

    reset, other = mcp_calls(url, calls, token=token)
    answer = tool_answer(reset)
    assert answer["data"] == {"user": "carol", "removed": 1} and answer["shopper"] == "carol" and "access" not in answer
    assert liked(app, "carol") == []
    assert other.isError and "this token acts for 'carol', not 'dan'" in other.content[0].text
    assert liked(app, "dan") == ["oak-chair"]

    tokens.revoke(token)

    async def after_revoking(session):
        return await session.call_tool("show_profile", {"user_id": "carol"})

    refused = mcp_calls(url, after_revoking, token=token)
    assert refused.isError and "not valid (revoked" in refused.content[0].text


def test_http_callers_get_the_same_rule(guarded_app):
    url, app, tokens = guarded_app
    app.engine.like("erin", "green-vase")
    anonymous = JsonClient(url)
    reply = anonymous.predict("I like #1", "erin", api_name="/chat")
    assert anonymous.last["shopper"].startswith("guest-") and "not for 'erin'" in anonymous.last["access"]
    assert reply["liked"] == [] and liked(app, "erin") == ["green-vase"]

    token = tokens.create("erin").token
    erin = JsonClient(url, headers={"Authorization": f"Bearer {token}"})
    assert [i["id"] for i in erin.predict("erin", api_name="/show_profile")["liked"]] == ["green-vase"]
    found = erin.predict("show me dresses", "erin", api_name="/chat")
    assert found["results"] and erin.last["shopper"] == "erin"
    erin.predict("I like #1", "", api_name="/chat")  # no user_id: the token's shopper
    assert liked(app, "erin") == ["green-vase", found["results"][0]["id"]]
    with pytest.raises(Exception, match="this token acts for 'erin', not 'frank'"):
        erin.predict("frank", api_name="/reset_profile")


def test_a_plain_search_names_no_one_and_needs_no_token(guarded_app):
    url, _, _ = guarded_app
    client = JsonClient(url)
    found = client.predict("red dress", 2, "", "", api_name="/search_catalog")
    assert found["results"][0]["id"] == "red-dress" and "shopper" not in client.last


def test_results_carry_picture_urls_the_app_serves_never_paths_on_its_disk(guarded_app):
    url, app, _ = guarded_app
    client = JsonClient(url)
    found = client.predict("red dress", 3, "", "", api_name="/search_catalog")
    text = json.dumps(client.last)
    assert str(app.settings.home) not in text and "/tmp" not in text and "app-catalog" not in text
    for result in found["results"]:
        assert result["image"].startswith(f"{url}/images/") and result["image"].endswith(".jpg")
        picture = httpx.get(result["image"], timeout=30)
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
        assert picture.content[:3] == b"\xff\xd8\xff"
    for name in ("../ratings.sqlite", "x.jpg", "..%2F..%2Fetc%2Fpasswd", "0" * 24 + ".png"):
        assert httpx.get(f"{url}/images/{name}", timeout=30).status_code == 404, name

    async def calls(session):
        return await session.call_tool("similar_items", {"image": photo_data_url(), "k": 2})

    answer = tool_answer(mcp_calls(url, calls))
    assert all(r["image"].startswith(f"{url}/images/") for r in answer["data"]["results"])
    assert answer["note"] == DATA_NOTE


def test_requests_naming_another_host_are_refused_for_the_page_the_api_and_mcp(guarded_app):
    url, _, _ = guarded_app
    port = url.rsplit(":", 1)[1]
    rebound = {"Host": f"attacker.example:{port}"}
    page = httpx.get(url, headers=rebound, timeout=30)
    assert page.status_code == 400 and "does not answer to the host 'attacker.example'" in page.text
    assert "VLM4REC_ALLOWED_HOSTS" in page.text
    api = httpx.post(f"{url}/gradio_api/call/show_profile", json={"data": ["alice"]}, headers=rebound, timeout=30)
    mcp = httpx.post(
        f"{url}/gradio_api/mcp/",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={**rebound, "Accept": "application/json, text/event-stream"},
        timeout=30,
    )
    assert api.status_code == 400 and mcp.status_code == 400
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert httpx.get(url, headers={"Host": host}, timeout=30).status_code == 200, host


def test_the_page_keeps_its_guests_and_names_but_cannot_take_a_protected_one(guarded_app):
    _, app, tokens = guarded_app
    tokens.create("gina")
    conversation = app.start(None)
    assert conversation.user_id.startswith("guest-")
    for name in ("gina", "guest-00000000", "hf:someone"):
        with pytest.raises(InvalidInputError, match="cannot be taken here"):
            app.set_user(name, conversation)
    assert app.set_user("hal", conversation)[0].user_id == "hal"
    assert app.start("gina").user_id.startswith("guest-")  # remembered before gina had a token
    assert app.start("hal").user_id == "hal"


def test_the_mcp_tool_list_says_nothing_of_the_request_argument(guarded_app):
    url, _, _ = guarded_app
    schema = Client(url, verbose=False).view_api(print_info=False, return_format="dict")
    parameters = [p["parameter_name"] for p in schema["named_endpoints"]["/reset_profile"]["parameters"]]
    assert parameters == ["user_id"]


def test_an_mcp_photo_over_the_transports_limit_is_a_clear_tool_error_and_the_session_goes_on(guarded_app):
    """The MCP transport refuses requests over 4 MiB with HTTP 413, which killed the client's
    session (issue "Trust", hole 11); the app now answers such a call itself."""
    url, _, _ = guarded_app
    too_big = "data:image/png;base64," + "A" * (5 * 2**20)

    async def calls(session):
        refused = await session.call_tool("describe_image", {"image": too_big})
        after = await session.call_tool("search_catalog", {"query": "red dress", "k": 1})
        return refused, after

    refused, after = mcp_calls(url, calls)
    assert refused.isError
    text = refused.content[0].text
    assert "this describe_image call is 5.0 MiB" in text and "up to 4 MiB" in text and "2.9 MiB" in text, text
    assert tool_answer(after)["data"]["results"][0]["id"] == "red-dress"
