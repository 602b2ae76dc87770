"""The hybrid scorer's formula and re-ranking, on numbers small enough to check by hand."""

import numpy as np
import pytest

from vlm4rec_agent.errors import ConfigurationError
from vlm4rec_agent.scoring import HybridScorer, SoftMaxScorer, make_scorer
from vlm4rec_agent.settings import Settings


def test_the_collaborative_part_counts_more_as_evidence_grows():
    scorer = HybridScorer(SoftMaxScorer(), weight=2.5, half=25)
    content = np.zeros((1, 3))
    cf = np.array([[1.0, 1.0, 0.5]])
    evidence = np.array([[25.0, 1.0, 75.0]])
    blended = scorer.blend(content, cf, evidence, np.zeros(3))
    assert blended[0, 0] == pytest.approx(2.5 * 1.0 * 0.5)  # at the half-point: half the weight
    assert blended[0, 1] == pytest.approx(2.5 * 1.0 * 1 / 26)
    assert blended[0, 2] == pytest.approx(2.5 * 0.5 * 0.75)
    # Given a peak over the whole catalog, candidates are scaled by it, not by their own maximum.
    assert scorer.blend(content, cf, evidence, np.zeros(3), peak=2.0)[0, 0] == pytest.approx(2.5 * 0.5 * 0.5)


def test_no_evidence_leaves_the_content_score():
    scorer = HybridScorer(SoftMaxScorer())
    content = np.array([[0.3, 0.7]])
    assert np.allclose(scorer.blend(content, np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(2)), content)


def test_rerank_pushes_down_types_the_profile_holds_where_baskets_rarely_repeat_them():
    scorer = HybridScorer(SoftMaxScorer(), complement=0.1, diversity=1.0)
    scores = np.array([0.50, 0.48, 0.47])
    kinds = ["bed", "lamp", "dress"]
    vectors = np.eye(3)
    shares = {"bed": 0.0, "dress": 1.0}.get
    order = scorer.rerank(scores, kinds, {"bed", "dress"}, vectors, lambda k: shares(k, 0.5), 3)
    assert order == [1, 2, 0]  # the second bed drops; a second dress (often liked together) does not


def test_rerank_defers_near_duplicates_below_full_relevance():
    scorer = HybridScorer(SoftMaxScorer(), complement=0.0, diversity=0.9)
    twin = np.array([1.0, 0.0])
    vectors = np.array([twin, twin, [0.0, 1.0]])
    order = scorer.rerank(np.array([0.9, 0.89, 0.5]), ["", "", ""], set(), vectors, lambda k: 0.5, 3)
    assert order == [0, 2, 1]


def test_hybrid_is_the_default_and_its_weight_is_checked():
    assert make_scorer(Settings()).name == "hybrid"
    assert make_scorer(Settings(), "hybrid:1.5").weight == 1.5
    with pytest.raises(ConfigurationError, match="not a number"):
        make_scorer(Settings(), "hybrid:lots")
    with pytest.raises(ConfigurationError, match="0 or more"):
        make_scorer(Settings(), "hybrid:-1")
    assert {make_scorer(Settings(), name).name for name in ("mean", "softmax", "cooccurrence", "popularity")} == {
        "mean", "softmax", "cooccurrence", "popularity"}  # fmt: skip
