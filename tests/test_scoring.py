import math

import numpy as np
import pytest

from vlm4rec_agent.errors import ConfigurationError
from vlm4rec_agent.scoring import (
    InterestsScorer,
    MaxScorer,
    MeanScorer,
    Scorer,
    SoftMaxScorer,
    dislike_penalty,
    interest_vectors,
    make_scorer,
    parse_scorer,
)

# Unit vectors in 2-D make every cosine easy to compute by hand.
E1, E2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
DIAG = np.array([1.0, 1.0]) / math.sqrt(2)


def test_mean_scorer_is_cosine_to_the_mean_of_liked_items():
    scorer = MeanScorer(dislike_weight=0)
    liked = np.stack([E1, E2])
    scores = scorer.score(liked, np.zeros((0, 2)), np.stack([E1, DIAG, -E1]))
    # mean (0.5, 0.5) normalised is DIAG: cos(E1, DIAG) = 1/sqrt(2), cos(DIAG, DIAG) = 1
    assert scores == pytest.approx([1 / math.sqrt(2), 1.0, -1 / math.sqrt(2)])
    assert scorer.probes(liked, np.zeros((0, 2))) == pytest.approx(DIAG[None, :])


def test_dislikes_subtract_the_weighted_highest_positive_similarity():
    candidates = np.stack([E1, E2, -E1])
    disliked = np.stack([E1, DIAG])
    # max cos to a disliked item: E1 -> 1, E2 -> 1/sqrt(2), -E1 -> max(-1, -0.71) clipped to 0
    assert dislike_penalty(candidates, disliked, 0.5) == pytest.approx([0.5, 0.5 / math.sqrt(2), 0.0])
    scores = MeanScorer(dislike_weight=0.5).score(np.stack([E1]), disliked, candidates)
    assert scores == pytest.approx([1 - 0.5, 0 - 0.5 / math.sqrt(2), -1.0])


def test_softmax_scorer_matches_its_formula_and_its_limits():
    liked = np.stack([E1, E2])
    candidate = np.stack([E1])
    t = 0.1
    expected = t * math.log((math.exp(1 / t) + math.exp(0 / t)) / 2)
    got = SoftMaxScorer(dislike_weight=0, temperature=t).score(liked, np.zeros((0, 2)), candidate)
    assert got == pytest.approx([expected])
    # A very low temperature approaches the maximum similarity, a very high one the mean.
    assert SoftMaxScorer(0, 1e-3).score(liked, np.zeros((0, 2)), candidate) == pytest.approx([1.0], abs=1e-2)
    assert SoftMaxScorer(0, 1e3).score(liked, np.zeros((0, 2)), candidate) == pytest.approx([0.5], abs=1e-3)


def test_softmax_probes_each_liked_item_and_is_stable_for_large_values():
    liked = np.stack([E1, E2, DIAG])
    scorer = SoftMaxScorer(0, temperature=1e-4)
    assert scorer.probes(liked, np.zeros((0, 2))).shape == (3, 2)
    assert np.isfinite(scorer.score(liked, np.zeros((0, 2)), np.stack([E1, E2]))).all()


def test_scorers_are_chosen_by_setting(settings):
    assert isinstance(make_scorer(settings), SoftMaxScorer)  # the default, chosen in docs/evaluation.md
    assert make_scorer(settings).temperature == 0.2
    assert isinstance(make_scorer(settings.model_copy(update={"scorer": "mean"})), MeanScorer)
    assert make_scorer(settings.model_copy(update={"scorer": "softmax:0.5"})).temperature == 0.5
    assert isinstance(MeanScorer(), Scorer)
    with pytest.raises(ConfigurationError, match="unknown scorer 'best'"):
        make_scorer(settings.model_copy(update={"scorer": "best"}))


def test_max_scorer_is_the_best_cosine_to_one_liked_item():
    scores = MaxScorer(0).score(np.stack([E1, E2]), np.zeros((0, 2)), np.stack([E1, DIAG, -E1]))
    assert scores == pytest.approx([1.0, 1 / math.sqrt(2), 0.0])


def test_interest_vectors_find_the_groups_in_a_profile():
    a = [np.array([1.0, 0.05 * i, 0]) for i in range(3)]
    b = [np.array([0, 0.05 * i, 1.0]) for i in range(3)]
    liked = np.array([v / np.linalg.norm(v) for v in a + b])
    centres = interest_vectors(liked, 2)
    assert sorted(int(np.argmax(np.abs(c))) for c in centres) == [0, 2]  # one centre per group
    assert np.linalg.norm(centres, axis=1) == pytest.approx([1.0, 1.0])
    scores = InterestsScorer(0).score(liked, np.zeros((0, 3)), np.eye(3))
    assert scores[0] > 0.99 and scores[2] > 0.99 and scores[1] < 0.2


def test_scorer_specs_carry_the_softmax_temperature():
    assert parse_scorer("softmax:0.2").temperature == 0.2
    assert isinstance(parse_scorer("interests"), InterestsScorer)
    for bad in ("softmax:hot", "softmax:0", "max:3", "median"):
        with pytest.raises(ConfigurationError):
            parse_scorer(bad)
