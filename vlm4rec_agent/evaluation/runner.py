"""An evaluation session: one catalog, one set of users, every representation and scorer.

>>> session = Evaluation.open(items="items.jsonl", groups="rooms.jsonl", encoder=..., grounder=...)
>>> session.holdout("text", "softmax").summary()["recall@10"]
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..catalogs import read_catalog
from ..errors import InvalidInputError
from ..grounding.protocol import Grounder
from ..scoring import parse_scorer
from .collaborative import DEFAULT_FOLDS, TrainingBaskets
from .data import User, Users, read_groups, read_interactions
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
    folds: int = DEFAULT_FOLDS  # K of the K-fold that trains the collaborative part without --train-groups

    def __post_init__(self):
        if self.seeds < 1:
            raise InvalidInputError(f"--seeds must be at least 1, got {self.seeds}")
        if not self.ks or min(self.ks) < 1:
            raise InvalidInputError(f"every K must be at least 1, got {self.ks}")


class Evaluation:
    def __init__(
        self,
        representations: Representations,
        users: Users,
        protocol: Protocol,
        train_groups: list[User] | None = None,
    ):
        self.representations = representations
        self.all_users = users
        self.protocol = protocol
        self.users = partition(users.users, protocol.part)
        self.train_groups = train_groups
        self._split_sets = None
        self._training: TrainingBaskets | None = None

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
        train_groups: str | Path | None = None,
    ) -> Evaluation:
        if (groups is None) == (interactions is None):
            raise InvalidInputError("give either --groups (a JSONL of item sets) or --interactions (a CSV)")
        catalog = read_catalog(items)
        index = {item.id: i for i, item in enumerate(catalog.items)}
        users = read_groups(groups, index) if groups else read_interactions(interactions, index, min_rating)
        if users.unknown_items:
            log.warning("%d item references are not in the catalog and were dropped", users.unknown_items)
        training = None
        if train_groups is not None:
            read = read_groups(train_groups, index)
            if read.unknown_items:
                log.warning("%d training item references are not in the catalog and were dropped", read.unknown_items)
            training = read.users
        reps = Representations(catalog.items, encoder, grounder, cache_folder)
        return cls(reps, users, protocol or Protocol(), training)

    @cached_property
    def kinds(self) -> list[str]:
        """Each item's product type, lower-cased ("" where the catalog has none)."""
        return [item.kind.strip().lower() for item in self.representations.items]

    @property
    def training(self) -> TrainingBaskets:
        """The collaborative part's training data for each evaluated user (never their own items)."""
        if self._training is None:
            self._training = TrainingBaskets(
                len(self.representations.items),
                self.all_users.users,
                self.users,
                self.train_groups,
                self.protocol.folds,
                self.kinds,
            )
        return self._training

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
        method = parse_scorer(scorer)
        training = self.training if getattr(method, "collaborative", False) else None
        kinds = self.kinds
        per_user = evaluate_holdout(vectors, split_sets, method, self.protocol.ks, training, kinds)
        return Run(
            task=self.task,
            representation=representation,
            scorer=scorer,
            users=[s.user for s in split_sets[0]],
            per_user=per_user,
            seeds=len(split_sets),
            extra={"seconds": round(time.perf_counter() - started, 3), "part": self.protocol.part}
            | ({"training": training.description} if training else {}),
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
