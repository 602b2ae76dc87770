"""Search, recommendation and "more like this", each with an explanation per result.

Online work is a nearest-neighbour query to Chroma for a pool of candidates, then an exact
re-rank of that pool (the scorer, dislikes, personalisation) in numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel, Field

from . import explain
from .collaborative.live_model import Snapshot
from .embedding_text import build_embedding_text
from .encoding import TextEncoder
from .errors import InvalidInputError, NotFoundError
from .grounding.schema import Attributes, GroundingRecord
from .grounding.vocabulary import load_vocabulary
from .image_encoding import IDENTICAL_PHOTO
from .items import StoredItem
from .memo import Memo
from .photo_search import rank_photo
from .scoring import Scorer
from .search.hybrid import HybridSearch, SearchOptions, SearchOutcome
from .store import Candidate, Filters, Neighbour, Profile, RatingStore
from .store.catalog import StoredCatalog
from .text_input import clean_query

MAX_K = 100  # results per call, for every face (CLI, tools, MCP, chat)


class Result(BaseModel):
    rank: int
    item: StoredItem
    score: float
    explanation: explain.Explanation
    # For a search that names a product type: whether the item is of that type (False: shown only
    # because fewer items of the type exist). None when the query named no type.
    fits: bool | None = None


class SearchAnswer(BaseModel):
    """A search's results, a note for the shopper when they are not simply what was asked for
    (nothing fits, a filter matches nothing, too few items of the named type), what the query was
    understood to ask for, and the misspelt words that were put right."""

    results: list[Result]
    note: str = ""
    understood: Attributes = Field(default_factory=Attributes)
    corrections: dict[str, str] = Field(default_factory=dict)


def check_k(k: int) -> int:
    """The one rule for result counts, whichever face asks: a whole number from 1 to ``MAX_K``."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise InvalidInputError(f"k must be a whole number from 1 to {MAX_K}, got {str(k)[:40]!r}")
    if not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be between 1 and {MAX_K}, got {k}", "ask for fewer results")
    return k


