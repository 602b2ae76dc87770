import numpy as np
import pytest

from vlm4rec_agent.evaluation.protocol import evaluate_holdout, evaluate_queries, top_k
from vlm4rec_agent.evaluation.splits import Split
from vlm4rec_agent.scoring import MaxScorer, MeanScorer


def test_top_k_is_best_first_with_ties_to_the_lower_index():
    scores = np.array([0.1, 0.9, 0.5, 0.9, -np.inf])
    assert top_k(scores, 3).tolist() == [1, 3, 2]
    assert top_k(scores, 10).tolist() == [1, 3, 2, 0, 4]


def _two_clusters():
    # Items 0-3 point one way, items 4-7 another; 8 sits between them.
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    rows = [a + 0.01 * i * b for i in range(4)] + [b + 0.01 * i * a for i in range(4)] + [a + b]
    return np.array([r / np.linalg.norm(r) for r in rows], dtype=np.float32)


def test_profile_items_are_never_recommended_and_the_held_out_item_is_found():
    vectors = _two_clusters()
    split = Split("u", profile=np.array([0, 1]), held_out=np.array([2]))
    metrics = evaluate_holdout(vectors, [[split]], MeanScorer(0), ks=(1, 3))
    assert metrics["recall@1"].tolist() == [1.0]  # 2 is nearest once 0 and 1 are excluded


def test_a_profile_spanning_two_clusters_is_blurred_by_the_mean_but_not_by_the_max():
    # The mean of a cluster-A item and a cluster-B item points at item 8, "between" them,
    # which is not what the user held out; the nearest-item scorer finds both halves.
    vectors = _two_clusters()
    split = Split("u", profile=np.array([0, 4]), held_out=np.array([1, 5]))
    mean = evaluate_holdout(vectors, [[split]], MeanScorer(0), ks=(1, 2))
    best = evaluate_holdout(vectors, [[split]], MaxScorer(0), ks=(1, 2))
    assert mean["recall@1"].tolist() == [0.0]
    assert best["recall@2"].tolist() == [1.0]


def test_metrics_are_averaged_over_seeds_per_user():
    vectors = _two_clusters()
    found = Split("u", np.array([0, 1]), np.array([2]))
    missed = Split("u", np.array([0, 1]), np.array([7]))
    metrics = evaluate_holdout(vectors, [[found], [missed]], MeanScorer(0), ks=(1,))
    assert metrics["hit@1"].tolist() == [0.5]
    with pytest.raises(ValueError, match="no users"):
        evaluate_holdout(vectors, [[]], MeanScorer(0))


def test_queries_rank_the_whole_catalog_by_cosine():
    vectors = _two_clusters()
    metrics = evaluate_queries(vectors, vectors[[0]], [np.array([0, 1])], ks=(2,))
    assert metrics["recall@2"].tolist() == [1.0]


def _synthetic():
    """500 items in 20 clusters; 200 users who each like items of two clusters."""
    from vlm4rec_agent.evaluation.data import User
    from vlm4rec_agent.evaluation.splits import random_holdout

    rng = np.random.default_rng(7)
    centres = rng.standard_normal((20, 24))
    labels = rng.integers(0, 20, 500)
    vectors = centres[labels] + 0.5 * rng.standard_normal((500, 24))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    users = []
    for n in range(200):
        pool = np.flatnonzero(np.isin(labels, rng.choice(20, 2, replace=False)))
        users.append(User(f"u{n}", tuple(rng.choice(pool, rng.integers(4, 12), replace=False).tolist())))
    return vectors, [random_holdout(users, seed) for seed in range(2)]


# Recall@10, NDCG@10, Hit@10 of each scorer on _synthetic(), as evaluation/batched.py (the
# re-implementation of the scorers that evaluation used before score_batch) and, for interests,
# the one-user-at-a-time loop computed them.
BEFORE = {
    "mean": (0.23625, 0.121749, 0.34),
    "softmax:0.2": (0.20125, 0.104782, 0.305),
    "max": (0.2225, 0.117292, 0.3225),
    "interests": (0.18625, 0.102189, 0.2725),
}


@pytest.mark.parametrize("spec", list(BEFORE))
def test_evaluation_ranks_with_the_serving_scorer_and_its_results_are_unchanged(spec):
    from vlm4rec_agent.evaluation.protocol import USER_BATCH, rank_users
    from vlm4rec_agent.scoring import parse_scorer

    vectors, split_sets = _synthetic()
    assert len(split_sets[0]) > USER_BATCH  # more than one batch of users
    scorer = parse_scorer(spec)
    metrics = evaluate_holdout(vectors, split_sets, scorer)
    got = tuple(round(float(metrics[f"{m}@10"].mean()), 6) for m in ("recall", "ndcg", "hit"))
    assert got == pytest.approx(BEFORE[spec], abs=2e-6)
    # The same rankings as serving's one-user call, user by user.
    none = np.zeros((0, vectors.shape[1]), np.float32)
    for split, ranked in zip(split_sets[0], rank_users(vectors, split_sets[0], scorer, 20)):
        scores = scorer.score(vectors[split.profile], none, vectors).astype(np.float64)
        scores[split.profile] = -np.inf
        assert ranked.tolist() == top_k(scores, 20).tolist(), split.user
