"""Profile scorers: how a shopper's liked and disliked items rank a candidate.

A scorer has two jobs. ``probes`` gives the query vectors that fetch candidates from the ANN
index (the online part must stay a cheap nearest-neighbour search); ``score_batch`` then ranks
candidates exactly, for many users at once. Serving calls it for one user and a pool of
candidates (``score`` is that one row); evaluation for a batch of users and the whole catalog,
so the numbers it reports are those of the code that serves. All vectors are L2-normalised rows,
so a dot product is a cosine.

Many users cost one matrix product: their liked vectors are stacked, multiplied with the
candidates once, and reduced per user with ``np.*.reduceat`` over each user's segment of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import ConfigurationError
from .plugins import SCORERS_GROUP, Registry
from .search.ranking import mmr
from .settings import Settings

MAX_PROBES = 20
HYBRID_PROBES = 5


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


class Segments:
    """Several users' vectors stacked into one matrix, user ``u``'s rows from ``starts[u]`` on.

    Only users with at least one vector are stacked (``users`` says which): ``reduceat`` cannot
    reduce an empty segment.
    """

    def __init__(self, per_user: Sequence[np.ndarray]):
        self.users = [u for u, rows in enumerate(per_user) if len(rows)]
        self.sizes = np.array([len(per_user[u]) for u in self.users], dtype=np.intp)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.intp)
        self.stacked = np.concatenate([per_user[u] for u in self.users]) if self.users else None
        self.count = len(per_user)

    @property
    def complete(self) -> bool:
        """True when every user has vectors, so rows need no placing."""
        return len(self.users) == self.count

    def place(self, rows: np.ndarray, n_candidates: int) -> np.ndarray:
        """Users x candidates: ``rows`` for the users with vectors, 0 for the others."""
        if self.complete:
            return rows
        out = np.zeros((self.count, n_candidates), dtype=rows.dtype)
        out[self.users] = rows
        return out


def dislike_penalties(candidates: np.ndarray, disliked: Sequence[np.ndarray], weight: float) -> np.ndarray:
    """Users x candidates: ``weight`` times each candidate's highest positive cosine to any item the
    user disliked (0 for a user with no dislikes).

    The maximum, not the mean: disliking one red dress should push down things like that dress,
    not everything that is vaguely like the average of all dislikes.
    """
    segments = Segments(disliked)
    if weight == 0 or not segments.users or len(candidates) == 0:
        return np.zeros((len(disliked), len(candidates)), dtype=np.float32)
    nearest = np.maximum.reduceat(segments.stacked @ candidates.T, segments.starts, axis=0)
    return segments.place(weight * np.clip(nearest, 0, None), len(candidates))


def dislike_penalty(candidates: np.ndarray, disliked: np.ndarray, weight: float) -> np.ndarray:
    """:func:`dislike_penalties` for one user."""
    return dislike_penalties(candidates, [disliked], weight)[0]


@runtime_checkable
class Scorer(Protocol):
    """Ranks candidates for shoppers from the items they liked and disliked.

    ``score_batch(liked, disliked, candidates)`` takes one matrix of liked vectors and one of
    disliked vectors per user (either may have no rows) and returns a users x candidates matrix;
    ``score`` is its one row for one user, exactly; ``probes`` the query vectors that fetch one
    user's candidates from the ANN index.
    """

    name: str

    def probes(self, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray: ...

    def score(self, liked: np.ndarray, disliked: np.ndarray, candidates: np.ndarray) -> np.ndarray: ...

    def score_batch(
        self, liked: Sequence[np.ndarray], disliked: Sequence[np.ndarray], candidates: np.ndarray
    ) -> np.ndarray: ...


class ProfileScorer:
    """Base of the scorers here, and a start for a plugin's: a subclass says how liked items score
    candidates (``liked_scores``, for the users that have likes); dislikes are subtracted here, and
    ``score`` is ``score_batch`` for one user, so the two always agree."""

    name = "profile"

    def __init__(self, dislike_weight: float = 0.5):
        self.dislike_weight = dislike_weight

    def probes(self, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray:
        return liked[-MAX_PROBES:]

    def liked_scores(self, liked: Segments, candidates: np.ndarray) -> np.ndarray:  # pragma: no cover
        """Rows of scores, one per user in ``liked.users``, from their liked vectors alone."""
        raise NotImplementedError

    def score_batch(
        self, liked: Sequence[np.ndarray], disliked: Sequence[np.ndarray], candidates: np.ndarray
    ) -> np.ndarray:
        if len(liked) != len(disliked):
            raise ValueError(f"{len(liked)} users' likes but {len(disliked)} users' dislikes")
        segments = Segments(liked)
        if segments.users and len(candidates):
            scores = segments.place(self.liked_scores(segments, candidates), len(candidates))
        else:
            scores = np.zeros((len(liked), len(candidates)), dtype=np.float32)
        if self.dislike_weight and any(len(d) for d in disliked):
            scores = scores - dislike_penalties(candidates, disliked, self.dislike_weight)
        return scores

    def score(self, liked: np.ndarray, disliked: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        return self.score_batch([liked], [disliked], candidates)[0]


class MeanScorer(ProfileScorer):
    """VLM4Rec's scorer: cosine between a candidate and the mean of the liked items' vectors."""

    name = "mean"

    def probes(self, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray:
        return _unit(liked.mean(axis=0))[None, :]

    def liked_scores(self, liked: Segments, candidates: np.ndarray) -> np.ndarray:
        sums = np.add.reduceat(liked.stacked, liked.starts, axis=0)
        means = sums / liked.sizes[:, None].astype(sums.dtype)  # as ndarray.mean does, in the vectors' precision
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        return (means / np.where(norms > 0, norms, 1)) @ candidates.T


class SoftMaxScorer(ProfileScorer):
    """A soft maximum over the similarities to each liked item: ``t * log(mean(exp(cos / t)))``.

    One mean vector blurs a profile that holds a bed, a lamp and a rug; the soft maximum lets a
    candidate score high by being close to any one of them (t -> 0 is the max, t -> inf the mean).
    """

    name = "softmax"

    # 0.2 was chosen on 70% of the IKEA rooms and confirmed on the other 30% (docs/evaluation.md).
    def __init__(self, dislike_weight: float = 0.5, temperature: float = 0.2):
        super().__init__(dislike_weight)
        self.temperature = temperature

    def liked_scores(self, liked: Segments, candidates: np.ndarray) -> np.ndarray:
        t = self.temperature
        scaled = (liked.stacked @ candidates.T) / t  # (all liked) x candidates
        peaks = np.maximum.reduceat(scaled, liked.starts, axis=0)
        sums = np.add.reduceat(np.exp(scaled - np.repeat(peaks, liked.sizes, axis=0)), liked.starts, axis=0)
        return t * (peaks + np.log(sums / liked.sizes[:, None]))


class MaxScorer(ProfileScorer):
    """Item-to-item nearest neighbour: a candidate's best cosine to any single liked item."""

    name = "max"

    def liked_scores(self, liked: Segments, candidates: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(liked.stacked @ candidates.T, liked.starts, axis=0)


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


class InterestsScorer(ProfileScorer):
    """Several interest vectors (k-means of the liked items, k = ceil(sqrt(n))); a candidate
    scores its best cosine to any of them."""

    name = "interests"

    def probes(self, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray:
        return interest_vectors(liked, min(MAX_PROBES, int(np.ceil(np.sqrt(len(liked))))))

    def liked_scores(self, liked: Segments, candidates: np.ndarray) -> np.ndarray:
        # Each user's interests come from their own k-means; all of them then meet the candidates at once.
        centres = [self.probes(liked.stacked[a : a + n], liked.stacked[:0]) for a, n in zip(liked.starts, liked.sizes)]
        counts = np.array([len(c) for c in centres], dtype=np.intp)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
        return np.maximum.reduceat(np.concatenate(centres) @ candidates.T, starts, axis=0)


class CollaborativeScorer(ProfileScorer):
    """A scorer that also reads what other shoppers liked together (``collaborative`` is True):
    the retriever and the evaluation give it each user's co-occurrence scores and evidence over the
    whole catalog (:meth:`CoOccurrence.score_rows <vlm4rec_agent.collaborative.CoOccurrence.score_rows>`)
    and it ``blend``s them with the content scores of ``score_batch``."""

    collaborative = True

    def blend(
        self,
        content: np.ndarray,
        cooccurrence: np.ndarray,
        evidence: np.ndarray,
        popularity: np.ndarray,
        peak: np.ndarray | float | None = None,
    ) -> np.ndarray:  # pragma: no cover
        """Final scores from the content scores and the collaborative inputs, for the same items
        (users x items, or one user's candidates). ``peak``: each user's highest co-occurrence score
        over the whole catalog, when the items given are only part of it."""
        raise NotImplementedError


class HybridScorer(CollaborativeScorer):
    """The default: content similarity plus the co-occurrence score, trusted as evidence grows.

    ``content + weight * (cf / max cf) * evidence / (evidence + half)``, per user: the
    collaborative score is scaled to 0-1 over the catalog, and ``evidence`` (how many baskets
    back it) decides how much it counts; at ``half`` baskets it counts half its weight. An item
    nobody has liked yet has no evidence and competes on content alone, so it stays reachable;
    dislikes push down through the content part. Weight 2.5 and half 25 were chosen on the
    tuning part of the IKEA rooms (docs/evaluation/recommend.md), as were the shortlist's
    ``complement`` 0.1 and ``diversity`` 0.9 (:meth:`rerank`).
    """

    name = "hybrid"

    shortlist = 30  # the best this many are re-ranked for complements and variety

    def __init__(
        self,
        content: ProfileScorer,
        weight: float = 2.5,
        half: float = 25.0,
        complement: float = 0.1,
        diversity: float = 0.9,
    ):
        super().__init__(content.dislike_weight)
        self.content = content
        self.weight = weight
        self.half = half
        self.complement = complement
        self.diversity = diversity

    def adjusted(
        self, scores: np.ndarray, kinds: Sequence[str], held: Collection[str], repeat_share: Callable[[str], float]
    ) -> np.ndarray:
        """The shortlist's scores after the complement step (what a result's score shows)."""
        penalty = np.array([(1 - repeat_share(kind)) if kind and kind in held else 0.0 for kind in kinds])
        return np.asarray(scores, dtype=np.float64) - self.complement * penalty

    def rerank(
        self,
        scores: np.ndarray,
        kinds: Sequence[str],
        held: Collection[str],
        vectors: np.ndarray,
        repeat_share: Callable[[str], float],
        k: int,
    ) -> list[int]:
        """The order of a shortlist (its scores, product types and vectors): a candidate of a type the
        profile already holds loses ``complement`` times how rarely baskets hold two of that type
        (learned: rooms rarely hold two beds, dress shoppers like many dresses); below 1,
        ``diversity`` then trades relevance for variety (maximal marginal relevance)."""
        adjusted = self.adjusted(scores, kinds, held, repeat_share)
        if self.diversity < 1 and len(adjusted) > 1:
            return mmr(adjusted, vectors, k, self.diversity)
        return [int(i) for i in np.argsort(-adjusted, kind="stable")[:k]]

    def probes(self, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray:
        """The mean of the likes and the latest few: the co-occurrence part brings candidates of its
        own, so fewer probes of the vector index are needed than the content scorer alone uses."""
        return np.concatenate([_unit(liked.mean(axis=0))[None, :], liked[-(HYBRID_PROBES - 1) :]])

    def score_batch(
        self, liked: Sequence[np.ndarray], disliked: Sequence[np.ndarray], candidates: np.ndarray
    ) -> np.ndarray:
        return self.content.score_batch(liked, disliked, candidates)

    def collaborative_part(self, cooccurrence: np.ndarray, evidence: np.ndarray, peak: np.ndarray) -> np.ndarray:
        """What the co-occurrence adds to each score; ``peak`` is each user's highest co-occurrence
        score over the whole catalog (candidates are often only part of it)."""
        peak = np.asarray(peak, dtype=np.float64).reshape(-1, *([1] * (cooccurrence.ndim - 1)))
        relative = np.divide(cooccurrence, peak, out=np.zeros(cooccurrence.shape), where=peak > 0)
        return self.weight * relative * evidence / (evidence + self.half)

    def blend(self, content, cooccurrence, evidence, popularity, peak=None):
        peak = cooccurrence.max(axis=-1) if peak is None else peak
        return content + self.collaborative_part(cooccurrence, evidence, peak)


class _WithoutContent(CollaborativeScorer):
    """A collaborative baseline that reads no item vectors: its content scores are 0 (dislikes aside)."""

    def liked_scores(self, liked: Segments, candidates: np.ndarray) -> np.ndarray:
        return np.zeros((len(liked.users), len(candidates)), dtype=np.float32)


class CoOccurrenceScorer(_WithoutContent):
    """Item co-occurrence alone (item-kNN over what shoppers liked together): a baseline."""

    name = "cooccurrence"

    def blend(self, content, cooccurrence, evidence, popularity, peak=None):
        return content + cooccurrence


class PopularityScorer(_WithoutContent):
    """The most liked items, whoever asks: the baseline every table shows."""

    name = "popularity"

    def blend(self, content, cooccurrence, evidence, popularity, peak=None):
        return content + np.broadcast_to(popularity, np.shape(cooccurrence))


def _no_parameter(cls: type[ProfileScorer]):
    def factory(parameter: str | None, settings: Settings) -> Scorer:
        if parameter:
            raise ConfigurationError(f"the {cls.name} scorer takes no parameter (got {cls.name}:{parameter})")
        return cls(dislike_weight=settings.dislike_weight)

    return factory


def _softmax(parameter: str | None, settings: Settings) -> Scorer:
    if not parameter:
        return SoftMaxScorer(settings.dislike_weight)
    try:
        temperature = float(parameter)
    except ValueError:
        raise ConfigurationError(f"softmax temperature {parameter!r} is not a number", "e.g. softmax:0.2") from None
    if temperature <= 0:
        raise ConfigurationError(f"softmax temperature must be above 0, got {temperature}")
    return SoftMaxScorer(settings.dislike_weight, temperature)


def _hybrid(parameter: str | None, settings: Settings) -> Scorer:
    content = SoftMaxScorer(settings.dislike_weight)
    if not parameter:
        return HybridScorer(content)
    try:
        weight = float(parameter)
    except ValueError:
        raise ConfigurationError(f"hybrid weight {parameter!r} is not a number", "e.g. hybrid:2.5") from None
    if weight < 0:
        raise ConfigurationError(f"the hybrid weight must be 0 or more, got {weight}")
    return HybridScorer(content, weight)


SCORERS = Registry("scorer", SCORERS_GROUP, "VLM4REC_SCORER", ("name", "probes", "score", "score_batch"))
SCORERS.register("mean", _no_parameter(MeanScorer))
SCORERS.register("softmax", _softmax)
SCORERS.register("max", _no_parameter(MaxScorer))
SCORERS.register("interests", _no_parameter(InterestsScorer))
SCORERS.register("hybrid", _hybrid)
SCORERS.register("cooccurrence", _no_parameter(CoOccurrenceScorer))
SCORERS.register("popularity", _no_parameter(PopularityScorer))


def make_scorer(settings: Settings, spec: str | None = None) -> Scorer:
    """The scorer ``spec`` names (``VLM4REC_SCORER`` when None): ``name`` or ``name:parameter``,
    e.g. ``softmax:0.2``, the soft maximum at temperature 0.2. A plugin's factory gets the
    parameter as a string (None without one)."""
    name, _, parameter = (settings.scorer if spec is None else spec).strip().partition(":")
    return SCORERS.build(SCORERS.require(name), parameter or None, settings)


def parse_scorer(spec: str, dislike_weight: float = 0.5) -> Scorer:
    """:func:`make_scorer` with the settings of the environment, but this dislike weight."""
    return make_scorer(Settings(dislike_weight=dislike_weight), spec)
