"""What the collaborative part may learn from when a user is evaluated: never that user's items.

Two rules, one per way of running:

- ``--train-groups FILE``: one model from FILE's groups (other shoppers). A group whose id is one
  of the evaluated users' is left out of training, so giving the same file twice cannot leak.
- otherwise K-fold over users: users are put into ``folds`` folds by a hash of their id, and a
  user of fold ``f`` is scored with a model built only from the groups of the other folds. With
  10 folds each model learns from 90% of the other shoppers, close to what serving has.

Either way a user's held-out items (and their profile items) never reach the model that scores
them: ``tests/evaluation/test_collaborative_eval.py`` checks it.
"""

from __future__ import annotations

import hashlib
import logging

from ..collaborative import CoOccurrence
from ..errors import InvalidInputError
from .data import User

log = logging.getLogger(__name__)

DEFAULT_FOLDS = 10


def fold_of(user_id: str, folds: int) -> int:
    return int.from_bytes(hashlib.sha256(("fold:" + user_id).encode("utf-8")).digest()[:8], "little") % folds


class TrainingBaskets:
    """The co-occurrence model each evaluated user is scored with (built once per fold)."""

    def __init__(
        self,
        n_items: int,
        all_users: list[User],
        evaluated: list[User],
        train_groups: list[User] | None = None,
        folds: int = DEFAULT_FOLDS,
        kinds: list[str] | None = None,
    ):
        if train_groups is None and folds < 2:
            raise InvalidInputError(f"--folds must be at least 2, got {folds}")
        self.n_items = n_items
        self.folds = folds
        self.kinds = kinds
        self._all = all_users
        self._models: dict[int, CoOccurrence] = {}
        self._fixed: list[User] | None = None
        if train_groups is not None:
            evaluated_ids = {u.id for u in evaluated}
            kept = [g for g in train_groups if g.id not in evaluated_ids]
            if len(kept) < len(train_groups):
                log.warning(
                    "%d training groups share an id with an evaluated user and were left out of training",
                    len(train_groups) - len(kept),
                )
            if not kept:
                raise InvalidInputError(
                    "--train-groups has no group besides the evaluated users'",
                    "give other shoppers' groups to learn from, or leave --train-groups out for K-fold",
                )
            self._fixed = kept

    @property
    def description(self) -> str:
        if self._fixed is not None:
            return f"collaborative part learned from {len(self._fixed)} training groups"
        return f"collaborative part learned by {self.folds}-fold over users (each fold from the others)"

    def training_users(self, user_id: str) -> list[User]:
        """The groups the model that scores ``user_id`` learns from."""
        if self._fixed is not None:
            return self._fixed
        fold = fold_of(user_id, self.folds)
        return [u for u in self._all if fold_of(u.id, self.folds) != fold]

    def key(self, user_id: str) -> int:
        return -1 if self._fixed is not None else fold_of(user_id, self.folds)

    def model_for(self, user_id: str) -> CoOccurrence:
        key = self.key(user_id)
        if key not in self._models:
            baskets = [list(u.items) for u in self.training_users(user_id) if u.items]
            self._models[key] = CoOccurrence.build(
                self.n_items, {"groups": baskets}, {"groups": "group"}, kinds=self.kinds
            )
        return self._models[key]
