import numpy as np
import pytest

from vlm4rec_agent.evaluation.stats import bootstrap, paired


def test_bootstrap_gives_the_mean_inside_its_interval_and_is_reproducible():
    values = np.random.default_rng(1).random(200)
    estimate = bootstrap(values)
    assert estimate.mean == pytest.approx(values.mean())
    assert estimate.low < estimate.mean < estimate.high
    # about two standard errors on either side
    se = values.std(ddof=1) / np.sqrt(len(values))
    assert estimate.high - estimate.low == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert bootstrap(values) == estimate


def test_a_constant_has_no_spread():
    estimate = bootstrap(np.full(50, 0.25))
    assert (estimate.low, estimate.mean, estimate.high) == pytest.approx((0.25, 0.25, 0.25))


def test_paired_comparison_sees_a_small_steady_gain_that_unpaired_intervals_hide():
    rng = np.random.default_rng(7)
    base = rng.random(100)  # users differ a lot...
    better = base + 0.02 + rng.normal(0, 0.005, 100)  # ...but every one gains about 0.02
    a, b = bootstrap(better), bootstrap(base)
    assert a.low < b.high  # the unpaired intervals overlap
    comparison = paired(better, base)
    assert comparison.significant
    assert comparison.difference.mean == pytest.approx(0.02, abs=0.003)
    assert comparison.relative.mean == pytest.approx(better.mean() / base.mean() - 1)
    assert comparison.relative.low > 0


def test_no_difference_is_not_significant():
    rng = np.random.default_rng(3)
    x = rng.random(80)
    assert not paired(x + rng.normal(0, 0.05, 80), x).significant
    with pytest.raises(ValueError):
        paired(x, x[:10])
