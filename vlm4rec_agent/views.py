"""View models: one typed value per thing a face shows (a result, a page of results, a profile).

The engine returns rich objects (:class:`~vlm4rec_agent.retrieval.Result` holds the whole stored
item); the faces (CLI, app, chat, agent tools, MCP) show these views of them, and turn them into
JSON only at their edge (``model_dump_json``). Each face renders the same view its own way with
the functions in :mod:`vlm4rec_agent.rendering`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from .explain import Reason, Together, WordMatch
from .grounding.schema import Attributes, GroundingRecord
from .items import StoredItem
from .retrieval import Result, SearchAnswer


class ItemBrief(BaseModel):
    """An item named in passing: in a profile, say."""

    id: str
    title: str = ""
    image: str = ""

    @property
    def label(self) -> str:
        return self.title or self.id

    @classmethod
    def of(cls, item: StoredItem) -> ItemBrief:
        return cls(id=item.id, title=item.title, image=item.image)


class ResultView(BaseModel):
    """One search, recommendation or "similar" result as every face shows it."""

    rank: int
    id: str
    title: str = ""
    score: float
    image: str = ""
    explanation: str
    reasons: list[Reason] = Field(default_factory=list)
    words: list[WordMatch] = Field(default_factory=list)  # the query's words the item's name or text holds
    # Other shoppers' evidence for a recommendation: liked together with an item of the profile by N
    # shoppers, or in N rooms (outfits...) with it; the real counts.
    together: list[Together] = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=Attributes)
    kind: str = ""  # the product type its catalog gives
    # For a search that names a product type: whether the item is of it (False: shown because too
    # few items of the type match; its explanation says so). None when no type was named.
    fits: bool | None = None
    grounder: str = ""

    @property
    def label(self) -> str:
        return self.title or self.id

    @classmethod
    def of(cls, result: Result) -> ResultView:
        item = result.item
        return cls(
            rank=result.rank,
            id=item.id,
            title=item.title,
            score=round(result.score, 4),
            image=item.image,
            explanation=result.explanation.text,
            reasons=result.explanation.reasons,
            words=result.explanation.words,
            together=result.explanation.together,
            attributes=item.attributes,
            kind=item.kind,
            fits=result.fits,
            grounder=item.record.grounder,
        )


def result_views(results: Sequence[Result]) -> list[ResultView]:
    return [ResultView.of(r) for r in results]


class ResultPage(BaseModel):
    """What a search, a recommendation or a "more like this" returns to a face.

    ``query`` is the cleaned query of a search, ``user`` the shopper a page was made for, and
    ``photo`` what a query photo was grounded into (so that no face has to ground it again). A
    search also says ``note`` (for the shopper: nothing fits, with what the catalog holds; a filter
    that matches nothing, with the values that exist; too few items of the named type),
    ``understood`` (the attributes the query was read as) and ``corrections`` (misspelt words put
    right).
    """

    results: list[ResultView] = Field(default_factory=list)
    query: str = ""
    user: str = ""
    photo: GroundingRecord | None = None
    note: str = ""
    understood: Attributes | None = None
    corrections: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of_search(cls, answer: SearchAnswer, query: str, user: str = "") -> ResultPage:
        return cls(
            results=result_views(answer.results),
            query=query,
            user=user,
            note=answer.note,
            understood=answer.understood,
            corrections=answer.corrections,
        )


class CommonValue(BaseModel):
    """An attribute value that several of a shopper's liked items carry."""

    field: str
    value: str
    count: int


class ProfileView(BaseModel):
    """A shopper's profile, the one shape every face shows and every JSON answer carries."""

    user: str
    liked: list[ItemBrief] = Field(default_factory=list)
    disliked: list[ItemBrief] = Field(default_factory=list)
    common: list[CommonValue] = Field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.liked and not self.disliked


class ResetDone(BaseModel):
    """A profile that was reset, and how many ratings were forgotten."""

    user: str
    removed: int


__all__ = [
    "CommonValue",
    "ItemBrief",
    "ProfileView",
    "ResetDone",
    "ResultPage",
    "ResultView",
    "result_views",
]