def _pool(k: int, exclude: int = 0, probes: int = 1) -> int:
    """Candidates to fetch per probe: about max(5k, 50) in all, at least 2k per probe, plus the
    items that will be excluded (each probe may find all of them)."""
    return max(2 * k, -(-max(5 * k, 50) // max(probes, 1))) + exclude


class Retriever:
    def __init__(
        self,
        catalog: StoredCatalog,
        ratings: RatingStore,
        encoder: Callable[[], TextEncoder],
        scorer: Scorer,
        personalization_weight: float = 0.3,
        search_options: SearchOptions | None = None,
        collaborative: Callable[[], Snapshot] | None = None,
    ):
        self.catalog = catalog
        self._collaborative = collaborative  # the co-occurrence model now, for a collaborative scorer
        self.ratings = ratings
        self._encoder = encoder  # loaded only by the paths that embed text
        self.scorer = scorer
        self.personalization_weight = personalization_weight
        self.search_options = search_options or SearchOptions()
        self.vocabulary = load_vocabulary()
        # Not recomputed when nothing changed: a query's vector, and a profile's vectors (keyed
        # by the exact ratings and the catalog's write generation, and at most a minute old).
        self._query_vectors: Memo[np.ndarray] = Memo(size=2048, max_age_s=float("inf"))
        self._profiles: Memo[tuple[list[StoredItem], np.ndarray, np.ndarray]] = Memo(size=1024, max_age_s=60.0)
        self._twins: Memo[frozenset[str]] = Memo(size=1024, max_age_s=60.0)

    # --- profiles -------------------------------------------------------------------------
    def profile_vectors(self, profile: Profile) -> tuple[list[StoredItem], np.ndarray, np.ndarray]:
        """Liked items, their vectors and the disliked vectors (items gone from the catalog are skipped)."""
        key = (tuple(profile.liked), tuple(profile.disliked), self.catalog.generation)
        return self._profiles.get(key, lambda: self._read_profile(profile))

    def same_photos(self, profile: Profile) -> frozenset[str]:
        """Items whose photo is identical to a rated item's (one product under two ids, as an ingest
        reports them): a shopper who liked one is not recommended the other."""
        visual = self.catalog.visual
        if visual is None or profile.is_empty:
            return frozenset()
        key = (tuple(profile.liked), tuple(profile.disliked), self.catalog.generation)

        def find() -> frozenset[str]:
            rated = profile.liked + profile.disliked
            vectors = visual.vectors(rated)
            ids = [i for i in rated if i in vectors]
            if not ids:
                return frozenset()
            pairs = visual.same_photos(ids, np.stack([vectors[i] for i in ids]), IDENTICAL_PHOTO)
            return frozenset(x for pair in pairs for x in pair[:2]) - set(rated)

        return self._twins.get(key, find)

    def encode_query(self, text: str) -> np.ndarray:
        """The query's vector (1 x dim), computed once per distinct text."""
        return self._query_vectors.get(text, lambda: self._encoder().encode([text]))

    def closeness(self, text: str, ids: Sequence[str]) -> dict[str, float]:
        """Cosine of a text with each item's stored vector (items not in the catalog left out)."""
        query = self.encode_query(text)[0]
        return {i: float(v @ query) for i, v in self.catalog.vectors(list(ids)).items()}

    def _read_profile(self, profile: Profile) -> tuple[list[StoredItem], np.ndarray, np.ndarray]:
        stored = self.catalog.get(profile.liked + profile.disliked, with_vectors=True)
        liked = [stored[i] for i in profile.liked if i in stored]
        disliked = [stored[i] for i in profile.disliked if i in stored]
        dim = self.catalog.dim
        liked_vecs = np.stack([n.vector for n in liked]) if liked else np.zeros((0, dim), np.float32)
        disliked_vecs = np.stack([n.vector for n in disliked]) if disliked else np.zeros((0, dim), np.float32)
        return [n.item for n in liked], liked_vecs, disliked_vecs

    def _candidates(self, probes: np.ndarray, n: int, filters: Filters | None) -> dict[str, Candidate]:
        pool: dict[str, Candidate] = {}
        for row in self.catalog.nearest(probes, n, filters):
            for candidate in row:
                pool.setdefault(candidate.id, candidate)
        return pool

    def _winners(self, candidates: list[Candidate], scores: np.ndarray, k: int) -> list[tuple[int, StoredItem]]:
        """The ``k`` best candidates (index into ``candidates``) with their stored items, read now."""
        top = self._top(scores, k)
        items = self.catalog.get([candidates[i].id for i in top])
        return [(i, items[candidates[i].id].item) for i in top if candidates[i].id in items]

    @staticmethod
    def _as_results(row: list[Neighbour], why: Callable[[Neighbour], explain.Explanation]) -> list[Result]:
        """Results in ANN order, scored by their similarity to the query vector."""
        return [Result(rank=r, item=n.item, score=n.similarity, explanation=why(n)) for r, n in enumerate(row, start=1)]

    @staticmethod
    def _top(scores: np.ndarray, k: int) -> list[int]:
        """Indices of the ``k`` best scores, best first (ties keep the ANN order)."""
        return [int(i) for i in np.argsort(-scores, kind="stable")[:k]]

    # --- recommend ------------------------------------------------------------------------
    def recommend(self, user: str, k: int = 10, filters: Filters | None = None) -> list[Result]:
        check_k(k)
        profile = self.ratings.profile(user)
        if profile.is_empty:
            raise NotFoundError(
                f"no ratings for user {user!r}", f"like a few items first: `vlm4rec like ITEM_ID --user {user}`"
            )
        liked_items, liked, disliked = self.profile_vectors(profile)
        if not liked_items:
            raise InvalidInputError(
                f"user {user!r} has not liked any item that is in the catalog",
                f"like at least one: `vlm4rec like ITEM_ID --user {user}`",
            )
        probes = self.scorer.probes(liked, disliked)
        rated = profile.rated | self.same_photos(profile)
        pool = self._candidates(probes, _pool(k, len(rated), len(probes)), filters)
        if getattr(self.scorer, "collaborative", False) and self._collaborative is not None:
            return self._recommend_with_others(profile, rated, liked_items, liked, disliked, pool, k, filters)
        candidates = [c for item_id, c in pool.items() if item_id not in rated]
        if not candidates:
            return []
        vectors = np.stack([c.vector for c in candidates])
        scores = self.scorer.score(liked, disliked, vectors)
        to_liked = vectors @ liked.T
        nearest, nearest_sim = to_liked.argmax(axis=1), to_liked.max(axis=1)
        table = explain.ValueTable(liked_items)
        results = []
        for rank, (i, item) in enumerate(self._winners(candidates, scores, k), start=1):
            why = explain.explain_profile(
                item, liked_items, liked_items[nearest[i]], float(nearest_sim[i]), table=table
            )
            results.append(Result(rank=rank, item=item, score=float(scores[i]), explanation=why))
        return results

    def _recommend_with_others(
        self,
        profile: Profile,
        rated: set[str] | frozenset[str],
        liked_items: list[StoredItem],
        liked: np.ndarray,
        disliked: np.ndarray,
        pool: dict[str, Candidate],
        k: int,
        filters: Filters | None,
    ) -> list[Result]:
        """Content and co-occurrence together: the pool is the content neighbours plus the items
        most liked together with the profile's (only the pool's, under filters, which the vector
        index applies); the best ``shortlist`` are re-ranked for complements and variety."""
        scorer = self.scorer
        snapshot = self._collaborative()
        model, ids = snapshot.model, snapshot.ids
        rows = ids.rows([item.id for item in liked_items])
        cooccurrence, evidence = model.score(rows) if rows else (np.zeros(model.n_items), np.zeros(model.n_items))
        peak = float(cooccurrence.max()) if len(cooccurrence) else 0.0
        if peak > 0 and (filters is None or filters.is_empty):
            extra = self._collaborative_candidates(scorer, cooccurrence, evidence, peak, ids, rated, pool, k)
            for item_id, vector in self.catalog.vectors(extra).items():
                pool.setdefault(item_id, Candidate(item_id, 0.0, vector))
        candidates = [c for item_id, c in pool.items() if item_id not in rated]
        if not candidates:
            return []
        vectors = np.stack([c.vector for c in candidates])
        content = scorer.score(liked, disliked, vectors)
        positions = [ids.index.get(c.id, -1) for c in candidates]
        at = np.array(positions, dtype=np.intp)  # -1, an item the model does not know, reads the 0 added last
        scores = scorer.blend(
            content,
            np.append(cooccurrence, 0)[at],
            np.append(evidence, 0)[at],
            np.append(model.popularity, 0)[at],
            peak,
        )
        shortlist = self._top(scores, max(k, getattr(scorer, "shortlist", k)))
        stored = self.catalog.get([candidates[i].id for i in shortlist])
        shortlist = [i for i in shortlist if candidates[i].id in stored]
        if hasattr(scorer, "rerank") and shortlist:
            held = {item.kind.strip().lower() for item in liked_items if item.kind}
            kinds = [stored[candidates[i].id].item.kind.strip().lower() for i in shortlist]
            order = scorer.rerank(scores[shortlist], kinds, held, vectors[shortlist], model.repeat_share, k)
            scores = scores.astype(np.float64)  # a result shows its score after the complement step
            scores[shortlist] = scorer.adjusted(scores[shortlist], kinds, held, model.repeat_share)
            shortlist = [shortlist[j] for j in order]
        to_liked = vectors @ liked.T
        table = explain.ValueTable(liked_items)
        results = []
        for rank, i in enumerate(shortlist[:k], start=1):
            item = stored[candidates[i].id].item
            nearest = int(to_liked[i].argmax())
            together = self._together(snapshot, positions[i], liked_items, rows)
            why = explain.explain_profile(
                item, liked_items, liked_items[nearest], float(to_liked[i, nearest]), together, table
            )
            results.append(Result(rank=rank, item=item, score=float(scores[i]), explanation=why))
        return results

    @staticmethod
    def _collaborative_candidates(scorer, cooccurrence, evidence, peak, ids, rated, pool, k: int) -> list[str]:
        """The items that the co-occurrence part alone would rank highest, not yet in the pool."""
        part = (
            scorer.collaborative_part(cooccurrence, evidence, peak)
            if hasattr(scorer, "collaborative_part")
            else cooccurrence
        )
        wanted = max(5 * k, 50)
        order = (
            np.argpartition(-part, min(wanted, len(part) - 1))[: wanted + len(rated)]
            if len(part) > wanted
            else np.arange(len(part))
        )
        order = order[part[order] > 0]
        return [ids.ids[i] for i in order if ids.ids[i] not in rated and ids.ids[i] not in pool]

    @staticmethod
    def _together(
        snapshot: Snapshot, row: int, liked_items: list[StoredItem], liked_rows: list[int]
    ) -> list[explain.Together]:
        """For each source, the liked item the result shares most baskets with, and how many."""
        if row < 0 or not liked_rows:
            return []
        by_row = {snapshot.ids.index[i.id]: i for i in liked_items if i.id in snapshot.ids.index}
        evidence = []
        for source, counts in snapshot.model.together(row, liked_rows).items():
            best = max(counts, key=lambda r: (counts[r], -r))
            info = snapshot.model.source(source)
            item = by_row[best]
            evidence.append(
                explain.Together(item_id=item.id, label=item.label, count=counts[best], source=source, noun=info.noun)
            )
        return sorted(evidence, key=lambda t: -t.count)

    # --- search ---------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int = 10,
        user: str | None = None,
        filters: Filters | None = None,
        options: SearchOptions | None = None,
    ) -> SearchAnswer:
        """Hybrid search (see :mod:`vlm4rec_agent.search.hybrid`), leaning towards ``user``'s profile."""
        check_k(k)
        text = clean_query(query)
        options = options or self.search_options
        profile = self.ratings.profile(user) if user else None
        personal, liked_items, liked = None, [], None
        exclude: frozenset[str] = frozenset()
        if profile is not None and not profile.is_empty:
            liked_items, liked, disliked = self.profile_vectors(profile)
            weight = self.personalization_weight

            def personal(vectors: np.ndarray) -> np.ndarray:
                return weight * self.scorer.score(liked, disliked, vectors)

            exclude = frozenset(profile.disliked)
        outcome = HybridSearch(self.catalog, self.encode_query).run(
            text, k, options, filters, personal, exclude, liked_items, liked
        )
        results = [
            Result(rank=rank, item=hit.item, score=hit.score, explanation=hit.explanation, fits=hit.fits)
            for rank, hit in enumerate(outcome.hits, start=1)
        ]
        return SearchAnswer(
            results=results,
            note=self._note(outcome, results, filters, k),
            understood=outcome.parsed.attributes,
            corrections=outcome.parsed.corrections,
        )

    def _note(self, outcome: SearchOutcome, results: list[Result], filters: Filters | None, k: int) -> str:
        """A line for the shopper when the page is not simply k items that fit."""
        text, wanted = outcome.parsed.text, outcome.wanted
        if outcome.note == "nothing fits":
            return f"Nothing in the catalog fits “{text}”. {self._holds()}".strip()
        if not results and filters is not None and not filters.is_empty:
            return self._filter_note(filters)
        if not results:
            return f"Nothing in the catalog matched “{text}”."
        fits = [r.fits for r in results]
        if wanted and False in fits and fits == sorted(fits, reverse=True):  # the type ran out
            fitting = sum(r.fits is True for r in results)
            return (
                f"Only {fitting} item{'s' if fitting != 1 else ''} of the type {wanted} "
                f"{'match' if fitting != 1 else 'matches'}; the others shown are other types."
            )
        return ""

    def _holds(self, limit: int = 8) -> str:
        values = self.catalog.lexical.values("category", limit)
        return f"It holds, for example: {', '.join(v for v, _ in values)}." if values else ""

    def _filter_note(self, filters: Filters) -> str:
        parts = []
        if filters.category and filters.category not in dict(self.catalog.lexical.values("category", 1000)):
            known = ", ".join(v for v, _ in self.catalog.lexical.values("category", 12))
            parts.append(f"no item has the category {filters.category!r} (categories here: {known})")
        known_colours = dict(self.catalog.lexical.values("colors", 1000))
        for colour in filters.colors:
            if colour not in known_colours:
                shown = ", ".join(list(known_colours)[:12])
                parts.append(f"no item has the colour {colour!r} (colours here: {shown})")
        if not parts:
            return "No item has all of those attributes together."
        return "Nothing matched: " + "; ".join(parts) + "."

    # --- similar --------------------------------------------------------------------------
    def similar_to_item(self, item_id: str, k: int = 10, filters: Filters | None = None) -> list[Result]:
        check_k(k)
        source = self.catalog.require(item_id, with_vectors=True)
        row = self.catalog.query(source.vector[None, :], k + 1, filters)[0]
        row = [n for n in row if n.item.id != source.item.id][:k]
        return self._as_results(row, lambda n: explain.explain_similar(n.item, source.item, n.similarity))

    def similar_to_photo(
        self,
        record: GroundingRecord,
        views: np.ndarray | None,
        k: int = 10,
        filters: Filters | None = None,
        embed_item_text: bool = True,
        visual_weight: float = 0.9,
    ) -> list[Result]:
        """Items like a photo: its grounded record (what :meth:`Engine.describe` returns) and its image
        vectors (one per view; None: words alone), fused as :mod:`vlm4rec_agent.photo_search` says."""
        check_k(k)
        vector = self._encoder().encode([build_embedding_text(record.attributes, None, embed_item_text)])
        hits = rank_photo(self.catalog, vector, views, k, filters, visual_weight)
        items = self.catalog.get([h.id for h in hits])
        return [
            Result(rank=r, item=items[h.id].item, score=h.score,
                   explanation=explain.explain_photo(items[h.id].item, record.attributes, h.visual))
            for r, h in enumerate((h for h in hits if h.id in items), start=1)
        ]  # fmt: skip

    # --- explain one item -----------------------------------------------------------------
    def explain_for_user(self, user: str, item_id: str) -> Result:
        found = self.catalog.require(item_id, with_vectors=True)
        profile = self.ratings.profile(user)
        liked_items, liked, disliked = self.profile_vectors(profile)
        if not liked_items:
            raise NotFoundError(
                f"user {user!r} has no liked items to explain against", f"`vlm4rec like ITEM_ID --user {user}`"
            )
        score = float(self.scorer.score(liked, disliked, found.vector[None, :])[0])
        sims = liked @ found.vector
        j = int(sims.argmax())
        why = explain.explain_profile(found.item, liked_items, liked_items[j], float(sims[j]))
        return Result(rank=0, item=found.item, score=score, explanation=why)


__all__ = [
    "Attributes",
    "Filters",
    "Result",
    "Retriever",
    "check_k",
]
