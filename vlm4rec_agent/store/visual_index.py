"""Each item's image vector, in a Chroma collection of its own beside the catalog's (``NAME__visual``).

Its own collection, not a second vector in the catalog's records: Chroma holds one vector per
record, the image encoder's dimension differs from the text encoder's, and a catalog built before
visual vectors existed keeps working (an item with no image vector yet is found by its words
alone until an ingest adds it; an unchanged item gets one without being grounded again).

The collection's metadata names the image encoder that made its vectors. Vectors of another
encoder are never mixed in: reading, such a collection is left unused (photo queries use words
only, with a warning); writing, it is emptied and filled again (image vectors are derived data,
made again from the photos).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import chromadb
import numpy as np
from chromadb.errors import NotFoundError as ChromaNotFound

from .connection import GuardedCollection, call_store, store_location
from .findable_writes import delete_ids, upsert_findable

log = logging.getLogger(__name__)

SUFFIX = "__visual"


class ChromaVisualIndex:
    def __init__(self, client: chromadb.ClientAPI, collection: GuardedCollection):
        self._client = client
        self._collection = collection
        self.max_batch = call_store(collection.location, client.get_max_batch_size)

    @classmethod
    def open(
        cls, client: chromadb.ClientAPI, catalog: str, encoder_name: str, dim: int | None = None
    ) -> ChromaVisualIndex | None:
        """The catalog's visual index; created (or emptied, if another encoder made it) when ``dim``
        is given, else None when there is none that ``encoder_name`` made."""
        location, name = store_location(client), catalog + SUFFIX
        try:
            collection = call_store(location, client.get_collection, name, embedding_function=None)
        except (ChromaNotFound, ValueError):
            collection = None
        if collection is not None:
            built_with = (collection.metadata or {}).get("image_encoder")
            if built_with == encoder_name:
                return cls(client, GuardedCollection(collection, location))
            if dim is None:
                log.warning("the visual vectors of %r were made by %r, not %r: photo queries use words only until "
                            "the next ingest", catalog, built_with, encoder_name)  # fmt: skip
                return None
            log.info(
                "visual vectors of %r were made by %r; making them again with %r", catalog, built_with, encoder_name
            )
            call_store(location, client.delete_collection, name)
        elif dim is None:
            return None
        collection = call_store(
            location,
            client.create_collection,
            name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"image_encoder": encoder_name, "dim": dim},
        )
        return cls(client, GuardedCollection(collection, location))

    @property
    def encoder_name(self) -> str:
        return (self._collection.metadata or {}).get("image_encoder", "")

    @property
    def dim(self) -> int:
        return int((self._collection.metadata or {}).get("dim", 0))

    def count(self) -> int:
        return self._collection.count()

    def upsert(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        for start in range(0, len(ids), self.max_batch):
            batch = list(ids[start : start + self.max_batch])
            upsert_findable(
                self._collection, batch, np.asarray(vectors[start : start + len(batch)], np.float32), None, None
            )

    def delete(self, ids: Sequence[str]) -> None:
        delete_ids(self._collection, ids, self.max_batch)

    def drop(self) -> None:
        call_store(self._collection.location, self._client.delete_collection, self._collection.name)

    def present(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` have an image vector."""
        found: set[str] = set()
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), self.max_batch):
            found.update(self._collection.get(ids=ids[start : start + self.max_batch], include=[])["ids"])
        return found

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), self.max_batch):
            got = self._collection.get(ids=ids[start : start + self.max_batch], include=["embeddings"])
            out.update({i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])})
        return out

    def query(self, vectors: np.ndarray, n: int) -> list[list[tuple[str, float]]]:
        """The ``n`` nearest items of each vector, with their cosine similarity, nearest first."""
        count = self.count()
        if not count or not len(vectors):
            return [[] for _ in range(len(vectors))]
        found = self._collection.query(
            query_embeddings=np.asarray(vectors, np.float32), n_results=min(n, count), include=["distances"]
        )
        return [
            [(i, 1.0 - float(d)) for i, d in zip(ids, dists)] for ids, dists in zip(found["ids"], found["distances"])
        ]

    def same_photos(
        self, ids: Sequence[str], vectors: np.ndarray, min_similarity: float
    ) -> list[tuple[str, str, float]]:
        """Pairs (item, other item, similarity) whose image vectors are this alike: likely the same photo."""
        pairs: dict[tuple[str, str], float] = {}
        for item_id, row in zip(ids, self.query(vectors, 4)):
            for other, similarity in row:
                if other != item_id and similarity >= min_similarity:
                    pairs.setdefault(tuple(sorted((item_id, other))), similarity)
        return [(a, b, round(s, 4)) for (a, b), s in sorted(pairs.items())]
