"""Logistic regression: the hand-derived gradient is right, and training separates what it can."""

import numpy as np
import pytest

from phase00.derivatives import central_difference, numerical_gradient, relative_error
from phase00.probability import cross_entropy_from_logits
from phase01.activations import sigmoid
from phase01.logistic_regression import (
    LOSS_CEILING,
    accuracy,
    bce_gradients,
    bce_loss,
    first_epoch_all_right,
    fit,
    main,
    make_blobs,
    predict_proba,
    score_gradients,
    two_step_cycle,
)
from phase01.perceptron import GATES, X_GATE
from tests.scripts import refused


def separable_data(rng: np.random.Generator, n: int = 200,
                   gap: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Points labelled by the side of a tilted line, none closer to it than `gap`."""
    u = np.array([0.6, -0.8])  # unit normal of the line u . x = 0.7
    X = rng.uniform(-3, 3, size=(4 * n, 2))
    distance = X @ u - 0.7
    keep = np.abs(distance) > gap
    X, distance = X[keep][:n], distance[keep][:n]
    return X, (distance > 0).astype(float)


def test_gradient_matches_finite_differences(rng: np.random.Generator) -> None:
    X, y = make_blobs(30, 2.0, rng)
    w, b = rng.normal(size=2), 0.3
    dL_dw, dL_db = bce_gradients(X, y, w, b)
    num_w = numerical_gradient(lambda w_: bce_loss(X, y, w_, b), w)
    num_b = numerical_gradient(lambda b_: bce_loss(X, y, w, float(b_[0])), np.array([b]))
    assert dL_dw.dtype == np.float64
    assert relative_error(dL_dw, num_w) < 1e-6
    assert relative_error(np.array([dL_db]), num_b) < 1e-6


def test_the_gradient_check_catches_a_wrong_gradient(rng: np.random.Generator) -> None:
    """Forgetting the 1/N, or the sign, would fail the same check."""
    X, y = make_blobs(30, 2.0, rng)
    w, b = rng.normal(size=2), 0.3
    dL_dw, _ = bce_gradients(X, y, w, b)
    num_w = numerical_gradient(lambda w_: bce_loss(X, y, w_, b), w)
    assert relative_error(dL_dw * len(y), num_w) > 1e-2
    assert relative_error(-dL_dw, num_w) > 1e-2


def test_loss_matches_the_textbook_formula_and_softmax_cross_entropy(
        rng: np.random.Generator) -> None:
    X, y = make_blobs(10, 2.0, rng)
    w, b = np.array([0.4, -0.7]), 0.2
    p = predict_proba(X, w, b)
    textbook = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert bce_loss(X, y, w, b) == pytest.approx(textbook, rel=1e-12)
    # Sigmoid is a softmax over the two scores [0, z]: the losses agree.
    z = X @ w + b
    two_class = cross_entropy_from_logits(np.column_stack([np.zeros_like(z), z]),
                                          y.astype(int))
    assert bce_loss(X, y, w, b) == pytest.approx(two_class, rel=1e-12)


def test_loss_is_finite_for_confidently_wrong_predictions() -> None:
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    y = np.array([0.0, 1.0])
    w = np.array([1000.0, 0.0])  # z = +-1000: p rounds to exactly 1 and 0, both wrong
    assert bce_loss(X, y, w, 0.0) == pytest.approx(1000.0)


@pytest.mark.parametrize("y", [0.0, 1.0])
@pytest.mark.parametrize("z", [-10.0, -5.0, -2.0, 0.0, 2.0, 5.0])
def test_score_gradients_match_finite_differences(z: float, y: float) -> None:
    """Both slopes of the comparison, checked like every other gradient of the course."""
    g_ce, g_se = score_gradients(np.array(z), y)
    ce = central_difference(lambda s: float(np.logaddexp(0.0, s) - y * s), z)
    se = central_difference(lambda s: float((sigmoid(np.array(s)) - y) ** 2), z)
    assert g_ce == pytest.approx(ce, rel=1e-7, abs=1e-10)
    assert g_se == pytest.approx(se, rel=1e-6, abs=1e-10)


def test_squared_error_barely_pushes_a_confidently_wrong_sigmoid() -> None:
    """At z = -10 with y = 1, p = 4.5e-5: cross-entropy pushes with -1, squared error with -9e-5."""
    g_ce, g_se = score_gradients(np.array(-10.0), 1.0)
    assert g_ce == pytest.approx(-0.999955, abs=1e-6)
    assert g_se == pytest.approx(-0.000091, abs=1e-6)
    assert abs(g_ce) > 10_000 * abs(g_se)
    # Squared error's push is largest for a neuron that is unsure, not for one that is wrong.
    zs = np.linspace(-10, 0, 101)
    assert zs[np.argmax(np.abs(score_gradients(zs, 1.0)[1]))] > -2


def test_zero_weights_give_ln2() -> None:
    X, y = np.ones((4, 2)), np.array([0.0, 1.0, 1.0, 0.0])
    assert bce_loss(X, y, np.zeros(2), 0.0) == pytest.approx(np.log(2))


def test_separable_data_is_classified_perfectly(rng: np.random.Generator) -> None:
    X, y = separable_data(rng)
    assert 0 < y.mean() < 1
    model = fit(X, y, lr=1.0, epochs=500)
    assert accuracy(X, y, model.w, model.b) == 1.0
    assert model.accuracies[-1] == 1.0
    assert model.losses[-1] < 0.1 * model.losses[0]


def test_weights_keep_growing_on_separable_data(rng: np.random.Generator) -> None:
    """With no error left to fix, descent sharpens the sigmoid forever: |w| keeps rising."""
    X, y = separable_data(rng)
    model = fit(X, y, lr=1.0, epochs=2000)
    norms = np.array(model.weight_norms)
    assert norms[2000] > norms[1000] > norms[500]
    assert np.all(np.diff(model.losses) < 0)


def test_small_steps_never_go_uphill(rng: np.random.Generator) -> None:
    """With lr = 1/L, L = largest eigenvalue of X1^T X1 / (4N), each step lowers the loss."""
    X, y = make_blobs(50, 1.0, rng)  # overlapping: a genuine minimum exists
    X1 = np.column_stack([X, np.ones(len(X))])
    L = np.linalg.eigvalsh(X1.T @ X1).max() / (4 * len(X))
    model = fit(X, y, lr=1.0 / L, epochs=300)
    assert np.all(np.diff(model.losses) <= 1e-15)
    assert 0.6 < model.accuracies[-1] < 1.0  # better than chance, but the blobs overlap


def test_frozen_bias_stays_zero(rng: np.random.Generator) -> None:
    X, y = make_blobs(40, 3.0, rng)
    free, frozen = fit(X, y, 0.5, 200), fit(X, y, 0.5, 200, use_bias=False)
    assert frozen.b == 0.0 and free.b != 0.0
    assert frozen.losses[-1] > free.losses[-1]  # the blobs are not centred on the origin


def test_blobs_have_the_promised_shape(rng: np.random.Generator) -> None:
    X, y = make_blobs(25, 4.0, rng)
    assert X.shape == (50, 2) and y.shape == (50,)
    assert set(np.unique(y)) == {0.0, 1.0} and y.sum() == 25
    gap = X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0)
    assert np.linalg.norm(gap) == pytest.approx(4.0, abs=0.8)


def test_shape_errors_name_the_expected_shape() -> None:
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        bce_loss(X, np.zeros(4), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match=r"w must have shape \(2,\)"):
        bce_gradients(X, np.zeros(5), np.zeros(3), 0.0)


def test_main_runs_and_writes_its_figure(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--epochs", "50", "--separation", "6", "--seed", "3"])
    out = capsys.readouterr().out
    err = float(out.split("relative error = ")[1].split()[0])
    assert err < 1e-6
    assert "dL/dz = dL/dp * dp/dz" in out
    assert [p.name for p in figures_dir.iterdir()] == ["logistic_regression.png"]


def test_main_no_bias(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--epochs", "20", "--no-bias", "--lr", "0.1"])
    assert "bias frozen at 0" in capsys.readouterr().out


def test_xor_leaves_logistic_regression_stuck_at_its_start() -> None:
    """At w = 0, b = 0 the XOR corners' gradients cancel: convexity makes that the best line."""
    X, y = X_GATE, GATES["xor"]
    dL_dw, dL_db = bce_gradients(X, y, np.zeros(2), 0.0)
    np.testing.assert_array_equal(dL_dw, [0.0, 0.0])
    assert dL_db == 0.0
    model = fit(X, y, lr=0.5, epochs=100)
    assert model.losses[-1] == pytest.approx(np.log(2))
    # Any other line does worse: the loss is convex and its gradient vanishes at the start.
    for w, b in (([1.0, 1.0], -1.0), ([0.3, -0.2], 0.1), ([-2.0, 2.0], 0.0)):
        assert bce_loss(X, y, np.array(w), b) > np.log(2)


def test_main_on_xor(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--data", "xor", "--epochs", "10"])
    out = capsys.readouterr().out
    assert "accuracy 50.0% (2/4)" in out and "descent\n   never moves" in out


@pytest.fixture
def small_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine of 16 GiB, whatever runs the tests, so the memory refusals are the same
    everywhere."""
    monkeypatch.setattr("phase00.flags.machine_memory_bytes", lambda: 16 * 2**30)



def test_too_long_a_step_ends_in_a_two_step_bounce() -> None:
    """--lr 20 on the default blobs: the loss never settles, it alternates 0.3086 / 0.5155."""
    X, y = make_blobs(100, 3.0, np.random.default_rng(0))
    model = fit(X, y, lr=20.0, epochs=300)
    start = two_step_cycle(model.losses)
    assert start is not None and 20 <= start <= 100
    assert sorted(np.round(model.losses[-2:], 4)) == [0.3086, 0.5155]
    assert two_step_cycle(fit(X, y, lr=0.5, epochs=300).losses) is None  # the default settles


def test_main_says_when_the_loss_alternates(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--lr", "20", "--epochs", "120"])
    out = capsys.readouterr().out
    assert "epoch   119: loss 0.3086" in out and "epoch   120: loss 0.5155" in out
    assert "the loss alternates 0.3086, 0.5155, 0.3086, ..." in out and "never settles" in out


def test_separable_blobs_are_all_right_from_the_second_epoch() -> None:
    X, y = make_blobs(100, 8.0, np.random.default_rng(0))
    model = fit(X, y, lr=0.5, epochs=20)
    assert model.accuracies[:3] == [0.5, 0.99, 1.0]
    assert first_epoch_all_right(model.accuracies) == 2
    assert first_epoch_all_right([0.5, 1.0, 0.99]) is None


def test_a_huge_learning_rate_stops_in_one_line(figures_dir, capsys) -> None:
    last = refused(main, ["--out", str(figures_dir), "--lr", "1e300"], capsys, 1)
    assert last.startswith("error: the loss became 2.035e+299 at epoch 1")
    assert "try a smaller --lr" in last and len(last) < 200
    assert not list(figures_dir.iterdir())
    X, y = make_blobs(100, 3.0, np.random.default_rng(0))
    with pytest.raises(FloatingPointError):
        fit(X, y, lr=1e308, epochs=5)
    assert max(fit(X, y, lr=20.0, epochs=30).losses) < LOSS_CEILING  # a bounce is not a blow-up


@pytest.mark.usefixtures("small_machine")
@pytest.mark.parametrize("flags, fragment", [
    (["--n-samples", "100000000"], "--n-samples 100000000 with --epochs 300 needs about"),
    (["--epochs", "10000000"], "would take about 25 minutes"),
    (["--n-samples", "10000000"], "would take about 15 minutes"),
])
def test_sizes_that_cannot_fit_or_finish_are_refused(flags: list[str], fragment: str,
                                                     figures_dir, capsys) -> None:
    assert fragment in refused(main, ["--out", str(figures_dir), *flags], capsys, 2)
