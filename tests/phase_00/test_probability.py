"""Softmax, cross-entropy, entropy, log-sum-exp and sampling against known values."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from phase00.probability import (
    cross_entropy,
    cross_entropy_from_logits,
    entropy,
    log_softmax,
    logsumexp,
    main,
    mean,
    normal_pdf,
    normal_within,
    sample,
    softmax,
    softmax_naive,
    softmax_with_temperature,
    std,
    variance,
)

finite_logits = arrays(np.float64, st.integers(1, 12),
                       elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))


def test_softmax_known_value() -> None:
    np.testing.assert_allclose(softmax(np.array([1.0, 2.0, 3.0])),
                               [0.09003057, 0.24472847, 0.66524096], atol=1e-8)


def test_softmax_survives_huge_scores_where_naive_overflows() -> None:
    z = np.array([1000.0, 1001.0, 1002.0])
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(softmax_naive(z)).all()
    np.testing.assert_allclose(softmax(z), softmax(z - 1000.0), atol=1e-15)


@given(finite_logits)
def test_softmax_is_a_distribution_and_shift_invariant(z: np.ndarray) -> None:
    p = softmax(z)
    assert np.all(p >= 0) and np.isclose(p.sum(), 1.0)
    np.testing.assert_allclose(softmax(z + 123.0), p, atol=1e-12)


def test_softmax_rows_of_a_batch() -> None:
    Z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    P = softmax(Z, axis=-1)
    np.testing.assert_allclose(P[1], [1 / 3] * 3)
    np.testing.assert_allclose(P.sum(axis=1), [1.0, 1.0])
    # each row shifted by its OWN maximum: one maximum for the whole array would leave the
    # second row as exp(-1000) and exp(-999), both 0, and 0 / 0
    far = softmax(np.array([[0.0, 1.0], [-1000.0, -999.0]]), axis=-1)
    np.testing.assert_allclose(far, [[0.268941, 0.731059]] * 2, atol=1e-6)
    # float32 scores give float32 probabilities (a float64 copy would double every later array)
    assert softmax(np.array([1.0, 2.0], dtype=np.float32)).dtype == np.float32
    # axis=0: each COLUMN is a distribution
    np.testing.assert_allclose(softmax(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0),
                               [[0.11920292, 0.11920292], [0.88079708, 0.88079708]], rtol=1e-7)


def test_temperature_limits() -> None:
    z = np.array([2.0, 1.0, 0.1])
    np.testing.assert_allclose(softmax_with_temperature(z, 1.0), softmax(z))
    np.testing.assert_allclose(softmax_with_temperature(z, 1e-3), [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(softmax_with_temperature(z, 1e6), [1 / 3] * 3, atol=1e-6)
    assert entropy(softmax_with_temperature(z, 0.5)) < entropy(softmax(z)) < entropy(
        softmax_with_temperature(z, 2.0))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        softmax_with_temperature(z, 0.0)


def test_cross_entropy_known_value() -> None:
    assert cross_entropy(np.array([0.7, 0.2, 0.1]), 0) == pytest.approx(0.35667494, abs=1e-8)


def test_cross_entropy_batch_is_mean_of_rows() -> None:
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    expected = -(np.log(0.7) + np.log(0.8)) / 2
    assert cross_entropy(P, np.array([0, 2])) == pytest.approx(expected)


@given(finite_logits, st.data())
def test_cross_entropy_from_logits_matches_probabilities(z: np.ndarray,
                                                         data: st.DataObject) -> None:
    t = data.draw(st.integers(0, len(z) - 1))
    p_t = softmax(z)[t]
    if p_t > 1e-300:  # where log(p) is representable, the two routes agree
        assert cross_entropy_from_logits(z, t) == pytest.approx(-np.log(p_t), rel=1e-9, abs=1e-9)
    assert np.isfinite(cross_entropy_from_logits(z, t))


def test_cross_entropy_of_a_batch_is_the_mean_over_its_rows() -> None:
    """Three rows of scores and their targets: the mean of the three losses, not their sum."""
    Z = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0], [-1.0, 3.0, 0.5]])
    t = np.array([0, 2, 1])
    rows = [-np.log(softmax(z)[k]) for z, k in zip(Z, t, strict=True)]
    assert cross_entropy_from_logits(Z, t) == pytest.approx(np.mean(rows), rel=1e-12)
    # Each row is normalised by its OWN log-sum-exp (keepdims): two targets in one column, and
    # more rows than classes, catch a (N,) log-sum-exp broadcast along the wrong axis.
    assert cross_entropy_from_logits(Z, np.array([0, 0, 1])) == pytest.approx(0.5371055447867753)
    Z2 = np.array([[0.0, 2.0], [1.0, 1.0], [3.0, -1.0]])
    rows = [-np.log(softmax(z)[k]) for z, k in zip(Z2, [1, 0, 0], strict=True)]
    assert cross_entropy_from_logits(Z2, np.array([1, 0, 0])) == pytest.approx(np.mean(rows))


def test_cross_entropy_rejects_bad_targets() -> None:
    with pytest.raises(ValueError, match=r"target indices must lie in \[0, 2\]"):
        cross_entropy(np.array([0.7, 0.2, 0.1]), 3)
    with pytest.raises(ValueError, match=r"target must have shape \(2,\)"):
        cross_entropy_from_logits(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="integer class indices"):
        cross_entropy(np.array([0.7, 0.3]), np.array(0.5))


def test_entropy_known_values() -> None:
    assert entropy(np.array([1.0, 0.0, 0.0])) == 0.0
    assert entropy(np.full(4, 0.25)) == pytest.approx(np.log(4))
    assert entropy(np.array([0.5, 0.5])) == pytest.approx(np.log(2))


@given(finite_logits)
def test_logsumexp_and_log_softmax(z: np.ndarray) -> None:
    if np.all(np.abs(z) < 300):  # where exp neither overflows nor loses digits, compare
        naive = np.log(np.exp(z).sum())
        assert logsumexp(z) == pytest.approx(naive, rel=1e-12, abs=1e-12)
    assert np.isfinite(logsumexp(z))
    np.testing.assert_allclose(np.exp(log_softmax(z)), softmax(z), atol=1e-12)


def test_logsumexp_keeps_dims() -> None:
    Z = np.array([[1000.0, 1000.0], [0.0, 0.0]])
    np.testing.assert_allclose(logsumexp(Z, axis=1), [1000 + np.log(2), np.log(2)])
    assert logsumexp(Z, axis=1, keepdims=True).shape == (2, 1)
    # axis=0 reduces the columns; only the reduced axis is dropped, never another of size 1
    np.testing.assert_allclose(logsumexp(np.array([[0.0, 0.0], [1.0, 1.0]]), axis=0),
                               [1.31326169, 1.31326169], rtol=1e-7)
    assert logsumexp(np.zeros((1, 3)), axis=1).shape == (1,)


def test_sampling_frequencies_match_probabilities(rng: np.random.Generator) -> None:
    p = np.array([0.5, 0.3, 0.2, 0.0])
    draws = sample(p, 200_000, rng)
    freq = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(freq, p, atol=0.005)
    assert freq[3] == 0.0  # a class with probability 0 is never drawn


class Fixed:
    """A stand-in generator whose `random(n)` returns the numbers it was given."""

    def __init__(self, *u: float) -> None:
        self.u = np.array(u)

    def random(self, n: int) -> np.ndarray:
        return self.u[:n]


def test_sampling_at_the_edges_of_the_pieces() -> None:
    """u exactly on a piece's left edge belongs to that piece, so a class of probability 0 (a
    piece of no width) is never drawn, even first; u just below 1 stays a valid class even when
    the cumulative sum ends a hair below 1 (ten times 0.1 sums to 0.9999999999999999)."""
    np.testing.assert_array_equal(sample(np.array([0.0, 0.5, 0.5]), 2, Fixed(0.0, 0.5)), [1, 2])
    last = np.nextafter(1.0, 0.0)
    np.testing.assert_array_equal(sample(np.full(10, 0.1), 1, Fixed(last)), [9])


def test_sampling_draws_from_the_generator_given() -> None:
    """The same seed gives the same draws, another seed others: the randomness comes from rng,
    so a run can be repeated exactly."""
    p = np.array([0.25, 0.25, 0.25, 0.25])
    runs = [sample(p, 50, np.random.default_rng(seed)) for seed in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_sampling_rejects_non_distributions(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="summing to 1"):
        sample(np.array([0.5, 0.6]), 10, rng)


def test_mean_variance_std_known_values() -> None:
    """The textbook example: eight numbers with mean 5, variance 4, standard deviation 2."""
    x = np.array([2.0, 4, 4, 4, 5, 5, 7, 9])
    assert mean(x) == 5.0
    assert variance(x) == 4.0
    assert std(x) == 2.0
    assert variance(np.full(7, 3.0)) == 0.0  # no spread at all


@given(arrays(np.float64, st.integers(1, 50), elements=st.floats(-1e3, 1e3)),
       st.floats(-10, 10), st.floats(-100, 100))
def test_statistics_match_numpy_and_scale_as_expected(x: np.ndarray, a: float, c: float) -> None:
    assert mean(x) == pytest.approx(np.mean(x), abs=1e-9)
    assert variance(x) == pytest.approx(np.var(x), rel=1e-9, abs=1e-9)
    assert std(x) == pytest.approx(np.std(x), rel=1e-9, abs=1e-9)
    # Shifting moves the mean and leaves the spread; scaling by a scales the std by |a|.
    assert mean(a * x + c) == pytest.approx(a * mean(x) + c, rel=1e-9, abs=1e-6)
    assert std(a * x + c) == pytest.approx(abs(a) * std(x), rel=1e-6, abs=1e-6)


def test_normal_pdf_known_values_and_area() -> None:
    assert normal_pdf(np.array(0.0)) == pytest.approx(0.3989422804, abs=1e-10)  # 1/sqrt(2 pi)
    assert normal_pdf(np.array(1.5), 1.5, 2.0) == pytest.approx(0.3989422804 / 2, abs=1e-10)
    assert normal_pdf(np.array(-1.0)) == normal_pdf(np.array(1.0))  # symmetric
    xs = np.linspace(-20, 24, 200_001)
    assert np.trapezoid(normal_pdf(xs, 2.0, 3.0), xs) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        normal_pdf(np.array(0.0), sigma=0.0)


def test_the_68_95_997_rule() -> None:
    assert normal_within(1) == pytest.approx(0.6826894921, abs=1e-8)
    assert normal_within(2) == pytest.approx(0.9544997361, abs=1e-8)
    assert normal_within(3) == pytest.approx(0.9973002039, abs=1e-8)


def test_normal_samples_have_the_asked_mean_spread_and_shape(rng: np.random.Generator) -> None:
    draws = rng.normal(1.5, 2.0, size=200_000)
    assert mean(draws) == pytest.approx(1.5, abs=0.02)
    assert std(draws) == pytest.approx(2.0, abs=0.02)
    assert np.mean(np.abs(draws - 1.5) < 2.0) == pytest.approx(normal_within(1), abs=0.005)


def test_spread_of_a_sum_grows_like_the_square_root_of_its_length(
        rng: np.random.Generator) -> None:
    """Variances of independent terms add: 256 terms of std 1 sum to std sqrt(256) = 16."""
    sums = rng.normal(size=(20_000, 256)).sum(axis=1)
    assert std(sums) == pytest.approx(16.0, rel=0.03)


def test_main_prints_statistics(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--samples", "1000"])
    out = capsys.readouterr().out
    assert "variance            = 32 / 8 = 4" in out
    assert "standard deviation  = sqrt(4) = 2" in out
    assert "(the area under the curve: 0.6827)" in out


def test_main_runs_and_writes_figures(figures_dir, capsys) -> None:
    main(["--logits", "1", "2", "3", "--out", str(figures_dir), "--samples", "1000"])
    out = capsys.readouterr().out
    assert "0.09003057 0.24472847 0.66524096" in out
    assert {p.name for p in figures_dir.iterdir()} == {"softmax_temperature.png",
                                                       "cross_entropy_surprise.png"}


def test_temperature_table_never_rounds_a_probability_to_zero(figures_dir, capsys) -> None:
    """At T = 0.1 the losers keep a tiny share (e^-10 and e^-19 of the leader's), shown as such."""
    main(["--out", str(figures_dir), "--samples", "100"])
    out = capsys.readouterr().out
    assert "T =   0.1: [1.0000 4.54e-05 5.60e-09]" in out
