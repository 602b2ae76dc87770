"""Run one method (item vectors + scorer) over hold-out splits or over photo queries.

Each user is scored against the whole catalog, minus the items of their own profile; the top
``max(ks)`` are kept and every metric is computed from that one ranking. Results are kept per
user (averaged over seeds) so that methods can be compared user by user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..scoring import Scorer
from ..search.ranking import intra_list_similarity
from .collaborative import TrainingBaskets
from .metrics import KS, all_metrics
from .splits import Split
from .stats import Estimate, bootstrap


@dataclass
class Run:
    task: str  # "holdout", "leave-last-out" or "shop-the-look"
    representation: str
    scorer: str
    users: list[str]
    per_user: dict[str, np.ndarray]  # metric name -> one value per user, averaged over seeds
    seeds: int = 1
    extra: dict = field(default_factory=dict)

    def estimate(self, metric: str) -> Estimate:
        return bootstrap(self.per_user[metric])

    def summary(self) -> dict:
        """The JSON answer: every metric's mean and 95% interval, plus what was measured."""
        out: dict = {
            "task": self.task,
            "representation": self.representation,
            "scorer": self.scorer,
            "n_users": len(self.users),
            "seeds": self.seeds,
        }
        for metric in self.per_user:
            estimate = self.estimate(metric)
            out[metric] = round(estimate.mean, 5)
            out[f"{metric}_ci95"] = [round(estimate.low, 5), round(estimate.high, 5)]
        return out | self.extra


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first (ties broken by the lower index)."""
    k = min(k, len(scores))
    head = np.argpartition(-scores, k - 1)[:k]
    return head[np.lexsort((head, -scores[head]))]


def _collect(rankings: Sequence[tuple[np.ndarray, np.ndarray]], ks: Sequence[int]) -> dict[str, np.ndarray]:
    rows = [all_metrics(ranked.tolist(), set(relevant.tolist()), ks) for ranked, relevant in rankings]
    return {name: np.array([row[name] for row in rows]) for name in rows[0]} if rows else {}


USER_BATCH = 128  # users scored together: a 128 x catalog matrix (9 MB at 10k items)


def rank_users(
    vectors: np.ndarray,
    splits: Sequence[Split],
    scorer: Scorer,
    k: int,
    training: TrainingBaskets | None = None,
    kinds: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Each user's top ``k`` catalog indices, best first, their own profile items excluded.

    Users are scored in batches by the serving scorer's own ``score_batch`` (one matrix product
    per batch for the built-in scorers); evaluation data has no dislikes. A collaborative scorer
    also gets each user's co-occurrence scores from the model ``training`` gives that user (one
    learned without the user's items), and blends them as serving does.
    """
    collaborative = getattr(scorer, "collaborative", False)
    if collaborative and training is None:
        raise ValueError(f"the {scorer.name} scorer needs training baskets")
    none = np.zeros((0, vectors.shape[1]), dtype=vectors.dtype)
    ranked: dict[int, np.ndarray] = {}
    groups = _by_model(splits, training) if collaborative else {None: list(range(len(splits)))}
    for members in groups.values():
        for start in range(0, len(members), USER_BATCH):
            positions = members[start : start + USER_BATCH]
            batch = [splits[p] for p in positions]
            liked = [vectors[s.profile] for s in batch]
            scores = np.asarray(scorer.score_batch(liked, [none] * len(batch), vectors), dtype=np.float64)
            if collaborative:
                model = training.model_for(batch[0].user)
                cooccurrence, evidence = model.score_rows([s.profile for s in batch])
                scores = np.asarray(scorer.blend(scores, cooccurrence, evidence, model.popularity), dtype=np.float64)
            rows = np.repeat(np.arange(len(batch)), [len(s.profile) for s in batch])
            scores[rows, np.concatenate([s.profile for s in batch])] = -np.inf
            for position, row, split in zip(positions, scores, batch):
                ranked[position] = top_k(row, k)
                if collaborative and hasattr(scorer, "rerank"):
                    ranked[position] = _reranked(scorer, row, split, vectors, kinds, model, k)
    return [ranked[p] for p in range(len(splits))]


def _reranked(scorer, row: np.ndarray, split: Split, vectors, kinds, model, k: int) -> np.ndarray:
    """The serving step after scoring: the shortlist re-ordered for complements and variety."""
    shortlist = top_k(row, max(k, scorer.shortlist))
    shortlist = shortlist[np.isfinite(row[shortlist])]  # the user's own items are never candidates
    kinds = kinds if kinds is not None else [""] * len(vectors)
    held = {kinds[i] for i in split.profile if kinds[i]}
    order = scorer.rerank(row[shortlist], [kinds[i] for i in shortlist], held, vectors[shortlist],
                          model.repeat_share, len(shortlist))  # fmt: skip
    return shortlist[order][:k]


def _by_model(splits: Sequence[Split], training: TrainingBaskets) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for position, split in enumerate(splits):
        groups.setdefault(training.key(split.user), []).append(position)
    return groups


def same_kind_share(ranked: np.ndarray, profile: np.ndarray, kinds: Sequence[str], k: int = 10) -> float:
    """The share of the top ``k`` whose product type is one the profile already holds (low: the
    list completes the room or outfit rather than repeating it)."""
    held = {kinds[i] for i in profile if kinds[i]}
    top = ranked[:k]
    return float(np.mean([bool(kinds[i]) and kinds[i] in held for i in top])) if len(top) else 0.0


def evaluate_holdout(
    vectors: np.ndarray,
    split_sets: Sequence[Sequence[Split]],
    scorer: Scorer,
    ks: Sequence[int] = KS,
    training: TrainingBaskets | None = None,
    kinds: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Per-user metrics averaged over the split sets (one set per seed, same users in each).

    With the items' ``kinds``, also ``same_type@10``: the share of the top 10 in product types the
    user's profile already holds; and always ``similarity@10``, the mean cosine between the top 10's
    pairs (how alike the list is)."""
    if not split_sets or not split_sets[0]:
        raise ValueError("no users to evaluate: every user has fewer items than the protocol needs")
    totals: dict[str, np.ndarray] = {}
    for splits in split_sets:
        ranked = rank_users(vectors, splits, scorer, max(ks), training, kinds)
        for name, values in _collect([(r, s.held_out) for r, s in zip(ranked, splits)], ks).items():
            totals[name] = totals.get(name, 0) + values
        if kinds is not None and any(kinds):
            share = np.array([same_kind_share(r, s.profile, kinds) for r, s in zip(ranked, splits)])
            totals["same_type@10"] = totals.get("same_type@10", 0) + share
        alike = np.array([intra_list_similarity(vectors[r[:10]]) for r in ranked])
        totals["similarity@10"] = totals.get("similarity@10", 0) + alike
    return {name: values / len(split_sets) for name, values in totals.items()}


def evaluate_queries(
    item_vectors: np.ndarray, query_vectors: np.ndarray, relevant: Sequence[np.ndarray], ks: Sequence[int] = KS
) -> dict[str, np.ndarray]:
    """One query vector per user (a room photo); the whole catalog is ranked by cosine."""
    scores = query_vectors @ item_vectors.T
    return _collect([(top_k(row.astype(np.float64), max(ks)), rel) for row, rel in zip(scores, relevant)], ks)
