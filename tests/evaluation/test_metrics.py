import math

import pytest

from vlm4rec_agent.evaluation.metrics import all_metrics, dcg, hit_at_k, ndcg_at_k, recall_at_k

RANKED = ["a", "b", "c", "d", "e"]
RELEVANT = {"b", "e", "z"}  # "z" is never ranked


def test_recall_counts_the_share_of_relevant_items_in_the_top_k():
    assert recall_at_k(RANKED, RELEVANT, 1) == 0
    assert recall_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, RELEVANT, 50) == pytest.approx(2 / 3)  # a short ranking is not padded


def test_hit_is_one_when_any_relevant_item_is_in_the_top_k():
    assert hit_at_k(RANKED, RELEVANT, 1) == 0.0
    assert hit_at_k(RANKED, RELEVANT, 2) == 1.0


def test_ndcg_by_hand():
    # hits at ranks 2 and 5: DCG = 1/log2(3) + 1/log2(6); ideal over min(3, 5) = 3 hits.
    dcg5 = 1 / math.log2(3) + 1 / math.log2(6)
    ideal5 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(dcg5 / ideal5)
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(0.47762, abs=1e-5)
    # top 2: one hit at rank 2; the ideal is min(3, 2) = 2 hits.
    assert ndcg_at_k(RANKED, RELEVANT, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))


def test_a_perfect_ranking_scores_one_and_a_useless_one_zero():
    assert ndcg_at_k(["x", "y", "q"], {"x", "y"}, 3) == pytest.approx(1.0)
    assert ndcg_at_k(["q", "r"], {"x"}, 2) == 0.0
    assert dcg([1.0, 1.0]) == pytest.approx(1 + 1 / math.log2(3))


def test_all_metrics_names_each_metric_at_each_k():
    values = all_metrics(RANKED, RELEVANT, ks=(1, 5))
    assert set(values) == {"recall@1", "ndcg@1", "hit@1", "recall@5", "ndcg@5", "hit@5"}
    assert values["recall@5"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("k, relevant", [(0, {"a"}), (5, set())])
def test_meaningless_questions_are_refused(k, relevant):
    with pytest.raises(ValueError):
        recall_at_k(RANKED, relevant, k)
