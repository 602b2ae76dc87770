"""Search in words: dense and lexical candidates fused, the query's product type first, a varied page.

1. The query is read (:mod:`.query`): its product type, its other attributes, its words.
2. Candidates: the nearest items to the query's vector, the items of the named type nearest to it
   (so that they are in the pool even when the encoder blurs them), and the BM25 best of the
   lexical index (the rare words: a series name, an exact product type).
3. Scores: the cosine and the BM25 score fused (a weighted sum on a 0-1 scale by default;
   reciprocal rank fusion as the alternative), plus a small boost per other attribute the item
   carries; a shopper's profile, when given, adds its weight.
4. Order: items of the named type first, then the others, each marked (``Result.fits``). The type
   is a phrase of the catalog's own product types where the query holds one ("pendant lamp" in a
   catalog that types items "Pendant lamp, 3-armed"), then the vocabulary's category ("lamp"):
   pendant lamps first, then other lamps, then the rest. Within each tier, maximal marginal
   relevance varies near-ties (``SearchOptions.diversity``).
5. Nothing fits: a query that names no attribute, matches no word of the catalog and lies far from
   every item (cosine under ``min_similarity``) gets no results and a note saying what the
   catalog holds, instead of six unrelated items.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..explain import Explanation, WordMatch, explain_hit, explain_profile
from ..grounding.vocabulary import load_vocabulary
from ..items import StoredItem
from ..kinds import named_type, phrase_words, singular
from ..store import Filters
from ..store.catalog import StoredCatalog
from .options import SearchOptions
from .query import ParsedQuery, edit_distance, parse_query
from .ranking import mmr, ranks, reciprocal_rank_fusion, weighted_fusion


@dataclass
class _Candidate:
    id: str
    vector: np.ndarray
    dense: float = 0.0  # cosine to the query
    in_dense: bool = False
    lexical: float = 0.0  # BM25
    in_lexical: bool = False
    fuzzy: dict[str, str] = field(default_factory=dict)


@dataclass
class Hit:
    """A search result before it is shown: the stored item, its score and why."""

    item: StoredItem
    score: float
    explanation: Explanation
    fits: bool | None


@dataclass
class SearchOutcome:
    hits: list[Hit]
    parsed: ParsedQuery
    note: str = ""
    wanted: str | None = None  # the product type the query was taken to name


class _WantedType:
    """The type a query asks for, as groups of candidates (the best first) and a bonus.

    ``kind`` is the phrase of the catalog's own types the query names; the items it names count
    only where their category is among the query's (a "duvet cover" is bedding, not a cushion
    cover). ``category`` is the vocabulary's. Where the phrase is more specific than the category
    ("pendant lamp", "cushion cover"), its items fit and the category's others come next; where it
    is the category itself ("bed", "dress"), every item of the category fits and the items the
    catalog types by the phrase get ``bonus`` (a "Bed frame" is a bed, a "Divan bed" more so).
    """

    def __init__(
        self,
        catalog: StoredCatalog,
        kind: str | None = None,
        category: str | None = None,
        categories: Sequence[str] = (),
    ):
        self.catalog, self.kind, self.category = catalog, kind, category
        self._category_ids = catalog.ids_with("category", category) if category else frozenset()
        self._kind_ids: frozenset[str] = frozenset()
        if kind:
            self._kind_ids = catalog.ids_with("kind_suffixes", kind)
            if categories:
                allowed = frozenset().union(*(catalog.ids_with("category", c) for c in dict.fromkeys(categories)))
                self._kind_ids &= allowed
            if not self._kind_ids:  # the phrase names no stored item of the query's categories
                self.kind = None
        self.broad = bool(self.kind and category and self.kind in load_vocabulary().find("category", self.kind))

    def __bool__(self) -> bool:
        return bool(self.kind or self.category)

    @property
    def label(self) -> str | None:
        return self.kind or self.category

    def pools(self, filters: Filters | None, n: int) -> list[tuple[Filters, frozenset[str]]]:
        """Filters for the extra candidate pools, with the ids each allows: the nearest items of the
        named type and, where those are too few, of its category."""
        colors = filters.colors if filters else []
        category = filters.category if filters else None
        pools = []
        if self.kind:
            pools.append((Filters(kind=self.kind, colors=colors, category=category), self._kind_ids))
        if self.category and (self.broad or len(self._kind_ids) < n):
            pools.append((Filters(category=self.category, colors=colors), self._category_ids))
        return pools

    def groups(self, ids: Sequence[str]) -> list[int]:
        """2: fits, 1: of the category only (after the items that fit), 0: the rest."""
        if not self:
            return [0] * len(ids)
        if not self.kind or self.broad:
            return [2 if i in self._category_ids or i in self._kind_ids else 0 for i in ids]
        return [2 if i in self._kind_ids else 1 if i in self._category_ids else 0 for i in ids]

    def bonus(self, ids: Sequence[str]) -> np.ndarray:
        """1 for the items the catalog types by the phrase, where the whole category fits."""
        if not self.broad:
            return np.zeros(len(ids))
        return np.array([i in self._kind_ids for i in ids], dtype=float)

    def fits(self, groups: Sequence[int]) -> list[bool | None]:
        if not self:
            return [None] * len(groups)
        return [g == 2 for g in groups]


# A word that more names hold than this share of the catalog (and NAME_MIN) is no proper name.
NAME_SHARE = 0.05
NAME_MIN = 20


def pool_size(k: int) -> int:
    return max(5 * k, 50)


class HybridSearch:
    def __init__(self, catalog: StoredCatalog, encode: Callable[[str], np.ndarray]):
        self.catalog = catalog
        self.encode = encode

    def run(
        self,
        text: str,
        k: int,
        options: SearchOptions,
        filters: Filters | None = None,
        personal: Callable[[np.ndarray], np.ndarray] | None = None,
        exclude: frozenset[str] = frozenset(),
        profile_items: Sequence[StoredItem] = (),
        profile_vectors: np.ndarray | None = None,
    ) -> SearchOutcome:
        """Up to ``k`` hits for ``text``. ``personal`` scores candidates' vectors for the shopper
        (added to relevance); ``exclude`` are ids never shown (the shopper's dislikes)."""
        lexical = self.catalog.lexical if options.lexical else None
        parsed = parse_query(text, lexical)
        query_vector = self.encode(text)
        n = pool_size(k) + len(exclude)
        pool: dict[str, _Candidate] = {}
        if options.dense or options.structured:
            for candidate in self.catalog.nearest(query_vector, n, filters)[0]:
                pool[candidate.id] = _Candidate(candidate.id, candidate.vector, candidate.similarity, options.dense)
        wanted = self._wanted(parsed, filters, options)
        for typed, holders in wanted.pools(filters, n):
            if sum(i in holders for i in pool) >= k:  # the nearest items hold the nearest of the type already
                continue
            for candidate in self.catalog.nearest(query_vector, n, typed)[0]:
                pool.setdefault(candidate.id, _Candidate(candidate.id, candidate.vector, candidate.similarity))
        if lexical is not None and parsed.terms:
            hits = lexical.search(parsed.terms, n, filters)
            missing = [h.id for h in hits if h.id not in pool]
            vectors = self.catalog.vectors(missing) if missing else {}
            for hit in hits:
                candidate = pool.get(hit.id)
                if candidate is None:
                    vector = vectors.get(hit.id)
                    if vector is None:  # in the lexical index but gone from the catalog
                        continue
                    candidate = pool[hit.id] = _Candidate(hit.id, vector, float(vector @ query_vector[0]))
                candidate.lexical, candidate.in_lexical, candidate.fuzzy = hit.score, True, hit.fuzzy
        candidates = [c for c in pool.values() if c.id not in exclude and (c.in_dense or c.in_lexical or wanted)]
        if not candidates:
            return SearchOutcome([], parsed)
        dense = np.array([c.dense for c in candidates])
        asked_for = (
            parsed.names_anything
            or any(c.in_lexical for c in candidates)  # a misspelt word taken for a word of the catalog
            or (filters is not None and not filters.is_empty)
        )
        if not asked_for and float(dense.max()) < options.min_similarity:
            return SearchOutcome([], parsed, note="nothing fits")
        vectors = np.stack([c.vector for c in candidates])
        relevance = self._relevance(candidates, dense, options)
        if options.structured:
            relevance = relevance + options.attribute_boost * self._attribute_matches(candidates, parsed)
        ids = [c.id for c in candidates]
        relevance = relevance + options.type_boost * wanted.bonus(ids)
        # back on the 0-1 scale of a cosine: an item with every boost the query allows scores 1
        most = 1.0 + options.type_boost * wanted.broad
        if options.structured:
            most += options.attribute_boost * len(parsed.other_attributes)
        relevance = relevance / most
        if personal is not None:  # the shopper's profile re-orders within what fits (the groups stay)
            relevance = relevance + personal(vectors)
        groups = wanted.groups(ids)
        fits = wanted.fits(groups)
        if options.structured and lexical is not None:  # a series or brand the query names comes first
            named = self._named(parsed, lexical, n)
            groups = [g + 3 * (i in named) for g, i in zip(groups, ids)]
        order = self._order(relevance, vectors, groups, k, options.diversity)
        stored = self.catalog.get([candidates[i].id for i in order])
        hits = []
        for i in order:
            found = stored.get(candidates[i].id)
            if found is None:
                continue
            item = found.item
            words = self._words(item, parsed, candidates[i].fuzzy)
            why = explain_hit(item, parsed.attributes, parsed.text, float(dense[i]), words, wanted.label, fits[i])
            if profile_items and profile_vectors is not None and len(profile_vectors):
                similarities = profile_vectors @ candidates[i].vector
                j = int(similarities.argmax())
                liked = explain_profile(item, profile_items, profile_items[j], float(similarities[j]))
                if liked.reasons:
                    why = Explanation(
                        text=f"{why.text} {liked.text}", reasons=why.reasons + liked.reasons, words=why.words
                    )
            hits.append(Hit(item, float(relevance[i]), why, fits[i]))
        return SearchOutcome(hits, parsed, wanted=wanted.label)

    # --- the parts --------------------------------------------------------------------------
    def _wanted(self, parsed: ParsedQuery, filters: Filters | None, options: SearchOptions) -> _WantedType:
        """The product type the query names: a phrase of the catalog's own types ("pendant lamp"),
        and the vocabulary's category ("lamp"), unless a category filter already decides it."""
        if not options.structured:
            return _WantedType(self.catalog)
        phrases = self.catalog.kind_phrases()
        kind = named_type(parsed.corrected or parsed.text, phrases) if phrases else None
        category = parsed.category
        if filters is not None and filters.category and filters.category != category:
            category = None
        if filters is not None and filters.kind:
            kind = None
        return _WantedType(self.catalog, kind, category, parsed.categories)

    def _named(self, parsed: ParsedQuery, lexical, n: int) -> frozenset[str]:
        """The items whose names hold a proper name of the query: a word of item names that is no
        word of the vocabulary or of the catalog's types, and that few names hold ("kallax" in
        "kallax shelving unit", "lack" in "lack table")."""
        vocabulary, types = load_vocabulary().words(), phrase_words(self.catalog.kind_phrases())
        limit = max(NAME_MIN, NAME_SHARE * lexical.count())
        terms = [
            t
            for t in parsed.known_terms
            if not any(w in vocabulary or w in types for w in (t.word, t.stem, singular(t.word)))
            and 0 < lexical.name_frequency(t) <= limit
        ]
        return lexical.named_with(terms, n) if terms else frozenset()

    @staticmethod
    def _relevance(candidates: list[_Candidate], dense: np.ndarray, options: SearchOptions) -> np.ndarray:
        lexical = np.array([c.lexical for c in candidates])
        in_dense = np.array([c.in_dense for c in candidates])
        in_lexical = np.array([c.in_lexical for c in candidates])
        if options.fusion == "rrf":
            lists = []
            if options.dense:
                lists.append(ranks(dense, in_dense | ~in_lexical))
            if options.lexical:
                lists.append(ranks(lexical, in_lexical))
            fused = reciprocal_rank_fusion(lists) if lists else np.zeros(len(candidates))
            return fused / (len(lists) / (61.0)) if lists else fused  # 1.0 for the first of every list
        if not options.lexical:
            return dense
        if not options.dense:
            return weighted_fusion(np.zeros_like(dense), lexical, 1.0)
        return weighted_fusion(dense, lexical, options.lexical_weight)

    def _attribute_matches(self, candidates: list[_Candidate], parsed: ParsedQuery) -> np.ndarray:
        """How many of the query's attribute values (besides its type) each candidate carries."""
        counts = np.zeros(len(candidates))
        for field_name, value in parsed.other_attributes:
            holders = self.catalog.ids_with(field_name, value)
            counts += np.array([c.id in holders for c in candidates], dtype=float)
        return counts

    @staticmethod
    def _order(relevance: np.ndarray, vectors: np.ndarray, tiers: list[int], k: int, diversity: float) -> list[int]:
        """The best group first (items of the named type, then of its category, then the rest),
        each varied by MMR over its best."""
        groups = [[i for i, t in enumerate(tiers) if t == tier] for tier in sorted(set(tiers), reverse=True)]
        order: list[int] = []
        for group in groups:
            if len(order) >= k or not group:
                continue
            best = sorted(group, key=lambda i: -relevance[i])[: 3 * k]
            picked = mmr(relevance[best], vectors[best], k - len(order), diversity) if diversity < 1 else None
            order += [best[j] for j in picked] if picked is not None else best[: k - len(order)]
        return order

    @staticmethod
    def _words(item: StoredItem, parsed: ParsedQuery, fuzzy: dict[str, str]) -> list[WordMatch]:
        """The query's words that the item's name or own text holds, as the item spells them (a
        plural for a singular, a misspelt word as the close word the lexical index took it for)."""
        matches: list[WordMatch] = []
        wanted = list(dict.fromkeys([t.word for t in parsed.known_terms] + list(fuzzy)))
        fields = [("name", _spellings(item.title)), ("text", _spellings(item.text))]
        for word in wanted:
            for where, spellings in fields:
                found = spellings.get(singular(word))
                if found is None and word in fuzzy:
                    found = next(
                        (w for w in sorted(spellings.values()) if len(w) >= 4 and edit_distance(w, word, 2) <= 2), None
                    )
                if found is not None:
                    matches.append(WordMatch(word=word, found=found, where=where))
                    break
        return matches


def _spellings(text: str) -> dict[str, str]:
    """A text's words by their singular: {"dress": "dresses"} (the first spelling of each)."""
    spellings: dict[str, str] = {}
    for word in _WORD.findall(text.lower()):
        spellings.setdefault(singular(word), word)
    return spellings


_WORD = re.compile(r"[^\W_]+")
