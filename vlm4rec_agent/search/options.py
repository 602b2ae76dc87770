"""How a search ranks: one typed value, whose defaults are also the settings' (``VLM4REC_SEARCH_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Fusion = Literal["weighted", "rrf"]


class SearchOptions(BaseModel):
    """How a search ranks. The defaults were chosen on the tuning part of the query sets in
    ``bench/queries`` and checked on the part kept back (docs/evaluation/search.md)."""

    dense: bool = True
    lexical: bool = True
    structured: bool = True  # the named product type first, attribute boosts
    fusion: Fusion = "weighted"
    lexical_weight: float = 0.5  # of the BM25 score (scaled to 0-1) against the cosine, in weighted fusion
    attribute_boost: float = 0.05  # added per attribute value the query names and the item carries
    type_boost: float = 0.1  # added where the catalog types an item by the very word the query names
    diversity: float = 0.85  # MMR trade-off: 1 is no re-ranking for variety
    min_similarity: float = 0.33  # below this cosine, a query that names nothing known finds nothing
