"""The shopping assistant's tools: typed methods whose docstrings tell an agent when to use them.

One definition serves every caller: the app's dialogue manager, a LangChain agent (through
``vlm4rec_agent.assistant.langchain_tools``) and MCP clients (through Gradio, which reads the
docstrings' ``Args:``). Every tool returns a typed view (:mod:`vlm4rec_agent.views`); the faces
turn it into JSON at their edge. Tools that change a profile act only on the ``user_id`` they
are given. Images are never read from arbitrary paths: see
:func:`vlm4rec_agent.image_inputs.resolve_image_argument`. Result counts follow the engine's one
rule: ``k`` from 1 to :data:`~vlm4rec_agent.retrieval.MAX_K`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import InvalidInputError
from vlm4rec_agent.grounding.schema import GroundingRecord
from vlm4rec_agent.image_inputs import resolve_image_argument
from vlm4rec_agent.retrieval import MAX_K
from vlm4rec_agent.store import Filters
from vlm4rec_agent.text_input import clean_text
from vlm4rec_agent.views import ProfileView, ResetDone, ResultPage, ResultView, result_views

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


def _k(k: int) -> int:
    """A result count as a whole number (MCP and HTTP callers may send text); the engine checks its range."""
    try:
        return int(k)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError(f"k must be a whole number from 1 to {MAX_K}, got {str(k)[:40]!r}") from None


class ShopTools:
    def __init__(self, engine: Engine, *, image_roots: Sequence[Path] = (), allow_image_urls: bool = False):
        self.engine = engine
        self.image_roots = list(image_roots)
        self.allow_image_urls = allow_image_urls

    def functions(self) -> list[Callable[..., BaseModel]]:
        """The tools as bound methods, in a stable order."""
        return [getattr(self, name) for name in TOOL_NAMES]

    def _image(self, image: str):
        return resolve_image_argument(image, self.image_roots, self.allow_image_urls)

    def search_catalog(
        self, query: str, k: int = 8, user_id: str = "", category: str = "", color: str = ""
    ) -> ResultPage:
        """Search the product catalog for items matching a description in words.

        Use this when the shopper describes what they want ("a linen dress for a beach wedding").
        Each result has an id, title, image, score and an explanation citing the attributes and
        words it shares with the query. Items of the product type the query names come first;
        others are marked ``fits: false``. When nothing in the catalog fits, ``results`` is empty
        and ``note`` says so and what the catalog holds; tell the shopper the note.

        Args:
            query: What the shopper is looking for, in their words.
            k: How many results to return (1-100).
            user_id: The shopper's id, to lean the results towards what they liked; empty for none.
            category: Only items of this grounded category (for example "dress" or "lamp"); empty for any.
            color: Only items with this grounded colour (for example "blue"); empty for any.
        """
        answer = self.engine.search_answer(query, k=_k(k), user=user_id or None, filters=Filters.of(category, color))
        return ResultPage.of_search(answer, clean_text(query), user_id)

    def recommend_for_user(self, user_id: str, k: int = 8, category: str = "", color: str = "") -> ResultPage:
        """Recommend items for a shopper from the items they liked and disliked.

        Use this when the shopper asks for suggestions or "something for me". Items they already
        rated are never returned. Each result explains which attributes it shares with liked items.

        Args:
            user_id: The shopper's id.
            k: How many recommendations to return (1-100).
            category: Only items of this grounded category; empty for any.
            color: Only items with this grounded colour; empty for any.
        """
        results = self.engine.recommend(user_id, k=_k(k), filters=Filters.of(category, color))
        return ResultPage(user=user_id, results=result_views(results))

    def like_item(self, user_id: str, item_id: str) -> ProfileView:
        """Record that a shopper likes an item; their recommendations follow their likes.

        Args:
            user_id: The shopper's id; only this shopper's profile changes.
            item_id: The id of the item they like, as returned by another tool.
        """
        return self.engine.like(user_id, item_id)

    def dislike_item(self, user_id: str, item_id: str) -> ProfileView:
        """Record that a shopper dislikes an item; similar items are then ranked lower for them.

        Args:
            user_id: The shopper's id; only this shopper's profile changes.
            item_id: The id of the item they dislike, as returned by another tool.
        """
        return self.engine.dislike(user_id, item_id)

    def similar_items(self, item_id: str = "", image: str = "", k: int = 8, scene: bool = False) -> ResultPage:
        """Find items similar to a catalog item or to a photo. Give exactly one of item_id or image.

        Use this for "more like this one" or "find something like this photo". For a photo, the
        answer also says what the photo was grounded into ("photo"); the picture itself is compared
        with every item's photo, as well as its description.

        Args:
            item_id: The id of a catalog item to find similar items for; empty when giving an image.
            image: A photo as a data:image/...;base64 URL (or a photo uploaded to this app); empty when giving an item_id.
            k: How many items to return (1-100).
            scene: True when the photo shows a whole room or outfit, to find the things in it (shop the look).
        """
        if image and not item_id:
            match = self.engine.match_photo(self._image(image), k=_k(k), scene=bool(scene))
            return ResultPage(results=result_views(match.results), photo=_shown(match.record))
        results = self.engine.similar(item_id=item_id or None, image=image or None, k=_k(k))
        return ResultPage(results=result_views(results))

    def describe_image(self, image: str, text: str = "") -> GroundingRecord:
        """Describe a product photo as shopping attributes: category, colours, materials, style, pattern, occasion, season.

        The answer also says which grounder (VLM or the basic offline one) produced it.

        Args:
            image: A photo as a data:image/...;base64 URL (or a photo uploaded to this app).
            text: The product's own text, if any (title, type, description).
        """
        return _shown(self.engine.describe(self._image(image), text=text or None))

    def explain_item(self, user_id: str, item_id: str) -> ResultView:
        """Explain how an item relates to what a shopper liked, citing shared attributes.

        Args:
            user_id: The shopper's id.
            item_id: The id of the item to explain.
        """
        return ResultView.of(self.engine.explain(user_id, item_id))

    def show_profile(self, user_id: str) -> ProfileView:
        """Show a shopper's profile: liked and disliked items and the attributes their likes have in common.

        Args:
            user_id: The shopper's id.
        """
        return self.engine.profile(user_id)

    def reset_profile(self, user_id: str) -> ResetDone:
        """Forget every like and dislike of a shopper. Use only when the shopper asks to start their profile over.

        Args:
            user_id: The shopper's id; only this shopper's profile is reset.
        """
        return ResetDone(user=user_id, removed=self.engine.reset(user_id))


def _shown(record: GroundingRecord) -> GroundingRecord:
    """A grounding record as tools show it: the VLM's raw answer stays on the server."""
    return record.model_copy(update={"raw_output": None})
