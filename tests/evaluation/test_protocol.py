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


@pytest.mark.parametrize("spec", ["mean", "softmax:0.2", "max"])
def test_batched_scoring_gives_the_one_by_one_results(spec):
    from vlm4rec_agent.evaluation.batched import batch_scores
    from vlm4rec_agent.evaluation.data import User
    from vlm4rec_agent.evaluation.splits import random_holdout
    from vlm4rec_agent.scoring import parse_scorer

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((12, 16))
    labels = rng.integers(0, 12, 400)
    vectors = centres[labels] + 0.6 * rng.standard_normal((400, 16))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    users = [User(f"u{n}", tuple(rng.choice(400, rng.integers(4, 15), replace=False).tolist())) for n in range(300)]
    split_sets = [random_holdout(users, seed) for seed in range(2)]
    scorer = parse_scorer(spec)
    one = [scorer.score(vectors[s.profile], np.zeros((0, 16)), vectors) for s in split_sets[0][:5]]
    many = batch_scores(scorer, vectors, [s.profile for s in split_sets[0][:5]])
    assert np.allclose(np.stack(one), many, atol=1e-5)
    loop = evaluate_holdout(vectors, split_sets, scorer, batched=False)
    batched = evaluate_holdout(vectors, split_sets, scorer, batched=True)
    for name in loop:  # rankings may differ only where two scores tie to float precision
        assert np.allclose(loop[name].mean(), batched[name].mean(), atol=2e-3), name
