"""The catalog's learned heads: where they are kept, when they are learned again, what they learn from.

One file per catalog (``HOME/heads/<collection>.npz``). They are learned after an ingest when
there are none yet, or when the number of items with an image vector has changed by a tenth (at
least 20 items) since they were learned; ``vlm4rec learn`` learns them at once. A process sees
another's new heads at its next use (the file's time is checked, at most every few seconds).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .grounding.learned_heads import Heads, labels_of, train_heads
from .grounding.vocabulary import load_vocabulary
from .items import Item
from .store.catalog import PAGE, StoredCatalog

log = logging.getLogger(__name__)

CHANGE_SHARE = 0.1
CHANGE_MIN = 20
CHECK_S = 5.0


class HeadsKeeper:
    def __init__(self, path: Path, min_confidence: float):
        self.path = path
        self.min_confidence = min_confidence
        self._heads: Heads | None = None
        self._stamp: float | None = None
        self._checked = -CHECK_S
        self._lock = threading.Lock()

    def current(self) -> Heads | None:
        """The heads on disk now (read again when the file changed)."""
        now = time.monotonic()
        if now - self._checked < CHECK_S:
            return self._heads
        with self._lock:
            self._checked = now
            try:
                stamp = self.path.stat().st_mtime
            except OSError:
                self._heads, self._stamp = None, None
                return None
            if stamp != self._stamp:
                self._heads, self._stamp = Heads.load(self.path), stamp
                if self._heads is not None:
                    self._heads.min_confidence = self.min_confidence  # the setting of this process
            return self._heads

    def due(self, catalog: StoredCatalog, encoder_name: str) -> bool:
        """Whether the catalog changed enough since the heads were learned (or has none)."""
        visual = catalog.visual
        if visual is None:
            return False
        heads, count = self.current(), visual.count()
        if heads is None or heads.encoder != encoder_name:
            return count > 0
        return abs(count - heads.items) >= max(CHANGE_MIN, CHANGE_SHARE * heads.items)

    def learn_if_due(self, catalog: StoredCatalog, encoder_name: str, cancel: Callable[[], bool]) -> str:
        """Learn the heads if :meth:`due`; what was learned, in words ("" when nothing was)."""
        if not self.due(catalog, encoder_name):
            return ""
        heads = self.learn(catalog, encoder_name, cancel)
        return heads.describe() if heads is not None else ""

    def learn(
        self, catalog: StoredCatalog, encoder_name: str, cancel: Callable[[], bool] = lambda: False
    ) -> Heads | None:
        """Learn heads from every item that has an image vector and save them; None when too few
        items name any attribute (the file is then removed: old heads would not fit the catalog)."""
        visual = catalog.visual
        if visual is None:
            return None
        vocabulary = load_vocabulary()
        ids, vectors, labels = [], [], []
        total = catalog.count()
        for offset in range(0, total, PAGE):
            if cancel():
                return self.current()
            rows = catalog.dense.items(offset, PAGE)
            found = visual.vectors([item.id for item, _ in rows])
            for item, _ in rows:
                if item.id in found:
                    ids.append(item.id)
                    vectors.append(found[item.id])
                    labels.append(labels_of(item, vocabulary))
        heads = (
            train_heads(ids, np.stack(vectors), labels, encoder_name, self.min_confidence, items=len(ids))
            if ids
            else None
        )
        with self._lock:
            if heads is None:
                self.path.unlink(missing_ok=True)
            else:
                heads.save(self.path)
                log.info("%s", heads.describe())
            self._checked = -CHECK_S  # read at the next use
        return heads


def split_sample(items: Sequence[Item], size: int) -> tuple[list[Item], list[Item]]:
    """The ``size`` items a VLM grounds (those whose id hashes lowest: a sample that stays the same
    from run to run, and takes in new items evenly), and the rest."""
    order = sorted(range(len(items)), key=lambda n: hashlib.sha256(f"sample:{items[n].id}".encode()).digest())
    chosen = set(order[:size])
    return [items[n] for n in sorted(chosen)], [item for n, item in enumerate(items) if n not in chosen]
