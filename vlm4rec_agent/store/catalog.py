"""The catalog as the engine keeps it: its vector index and its lexical index, written together.

Every write this process makes goes to both (the vector index first: it is the record of what the
catalog holds). The lexical index is derived data, kept in a folder under ``VLM4REC_HOME``, so it
can always be brought back in step from the vector index (:meth:`StoredCatalog.sync`):

- when its folder is new, or was built for another collection (a catalog dropped and rebuilt), or
  its count differs: it is rebuilt, or caught up item by item;
- with a Chroma server, other processes write too: every item records when it was written, and a
  sync takes what was written since the last one (and removes what is gone). The engine runs it at
  most every ``VLM4REC_LEXICAL_SYNC_S`` seconds, so another process's write reaches this one's word
  search within that time (its vectors are found at once: they live on the server).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..ids import item_id_forms
from ..items import StoredItem
from .catalog_index import Candidate, Filters, Neighbour
from .chroma_index import ChromaCatalogIndex
from .lexical_index import LexicalIndex
from .visual_index import ChromaVisualIndex

log = logging.getLogger(__name__)

PAGE = 2_000  # items read from the vector index at a time when rebuilding the lexical index
VISUAL_RECHECK_S = 60.0  # how often a catalog with no visual index looks again for one (another process's ingest)
KIND_PHRASES = 20_000  # the most type phrases a search recognises (the IKEA catalog has 1,100)
SLACK_S = 120.0  # clocks of processes on several machines may disagree by this much


VisualOpener = Callable[[int | None], ChromaVisualIndex | None]


class StoredCatalog:
    """A :class:`~vlm4rec_agent.store.catalog_index.CatalogIndex` whose writes also keep a lexical index,
    and, when an image encoder is configured, the items' image vectors (``open_visual(dim)`` opens
    that index, creating it when ``dim`` is given)."""

    def __init__(
        self, dense: ChromaCatalogIndex, lexical: LexicalIndex, state: Path, open_visual: VisualOpener | None = None
    ):
        self.dense = dense
        self.lexical = lexical
        self._state_file = state
        self._open_visual = open_visual
        self._visual: ChromaVisualIndex | None = None
        self._visual_looked_at = -VISUAL_RECHECK_S
        self._syncs = 0  # items indexed by syncs so far: what caches of the lexical index's values depend on
        self._phrases: tuple[tuple[int, int], frozenset[str]] | None = None

    # --- what the vector index answers ----------------------------------------------------
    @property
    def name(self) -> str:
        return self.dense.name

    @property
    def generation(self) -> int:
        return self.dense.generation

    @property
    def encoder_name(self) -> str:
        return self.dense.encoder_name

    @property
    def dim(self) -> int:
        return self.dense.dim

    def count(self) -> int:
        return self.dense.count()

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> dict[str, Neighbour]:
        return self.dense.get(ids, with_vectors)

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self.dense.vectors(ids)

    def require(self, item_id: str, with_vectors: bool = False) -> Neighbour:
        """The stored item of an id as a caller gave it (checked, and found in any Unicode form:
        see :func:`~vlm4rec_agent.ids.item_id_forms`), or a clear error."""
        forms = item_id_forms(item_id)
        found = self.dense.get(forms, with_vectors) if len(forms) > 1 else {}
        stored = next((found[form] for form in forms if form in found), None)
        return stored or self.dense.require(forms[0], with_vectors)

    def kinds(self, ids: Sequence[str], page: int = 5000) -> dict[str, str]:
        """Each stored item's product type, lower-cased, from the metadata alone (no record is
        parsed); ids that are not stored are absent, so this also says which ids exist."""
        kinds: dict[str, str] = {}
        ids = list(ids)
        for start in range(0, len(ids), page):
            for item_id, (_, _, kind) in self.hashes(ids[start : start + page]).items():
                kinds[item_id] = kind.strip().lower()
        return kinds

    def hashes(self, ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        return self.dense.hashes(ids)

    def ids_from(self, source: str) -> list[str]:
        return self.dense.ids_from(source)

    def count_without_source(self) -> int:
        return self.dense.count_without_source()

    def nearest(
        self, vectors: np.ndarray, n: int, filters: Filters | None = None, with_vectors: bool = True
    ) -> list[list[Candidate]]:
        return self.dense.nearest(vectors, n, filters, with_vectors)

    def query(
        self, vectors: np.ndarray, n: int, filters: Filters | None = None, with_vectors: bool = False
    ) -> list[list[Neighbour]]:
        return self.dense.query(vectors, n, filters, with_vectors)

    def check(self) -> None:
        self.dense.check()

    def allowed_ids(self, filters: Filters | None) -> frozenset[str] | None:
        return self.dense.allowed_ids(filters)

    def ids_with(self, field: str, value: str) -> frozenset[str]:
        return self.dense.ids_with(field, value)

    def kind_phrases(self) -> frozenset[str]:
        """Every phrase that names a product type of the catalog ("pendant lamp", "lamp", "dress"),
        from the types its files give; read once per write."""
        key = (self.generation, self._syncs)
        if self._phrases is None or self._phrases[0] != key:
            values = self.lexical.values("kind_suffixes", limit=KIND_PHRASES)
            self._phrases = (key, frozenset(value for value, _ in values))
        return self._phrases[1]

    # --- image vectors ----------------------------------------------------------------------
    @property
    def visual(self) -> ChromaVisualIndex | None:
        """The items' image vectors; None when no image encoder is configured or none were stored yet."""
        if self._visual is None and self._open_visual is not None:
            now = time.monotonic()
            if now - self._visual_looked_at >= VISUAL_RECHECK_S:
                self._visual_looked_at = now
                self._visual = self._open_visual(None)
        return self._visual

    def upsert_visual(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        if self._open_visual is None or not len(ids):
            return
        if self._visual is None or self._visual.dim != vectors.shape[1]:
            self._visual = self._open_visual(vectors.shape[1])
        self._visual.upsert(ids, vectors)

    # --- writes, to all --------------------------------------------------------------------
    def upsert(
        self,
        items: Sequence[StoredItem],
        vectors: np.ndarray,
        documents: Sequence[str],
        source: str = "",
        visual: np.ndarray | None = None,
    ) -> None:
        """Store items; ``visual`` (one image vector per item, or None) goes to the visual index."""
        written_at = time.time()
        self.dense.upsert(items, vectors, documents, source=source, written_at=written_at)
        self.lexical.upsert(items, written_at)
        if visual is not None:
            self.upsert_visual([item.id for item in items], visual)

    def relabel(self, kinds: dict[str, str], source: str) -> None:
        written_at = time.time()
        self.dense.relabel(kinds, source, written_at)
        self._index_items(self.dense.get_items(list(kinds)))  # the lexical index holds kinds too

    def delete(self, ids: Sequence[str]) -> None:
        self.dense.delete(ids)
        self.lexical.delete(ids)
        if (visual := self.visual) is not None:
            visual.delete(ids)

    def drop(self) -> None:
        self.dense.drop()
        self.lexical.clear()
        self._save_state({})
        if (visual := self.visual) is not None:
            visual.drop()
            self._visual = None

    # --- keeping the lexical index in step ---------------------------------------------------
    def _state(self) -> dict:
        try:
            return json.loads(self._state_file.read_text("utf-8"))
        except (OSError, ValueError):
            return {}

    def _save_state(self, state: dict) -> None:
        partial = self._state_file.with_suffix(".part")
        partial.write_text(json.dumps(state), "utf-8")
        partial.replace(self._state_file)

    def sync(self, check_writes: bool = True) -> int:
        """Bring the lexical index in step with the vector index; returns how many items it (re)indexed.

        ``check_writes`` also looks for items that other processes wrote since the last sync (a
        metadata scan on the server); without it only a missing or miscounted index is repaired.
        """
        state, started = self._state(), time.time()
        collection = self.dense.collection_id
        if state.get("collection") != collection:
            done = self._rebuild()
        else:
            done = 0
            if check_writes:
                changed = self.dense.written_after(state.get("synced_until", 0.0) - SLACK_S)
                for start in range(0, len(changed), PAGE):
                    self._index_items(changed[start : start + PAGE])
                done += len(changed)
            if self.lexical.count() != self.dense.count():
                done += self._reconcile()
        self._save_state({"collection": collection, "synced_until": started})
        self._syncs += done
        return done

    def _index_items(self, rows: Sequence[tuple[StoredItem, float]]) -> None:
        self.lexical.upsert([item for item, _ in rows], [at for _, at in rows])

    def _rebuild(self) -> int:
        total = self.dense.count()
        log.info("building the lexical index of catalog %r from its %d items", self.name, total)
        self.lexical.clear()
        done = 0
        for offset in range(0, total, PAGE):
            rows = self.dense.items(offset, PAGE)
            self._index_items(rows)
            done += len(rows)
        return done

    def _reconcile(self) -> int:
        """Add what the lexical index lacks and remove what the vector index no longer holds."""
        dense_ids = set(self.dense.ids())
        lexical_ids = set(self.lexical.ids())
        gone, missing = sorted(lexical_ids - dense_ids), sorted(dense_ids - lexical_ids)
        self.lexical.delete(gone)
        for start in range(0, len(missing), PAGE):
            self._index_items(self.dense.get_items(missing[start : start + PAGE]))
        return len(gone) + len(missing)
