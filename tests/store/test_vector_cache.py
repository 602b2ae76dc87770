"""The in-memory vector cache: read once, dropped on writes, read again when old."""

from __future__ import annotations

import numpy as np

from vlm4rec_agent.store.vector_cache import VectorCache


class Source:
    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors, self.reads = vectors, []

    def read(self, ids):
        self.reads.append(list(ids))
        return {i: self.vectors[i] for i in ids if i in self.vectors}


def _unit(*values):
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_vectors_are_read_once_then_served_from_memory(tmp_path):
    source = Source({"a": _unit(1, 0, 0), "b": _unit(0, 1, 0), "c": _unit(1, 1, 0)})
    cache = VectorCache(source.read, dim=3)
    present, matrix = cache.rows(["a", "b", "gone"])
    assert present == ["a", "b"] and matrix.dtype == np.float16 and matrix.shape == (2, 3)
    assert np.allclose(matrix[1], [0, 1, 0])
    assert np.allclose(cache.vectors(["b", "c"])["c"], _unit(1, 1, 0), atol=1e-3)  # c is read, b is not
    assert source.reads == [["a", "b", "gone"], ["c"]]
    cache.rows(["a", "b", "c"])
    assert len(source.reads) == 2  # nothing read again


def test_a_forgotten_or_old_row_is_read_again():
    now = [0.0]
    source = Source({"a": _unit(1, 0, 0)})
    cache = VectorCache(source.read, dim=3, max_age_s=60, clock=lambda: now[0])
    cache.rows(["a"])
    source.vectors["a"] = _unit(0, 0, 1)  # rewritten by this process: it forgets the row
    cache.forget(["a"])
    assert np.allclose(cache.vectors(["a"])["a"], [0, 0, 1], atol=1e-3)
    source.vectors["a"] = _unit(0, 1, 0)  # rewritten by another process: read again once old
    now[0] = 30.0
    assert np.allclose(cache.vectors(["a"])["a"], [0, 0, 1], atol=1e-3)
    now[0] = 61.0
    assert np.allclose(cache.vectors(["a"])["a"], [0, 1, 0], atol=1e-3)


def test_the_cache_grows_and_starts_again_past_its_limit():
    vectors = {f"i{n}": _unit(n + 1, 1, 0) for n in range(3000)}
    source = Source(vectors)
    cache = VectorCache(source.read, dim=3, max_rows=2500)
    present, matrix = cache.rows(list(vectors)[:2000])
    assert len(present) == 2000 and np.allclose(matrix[1999], vectors["i1999"], atol=1e-3)
    present, _ = cache.rows(list(vectors)[2000:])  # would pass 2,500 rows: it starts again
    assert len(present) == 1000
    assert len(source.reads) == 2
    cache.rows(["i0"])
    assert source.reads[-1] == ["i0"]
