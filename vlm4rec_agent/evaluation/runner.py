"""An evaluation session: one catalog, one set of users, every representation and scorer.

>>> session = Evaluation.open(items="items.jsonl", groups="rooms.jsonl", encoder=..., grounder=...)
>>> session.holdout("text", "softmax").summary()["recall@10"]
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..catalogs import read_catalog
from ..errors import InvalidInputError
from ..grounding.protocol import Grounder
from ..scoring import parse_scorer
from .data import Users, read_groups, read_interactions
from .metrics import KS
from .protocol import Run, evaluate_holdout, evaluate_queries
from .representations import Representations
from .splits import leave_last_out, partition, random_holdout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Protocol:
    seeds: int = 5
    fraction: float = 0.2
    min_items: int = 4
    ks: tuple[int, ...] = KS
    part: str = "all"  # all, tune or check (see splits.partition)

    def __post_init__(self):
        if self.seeds < 1:
            raise InvalidInputError(f"--seeds must be at least 1, got {self.seeds}")
        if not self.ks or min(self.ks) < 1:
            raise InvalidInputError(f"every K must be at least 1, got {self.ks}")


class Evaluation:
    def __init__(self, representations: Representations, users: Users, protocol: Protocol):
        self.representations = representations
        self.all_users = users
        self.protocol = protocol
        self.users = partition(users.users, protocol.part)
        self._split_sets = None

    @classmethod
    def open(
        cls,
        items: str | Path,
        encoder,
        grounder: Grounder | None = None,
        groups: str | Path | None = None,
        interactions: str | Path | None = None,
        protocol: Protocol | None = None,
        cache_folder: Path | None = None,
        min_rating: float | None = None,
    ) -> Evaluation:
        if (groups is None) == (interactions is None):
            raise InvalidInputError("give either --groups (a JSONL of item sets) or --interactions (a CSV)")
        catalog = read_catalog(items)
        index = {item.id: i for i, item in enumerate(catalog.items)}
        users = read_groups(groups, index) if groups else read_interactions(interactions, index, min_rating)
        if users.unknown_items:
            log.warning("%d item references are not in the catalog and were dropped", users.unknown_items)
        reps = Representations(catalog.items, encoder, grounder, cache_folder)
        return cls(reps, users, protocol or Protocol())

    @property
    def task(self) -> str:
        return "leave-last-out" if self.all_users.has_timestamps else "holdout"

    def split_sets(self):
        if self._split_sets is None:
            p = self.protocol
            if self.task == "leave-last-out":
                self._split_sets = [leave_last_out(self.users, p.min_items)]
            else:
                self._split_sets = [random_holdout(self.users, s, p.fraction, p.min_items) for s in range(p.seeds)]
            if not self._split_sets[0]:
                raise InvalidInputError(
                    f"no user has at least {p.min_items} items, so nothing can be held out",
                    "check that the item ids in the user data match the catalog's ids",
                )
        return self._split_sets

    def holdout(self, representation: str, scorer: str) -> Run:
        vectors = self.representations.vectors(representation)
        started = time.perf_counter()
        split_sets = self.split_sets()
        per_user = evaluate_holdout(vectors, split_sets, parse_scorer(scorer), self.protocol.ks)
        return Run(
            task=self.task,
            representation=representation,
            scorer=scorer,
            users=[s.user for s in split_sets[0]],
            per_user=per_user,
            seeds=len(split_sets),
            extra={"seconds": round(time.perf_counter() - started, 3), "part": self.protocol.part},
        )

    @property
    def has_scenes(self) -> bool:
        return any(user.scenes for user in self.users)

    def shop_the_look(self, representation: str) -> Run:
        """Query with each room photo; the room's products are the relevant items."""
        queries = [(user, scene) for user in self.users if user.items for scene in user.scenes if scene.is_file()]
        if not queries:
            raise InvalidInputError('no group has a photo ("scenes") to query with')
        started = time.perf_counter()
        item_vectors = self.representations.vectors(representation)
        query_vectors = self.representations.query_vectors(representation, [scene for _, scene in queries])
        per_user = evaluate_queries(
            item_vectors, query_vectors, [np.asarray(user.items) for user, _ in queries], self.protocol.ks
        )
        return Run(
            task="shop-the-look",
            representation=representation,
            scorer="query",
            users=[f"{user.id}:{scene.name}" for user, scene in queries],
            per_user=per_user,
            extra={"seconds": round(time.perf_counter() - started, 3), "part": self.protocol.part},
        )
