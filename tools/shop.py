"""The shopping assistant's tools: typed methods whose docstrings tell an agent when to use them.

One definition serves every caller: the app's dialogue manager, a LangChain agent (through
``vlm4rec_agent.assistant.langchain_tools``) and MCP clients (through Gradio, which reads the
docstrings' ``Args:``). Every tool returns plain JSON-able data. Tools that change a profile act
only on the ``user_id`` they are given. Images are never read from arbitrary paths: see
:func:`vlm4rec_agent.image_inputs.resolve_image_argument`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import InvalidInputError
from vlm4rec_agent.image_inputs import resolve_image_argument
from vlm4rec_agent.retrieval import Filters
from vlm4rec_agent.text_input import clean_text
from vlm4rec_agent.views import profile_data, result_data

TOOL_NAMES = (
    "search_catalog",
    "recommend_for_user",
    "like_item",
    "dislike_item",
    "similar_items",
    "describe_image",
    "explain_item",
    "show_profile",
    "reset_profile",
)
MAX_K = 20


def _filters(category: str, color: str) -> Filters | None:
    filters = Filters(category=category or None, colors=[color] if color else [])
    return filters if filters.where() else None


def _k(k: int) -> int:
    """A result count clamped to 1-20; a clear error when it is not a whole number."""
    try:
        count = int(k)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError(f"k must be a whole number from 1 to {MAX_K}, got {str(k)[:40]!r}") from None
    return max(1, min(count, MAX_K))


class ShopTools:
    def __init__(self, engine: Engine, *, image_roots: Sequence[Path] = (), allow_image_urls: bool = False):
        self.engine = engine
        self.image_roots = list(image_roots)
        self.allow_image_urls = allow_image_urls

    def functions(self) -> list[Callable[..., dict[str, Any]]]:
        """The tools as bound methods, in a stable order."""
        return [getattr(self, name) for name in TOOL_NAMES]

    def _image(self, image: str):
        return resolve_image_argument(image, self.image_roots, self.allow_image_urls)

    def search_catalog(
        self, query: str, k: int = 8, user_id: str = "", category: str = "", color: str = ""
    ) -> dict[str, Any]:
        """Search the product catalog for items matching a description in words.

        Use this when the shopper describes what they want ("a linen dress for a beach wedding").
        Each result has an id, title, image, score and an explanation citing the attributes it
        shares with the query.

        Args:
            query: What the shopper is looking for, in their words.
            k: How many results to return (1-20).
            user_id: The shopper's id, to lean the results towards what they liked; empty for none.
            category: Only items of this grounded category (for example "dress" or "lamp"); empty for any.
            color: Only items with this grounded colour (for example "blue"); empty for any.
        """
        results = self.engine.search(query, k=_k(k), user=user_id or None, filters=_filters(category, color))
        return {"query": clean_text(query), "results": [result_data(r) for r in results]}

    def recommend_for_user(self, user_id: str, k: int = 8, category: str = "", color: str = "") -> dict[str, Any]:
        """Recommend items for a shopper from the items they liked and disliked.

        Use this when the shopper asks for suggestions or "something for me". Items they already
        rated are never returned. Each result explains which attributes it shares with liked items.

        Args:
            user_id: The shopper's id.
            k: How many recommendations to return (1-20).
            category: Only items of this grounded category; empty for any.
            color: Only items with this grounded colour; empty for any.
        """
        results = self.engine.recommend(user_id, k=_k(k), filters=_filters(category, color))
        return {"user": user_id, "results": [result_data(r) for r in results]}

    def like_item(self, user_id: str, item_id: str) -> dict[str, Any]:
        """Record that a shopper likes an item; their recommendations follow their likes.

        Args:
            user_id: The shopper's id; only this shopper's profile changes.
            item_id: The id of the item they like, as returned by another tool.
        """
        self.engine.like(user_id, item_id)
        return profile_data(self.engine.profile(user_id))

    def dislike_item(self, user_id: str, item_id: str) -> dict[str, Any]:
        """Record that a shopper dislikes an item; similar items are then ranked lower for them.

        Args:
            user_id: The shopper's id; only this shopper's profile changes.
            item_id: The id of the item they dislike, as returned by another tool.
        """
        self.engine.dislike(user_id, item_id)
        return profile_data(self.engine.profile(user_id))

    def similar_items(self, item_id: str = "", image: str = "", k: int = 8) -> dict[str, Any]:
        """Find items similar to a catalog item or to a photo. Give exactly one of item_id or image.

        Use this for "more like this one" or "find something like this photo".

        Args:
            item_id: The id of a catalog item to find similar items for; empty when giving an image.
            image: A photo as a data:image/...;base64 URL (or a photo uploaded to this app); empty when giving an item_id.
            k: How many items to return (1-20).
        """
        if bool(item_id) == bool(image):
            raise InvalidInputError(
                "give exactly one of item_id or image", "an item_id from a search's results, or a photo"
            )
        if item_id:
            results = self.engine.similar(item_id=item_id, k=_k(k))
        else:
            results = self.engine.similar(image=self._image(image), k=_k(k))
        return {"results": [result_data(r) for r in results]}

    def describe_image(self, image: str, text: str = "") -> dict[str, Any]:
        """Describe a product photo as shopping attributes: category, colours, materials, style, pattern, occasion, season.

        The answer also says which grounder (VLM or the basic offline one) produced it.

        Args:
            image: A photo as a data:image/...;base64 URL (or a photo uploaded to this app).
            text: The product's own text, if any (title, type, description).
        """
        record = self.engine.describe(self._image(image), text=text or None)
        return record.model_dump(mode="json", exclude={"raw_output"})

    def explain_item(self, user_id: str, item_id: str) -> dict[str, Any]:
        """Explain how an item relates to what a shopper liked, citing shared attributes.

        Args:
            user_id: The shopper's id.
            item_id: The id of the item to explain.
        """
        return result_data(self.engine.explain(user_id, item_id))

    def show_profile(self, user_id: str) -> dict[str, Any]:
        """Show a shopper's profile: liked and disliked items and the attributes their likes have in common.

        Args:
            user_id: The shopper's id.
        """
        return profile_data(self.engine.profile(user_id))

    def reset_profile(self, user_id: str) -> dict[str, Any]:
        """Forget every like and dislike of a shopper. Use only when the shopper asks to start their profile over.

        Args:
            user_id: The shopper's id; only this shopper's profile is reset.
        """
        return {"user": user_id, "removed": self.engine.reset(user_id)}
