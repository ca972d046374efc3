"""The gradient checker passes correct backward passes, catches wrong ones, and leaves the
model exactly as it found it."""

import numpy as np
import pytest

from phase02.gradcheck import (
    BUGS,
    BiasMeanDense,
    ForgottenBiasDense,
    TanhSlopeFromInputActivation,
    check_gradients,
    gradcheck_layer,
    gradcheck_model,
    gradient_error,
    main,
    verdict,
)
from phase02.layers import Dense, SoftmaxCrossEntropy, build_mlp


def test_generic_helper_on_a_function_of_params(rng: np.random.Generator) -> None:
    """L(A, c) = sum((A @ v) ** 2) + sum(c ** 3): gradients known in closed form."""
    A, c, v = rng.normal(size=(3, 4)), rng.normal(size=2), rng.normal(size=4)
    params = {"A": A, "c": c}

    def loss() -> float:
        return float(np.sum((params["A"] @ v) ** 2) + np.sum(params["c"] ** 3))

    good = {"A": 2 * np.outer(A @ v, v), "c": 3 * c**2}
    assert max(check_gradients(loss, params, good).values()) < 1e-8
    bad = {"A": good["A"], "c": 2 * c**2}
    errors = check_gradients(loss, params, bad)
    assert errors["A"] < 1e-8 and errors["c"] > 0.1


def test_generic_helper_measures_with_the_callers_h_and_a_copy_of_the_gradients() -> None:
    """L = c^3 at c = 1 with h = 0.1: the central difference is (1.1^3 - 0.9^3) / 0.2 = 3.01,
    not the 3.0 of a smaller step. And a loss_fn that rewrites grads in place, as a backward
    pass does, must not change the gradient being judged: it is copied before any nudge."""
    params = {"c": np.array([1.0])}
    numeric: dict[str, np.ndarray] = {}
    check_gradients(lambda: float(np.sum(params["c"] ** 3)), params, {"c": np.array([3.0])},
                    h=0.1, numeric=numeric)
    np.testing.assert_allclose(numeric["c"], [3.01], rtol=1e-12)
    grads = {"c": np.array([3.0])}

    def loss_that_rewrites_grads() -> float:
        grads["c"][...] = 0.0
        return float(np.sum(params["c"] ** 3))

    assert check_gradients(loss_that_rewrites_grads, params, grads)["c"] < 1e-8


def test_generic_helper_refuses_float32_and_a_gradient_of_another_shape() -> None:
    """A float32 check would report round-off as an error, and a (3, 1) gradient against a (3,)
    param would broadcast into a (3, 3) comparison that can pass by accident."""
    c32 = {"c": np.array([1.0, 2.0, 3.0], dtype=np.float32)}
    with pytest.raises(TypeError, match="float64"):
        check_gradients(lambda: float(np.sum(c32["c"] ** 2)), c32, {"c": 2 * c32["c"]})
    c = {"c": np.array([1.0, 2.0, 3.0])}
    with pytest.raises(ValueError, match=r"\(3, 1\).*\(3,\)"):
        check_gradients(lambda: float(np.sum(c["c"] ** 2)), c, {"c": 2 * c["c"][:, None]})


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_planted_bug_is_caught(rng: np.random.Generator, bug: str) -> None:
    cls = BUGS[bug]
    layer = cls("tanh") if cls is TanhSlopeFromInputActivation else cls(4, 4, rng)
    errors = gradcheck_layer(layer, rng.normal(size=(5, 4)), rng)
    assert max(errors.values()) > 1e-3


def test_bias_bug_shows_in_b_only(rng: np.random.Generator) -> None:
    errors = gradcheck_layer(BiasMeanDense(3, 2, rng), rng.normal(size=(4, 3)), rng)
    assert errors["b"] > 0.1 and errors["W"] < 1e-6 and errors["x"] < 1e-6


def test_error_measure_ignores_noise_on_tiny_entries_but_not_bugs() -> None:
    a = np.array([1.0, -0.5, 2e-7])
    noisy = a + np.array([1e-11, -1e-11, 1e-11])  # finite-difference round-off
    assert gradient_error(a, noisy) < 1e-10  # phase 00's entrywise measure would say 2.5e-5
    wrong = a * np.array([1.0, 1.0, 1.0])
    wrong[1] = -0.55
    assert gradient_error(a, wrong) > 1e-2
    assert verdict(gradient_error(a, wrong), a, wrong) == "WRONG"
    assert verdict(1e-3, np.array([1e-9]), np.array([2e-9])).startswith("too small to check")


def test_a_gradient_left_at_zero_is_wrong_not_vanished() -> None:
    """A backward pass that never fills a gradient leaves zeros: the size that matters is the
    measured one, which is not small. Judged on the analytic gradient alone, it looked vanished."""
    analytic, numeric = np.zeros(3), np.array([0.4, -1.2, 0.7])
    error = gradient_error(analytic, numeric)
    assert error == 1.0
    assert verdict(error, analytic, numeric) == "WRONG"
    assert verdict(error, numeric, analytic) == "WRONG"  # the other way round, too


def test_forgotten_bias_gradient_is_reported_wrong(rng: np.random.Generator, capsys) -> None:
    errors = gradcheck_layer(ForgottenBiasDense(3, 4, rng), rng.normal(size=(5, 3)), rng,
                             verbose=True)
    assert errors["b"] == 1.0 and errors["W"] < 1e-6 and errors["x"] < 1e-6
    b_line = next(line for line in capsys.readouterr().out.splitlines()
                  if line.strip().startswith("b "))
    assert b_line.rstrip().endswith("WRONG"), b_line
    assert "too small" not in b_line


def test_float32_is_refused(rng: np.random.Generator) -> None:
    with pytest.raises(TypeError, match="float64"):
        gradcheck_layer(Dense(2, 2, rng), rng.normal(size=(3, 2)).astype(np.float32))


def test_checker_restores_params_and_input(rng: np.random.Generator) -> None:
    model = build_mlp([2, 4, 2], "tanh", rng)
    before = {k: v.copy() for k, v in model.params.items()}
    x, y = rng.normal(size=(5, 2)), rng.integers(0, 2, size=5)
    x_before = x.copy()
    gradcheck_model(model, SoftmaxCrossEntropy(), x, y)
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, before[k])
    np.testing.assert_array_equal(x, x_before)
    assert model.layers[0].x is not None and np.array_equal(model.layers[0].x, x)


def test_main_runs_and_catches_the_planted_bug(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir)])
    assert "every gradient agrees" in capsys.readouterr().out
    assert (figures_dir / "gradcheck_step_size.png").is_file()
    main(["--bug", "bias-mean", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "WRONG" in out and "2.b" in out


def test_main_calls_a_forgotten_gradient_wrong(figures_dir, capsys) -> None:
    main(["--bug", "bias-zero", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    b_line = next(line for line in out.splitlines() if line.strip().startswith("2.b "))
    assert b_line.rstrip().endswith("WRONG"), b_line
    assert "too small to check" not in out
    assert "a backward pass is WRONG" in out
