"""The catalog index protocol: items, their vectors, and nearest neighbours under the project's own filters.

The engine and the retrieval code speak only this protocol and :class:`Filters`; a backend's own
query syntax (Chroma's ``where``) stays inside its implementation
(:mod:`vlm4rec_agent.store.chroma_index`). A lexical index will stand beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, Field, field_validator

from ..items import StoredItem


class Filters(BaseModel):
    """Only items whose grounded attributes have these values (matched exactly, lower-case).

    ``category`` is one category; ``colors`` must all be among the item's colours; ``kind`` is a
    phrase that names the item's product type as its catalog gives it ("pendant lamp", "lamp"; see
    :func:`vlm4rec_agent.kinds.suffixes`).
    """

    category: str | None = None
    colors: list[str] = Field(default_factory=list)
    kind: str | None = None

    @field_validator("category", "kind", mode="before")
    @classmethod
    def _category(cls, value: str | None) -> str | None:
        return (value or "").strip().lower() or None

    @field_validator("colors", mode="before")
    @classmethod
    def _colours(cls, value: Sequence[str] | str | None) -> list[str]:
        values = [value] if isinstance(value, str) else list(value or [])
        return list(dict.fromkeys(v.strip().lower() for v in values if v and v.strip()))

    @property
    def is_empty(self) -> bool:
        return self.category is None and not self.colors and self.kind is None

    @classmethod
    def of(cls, category: str | None = None, colors: Sequence[str] | str | None = None) -> Filters | None:
        """The filters a face was given (empty values mean "any"), or None when they filter nothing."""
        filters = cls(category=category, colors=colors)
        return None if filters.is_empty else filters


@dataclass
class Neighbour:
    item: StoredItem
    similarity: float  # cosine similarity to the query vector
    vector: np.ndarray | None = None


@dataclass
class Candidate:
    """A nearest neighbour without its metadata: what re-ranking needs, and nothing more."""

    id: str
    similarity: float  # cosine similarity to the probe that found it
    vector: np.ndarray | None


@runtime_checkable
class CatalogIndex(Protocol):
    """One catalog: its items with their records and vectors, found by id or by nearness.

    Vectors are L2-normalised; similarities are cosines. ``generation`` changes with every write
    made through this object, so memos keyed on it see this process's own writes at once.
    """

    name: str
    generation: int

    @property
    def encoder_name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def count(self) -> int: ...

    def upsert(
        self, items: Sequence[StoredItem], vectors: np.ndarray, documents: Sequence[str], source: str = ""
    ) -> None:
        """Store items (replacing those with the same ids), recording the catalog file they came from."""
        ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> dict[str, Neighbour]:
        """Stored items by id (ids that are not stored are absent)."""
        ...

    def require(self, item_id: str, with_vectors: bool = False) -> Neighbour:
        """One stored item, or a clear NotFoundError."""
        ...

    def hashes(self, ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """(content hash, source catalog, kind) of each stored item among ``ids``."""
        ...

    def relabel(self, kinds: dict[str, str], source: str) -> None:
        """Record the catalog file and the type (id -> kind) of stored items that are otherwise unchanged."""
        ...

    def ids_from(self, source: str) -> list[str]:
        """The ids of the items that came from the catalog file ``source``."""
        ...

    def count_without_source(self) -> int:
        """Items stored before sources were recorded (no catalog file is known for them)."""
        ...

    def nearest(
        self, vectors: np.ndarray, n: int, filters: Filters | None = None, with_vectors: bool = True
    ) -> list[list[Candidate]]:
        """The ``n`` nearest items to each query vector, without their records (fast: for re-ranking)."""
        ...

    def query(
        self, vectors: np.ndarray, n: int, filters: Filters | None = None, with_vectors: bool = False
    ) -> list[list[Neighbour]]:
        """The ``n`` nearest items to each query vector, with their records."""
        ...

    def ids_with(self, field: str, value: str) -> frozenset[str]:
        """The ids of the items whose grounded ``field`` holds ``value`` (cheap when asked again)."""
        ...

    def check(self) -> None:
        """Raise DamagedStoreError when the index cannot be read."""
        ...

    def drop(self) -> None:
        """Delete the whole catalog (its items and vectors; ratings live elsewhere)."""
        ...
