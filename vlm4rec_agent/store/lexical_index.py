"""The lexical index protocol: items found by the words of their text, BM25-ranked.

It stands beside the catalog's vector index (:mod:`vlm4rec_agent.store.catalog_index`): dense
vectors find what a query means, the lexical index finds the rare words it names (a series name
such as KALLAX, a product type the encoder blurs). A query reaches it as a list of terms made by
:meth:`LexicalIndex.terms`, never as query syntax: a shopper's quote, star or ``NEAR`` is a word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..items import StoredItem
from .catalog_index import Filters


@dataclass(frozen=True)
class Term:
    """One word of a query as the index sees it (``stem``), and as the shopper wrote it (``word``)."""

    word: str
    stem: str


@dataclass
class LexicalHit:
    id: str
    score: float  # BM25, summed over the fields it matched in, with their boosts
    fuzzy: dict[str, str] = field(default_factory=dict)  # query word -> the indexed word it was taken for


@runtime_checkable
class LexicalIndex(Protocol):
    """Words of each item's title, own text, grounded attributes and description, for BM25 search."""

    def terms(self, text: str) -> list[Term]:
        """A query's words as the index compares them (lower-cased, stemmed, stop words left out)."""
        ...

    def known(self, terms: Sequence[Term]) -> list[Term]:
        """Those terms that some item's text holds."""
        ...

    def search(self, terms: Sequence[Term], n: int, filters: Filters | None = None) -> list[LexicalHit]:
        """The ``n`` best items holding any of the terms (a misspelt word may be taken for a close one)."""
        ...

    def name_frequency(self, term: Term) -> int:
        """How many items' names (titles) hold the term."""
        ...

    def named_with(self, terms: Sequence[Term], n: int) -> frozenset[str]:
        """Up to ``n`` items whose names hold any of the terms, exactly (a series name, a brand)."""
        ...

    def upsert(self, items: Sequence[StoredItem], written_at: float | Sequence[float]) -> None:
        """Add or replace items (one commit), with when each was written (one time for all, or one each)."""
        ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def count(self) -> int: ...

    def ids(self) -> list[str]:
        """Every item the index holds (for catching up with the vector index; not for requests)."""
        ...

    def clear(self) -> None: ...

    def values(self, field_name: str, limit: int = 50) -> list[tuple[str, int]]:
        """The values of a filterable field (``category``, ``colors``) with how many items carry each."""
        ...

    def close(self) -> None: ...
