"""The storage protocols: what the engine asks of the store of shoppers' ratings.

One protocol per swappable part; each engine's own syntax (SQL, Chroma's ``where``) stays inside
the implementation. The catalog's vector index has its protocol beside this one
(:mod:`vlm4rec_agent.store.catalog_index`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

RatingValue = Literal[1, -1]


class Profile(BaseModel):
    """A shopper's ratings, oldest first."""

    user: str
    liked: list[str] = Field(default_factory=list)
    disliked: list[str] = Field(default_factory=list)

    @property
    def rated(self) -> set[str]:
        return set(self.liked) | set(self.disliked)

    @property
    def is_empty(self) -> bool:
        return not self.liked and not self.disliked


@runtime_checkable
class RatingStore(Protocol):
    """Likes and dislikes of one catalog's shoppers, one rating per (user, item).

    A repeated rating of the same item replaces the earlier one (a like after a dislike is a
    like). Every method is safe to call from several threads, and from several processes that
    share the same database.
    """

    def rate(self, user: str, item_id: str, value: RatingValue) -> None: ...

    def forget(self, user: str, item_id: str) -> bool:
        """Remove one rating; True when there was one."""
        ...

    def profile(self, user: str) -> Profile: ...

    def reset(self, user: str) -> int:
        """Forget every rating of ``user``; returns how many there were."""
        ...

    def count(self) -> int:
        """How many ratings the catalog's shoppers have made."""
        ...

    def count_users(self) -> int:
        """How many shoppers have at least one rating."""
        ...

    def likes(self) -> Iterator[tuple[str, str]]:
        """Every (user, item) like of the catalog, user by user (for building models, not per request)."""
        ...

    def liked_together(self, item_ids: Sequence[str], limit: int = 100) -> dict[str, dict[str, int]]:
        """For each of ``item_ids``: the other items liked by the same shoppers, with how many
        shoppers liked both (at most ``limit`` per item, most shared first)."""
        ...

    def close(self) -> None: ...
