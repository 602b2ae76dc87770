"""The LLM assistant and the LangChain tools, through the real ChatOpenAI client and LangChain agent.

The chat model is a scripted OpenAI-compatible server on 127.0.0.1: it decides the tool calls a
real model would make, so these tests check everything on our side of the wire.
"""

from __future__ import annotations

import json

import pytest

from vlm4rec_agent.assistant import Conversation, make_assistant
from vlm4rec_agent.assistant.dialogue import DialogueManager
from vlm4rec_agent.assistant.langchain_tools import langchain_tools, session_tools
from vlm4rec_agent.assistant.llm import LlmAssistant, load_system_prompt
from vlm4rec_agent.data_envelope import DATA_NOTE
from vlm4rec_agent.errors import ConfigurationError
from vlm4rec_agent.testing.fake_openai import FakeOpenAIServer, Reply, scripted
from vlm4rec_agent.tools import TOOL_NAMES, ShopTools


@pytest.fixture
def shop(loaded_engine, tmp_path):
    return ShopTools(loaded_engine, image_roots=[tmp_path])


def llm(shop, server, settings):
    configured = settings.model_copy(update={"chat_base_url": server.url, "chat_model": "fake-chat"})
    return make_assistant(shop, configured)


def test_every_tool_is_a_langchain_tool_from_its_own_docstring(shop):
    tools = langchain_tools(shop)
    assert [t.name for t in tools] == list(TOOL_NAMES)
    search = tools[0]
    assert search.description.startswith("Search the product catalog")
    assert search.args["query"]["description"] == "What the shopper is looking for, in their words."
    assert "user_id" in search.args and "user_id" in tools[2].args
    result = json.loads(search.invoke({"query": "red dress", "k": 2}))
    assert result["note"] == DATA_NOTE and result["data"]["results"][0]["id"] == "red-dress"


def test_session_tools_act_for_their_shopper_only(shop, loaded_engine):
    tools = {t.name: t for t in session_tools(shop, "ida")}
    assert all("user_id" not in t.args for t in tools.values())
    tools["like_item"].invoke({"item_id": "oak-table"})
    assert [i.id for i in loaded_engine.profile("ida").liked] == ["oak-table"]
    assert loaded_engine.profile("other").liked == []
    assert "no item 'nope'" in tools["like_item"].invoke({"item_id": "nope"})  # an error goes back as text


def test_a_turn_calls_tools_streams_the_answer_and_fills_the_gallery(shop, settings):
    replies = [
        Reply(tool_calls=[{"name": "search_catalog", "arguments": {"query": "red summer dress", "k": 3}}]),
        Reply(content="Here are three picks; #1, the linen dress, matches on colour and material."),
    ]
    with FakeOpenAIServer(scripted(*replies)) as server:
        assistant = llm(shop, server, settings)
        assert isinstance(assistant, LlmAssistant) and "fake-chat" in assistant.description
        c = Conversation(user_id="jo")
        turns = list(assistant.stream(c, "a red summer dress please"))
    assert len(turns) > 2 and turns[-1].text.startswith("Here are three picks")
    assert [r.id for r in turns[-1].results][0] == "red-dress" and c.results[0].id == "red-dress"
    first, second = server.requests
    assert first["stream"] is True and first["messages"][0]["content"] == load_system_prompt()
    assert {t["function"]["name"] for t in first["tools"]} == set(TOOL_NAMES)
    assert all("user_id" not in t["function"]["parameters"]["properties"] for t in first["tools"])
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and json.loads(tool_message["content"])["note"] == DATA_NOTE


def test_the_conversation_carries_over_and_likes_land_on_the_session_user(shop, settings, loaded_engine):
    replies = [
        Reply(tool_calls=[{"name": "search_catalog", "arguments": {"query": "oak"}}]),
        Reply(content="Two oak pieces."),
        Reply(tool_calls=[{"name": "like_item", "arguments": {"item_id": "oak-chair"}}]),
        Reply(content="Liked the oak chair."),
    ]
    with FakeOpenAIServer(scripted(*replies)) as server:
        assistant = llm(shop, server, settings)
        c = Conversation(user_id="kim")
        list(assistant.stream(c, "oak furniture"))
        turns = list(assistant.stream(c, "I like #2"))
    assert turns[-1].profile.liked[0].id == "oak-chair"
    assert [i.id for i in loaded_engine.profile("kim").liked] == ["oak-chair"]
    third = server.requests[2]["messages"]
    assert [m["role"] for m in third] == ["system", "user", "assistant", "tool", "assistant", "user"]


def test_a_photo_is_handed_to_the_model_as_an_image_argument(shop, settings, product_image):
    photo = str(product_image("q.jpg", colour=(52, 148, 62)))
    replies = [
        Reply(tool_calls=[{"name": "similar_items", "arguments": {"image": photo, "k": 2}}]),
        Reply(content="Green things."),
    ]
    with FakeOpenAIServer(scripted(*replies)) as server:
        turns = list(llm(shop, server, settings).stream(Conversation(user_id="lee"), "like this", photo=photo))
    assert photo in server.requests[0]["messages"][-1]["content"]
    assert turns[-1].results[0].id == "green-vase"


def test_auto_picks_the_offline_assistant_without_a_chat_model(shop, settings):
    assert isinstance(make_assistant(shop, settings), DialogueManager)
    with pytest.raises(ConfigurationError, match="VLM4REC_CHAT_BASE_URL"):
        make_assistant(shop, settings.model_copy(update={"assistant": "llm"}))
