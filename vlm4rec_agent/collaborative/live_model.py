"""The serving side: one catalog's co-occurrence model, kept close to its shoppers' likes.

Built from every like in the :class:`RatingStore` (one basket per shopper) and every imported
group (one basket per room or outfit). It is rebuilt in the background, never in a request:
at most every ``refresh_s`` seconds a request checks whether the ratings or the group sets have
changed (two small queries) and, if they have, a thread builds a new model while requests go on
with the current one. So another shopper's like reaches everyone's recommendations within
``refresh_s`` plus one build (docs/evaluation/recommend.md has build times); a shopper's own like
counts at once, because their profile is read fresh on every request and the liked item's
co-occurrences are already in the model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..store.protocols import GroupStore, RatingStore
from .cooccurrence import NEIGHBOURS, CoOccurrence, ItemIds

log = logging.getLogger(__name__)

SHOPPERS = "shoppers"


@dataclass(frozen=True)
class Snapshot:
    model: CoOccurrence
    ids: ItemIds
    version: tuple
    built_at: float
    seconds: float  # how long the build took


class LiveModel:
    def __init__(
        self,
        ratings: RatingStore,
        groups: GroupStore | None,
        kinds_of: Callable[[Sequence[str]], dict[str, str]],
        refresh_s: float = 60.0,
        neighbours: int = NEIGHBOURS,
    ):
        self._ratings = ratings
        self._groups = groups
        self._kinds_of = kinds_of
        self.refresh_s = refresh_s
        self.neighbours = neighbours
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()  # one build at a time
        self._checked_at = 0.0
        self._worker: threading.Thread | None = None
        self._closed = False

    def current(self) -> Snapshot:
        """The model now: built here the first time, then refreshed in the background."""
        snapshot = self._snapshot
        if snapshot is None:
            with self._lock:
                if self._snapshot is None:
                    self._snapshot = self._build()
                    self._checked_at = time.monotonic()
                return self._snapshot
        if time.monotonic() - self._checked_at >= self.refresh_s:
            self._checked_at = time.monotonic()
            self._refresh_in_background()
        return snapshot

    def refresh(self) -> Snapshot:
        """Rebuild now if anything changed (what `groups add` and tests use)."""
        with self._lock:
            version = self._version()
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = self._build(version)
            self._checked_at = time.monotonic()
            return self._snapshot

    def close(self) -> None:
        self._closed = True
        worker = self._worker
        if worker is not None:
            worker.join(timeout=5)

    def _refresh_in_background(self) -> None:
        if self._worker is not None and self._worker.is_alive():
            return

        def run() -> None:
            try:
                if self._closed:
                    return
                version = self._version()
                if self._snapshot is not None and version == self._snapshot.version:
                    return
                with self._lock:
                    self._snapshot = self._build(version)
            except Exception:  # a failed rebuild keeps the current model; the next check tries again
                log.exception("rebuilding the collaborative model failed; the previous one stays in use")

        self._worker = threading.Thread(target=run, name="vlm4rec-collaborative", daemon=True)
        self._worker.start()

    def _version(self) -> tuple:
        ratings = getattr(self._ratings, "version", None)
        return (
            ratings() if ratings else self._ratings.count(),
            self._groups.version() if self._groups is not None else (),
        )

    def _build(self, version: tuple | None = None) -> Snapshot:
        """A new model; ``version`` is the stores' version read just before (read here when not given)."""
        started = time.perf_counter()
        version = self._version() if version is None else version
        ids = ItemIds()
        baskets: dict[str, list[list[int]]] = {SHOPPERS: []}
        nouns = {SHOPPERS: "shopper"}
        current_user, basket = None, []
        likes = getattr(self._ratings, "like_pairs", None) or self._ratings.likes  # both user by user
        for user, item in likes():
            if user != current_user and basket:
                baskets[SHOPPERS].append(basket)
                basket = []
            current_user = user
            basket.append(ids.add(item))
        if basket:
            baskets[SHOPPERS].append(basket)
        if self._groups is not None:
            for group_set in self._groups.sets():
                nouns[group_set.name] = group_set.noun
                baskets.setdefault(group_set.name, [])
            for set_name, _, items in self._groups.groups():
                baskets[set_name].append([ids.add(i) for i in items])
        kinds = self._kinds_of(ids.ids)
        model = CoOccurrence.build(len(ids), baskets, nouns, self.neighbours, kinds=[kinds.get(i, "") for i in ids.ids])
        seconds = time.perf_counter() - started
        log.info("collaborative model: %d items, %d pairs, built in %.2f s", len(ids), model.pairs, seconds)
        return Snapshot(model, ids, version, time.time(), seconds)
