"""The online path does not recompute what did not change (with the real encoder and Chroma)."""

import numpy as np


class CountingEncoder:
    """Wraps the real encoder and counts the texts it is asked to encode."""

    def __init__(self, inner):
        self.inner, self.name, self.dim, self.texts = inner, inner.name, inner.dim, []

    def encode(self, texts):
        self.texts.extend(texts)
        return self.inner.encode(texts)


def test_a_repeated_query_is_encoded_once(loaded_engine):
    from vlm4rec_agent.engine import Engine

    counting = CountingEncoder(loaded_engine.encoder)
    loaded_engine = Engine(loaded_engine.settings, encoder=counting, grounder=loaded_engine.grounder)
    first = loaded_engine.search("red summer dress", k=3)
    again = loaded_engine.search("red summer dress", k=3)
    loaded_engine.search("oak table", k=3)
    assert counting.texts == ["red summer dress", "oak table"]
    assert [r.item.id for r in first] == [r.item.id for r in again]


def test_profile_vectors_are_read_again_only_when_ratings_or_the_catalog_change(loaded_engine):
    retriever = loaded_engine.retriever
    loaded_engine.like("ann", "red-dress")
    loaded_engine.recommend("ann", k=3)
    loaded_engine.recommend("ann", k=3)
    assert (retriever._profiles.misses, retriever._profiles.hits) == (1, 1)
    loaded_engine.like("ann", "blue-dress")  # a new like: a new profile
    picks = loaded_engine.recommend("ann", k=3)
    assert retriever._profiles.misses == 2
    assert {"red-dress", "blue-dress"}.isdisjoint(r.item.id for r in picks)
    stored = loaded_engine.catalog.get(["oak-table"], with_vectors=True)["oak-table"]
    loaded_engine.catalog.upsert([stored.item], stored.vector[None, :], ["oak table"])  # a write
    loaded_engine.recommend("ann", k=3)
    assert retriever._profiles.misses == 3


def test_nearest_gives_ids_and_stored_vectors_without_metadata(loaded_engine):
    catalog = loaded_engine.catalog
    probe = catalog.get(["navy-blazer"], with_vectors=True)["navy-blazer"].vector
    (row,) = catalog.nearest(probe[None, :], 4)
    assert row[0].id == "navy-blazer" and abs(row[0].similarity - 1.0) < 1e-4
    stored = catalog.get([c.id for c in row], with_vectors=True)
    for candidate in row:  # the vectors the index keeps in memory are float16: equal to 3 decimals
        assert np.allclose(candidate.vector, stored[candidate.id].vector, rtol=0, atol=1e-3)
        assert not np.allclose(candidate.vector, stored[row[-1].id].vector, rtol=0, atol=1e-3) or candidate is row[-1]
    assert [c.similarity for c in row] == sorted((c.similarity for c in row), reverse=True)
