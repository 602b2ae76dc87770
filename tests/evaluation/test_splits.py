import numpy as np
import pytest

from vlm4rec_agent.errors import InvalidInputError
from vlm4rec_agent.evaluation.data import User
from vlm4rec_agent.evaluation.splits import leave_last_out, partition, random_holdout

USERS = [User(f"u{n}", tuple(range(n * 100, n * 100 + size))) for n, size in enumerate([3, 4, 5, 10, 12, 23])]


def test_random_holdout_holds_out_a_fifth_at_least_one_and_skips_small_users():
    splits = random_holdout(USERS, seed=0)
    assert [s.user for s in splits] == ["u1", "u2", "u3", "u4", "u5"]  # u0 has only 3 items
    for split, user in zip(splits, USERS[1:]):
        assert len(split.held_out) == max(1, round(0.2 * len(user.items)))
        assert set(split.profile).isdisjoint(split.held_out)
        assert set(split.profile) | set(split.held_out) == set(user.items)


def test_the_same_seed_gives_the_same_split_and_other_users_do_not_change_it():
    first = random_holdout(USERS, seed=3)
    again = random_holdout(USERS[3:], seed=3)  # fewer users: u3's split must not move
    assert np.array_equal(first[2].held_out, again[0].held_out)
    other_seeds = {tuple(random_holdout(USERS, seed=s)[-1].held_out) for s in range(5)}
    assert len(other_seeds) > 1


def test_leave_last_out_holds_out_the_latest_item():
    user = User("t", (7, 3, 9, 1), timestamps=(1.0, 2.0, 3.0, 4.0))
    (split,) = leave_last_out([user])
    assert split.held_out.tolist() == [1] and split.profile.tolist() == [7, 3, 9]


def test_partition_keeps_a_fixed_disjoint_share_back():
    users = [User(f"room-{n}", (1, 2, 3, 4)) for n in range(400)]
    tune, check = partition(users, "tune"), partition(users, "check")
    assert {u.id for u in tune}.isdisjoint(u.id for u in check)
    assert len(tune) + len(check) == 400
    assert 0.22 < len(check) / 400 < 0.38
    assert [u.id for u in partition(users, "check")] == [u.id for u in check]  # stable


def test_bad_fractions_and_parts_are_refused():
    with pytest.raises(InvalidInputError):
        random_holdout(USERS, seed=0, fraction=1.5)
    with pytest.raises(InvalidInputError, match="tune or check"):
        partition(USERS, "dev")
