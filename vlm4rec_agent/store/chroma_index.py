"""The catalog index in a Chroma collection: one record per item, in cosine space, with our own vectors.

Each record keeps the embedded text as its document, the attributes as filterable metadata
(lists are stored as Chroma arrays, so ``{"colors": {"$contains": "blue"}}`` works), the catalog
file it came from (``source``), and the whole grounding record as JSON. The collection's metadata
names the encoder that made its vectors; a store built by another encoder is refused rather than
silently mixed. Chroma's ``where`` syntax lives here and nowhere else: callers pass
:class:`~vlm4rec_agent.store.catalog_index.Filters`.

Every write is checked: each item written must be found again by its own vector, and one that is
not is written again (see :meth:`ChromaCatalogIndex.upsert`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import chromadb
import numpy as np
from chromadb.errors import InternalError as ChromaInternalError
from chromadb.errors import NotFoundError as ChromaNotFound

from ..embedding_text import EMBEDDING_TEXT_VERSION
from ..errors import NotFoundError, StoreError
from ..grounding.schema import LIST_FIELDS, GroundingRecord
from ..items import StoredItem
from ..kinds import suffixes
from ..memo import Memo
from .catalog_index import Candidate, Filters, Neighbour
from .connection import DamagedStoreError, GuardedCollection, call_store, store_location
from .findable_writes import delete_ids, upsert_findable
from .vector_cache import VectorCache

log = logging.getLogger(__name__)

# Filters allowing more items than this are left to Chroma's own (slower) metadata filter.
ID_FILTER_LIMIT = 50_000
# Filters allowing at most this many items are searched exactly, over their vectors held in memory.
EXACT_LIMIT = 20_000


def where_clause(filters: Filters | None) -> dict | None:
    """Chroma's ``where`` clause for the project's filters (None: no filter)."""
    if filters is None:
        return None
    clauses: list[dict] = [{"category": filters.category}] if filters.category else []
    clauses += [{"colors": {"$contains": colour}} for colour in filters.colors]
    if filters.kind:
        clauses.append({"kind_suffixes": {"$contains": filters.kind}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _metadata(item: StoredItem, source: str, written_at: float) -> dict[str, Any]:
    record, attributes = item.record, item.record.attributes
    metadata: dict[str, Any] = {
        "title": item.title,
        "image": item.image,
        "text": item.text,
        "extra": json.dumps(item.extra, ensure_ascii=False),
        "record": record.model_dump_json(),
        "content_hash": item.content_hash,
        "source": source,
        "has_source": 1,  # filters can test a number's presence; a missing string matches "$ne" too
        "written_at": written_at,  # what other processes' lexical indexes catch up from
        "grounder": record.grounder,
        "model_id": record.model_id,
        "prompt_version": record.prompt_version,
        "grounding_status": record.status,
    }
    if item.kind:
        metadata["kind"] = item.kind
        if named := suffixes(item.kind):
            metadata["kind_suffixes"] = named  # "pendant lamp", "lamp": what a query may name it by
    if attributes.category:
        metadata["category"] = attributes.category
    for field in LIST_FIELDS:
        values = getattr(attributes, field)
        if values:  # Chroma refuses empty arrays
            metadata[field] = values
    return metadata


def _item(item_id: str, metadata: dict[str, Any]) -> StoredItem:
    return StoredItem(
        id=item_id,
        image=metadata.get("image", ""),
        title=metadata.get("title", ""),
        text=metadata.get("text", ""),
        kind=metadata.get("kind", ""),
        extra=json.loads(metadata.get("extra") or "{}"),
        record=GroundingRecord.model_validate_json(metadata["record"]),
        content_hash=metadata.get("content_hash", ""),
    )


class ChromaCatalogIndex:
    """The :class:`~vlm4rec_agent.store.catalog_index.CatalogIndex` of one Chroma collection."""

    def __init__(self, client: chromadb.ClientAPI, collection: GuardedCollection):
        self._client = client
        self._collection = collection
        self.max_batch = call_store(collection.location, client.get_max_batch_size)
        self.generation = 0  # bumped by every write through this object (keys the memos)
        self._allowed: Memo[list[str]] = Memo(size=256, max_age_s=60.0)  # filter -> ids it allows
        self._allowed_sets: Memo[frozenset[str]] = Memo(size=512, max_age_s=60.0)  # attribute value -> ids
        self._vectors = VectorCache(self._read_vectors, max(self.dim, 1))  # for exact and candidate reads

    @classmethod
    def open(
        cls, client: chromadb.ClientAPI, name: str, encoder_name: str, dim: int | None = None
    ) -> ChromaCatalogIndex | None:
        """Open the catalog; create it when ``dim`` is given, else return None if it does not exist."""
        location = store_location(client)
        try:
            collection = call_store(location, client.get_collection, name, embedding_function=None)
        except (ChromaNotFound, ValueError):
            if dim is None:
                return None
            collection = call_store(
                location,
                client.create_collection,
                name,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"encoder": encoder_name, "dim": dim, "embedding_text_version": EMBEDDING_TEXT_VERSION},
            )
        built_with = (collection.metadata or {}).get("encoder")
        if built_with and built_with != encoder_name:
            raise StoreError(
                f"catalog {name!r} was built with the encoder {built_with!r}, but {encoder_name!r} is configured",
                f"set VLM4REC_ENCODER={built_with}, or use another VLM4REC_COLLECTION for the new encoder",
            )
        return cls(client, GuardedCollection(collection, location))

    def check(self) -> None:
        """Raise :class:`DamagedStoreError` if Chroma cannot read this catalog's vector index.

        Counting replays Chroma's log into the index (what failed after a kill here); a wide
        nearest-neighbour probe then touches many of the index's entries.
        """
        count = self.count()
        if count:
            probe = np.zeros((1, self.dim or 1), dtype=np.float32)
            probe[0, 0] = 1.0
            self.nearest(probe, min(count, 256), with_vectors=False)

    def drop(self) -> None:
        """Delete this catalog's collection (vectors and records); ratings live elsewhere and stay."""
        call_store(self._collection.location, self._client.delete_collection, self.name)
        self.generation += 1
        self._vectors.clear()

    @property
    def name(self) -> str:
        return self._collection.name

    @property
    def encoder_name(self) -> str:
        return (self._collection.metadata or {}).get("encoder", "")

    @property
    def dim(self) -> int:
        return int((self._collection.metadata or {}).get("dim", 0))

    def count(self) -> int:
        return self._collection.count()

    def upsert(
        self,
        items: Sequence[StoredItem],
        vectors: np.ndarray,
        documents: Sequence[str],
        source: str = "",
        written_at: float | None = None,
    ) -> None:
        """Store items (replacing those with the same ids), recording the catalog file they came from.

        Each item written is then looked for by its own vector, and written again while it is not
        found (see :mod:`vlm4rec_agent.store.findable_writes`).
        """
        self.generation += 1
        self._vectors.forget([i.id for i in items])
        for start in range(0, len(items), self.max_batch):
            end = start + self.max_batch
            batch = items[start:end]
            upsert_findable(
                self._collection,
                [i.id for i in batch],
                np.asarray(vectors[start:end], dtype=np.float32),
                list(documents[start:end]),
                [_metadata(i, source, time.time() if written_at is None else written_at) for i in batch],
            )

    def delete(self, ids: Sequence[str]) -> None:
        self.generation += 1
        self._vectors.forget(ids)
        delete_ids(self._collection, ids, self.max_batch)

    def _get(self, ids: Sequence[str], include: list[str]) -> dict[str, Any]:
        merged: dict[str, list] = {"ids": [], **{key: [] for key in include}}
        for start in range(0, len(ids), self.max_batch):
            result = self._collection.get(ids=list(ids[start : start + self.max_batch]), include=include)
            merged["ids"].extend(result["ids"])
            for key in include:
                merged[key].extend(result[key] if result[key] is not None else [])
        return merged

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> dict[str, Neighbour]:
        """Stored items by id (ids that are not stored are absent), with their vectors if asked."""
        include = ["metadatas", "embeddings"] if with_vectors else ["metadatas"]
        result = self._get(list(dict.fromkeys(ids)), include)
        found = {}
        for i, item_id in enumerate(result["ids"]):
            vector = np.asarray(result["embeddings"][i], dtype=np.float32) if with_vectors else None
            found[item_id] = Neighbour(_item(item_id, result["metadatas"][i]), 1.0, vector)
        return found

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of stored items by id, without their metadata (from memory after the first read)."""
        return self._vectors.vectors(ids)

    def _read_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        result = self._get(ids, ["embeddings"])
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(result["ids"], result["embeddings"])}

    def require(self, item_id: str, with_vectors: bool = False) -> Neighbour:
        """One stored item, or a clear error saying it is not in the catalog."""
        found = self.get([item_id], with_vectors).get(item_id)
        if found is None:
            raise NotFoundError(f"no item {item_id!r} in the catalog", "find ids with `vlm4rec search TEXT`")
        return found

    def hashes(self, ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """(content hash, source catalog, kind) of each stored item among ``ids``."""
        result = self._get(list(ids), ["metadatas"])
        return {
            i: ((m or {}).get("content_hash", ""), (m or {}).get("source", ""), (m or {}).get("kind", ""))
            for i, m in zip(result["ids"], result["metadatas"])
        }

    def relabel(self, kinds: dict[str, str], source: str, written_at: float | None = None) -> None:
        """Record the catalog file and the type of stored items (id -> kind) without rewriting them
        (Chroma merges metadata): what an item's row says now, when nothing else changed."""
        written_at = time.time() if written_at is None else written_at
        ids = list(kinds)
        for start in range(0, len(ids), self.max_batch):
            chunk = ids[start : start + self.max_batch]
            metadatas = []
            for item_id in chunk:
                metadata = {"source": source, "has_source": 1, "kind": kinds[item_id], "written_at": written_at}
                if named := suffixes(kinds[item_id]):
                    metadata["kind_suffixes"] = named
                metadatas.append(metadata)
            self._collection.update(ids=chunk, metadatas=metadatas)
        self.generation += 1

    def ids_from(self, source: str) -> list[str]:
        return self._collection.get(where={"source": source}, include=[])["ids"]

    def count_without_source(self) -> int:
        """Items ingested before sources were recorded, or stored without a catalog file."""
        known = {"$and": [{"has_source": {"$eq": 1}}, {"source": {"$ne": ""}}]}
        return self.count() - len(self._collection.get(where=known, include=[])["ids"])

    def query(
        self, vectors: np.ndarray, n: int, filters: Filters | None = None, with_vectors: bool = False
    ) -> list[list[Neighbour]]:
        """The ``n`` nearest items to each query vector (fewer if the catalog or filter has fewer).

        The ids come from the index first and the metadata of all rows in one read afterwards:
        a query that includes metadata took 15 ms on 100k items, ids then a read 5 ms.
        """
        rows = self.nearest(vectors, n, filters, with_vectors=with_vectors)
        stored = self._get(list(dict.fromkeys(c.id for row in rows for c in row)), ["metadatas"])
        metadata = dict(zip(stored["ids"], stored["metadatas"]))
        return [
            [Neighbour(_item(c.id, metadata[c.id]), c.similarity, c.vector) for c in row if c.id in metadata]
            for row in rows
        ]

    def nearest(
        self, vectors: np.ndarray, n: int, filters: Filters | None = None, with_vectors: bool = True
    ) -> list[list[Candidate]]:
        """The ``n`` nearest ids to each query vector, with their vectors but no metadata.

        Reading metadata (the grounding record, the text) is what makes a Chroma query slow: on
        10k items, 10 probes of 70 took 186 ms with metadata and 31 ms without. Re-rank the
        candidates first, then read only the winners with :meth:`get`.
        """
        if n < 1:
            return [[] for _ in range(len(vectors))]
        # The vectors come from the cache (from Chroma the first time): a query that returns them
        # took 2.6 ms on 100k items, one without them 1.5 ms.
        result = self._search(np.asarray(vectors, dtype=np.float32), n, where_clause(filters), ["distances"])
        rows = []
        for q in range(len(vectors)):
            embeddings = [None] * len(result["ids"][q])
            if with_vectors:
                cached = self._vectors.vectors(result["ids"][q])
                embeddings = [cached.get(i) for i in result["ids"][q]]
            rows.append(
                [
                    Candidate(item_id, 1.0 - float(distance), None if v is None else np.asarray(v, dtype=np.float32))
                    for item_id, distance, v in zip(result["ids"][q], result["distances"][q], embeddings)
                    if not with_vectors or v is not None  # gone since the query: left out
                ]
            )
        return rows

    def _search(self, vectors: np.ndarray, n: int, where: dict | None, include: list[str]) -> dict[str, Any]:
        """A Chroma query; a metadata filter becomes a list of allowed ids where that is smaller.

        Chroma evaluates a ``where`` filter by scanning the metadata on every query (78 ms of a
        105 ms filtered query on 100k items); restricting the search to the ids the filter allows,
        found once and memoised, answered in 5 ms. Filters matching more than
        ``ID_FILTER_LIMIT`` items, and ids gone stale (another process deleted one), use Chroma's
        own filter.
        """
        if where is not None:
            allowed = self._allowed_ids(where)
            if allowed is not None and not allowed:
                return {key: [[] for _ in range(len(vectors))] for key in ("ids", "distances", "embeddings")}
            if allowed is not None and len(allowed) <= EXACT_LIMIT:
                exact = self._exact_search(allowed, vectors, n, include)
                if exact is not None:
                    return exact
            if allowed is not None:
                try:
                    return self._collection.query(query_embeddings=vectors, n_results=n, ids=allowed, include=include)
                except (ChromaInternalError, DamagedStoreError):  # stale ids; a damaged index fails again below
                    self._allowed.clear()
        return self._collection.query(query_embeddings=vectors, n_results=n, where=where, include=include)

    def _exact_search(
        self, allowed: list[str], vectors: np.ndarray, n: int, include: list[str]
    ) -> dict[str, Any] | None:
        """The nearest of a small allowed set, by exact search over its vectors in memory. HNSW under
        a filter explores far when the allowed items lie away from the query: 16-36 ms on 100k
        items for a few thousand allowed, this under a millisecond. None when some allowed id is no
        longer stored. An item another process deleted may be answered until the allowed ids are
        read again (at most a minute): :meth:`query` and the searches read the winners' records,
        and leave out what is gone."""
        ids, matrix = self._vectors.rows(allowed)
        if len(ids) != len(allowed):
            return None
        out: dict[str, Any] = {"ids": [], "distances": [], "embeddings": []}
        for query in np.asarray(vectors, dtype=np.float32):
            scores = matrix.astype(np.float32) @ query  # numpy has no fast float16 product
            top = np.argsort(-scores)[:n] if len(scores) <= n else np.argpartition(-scores, n)[:n]
            top = top[np.argsort(-scores[top], kind="stable")]
            out["ids"].append([ids[i] for i in top])
            out["distances"].append([1.0 - float(scores[i]) for i in top])
            out["embeddings"].append(matrix[top].astype(np.float32) if "embeddings" in include else None)
        return out

    def _allowed_ids(self, where: dict) -> list[str] | None:
        key = (json.dumps(where, sort_keys=True), self.generation)
        ids = self._allowed.get(key, lambda: self._collection.get(where=where, include=[])["ids"])
        return ids if len(ids) <= ID_FILTER_LIMIT else None

    def allowed_ids(self, filters: Filters | None) -> frozenset[str] | None:
        """The ids a filter allows; None when it allows everything or more than ``ID_FILTER_LIMIT``."""
        where = where_clause(filters)
        ids = self._allowed_ids(where) if where is not None else None
        return frozenset(ids) if ids is not None else None

    def sample_ids(self, limit: int = 10) -> list[str]:
        return self._collection.get(limit=limit, include=[])["ids"]

    def ids_with(self, field: str, value: str) -> frozenset[str]:
        """The ids of the items whose grounded ``field`` holds ``value`` (remembered until the next write).

        What a search asks of many candidates at once ("which of these are dresses?"): one metadata
        scan the first time a value is asked for, then a set lookup.
        """
        where = {field: value} if field == "category" else {field: {"$contains": value}}
        key = ("ids-with", field, value, self.generation)
        return self._allowed_sets.get(key, lambda: frozenset(self._collection.get(where=where, include=[])["ids"]))

    # --- what a lexical index catches up from ---------------------------------------------
    @property
    def collection_id(self) -> str:
        """Chroma's id of the collection: a dropped and rebuilt catalog has another."""
        return str(self._collection.id)

    def ids(self) -> list[str]:
        return self._collection.get(include=[])["ids"]

    def items(self, offset: int, limit: int) -> list[tuple[StoredItem, float]]:
        """A page of stored items with the time each was written (0 for items stored before times were)."""
        result = self._collection.get(offset=offset, limit=limit, include=["metadatas"])
        return [(_item(i, m), float(m.get("written_at", 0.0))) for i, m in zip(result["ids"], result["metadatas"])]

    def written_after(self, moment: float) -> list[tuple[StoredItem, float]]:
        """Items written after ``moment`` (seconds since 1970), by any process."""
        result = self._collection.get(where={"written_at": {"$gt": moment}}, include=["metadatas"])
        return [(_item(i, m), float(m["written_at"])) for i, m in zip(result["ids"], result["metadatas"])]

    def get_items(self, ids: Sequence[str]) -> list[tuple[StoredItem, float]]:
        result = self._get(list(ids), ["metadatas"])
        return [(_item(i, m), float(m.get("written_at", 0.0))) for i, m in zip(result["ids"], result["metadatas"])]
