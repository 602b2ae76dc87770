"""Item-item co-occurrence: which items the same baskets hold (a shopper's likes, a room, an outfit).

The model is an item-kNN over co-occurrence counts. For items ``i`` and ``j``, ``count(i, j)`` is
the number of baskets that hold both and ``pop(i)`` the number that hold ``i``; the weight of
``j`` for a shopper who liked ``i`` is the asymmetric cosine

    w(i, j) = count(i, j) / (pop(i) ** ALPHA * pop(j) ** (1 - ALPHA) + SHRINK)

(ALPHA 0.8 and SHRINK 2 were chosen on the tuning part of the IKEA rooms: docs/evaluation/
recommend.md). A profile scores ``j`` with the sum of ``w(i, j)`` over its liked items, and its
*evidence* for ``j`` is the sum of the raw counts, which the hybrid scorer uses to trust the
collaborative part more where many baskets back it.

Counts are kept per source (``shoppers`` for likes, or the name of an imported group set), so an
explanation can say "liked together with X by 12 shoppers" or "in 3 rooms with X" with the real
numbers. Each item keeps its ``neighbours`` most co-occurring items (the long tail of pairs seen
once in one basket is what a catalog with 1M likes would otherwise spend its memory on); every
count the model holds is exact.

Items are integers here (catalog rows in evaluation); :class:`ItemIds` maps a store's string ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

ALPHA = 0.8
SHRINK = 2.0
NEIGHBOURS = 100  # co-occurring items kept per item
_BLOCK = 4096  # item rows multiplied at a time while building


@dataclass(frozen=True)
class SourceInfo:
    """Where baskets came from: ``shoppers`` (likes), or a group set with the noun for one group."""

    name: str
    noun: str  # "shopper", "room", "outfit", ...
    baskets: int


def _incidence(baskets: Sequence[Sequence[int]], n_items: int) -> sparse.csr_matrix:
    """Baskets x items, 1 where a basket holds an item (an item repeated in a basket counts once)."""
    rows = np.repeat(np.arange(len(baskets)), [len(b) for b in baskets])
    cols = np.fromiter((i for b in baskets for i in b), dtype=np.int64, count=len(rows))
    if len(cols) and (cols.min() < 0 or cols.max() >= n_items):
        raise ValueError(f"an item index is outside 0..{n_items - 1}")
    matrix = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(baskets), n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _top_per_row(block: sparse.csr_matrix, first_row: int, keep: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``keep`` largest entries of each row of ``block`` (the diagonal left out), as (row, col, value)."""
    coo = block.tocoo()
    rows, cols, values = coo.row.astype(np.int64) + first_row, coo.col.astype(np.int64), coo.data
    off_diagonal = rows != cols
    rows, cols, values = rows[off_diagonal], cols[off_diagonal], values[off_diagonal]
    order = np.lexsort((cols, -values, rows))  # by row, then most shared first, then by item
    rows, cols, values = rows[order], cols[order], values[order]
    starts = np.searchsorted(rows, rows, side="left")
    kept = (np.arange(len(rows)) - starts) < keep
    return rows[kept], cols[kept], values[kept]


