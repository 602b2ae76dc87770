"""The LLM assistant: a LangChain agent that decides which shopping tool to call.

Any OpenAI-compatible chat endpoint works (hosted, vLLM, Ollama, LM Studio), chosen by the
``VLM4REC_CHAT_*`` settings; the model must support tool calling. Its system prompt is the
versioned file ``prompts/assistant.v1.txt``. The tools are bound to the session's shopper
(:func:`session_tools`), and their results reach the model as marked data. The answer streams
token by token; results shown by the last tool call go to the gallery.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib import resources
from typing import Any

from ..errors import ConfigurationError, Vlm4recError
from ..rendering import as_prose
from ..settings import Settings
from ..tools import ShopTools
from ..views import ProfileView, ResultPage
from .conversation import Conversation, Turn, shopper_text
from .langchain_tools import session_tools

log = logging.getLogger(__name__)

SYSTEM_PROMPT = "assistant.v1"
MAX_HISTORY = 24  # messages kept between turns (cut at a shopper's message)


def load_system_prompt(name: str = SYSTEM_PROMPT) -> str:
    return resources.files("vlm4rec_agent.prompts").joinpath(f"{name}.txt").read_text("utf-8")


def chat_model_from_settings(settings: Settings):
    """A LangChain chat model for the configured OpenAI-compatible endpoint."""
    if not settings.chat_base_url or not settings.chat_model:
        raise ConfigurationError(
            "no chat model is configured for the LLM assistant",
            "set VLM4REC_CHAT_BASE_URL and VLM4REC_CHAT_MODEL, or use the offline assistant (VLM4REC_ASSISTANT=offline)",
        )
    from langchain_openai import ChatOpenAI

    key = settings.chat_api_key.get_secret_value() if settings.chat_api_key else "not-needed"
    return ChatOpenAI(
        base_url=settings.chat_base_url,
        model=settings.chat_model,
        api_key=key,
        temperature=0,
        timeout=settings.chat_timeout,
        max_retries=2,
    )


def _trim(messages: list[Any]) -> list[Any]:
    """The recent history, starting at a shopper's message (never inside a tool exchange)."""
    from langchain_core.messages import HumanMessage

    if len(messages) <= MAX_HISTORY:
        return messages
    recent = messages[-MAX_HISTORY:]
    for i, message in enumerate(recent):
        if isinstance(message, HumanMessage):
            return recent[i:]
    return recent[-1:]


class LlmAssistant:
    name = "llm"

    def __init__(self, shop: ShopTools, model, system_prompt: str | None = None, label: str = "a chat model"):
        self.shop = shop
        self.model = model
        self.system_prompt = system_prompt or load_system_prompt()
        self.description = f"an LLM agent ({label})"

    @classmethod
    def from_settings(cls, shop: ShopTools, settings: Settings) -> LlmAssistant:
        return cls(shop, chat_model_from_settings(settings), label=f"{settings.chat_model} at {settings.chat_base_url}")

    def stream(self, conversation: Conversation, message: str, photo: str | None = None) -> Iterator[Turn]:
        from langchain.agents import create_agent
        from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage

        try:
            message = shopper_text(message)
        except Vlm4recError as error:
            yield Turn(text=f"Sorry, I could not read that: {error}.", intent="unreadable")
            return
        agent = create_agent(
            self.model, session_tools(self.shop, conversation.user_id), system_prompt=self.system_prompt
        )
        text = message
        if photo:
            text += f"\n[The shopper attached a photo. To use it, pass this value as the image argument: {photo}]"
        history = [*_trim(conversation.messages), HumanMessage(text)]
        answer, results, profile, final = "", None, None, None
        for mode, payload in agent.stream({"messages": history}, stream_mode=["messages", "values"]):
            if mode == "values":
                final = payload["messages"]
                continue
            chunk, _ = payload
            if isinstance(chunk, AIMessageChunk) and isinstance(chunk.content, str) and chunk.content:
                answer += chunk.content
                yield Turn(text=as_prose(answer), results=results, profile=profile, intent="llm")
            elif isinstance(chunk, ToolMessage):  # the typed result rides along as the artifact
                if isinstance(chunk.artifact, ResultPage):
                    results = chunk.artifact.results
                    conversation.results, conversation.selected = results, None
                elif isinstance(chunk.artifact, ProfileView):
                    profile = chunk.artifact
        if final is not None:
            conversation.messages = list(final)
        yield Turn(
            text=as_prose(answer) or "(the model gave no answer)", results=results, profile=profile, intent="llm"
        )
