"""Pure ranking functions of a search: fusing the dense and lexical lists, and varying a page (MMR).

Scores and vectors come in as arrays over one candidate pool; each function returns new scores or
an order (indices into the pool). Nothing here reads a store.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RRF_K = 60  # the usual reciprocal-rank constant: the 1st of a list weighs 1/61, the 10th 1/70


def ranks(scores: np.ndarray, present: np.ndarray) -> np.ndarray:
    """1-based rank of each candidate in one list (by descending score), inf where it is not in the list."""
    order = np.argsort(-np.where(present, scores, -np.inf), kind="stable")
    rank = np.full(len(scores), np.inf)
    rank[order[: int(present.sum())]] = np.arange(1, int(present.sum()) + 1)
    return rank


def reciprocal_rank_fusion(rank_lists: Sequence[np.ndarray], k: int = RRF_K) -> np.ndarray:
    """sum over lists of 1/(k + rank): what each list puts high counts, whatever its score's scale."""
    return np.sum([1.0 / (k + r) for r in rank_lists], axis=0)


def weighted_fusion(dense: np.ndarray, lexical: np.ndarray, lexical_weight: float) -> np.ndarray:
    """(1 - w) * cosine + w * BM25 / its maximum over the pool: both on a 0-1 scale before they are mixed."""
    top = float(lexical.max()) if len(lexical) else 0.0
    normalised = lexical / top if top > 0 else np.zeros_like(lexical)
    return (1 - lexical_weight) * dense + lexical_weight * normalised


DUPLICATE = 0.98


def mmr(relevance: np.ndarray, vectors: np.ndarray, k: int, trade_off: float) -> list[int]:
    """Maximal marginal relevance: each next pick maximises ``t * relevance - (1 - t) * (its highest
    cosine to those picked)``. ``t`` = 1 keeps the order of relevance; lower values prefer variety.
    Relevance is rescaled to 0-1 over the pool first, so ``t`` means the same for any score.

    Below 1, a near-duplicate of an item already picked (cosine of at least ``DUPLICATE``: the same
    text under another id, a colour variant described alike) comes only after every item that is
    not one: a page shows one of each before a second of any."""
    n = len(relevance)
    if n == 0:
        return []
    spread = float(relevance.max() - relevance.min())
    scaled = (relevance - relevance.min()) / spread if spread > 0 else np.ones(n)
    picked = [int(np.argmax(scaled))]
    closest = vectors @ vectors[picked[0]]
    chosen = np.zeros(n, dtype=bool)
    chosen[picked[0]] = True
    while len(picked) < min(k, n):
        value = trade_off * scaled - (1 - trade_off) * closest
        if trade_off < 1:
            value = value - 2.0 * (closest >= DUPLICATE)
        value[chosen] = -np.inf
        best = int(np.argmax(value))
        picked.append(best)
        chosen[best] = True
        closest = np.maximum(closest, vectors @ vectors[best])
    return picked


def intra_list_similarity(vectors: np.ndarray) -> float:
    """Mean cosine between the pairs of a list: how alike its items are (1: all the same)."""
    n = len(vectors)
    if n < 2:
        return 0.0
    similarities = vectors @ vectors.T
    return float((similarities.sum() - np.trace(similarities)) / (n * (n - 1)))
