"""The leakage rule: the model that scores a user never learned from that user's items."""

import numpy as np
import pytest

from vlm4rec_agent.errors import InvalidInputError
from vlm4rec_agent.evaluation.collaborative import TrainingBaskets, fold_of
from vlm4rec_agent.evaluation.data import User
from vlm4rec_agent.evaluation.protocol import evaluate_holdout
from vlm4rec_agent.evaluation.splits import random_holdout
from vlm4rec_agent.scoring import CoOccurrenceScorer, HybridScorer, SoftMaxScorer

FILLER = 20  # items 0-19 belong to nobody: with no evidence at all, ties rank them first


def users_with_private_pairs(n_users=30, per_user=5):
    """Each user holds items nobody else holds: only their own group could link them."""
    return [
        User(id=f"u{u}", items=tuple(range(FILLER + u * per_user, FILLER + (u + 1) * per_user))) for u in range(n_users)
    ]


def test_kfold_models_never_hold_the_scored_users_items_together():
    users = users_with_private_pairs()
    training = TrainingBaskets(170, users, users, folds=5)
    for user in users:
        model = training.model_for(user.id)
        own = list(user.items)
        assert all(not model.together(i, own) for i in own), user.id  # no pair of the user's items
        assert all(u.id != user.id for u in training.training_users(user.id))
        assert all(fold_of(u.id, 5) != fold_of(user.id, 5) for u in training.training_users(user.id))


def test_private_pairs_cannot_be_found_by_cooccurrence_alone():
    """If the held-out items leaked into training, co-occurrence would find them at once."""
    users = users_with_private_pairs()
    vectors = np.eye(8, dtype=np.float32)[np.arange(170) % 8]  # content that knows nothing
    splits = [random_holdout(users, seed) for seed in range(2)]
    training = TrainingBaskets(170, users, users, folds=5)
    metrics = evaluate_holdout(vectors, splits, CoOccurrenceScorer(), training=training)
    assert metrics["recall@20"].max() == 0.0
    leaky = TrainingBaskets(170, users, [], train_groups=users)  # evaluated users not named: all kept
    found = evaluate_holdout(vectors, splits, CoOccurrenceScorer(), training=leaky)
    assert found["recall@5"].min() == 1.0  # what a leak would look like


def test_training_groups_named_like_evaluated_users_are_left_out():
    users = users_with_private_pairs(10)
    training = TrainingBaskets(50, users, users[:4], train_groups=users)
    assert {u.id for u in training.training_users("u0")} == {f"u{i}" for i in range(4, 10)}
    with pytest.raises(InvalidInputError, match="no group besides"):
        TrainingBaskets(50, users, users, train_groups=users)


def test_the_hybrid_finds_what_other_groups_hold_together():
    """Pairs (a, b) that many other users hold: a user holding a finds b though content is blind."""
    n = 40
    others = [User(id=f"o{u}", items=(2 * (u % 10), 2 * (u % 10) + 1, 30 + u % 7)) for u in range(60)]
    evaluated = [User(id=f"e{p}", items=(2 * p, 2 * p + 1, 21, 22, 23)) for p in range(10)]
    vectors = np.ones((n, 4), np.float32) / 2
    training = TrainingBaskets(n, others + evaluated, evaluated, train_groups=others)
    splits = [[s for s in random_holdout(evaluated, 0, fraction=0.2) if any(i < 20 for i in s.held_out)]]
    metrics = evaluate_holdout(vectors, splits, HybridScorer(SoftMaxScorer()), training=training)
    assert metrics["hit@5"].mean() == 1.0
