"""Hold-out splits: which of a user's items build the profile and which are to be found.

Random hold-out (the VLM4Rec protocol): for every user with at least ``min_items`` items, hold
out ``fraction`` of them (at least one) at random. The generator is seeded by (seed, user
position), so a split does not change when other users are added or removed, and two methods
evaluated with the same seed see exactly the same splits (what makes paired comparisons fair).
Leave-last-out: the user's latest item is held out, the rest build the profile.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from .data import User


@dataclass(frozen=True)
class Split:
    user: str
    profile: np.ndarray  # catalog indices that build the profile
    held_out: np.ndarray  # catalog indices to be found


def _user_seed(user_id: str) -> int:
    return int.from_bytes(hashlib.sha256(user_id.encode("utf-8")).digest()[:8], "little")


def random_holdout(users: list[User], seed: int, fraction: float = 0.2, min_items: int = 4) -> list[Split]:
    if not 0 < fraction < 1:
        raise InvalidInputError(f"the held-out fraction must be between 0 and 1, got {fraction}")
    splits = []
    for user in users:
        if len(user.items) < min_items:
            continue
        rng = np.random.default_rng([seed, _user_seed(user.id)])
        order = rng.permutation(len(user.items))
        held = max(1, int(round(fraction * len(user.items))))
        items = np.asarray(user.items)
        splits.append(Split(user.id, items[np.sort(order[held:])], items[np.sort(order[:held])]))
    return splits


def leave_last_out(users: list[User], min_items: int = 4) -> list[Split]:
    """Hold out each user's last item by time (``User.items`` are already in time order)."""
    items_of = [u for u in users if len(u.items) >= min_items]
    return [Split(u.id, np.asarray(u.items[:-1]), np.asarray(u.items[-1:])) for u in items_of]


def partition(users: list[User], part: str, check_share: float = 0.3) -> list[User]:
    """``"tune"`` or ``"check"``: a fixed share of users, chosen by a hash of their id, is kept
    back ("check") so that a method tuned on the rest can be confirmed on users it never saw."""
    if part == "all":
        return list(users)
    if part not in ("tune", "check"):
        raise InvalidInputError(f"unknown part {part!r}", "use all, tune or check")
    return [u for u in users if in_check_part(u.id, check_share) == (part == "check")]


def in_check_part(key: str, check_share: float = 0.3) -> bool:
    """Whether ``key`` (a user's or a query's id) is in the share kept back from tuning."""
    return (_user_seed("part:" + key) % 1000) < check_share * 1000
