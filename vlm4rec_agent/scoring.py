"""Profile scorers: how a shopper's liked and disliked items rank a candidate.

A scorer has two jobs. ``probes`` gives the query vectors that fetch candidates from the ANN
index (the online part must stay a cheap nearest-neighbour search); ``score`` then ranks those
candidates exactly. All vectors are L2-normalised rows, so a dot product is a cosine.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .errors import ConfigurationError
from .settings import Settings

MAX_PROBES = 20


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def dislike_penalty(candidates: np.ndarray, disliked: np.ndarray, weight: float) -> np.ndarray:
    """``weight`` times each candidate's highest positive cosine to any disliked item.

    The maximum, not the mean: disliking one red dress should push down things like that dress,
    not everything that is vaguely like the average of all dislikes.
    """
    if weight == 0 or len(disliked) == 0 or len(candidates) == 0:
        return np.zeros(len(candidates), dtype=np.float32)
    return weight * np.clip((candidates @ disliked.T).max(axis=1), 0, None)


@runtime_checkable
class Scorer(Protocol):
    name: str

    def probes(self, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray: ...

    def score(self, liked: np.ndarray, disliked: np.ndarray, candidates: np.ndarray) -> np.ndarray: ...


class MeanScorer:
    """VLM4Rec's scorer: cosine between a candidate and the mean of the liked items' vectors."""

    name = "mean"

    def __init__(self, dislike_weight: float = 0.5):
        self.dislike_weight = dislike_weight

    def probes(self, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray:
        return _unit(liked.mean(axis=0))[None, :]

    def score(self, liked: np.ndarray, disliked: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        base = candidates @ _unit(liked.mean(axis=0)) if len(liked) else np.zeros(len(candidates), np.float32)
        return base - dislike_penalty(candidates, disliked, self.dislike_weight)


class SoftMaxScorer:
    """A soft maximum over the similarities to each liked item: ``t * log(mean(exp(cos / t)))``.

    One mean vector blurs a profile that holds a bed, a lamp and a rug; the soft maximum lets a
    candidate score high by being close to any one of them (t -> 0 is the max, t -> inf the mean).
    """

    name = "softmax"

    # 0.2 was chosen on 70% of the IKEA rooms and confirmed on the other 30% (docs/evaluation.md).
    def __init__(self, dislike_weight: float = 0.5, temperature: float = 0.2):
        self.dislike_weight = dislike_weight
        self.temperature = temperature

    def probes(self, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray:
        return liked[-MAX_PROBES:]

    def score(self, liked: np.ndarray, disliked: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        if len(liked) == 0:
            return -dislike_penalty(candidates, disliked, self.dislike_weight)
        scaled = (candidates @ liked.T) / self.temperature
        peak = scaled.max(axis=1, keepdims=True)
        soft = self.temperature * (peak[:, 0] + np.log(np.exp(scaled - peak).mean(axis=1)))
        return soft - dislike_penalty(candidates, disliked, self.dislike_weight)


class MaxScorer:
    """Item-to-item nearest neighbour: a candidate's best cosine to any single liked item."""

    name = "max"

    def __init__(self, dislike_weight: float = 0.5):
        self.dislike_weight = dislike_weight

    def probes(self, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray:
        return liked[-MAX_PROBES:]

    def score(self, liked: np.ndarray, disliked: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        base = (candidates @ liked.T).max(axis=1) if len(liked) else np.zeros(len(candidates), np.float32)
        return base - dislike_penalty(candidates, disliked, self.dislike_weight)


def interest_vectors(liked: np.ndarray, count: int, rounds: int = 10) -> np.ndarray:
    """``count`` unit vectors that summarise ``liked`` (spherical k-means, deterministic start:
    the item nearest the mean, then repeatedly the item farthest from those chosen)."""
    count = max(1, min(count, len(liked)))
    chosen = [int(np.argmax(liked @ _unit(liked.mean(axis=0))))]
    while len(chosen) < count:
        chosen.append(int(np.argmin((liked @ liked[chosen].T).max(axis=1))))
    centres = liked[chosen]
    for _ in range(rounds):
        nearest = np.argmax(liked @ centres.T, axis=1)
        centres = np.stack(
            [_unit(liked[nearest == j].mean(axis=0)) if (nearest == j).any() else centres[j] for j in range(count)]
        )
    return centres


class InterestsScorer:
    """Several interest vectors (k-means of the liked items, k = ceil(sqrt(n))); a candidate
    scores its best cosine to any of them."""

    name = "interests"

    def __init__(self, dislike_weight: float = 0.5):
        self.dislike_weight = dislike_weight

    def probes(self, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray:
        return interest_vectors(liked, min(MAX_PROBES, int(np.ceil(np.sqrt(len(liked))))))

    def score(self, liked: np.ndarray, disliked: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        if len(liked) == 0:
            return -dislike_penalty(candidates, disliked, self.dislike_weight)
        base = (candidates @ self.probes(liked, disliked).T).max(axis=1)
        return base - dislike_penalty(candidates, disliked, self.dislike_weight)


SCORERS = {"mean": MeanScorer, "softmax": SoftMaxScorer, "max": MaxScorer, "interests": InterestsScorer}


def parse_scorer(spec: str, dislike_weight: float = 0.5, temperature: float | None = None) -> Scorer:
    """A scorer from its name, optionally with its parameter: ``softmax:0.2`` is the soft maximum
    at temperature 0.2 (the only scorer that takes one)."""
    name, _, parameter = spec.strip().partition(":")
    cls = SCORERS.get(name)
    if cls is None:
        raise ConfigurationError(f"unknown scorer {spec!r}", f"use one of: {', '.join(sorted(SCORERS))}")
    if name != "softmax":
        if parameter:
            raise ConfigurationError(f"the {name} scorer takes no parameter (got {spec!r})")
        return cls(dislike_weight=dislike_weight)
    if parameter:
        try:
            temperature = float(parameter)
        except ValueError:
            raise ConfigurationError(f"softmax temperature {parameter!r} is not a number", "e.g. softmax:0.2") from None
    if temperature is not None and temperature <= 0:
        raise ConfigurationError(f"softmax temperature must be above 0, got {temperature}")
    return SoftMaxScorer(dislike_weight, temperature) if temperature is not None else SoftMaxScorer(dislike_weight)


def make_scorer(settings: Settings) -> Scorer:
    try:
        return parse_scorer(settings.scorer, settings.dislike_weight)
    except ConfigurationError as error:
        raise ConfigurationError(error.message, f"set VLM4REC_SCORER to one of: {', '.join(sorted(SCORERS))}") from None
