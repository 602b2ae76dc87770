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


class GroupSet(BaseModel):
    """A set of groups a catalog owner imported (rooms, outfits, baskets): what `vlm4rec groups list` shows."""

    name: str
    noun: str  # what one group is: "room", "outfit", "basket", "look", "group"
    source: str  # the file it came from
    groups: int
    items: int  # distinct items in them
    added_at: float


@runtime_checkable
class GroupStore(Protocol):
    """One catalog's imported group sets; each is added, replaced or removed whole."""

    def add(self, name: str, noun: str, source: str, groups: Sequence[tuple[str, Sequence[str]]]) -> GroupSet: ...

    def sets(self) -> list[GroupSet]: ...

    def remove(self, name: str) -> GroupSet | None: ...

    def groups(self) -> Iterator[tuple[str, str, list[str]]]:
        """Every group as (set name, group id, item ids)."""
        ...

    def version(self) -> tuple:
        """A value that changes whenever the sets change."""
        ...


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
