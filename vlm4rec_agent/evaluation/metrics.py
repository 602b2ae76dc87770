"""Ranking metrics as small pure functions of one ranked list and one set of relevant items.

``ranked`` is the system's ranking, best first (any hashable ids); ``relevant`` the held-out
items. Every function looks only at the first ``k`` entries of ``ranked``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Sequence

KS = (5, 10, 20)
METRICS = ("recall", "ndcg", "hit")


def _check(relevant: Collection[Hashable], k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not relevant:
        raise ValueError("a user with no relevant items cannot be scored")


def recall_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """The share of the relevant items found in the top ``k``."""
    _check(relevant, k)
    wanted = set(relevant)
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def hit_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """1.0 when at least one relevant item is in the top ``k``, else 0.0."""
    _check(relevant, k)
    wanted = set(relevant)
    return float(any(item in wanted for item in ranked[:k]))


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain, 1/log2(rank + 1) with ranks counted from 1."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """DCG of the top ``k`` over the ideal DCG of min(|relevant|, k) hits at the top."""
    _check(relevant, k)
    wanted = set(relevant)
    gains = [1.0 if item in wanted else 0.0 for item in ranked[:k]]
    return dcg(gains) / dcg([1.0] * min(len(wanted), k))


def precision_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Relevant items in the top ``k`` over min(k, |relevant|): 1.0 when every place that could hold a
    relevant item does (a query with 3 relevant items is not blamed for the 4th to 6th places)."""
    _check(relevant, k)
    wanted = set(relevant)
    return len(wanted.intersection(ranked[:k])) / min(k, len(wanted))


_FUNCTIONS = {"recall": recall_at_k, "ndcg": ndcg_at_k, "hit": hit_at_k}


def all_metrics(ranked: Sequence[Hashable], relevant: Collection[Hashable], ks: Sequence[int] = KS) -> dict[str, float]:
    """``{"recall@5": ..., "ndcg@5": ..., "hit@5": ..., "recall@10": ...}`` for one user."""
    return {f"{name}@{k}": _FUNCTIONS[name](ranked, relevant, k) for k in ks for name in METRICS}
