"""The shopping assistant: an offline dialogue manager and an LLM agent, over the same tools."""

from __future__ import annotations

from ..extras import require
from ..settings import Settings
from ..tools import ShopTools
from .conversation import Assistant, Conversation, Turn

__all__ = ["Assistant", "Conversation", "Turn", "make_assistant"]


def make_assistant(shop: ShopTools, settings: Settings) -> Assistant:
    """The assistant that ``VLM4REC_ASSISTANT`` asks for (``auto``: the LLM when one is configured)."""
    wants_llm = settings.assistant == "llm" or (
        settings.assistant == "auto" and settings.chat_base_url and settings.chat_model
    )
    if wants_llm:
        require("agent", "the LLM assistant")
        from .llm import LlmAssistant

        return LlmAssistant.from_settings(shop, settings)
    from .dialogue import DialogueManager

    return DialogueManager(shop)
