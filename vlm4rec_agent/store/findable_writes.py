"""Writes to a Chroma collection after which every item is found again by its own vector.

Chroma adds writes to its HNSW graph at the next read, a batch's vectors in parallel (rayon
threads, in no fixed order), and near-identical vectors (product variants whose texts differ by a
number, the same photo under two ids) sometimes come out of that with no link leading to them: the
item is counted and read by id, but no query returns it, not even for its own vector with ``n`` =
the whole collection. It stays so in that process, and on disk once Chroma saves the graph (every
1,000 writes). Writing it again adds it alone, into the graph as it now is, which links it. On 40
near-identical MiniLM vectors, 16 written and read, then 24: 4% to 40% of runs (it varies with the
machine's load) left an item unreachable, none with RAYON_NUM_THREADS=1, and none of 150 with this
check. The check is one query per item written, small beside encoding it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from .connection import GuardedCollection

log = logging.getLogger(__name__)

# After a write, each written item is looked for among this many neighbours of its own vector...
FIND_AGAIN_K = 10
# ...and written again, at most this many times, while it is not found.
REWRITES = 3
# Cosine distance under which a neighbour is the same vector: a crowd of identical vectors larger
# than FIND_AGAIN_K can hide an item that is reachable, so such an item counts as found.
SAME_VECTOR = 1e-5


def upsert_findable(
    collection: GuardedCollection,
    ids: list[str],
    vectors: np.ndarray,
    documents: list[str] | None,
    metadatas: list[dict] | None,
) -> None:
    """Upsert one batch, then rewrite the items that their own vector does not find."""
    collection.upsert(**_rows(ids, vectors, documents, metadatas))
    for _ in range(REWRITES):
        lost = _not_found_again(collection, ids, vectors)
        if not lost:
            return
        log.info("Chroma's index cannot reach %d of the items just written (%s); writing them again",
                 len(lost), ", ".join(ids[j] for j in lost[:5]))  # fmt: skip
        ids, vectors = [ids[j] for j in lost], vectors[lost]
        documents = [documents[j] for j in lost] if documents is not None else None
        metadatas = [metadatas[j] for j in lost] if metadatas is not None else None
        collection.upsert(**_rows(ids, vectors, documents, metadatas))
    lost = _not_found_again(collection, ids, vectors)
    if lost:
        log.warning("Chroma's index still cannot reach %d items after %d rewrites (%s): searches will miss them",
                    len(lost), REWRITES, ", ".join(ids[j] for j in lost[:5]))  # fmt: skip


def delete_ids(collection: GuardedCollection, ids: Sequence[str], max_batch: int) -> None:
    """Delete by id, in batches Chroma accepts."""
    for start in range(0, len(ids), max_batch):
        collection.delete(ids=list(ids[start : start + max_batch]))


def _rows(ids: list[str], vectors: np.ndarray, documents: list[str] | None, metadatas: list[dict] | None) -> dict:
    rows: dict = {"ids": ids, "embeddings": vectors}
    if documents is not None:
        rows["documents"] = documents
    if metadatas is not None:
        rows["metadatas"] = metadatas
    return rows


def _not_found_again(collection: GuardedCollection, ids: list[str], vectors: np.ndarray) -> list[int]:
    """Positions of the items that are not among the nearest neighbours of their own vector."""
    found = collection.query(query_embeddings=vectors, n_results=FIND_AGAIN_K, include=["distances"])
    return [
        j
        for j, (got, distances) in enumerate(zip(found["ids"], found["distances"]))
        if ids[j] not in got and not (len(got) == FIND_AGAIN_K and max(distances) <= SAME_VECTOR)
    ]
