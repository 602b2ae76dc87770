"""Scores for many users at once: one matrix product per batch of users instead of one per user.

The per-user loop (the reference code's style) pays Python and BLAS call overhead per user;
here a batch's liked vectors are stacked, multiplied with the catalog once, and reduced per user
with ``np.*.reduceat`` over each user's segment of columns. Exactly the same numbers as the
scorers in :mod:`vlm4rec_agent.scoring` (without dislikes, which evaluation data lacks).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..scoring import MaxScorer, MeanScorer, Scorer, SoftMaxScorer


def supports(scorer: Scorer) -> bool:
    return type(scorer) in (MeanScorer, SoftMaxScorer, MaxScorer)


def batch_scores(scorer: Scorer, vectors: np.ndarray, profiles: Sequence[np.ndarray]) -> np.ndarray:
    """Users x items scores for users whose liked items are ``profiles`` (catalog indices)."""
    if isinstance(scorer, MeanScorer):
        means = np.stack([vectors[p].mean(axis=0) for p in profiles])
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        return (means / np.where(norms > 0, norms, 1)) @ vectors.T
    starts = np.cumsum([0] + [len(p) for p in profiles[:-1]])
    similarities = vectors[np.concatenate(profiles)] @ vectors.T  # (all liked) x items
    if isinstance(scorer, MaxScorer):
        return np.maximum.reduceat(similarities, starts, axis=0)
    if isinstance(scorer, SoftMaxScorer):
        t = scorer.temperature
        scaled = similarities / t
        peaks = np.maximum.reduceat(scaled, starts, axis=0)
        sizes = np.diff(np.append(starts, len(scaled)))
        sums = np.add.reduceat(np.exp(scaled - np.repeat(peaks, sizes, axis=0)), starts, axis=0)
        return t * (peaks + np.log(sums / sizes[:, None]))
    raise TypeError(f"no batched form for the {scorer.name} scorer")