class CoOccurrence:
    """Co-occurrence counts of ``n_items`` items over baskets from one or more sources."""

    def __init__(
        self,
        n_items: int,
        counts: Mapping[str, sparse.csr_matrix],
        popularity: np.ndarray,
        sources: Sequence[SourceInfo],
        repeats: Mapping[str, float] | None = None,
    ):
        self.n_items = n_items
        self.repeats = dict(repeats or {})  # product type -> share of its baskets with two items of it
        self.counts = dict(counts)  # source name -> items x items counts (same pattern in every source)
        self.popularity = popularity  # baskets holding each item, all sources together
        self.sources = list(sources)
        total = sum(self.counts.values(), sparse.csr_matrix((n_items, n_items), dtype=np.float32))
        self.total = sparse.csr_matrix(total, dtype=np.float32)
        self.weights = self._weights(self.total, popularity)

    @classmethod
    def build(
        cls,
        n_items: int,
        baskets: Mapping[str, Sequence[Sequence[int]]],
        nouns: Mapping[str, str] | None = None,
        neighbours: int = NEIGHBOURS,
        kinds: Sequence[str] | None = None,
    ) -> CoOccurrence:
        """Count every pair of items that share a basket, per source (``baskets``: source name ->
        baskets of item indices); keep each item's ``neighbours`` most shared."""
        if neighbours < 1:
            raise ValueError(f"neighbours must be at least 1, got {neighbours}")
        nouns = nouns or {}
        incidences = {name: _incidence(rows, n_items) for name, rows in baskets.items()}
        transposed = {name: matrix.T.tocsr() for name, matrix in incidences.items()}
        popularity = np.zeros(n_items, np.float32)
        for matrix in incidences.values():
            popularity += np.asarray(matrix.sum(axis=0)).ravel()
        per_source: dict[str, list[sparse.coo_matrix]] = {name: [] for name in incidences}
        for start in range(0, n_items, _BLOCK):
            stop = min(start + _BLOCK, n_items)
            blocks = {name: sparse.csr_matrix(transposed[name][start:stop] @ incidences[name]) for name in incidences}
            together = sum(blocks.values(), sparse.csr_matrix((stop - start, n_items), dtype=np.float32))
            rows, cols, _ = _top_per_row(sparse.csr_matrix(together), 0, neighbours)
            kept = sparse.csr_matrix(
                (np.ones(len(rows), np.float32), (rows, cols)), shape=(stop - start, n_items), dtype=np.float32
            )
            for name, block in blocks.items():  # each source's own counts at the kept pairs
                part = block.multiply(kept).tocoo()
                per_source[name].append(
                    sparse.coo_matrix((part.data, (part.row + start, part.col)), shape=(n_items, n_items))
                )
        counts = {}
        for name, parts in per_source.items():
            matrix = sum(parts, sparse.csr_matrix((n_items, n_items), dtype=np.float32)) if parts else None
            counts[name] = sparse.csr_matrix(matrix if matrix is not None else (n_items, n_items), dtype=np.float32)
        sources = [SourceInfo(name, nouns.get(name, "basket"), incidences[name].shape[0]) for name in incidences]
        repeats = _repeat_shares([b for rows in baskets.values() for b in rows], kinds) if kinds is not None else {}
        return cls(n_items, counts, popularity, sources, repeats)

    def repeat_share(self, kind: str) -> float:
        """How often a basket that holds a product of ``kind`` holds a second one (0.5 when unknown).

        Rooms hold one bed and several lamps; a shopper of dresses likes many dresses: this, learned
        from the baskets, is what tells the hybrid scorer whether another item of a type the
        profile has is welcome."""
        return self.repeats.get(kind, 0.5)

    @staticmethod
    def _weights(total: sparse.csr_matrix, popularity: np.ndarray) -> sparse.csr_matrix:
        coo = total.tocoo()
        pop = np.maximum(popularity, 1e-9)
        scale = np.power(pop[coo.row], ALPHA) * np.power(pop[coo.col], 1 - ALPHA) + SHRINK
        return sparse.csr_matrix((coo.data / scale, (coo.row, coo.col)), shape=total.shape, dtype=np.float32)

    @property
    def pairs(self) -> int:
        """Co-occurring (item, item) entries held."""
        return int(self.total.nnz)

    @property
    def nbytes(self) -> int:
        """Memory the matrices hold."""
        matrices = [self.total, self.weights, *self.counts.values()]
        return sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in matrices) + self.popularity.nbytes

    def score_rows(self, liked: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Users x items: each user's collaborative score (sum of weights from their liked items)
        and evidence (sum of co-occurrence counts); one sparse product for all users."""
        rows = np.repeat(np.arange(len(liked)), [len(items) for items in liked])
        cols = np.fromiter((i for items in liked for i in items), dtype=np.int64, count=len(rows))
        profile = sparse.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(liked), self.n_items), dtype=np.float32
        )
        profile.sum_duplicates()
        profile.data[:] = 1.0
        return (profile @ self.weights).toarray(), (profile @ self.total).toarray()

    def score(self, liked: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`score_rows` for one user: (scores, evidence) over all items."""
        scores, evidence = self.score_rows([liked])
        return scores[0], evidence[0]

    def together(self, item: int, others: Sequence[int]) -> dict[str, dict[int, int]]:
        """For each source: how many of its baskets hold ``item`` with each of ``others`` (only
        the others it shares a basket with)."""
        found: dict[str, dict[int, int]] = {}
        for name, matrix in self.counts.items():
            row = matrix.getrow(item)
            wanted = set(int(o) for o in others)
            shared = {int(c): int(v) for c, v in zip(row.indices, row.data) if int(c) in wanted and v > 0}
            if shared:
                found[name] = shared
        return found

    def source(self, name: str) -> SourceInfo:
        return next(s for s in self.sources if s.name == name)


def _repeat_shares(baskets: Sequence[Sequence[int]], kinds: Sequence[str]) -> dict[str, float]:
    """Per product type: (baskets with two or more of it + 0.5) / (baskets with it + 1)."""
    holding: dict[str, int] = {}
    repeating: dict[str, int] = {}
    for basket in baskets:
        seen: dict[str, int] = {}
        for item in set(basket):
            kind = kinds[item]
            if kind:
                seen[kind] = seen.get(kind, 0) + 1
        for kind, n in seen.items():
            holding[kind] = holding.get(kind, 0) + 1
            repeating[kind] = repeating.get(kind, 0) + (n >= 2)
    return {kind: (repeating[kind] + 0.5) / (holding[kind] + 1) for kind in holding}


class ItemIds:
    """String item ids to the model's integer rows, in the order first met."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, item_id: str) -> int:
        row = self.index.get(item_id)
        if row is None:
            row = self.index[item_id] = len(self.ids)
            self.ids.append(item_id)
        return row

    def rows(self, item_ids: Sequence[str]) -> list[int]:
        """Rows of the ids the model knows (others skipped)."""
        return [self.index[i] for i in item_ids if i in self.index]

    def __len__(self) -> int:
        return len(self.ids)
