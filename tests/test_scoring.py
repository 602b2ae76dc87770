import math

import numpy as np
import pytest

from vlm4rec_agent.errors import ConfigurationError
from vlm4rec_agent.scoring import (
    HybridScorer,
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
    default = make_scorer(settings)  # chosen in docs/evaluation/recommend.md
    assert isinstance(default, HybridScorer) and isinstance(default.content, SoftMaxScorer)
    assert default.content.temperature == 0.2
    assert make_scorer(settings.model_copy(update={"scorer": "softmax"})).temperature == 0.2
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


SCORER_SPECS = ["mean", "softmax:0.2", "softmax:0.05", "max", "interests"]


def _unit_rows(rng, n: int, dim: int = 12) -> np.ndarray:
    rows = rng.standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("spec", SCORER_SPECS)
@pytest.mark.parametrize("with_dislikes", [False, True])
def test_each_row_of_a_batch_is_that_users_own_score(spec, with_dislikes):
    rng = np.random.default_rng(3)
    scorer = parse_scorer(spec, dislike_weight=0.5)
    candidates = _unit_rows(rng, 40)
    # Users with 1 to 9 likes, and one with none (a search by a shopper who only disliked things).
    liked = [_unit_rows(rng, n) for n in (1, 4, 9, 2, 0, 6)]
    disliked = [_unit_rows(rng, n if with_dislikes else 0) for n in (0, 2, 1, 3, 2, 0)]
    batch = scorer.score_batch(liked, disliked, candidates)
    assert batch.shape == (len(liked), len(candidates))
    for user, (likes, dislikes) in enumerate(zip(liked, disliked)):
        alone = scorer.score(likes, dislikes, candidates)
        # One user's row is computed with the others in the same matrix products: equal up to
        # the float32 rounding of the products' summation order.
        np.testing.assert_allclose(batch[user], alone, rtol=0, atol=1e-5, err_msg=f"user {user}")
        assert alone.tolist() == scorer.score_batch([likes], [dislikes], candidates)[0].tolist()  # exactly
    # The user without likes scores minus the dislike penalty alone, as serving always did.
    np.testing.assert_allclose(batch[4], -dislike_penalty(candidates, disliked[4], 0.5), atol=1e-6)


def test_a_batch_of_no_users_or_no_candidates_is_an_empty_matrix():
    for scorer in (MeanScorer(), SoftMaxScorer(), MaxScorer(), InterestsScorer()):
        assert scorer.score_batch([], [], np.eye(3)).shape == (0, 3)
        assert scorer.score_batch([np.eye(3)[:1]], [np.eye(3)[1:2]], np.zeros((0, 3))).shape == (1, 0)
        with pytest.raises(ValueError, match="2 users' likes but 1"):
            scorer.score_batch([np.eye(3)[:1]] * 2, [np.eye(3)[:0]], np.eye(3))
