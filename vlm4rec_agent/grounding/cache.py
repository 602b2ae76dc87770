"""An on-disk cache of grounding records, so that no image is sent to a VLM twice.

Key: the image's SHA-256, the grounder (backend), its model id, the prompt version and a hash
of the item's text (the prompt includes that text, so the answer depends on it). Change any of
them and the VLM is asked again; re-ingest the same catalog, into any collection, and it is not.

The cache is one SQLite file (WAL mode: several processes on one machine can share it).
Fallback records are never cached: the VLM did not answer them. Every record the VLM returns is
cached, also from a batch in which it stopped answering part-way, so a re-run sends only the
images that never got an answer.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from .protocol import Grounder, GroundingInput, GroundingOutcome, LookupKey, checked
from .schema import GroundingRecord

log = logging.getLogger(__name__)


def cache_key(grounder: Grounder, item: GroundingInput) -> str | None:
    return _key(grounder, item.image_hash, item.text)


def _key(grounder: Grounder, image_hash: str | None, text: str | None) -> str | None:
    if not image_hash:
        return None
    text_hash = hashlib.sha256((text or "").encode("utf-8")).hexdigest()
    parts = [image_hash, grounder.name, grounder.model_id, grounder.prompt_version, text_hash]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class GroundingCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, record TEXT NOT NULL)")
            self._db.commit()

    def get_many(self, keys: Sequence[str]) -> dict[str, GroundingRecord]:
        found: dict[str, GroundingRecord] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, record FROM records WHERE key IN ({marks})", chunk).fetchall()
                for key, text in rows:
                    try:
                        found[key] = GroundingRecord.model_validate_json(text)
                    except ValueError:
                        log.warning("ignoring an unreadable cache entry in %s", self.path)
        return found

    def put_many(self, entries: dict[str, GroundingRecord]) -> None:
        rows = [(k, r.model_dump_json()) for k, r in entries.items() if r.status != "fallback"]
        if not rows:
            return
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO records (key, record) VALUES (?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    def clear(self) -> int:
        with self._lock:
            removed = self._db.execute("DELETE FROM records").rowcount
            self._db.commit()
        return removed

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedGrounder:
    """A grounder that answers from the cache and asks the wrapped grounder only for the rest."""

    def __init__(self, inner: Grounder, cache: GroundingCache):
        self.inner = inner
        self.cache = cache
        self.name, self.model_id, self.prompt_version = inner.name, inner.model_id, inner.prompt_version
        self.hits = 0
        self.misses = 0

    def lookup(self, keys: Sequence[LookupKey]) -> dict[int, GroundingRecord]:
        """Cached records for (image hash, item text) pairs, by position: lets a caller skip
        opening the images whose answers are known."""
        wanted = [_key(self.inner, image_hash, text) for image_hash, text in keys]
        cached = self.cache.get_many([k for k in wanted if k])
        found = {n: cached[k] for n, k in enumerate(wanted) if k in cached}
        self.hits += len(found)
        return found

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingOutcome]:
        keys = [cache_key(self.inner, item) for item in inputs]
        cached = self.cache.get_many([k for k in keys if k])
        missing = [i for i, k in enumerate(keys) if k is None or k not in cached]
        self.hits += len(inputs) - len(missing)
        self.misses += len(missing)
        asked = [inputs[i] for i in missing]
        fresh = checked(self.inner, asked, self.inner.ground(asked)) if missing else []
        # Whatever the VLM answered is kept, even when it failed for other inputs of the batch.
        self.cache.put_many({keys[i]: o for i, o in zip(missing, fresh) if keys[i] and isinstance(o, GroundingRecord)})
        by_index = dict(zip(missing, fresh))
        return [by_index[i] if i in by_index else cached[keys[i]] for i in range(len(inputs))]

    def close(self) -> None:
        self.inner.close()
        self.cache.close()
