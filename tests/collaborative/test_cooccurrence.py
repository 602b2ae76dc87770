"""The co-occurrence model against brute force: every count it holds is the real one."""

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vlm4rec_agent.collaborative import CoOccurrence
from vlm4rec_agent.collaborative.cooccurrence import ALPHA, SHRINK

N_ITEMS = 12
baskets = st.lists(st.lists(st.integers(0, N_ITEMS - 1), min_size=0, max_size=6), max_size=25)


def brute_count(groups, i, j):
    return sum(1 for g in groups if i in g and j in g)


@settings(max_examples=60, deadline=None)
@given(likes=baskets, rooms=baskets, keep=st.integers(1, N_ITEMS))
def test_every_count_held_is_the_number_of_baskets_holding_both(likes, rooms, keep):
    model = CoOccurrence.build(N_ITEMS, {"shoppers": likes, "rooms": rooms}, {"rooms": "room"}, neighbours=keep)
    for i in range(N_ITEMS):
        held = model.together(i, [j for j in range(N_ITEMS) if j != i])
        for source, groups in (("shoppers", likes), ("rooms", rooms)):
            for j, count in held.get(source, {}).items():
                assert count == brute_count(groups, i, j)
        # The kept neighbours are the most shared: no dropped item shares more baskets than a kept one.
        totals = {j: brute_count(likes, i, j) + brute_count(rooms, i, j) for j in range(N_ITEMS) if j != i}
        kept = set(model.total.getrow(i).indices)
        assert len(kept) <= keep
        if kept:
            assert min(totals[j] for j in kept) >= max((totals[j] for j in totals if j not in kept), default=0)
    assert np.array_equal(model.popularity, [sum(i in set(g) for g in likes + rooms) for i in range(N_ITEMS)])


def test_scores_are_sums_of_asymmetric_cosines_and_evidence_sums_of_counts():
    groups = [[0, 1, 2], [0, 1], [1, 3], [2, 3, 4], [0, 4]]
    model = CoOccurrence.build(5, {"rooms": groups})
    scores, evidence = model.score([0, 3])
    pop = np.array([sum(i in g for g in groups) for i in range(5)], dtype=float)
    for j in range(5):
        expected = sum(
            brute_count(groups, i, j) / (pop[i] ** ALPHA * pop[j] ** (1 - ALPHA) + SHRINK) for i in (0, 3) if i != j
        )
        assert np.isclose(scores[j], expected, rtol=1e-5)
        assert evidence[j] == sum(brute_count(groups, i, j) for i in (0, 3) if i != j)


def test_many_users_at_once_match_one_at_a_time():
    rng = np.random.default_rng(3)
    groups = [list(rng.choice(40, size=rng.integers(2, 7), replace=False)) for _ in range(60)]
    model = CoOccurrence.build(40, {"g": groups})
    profiles = [list(rng.choice(40, size=3, replace=False)) for _ in range(7)]
    scores, evidence = model.score_rows(profiles)
    for row, profile in enumerate(profiles):
        one, ev = model.score(profile)
        assert np.allclose(scores[row], one) and np.array_equal(evidence[row], ev)


def test_repeat_shares_learn_which_types_baskets_hold_twice():
    kinds = ["bed", "lamp", "lamp", "rug", "dress", "dress"]
    rooms = [[0, 1, 2, 3], [0, 1, 2], [0, 3]]
    model = CoOccurrence.build(6, {"rooms": rooms}, kinds=kinds)
    assert model.repeat_share("bed") == (0 + 0.5) / (3 + 1)  # three rooms hold a bed, none two
    assert model.repeat_share("lamp") == (2 + 0.5) / (2 + 1)
    assert model.repeat_share("sofa") == 0.5  # never seen: no opinion


def test_an_empty_model_scores_nothing():
    model = CoOccurrence.build(3, {"shoppers": []})
    scores, evidence = model.score([0])
    assert model.pairs == 0 and not scores.any() and not evidence.any()
    assert list(itertools.chain(model.together(0, [1, 2]).values())) == []
