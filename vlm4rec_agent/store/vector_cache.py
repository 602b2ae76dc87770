"""Item vectors held in memory (float16), read from the vector index the first time they are needed.

A search needs the vectors of candidates the ANN query did not return (the lexical index's best)
and exact search over small filtered sets (HNSW under a filter explores far when the allowed items
lie away from the query: 16-36 ms on 100k items for a few thousand allowed; a dot product over
their cached vectors takes well under a millisecond). Reading them from Chroma costs about 2 ms
per 50 ids every time; here once.

Rows are dropped when this process writes their items, and read again when older than
``max_age_s`` (another process may have rewritten them), so a vector is never staler than the
other caches of the store. Memory: 768 bytes per cached item (77 MB per 100k); past ``max_rows``
the cache starts again empty.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np


class VectorCache:
    def __init__(
        self,
        read: Callable[[list[str]], dict[str, np.ndarray]],
        dim: int,
        max_age_s: float = 60.0,
        max_rows: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._read, self.dim, self.max_age_s, self.max_rows, self._clock = read, dim, max_age_s, max_rows, clock
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._row: dict[str, int] = {}
        self._read_at: dict[str, float] = {}
        self._free: list[int] = []
        self._data = np.zeros((1024, self.dim), dtype=np.float16)
        self._used = 0

    def clear(self) -> None:
        with self._lock:
            self._clear()

    def forget(self, ids: Sequence[str]) -> None:
        """Drop the rows of items this process rewrote or deleted."""
        with self._lock:
            for item_id in ids:
                row = self._row.pop(item_id, None)
                self._read_at.pop(item_id, None)
                if row is not None:
                    self._free.append(row)

    def rows(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """The stored ones among ``ids`` (in order) and their vectors, float16, one row each."""
        now = self._clock()
        with self._lock:
            missing = [i for i in ids if i not in self._row or now - self._read_at[i] > self.max_age_s]
        if missing:
            found = self._read(list(dict.fromkeys(missing)))
            with self._lock:
                if len(self._row) + len(found) > self.max_rows:
                    self._clear()
                width = len(next(iter(found.values()))) if found else self.dim
                if width != self.dim:  # a catalog that did not record its dimension: learnt from its vectors
                    self.dim = width
                    self._clear()
                for item_id, vector in found.items():
                    row = self._row.get(item_id)
                    if row is None:
                        row = self._free.pop() if self._free else self._grow()
                        self._row[item_id] = row
                    self._data[row] = vector
                    self._read_at[item_id] = now
        with self._lock:
            present = [i for i in ids if i in self._row]
            return present, self._data[[self._row[i] for i in present]]

    def _grow(self) -> int:
        if self._used == len(self._data):
            grown = np.zeros((2 * len(self._data), self.dim), dtype=np.float16)
            grown[: self._used] = self._data[: self._used]
            self._data = grown
        self._used += 1
        return self._used - 1

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        present, matrix = self.rows(ids)
        return {i: matrix[j].astype(np.float32) for j, i in enumerate(present)}
