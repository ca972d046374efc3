"""Finite differences agree with derivatives worked out by hand, to the accuracy theory says."""

import numpy as np
import pytest

from phase00.derivatives import (
    FUNCTIONS,
    RULES,
    central_difference,
    check_rule,
    forward_difference,
    main,
    numerical_gradient,
    paraboloid,
    paraboloid_gradient,
    relative_error,
)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("x", [-1.5, 0.0, 0.7, 2.0])
def test_central_difference_matches_analytic(name: str, x: float) -> None:
    f, df, _ = FUNCTIONS[name]
    assert central_difference(f, x, 1e-5) == pytest.approx(df(x), rel=1e-8, abs=1e-9)


def test_forward_error_is_order_h_and_central_is_order_h_squared() -> None:
    f, df = np.sin, np.cos
    x = 1.0
    fwd = [abs(forward_difference(f, x, h) - df(x)) for h in (1e-2, 1e-3)]
    ctr = [abs(central_difference(f, x, h) - df(x)) for h in (1e-2, 1e-3)]
    assert fwd[0] / fwd[1] == pytest.approx(10, rel=0.05)  # h / 10 -> error / 10
    assert ctr[0] / ctr[1] == pytest.approx(100, rel=0.05)  # h / 10 -> error / 100


def test_tiny_h_is_ruined_by_round_off() -> None:
    good = abs(central_difference(np.sin, 1.0, 1e-5) - np.cos(1.0))
    tiny = abs(central_difference(np.sin, 1.0, 1e-13) - np.cos(1.0))
    assert tiny > 100 * good


def test_numerical_gradient_of_paraboloid() -> None:
    v = np.array([2.0, -1.0])
    assert relative_error(numerical_gradient(paraboloid, v), paraboloid_gradient(v)) < 1e-9
    # the step h is the caller's: for sum(v^3) at 1, ((1.1)^3 - (0.9)^3) / 0.2 = 3.01, not 3
    cubed = numerical_gradient(lambda v: float(np.sum(v**3)), np.array([1.0]), h=0.1)
    np.testing.assert_allclose(cubed, [3.01], rtol=1e-12)


def test_numerical_gradient_nudges_a_copy_not_the_callers_array() -> None:
    """f reads the caller's array c while the gradient is measured: f(v) = v . c at v = c. The
    nudges go to a copy, so c stays [1, 2] throughout and the gradient is c itself."""
    c = np.array([1.0, 2.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: float(v @ c), c), [1.0, 2.0],
                               rtol=1e-9)


def test_numerical_gradient_of_a_matrix_function(rng: np.random.Generator) -> None:
    """For f(W) = sum((W x)^2), the gradient is 2 (W x) x^T: a shape-(3, 4) gradient."""
    W, x = rng.normal(size=(3, 4)), rng.normal(size=4)

    def f(W_: np.ndarray) -> float:
        return float(np.sum((W_ @ x) ** 2))

    analytic = 2 * np.outer(W @ x, x)
    before = W.copy()
    numeric = numerical_gradient(f, W)
    assert numeric.shape == W.shape
    assert relative_error(numeric, analytic) < 1e-8
    np.testing.assert_array_equal(W, before)  # the caller's W untouched, not even by a rounding
    # Whole numbers in: the gradient of sum(v^2) at (1, 2, 3) is (2, 4, 6). An integer array
    # cannot hold x + h, so the nudges need a float copy.
    np.testing.assert_allclose(numerical_gradient(lambda v: float(np.sum(v**2)),
                                                  np.array([1, 2, 3])), [2.0, 4.0, 6.0],
                               rtol=1e-8)


def test_relative_error_is_scale_free() -> None:
    assert relative_error(np.array([1e6]), np.array([1e6 + 1])) == pytest.approx(5e-7, rel=1e-3)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("x", [0.3, 1.5, 2.7])
def test_every_rule_of_calculus_agrees_with_central_differences(name: str, x: float) -> None:
    by_rule, measured, err = check_rule(name, x)
    assert by_rule == pytest.approx(measured, rel=1e-8, abs=1e-9)
    assert err < 1e-7


def test_rules_give_known_values() -> None:
    """Slopes a learner can check with pencil and paper."""
    assert check_rule("power", 2.0)[0] == 12.0  # 3 * 2^2
    assert check_rule("sum, constant", 1.5)[0] == 17.0  # 8 * 1.5 + 5
    assert check_rule("logarithm", 2.0)[0] == 0.5
    assert check_rule("exponential", 0.0)[0] == 1.0
    assert check_rule("reciprocal", 1.0)[0] == -0.5  # -2 / 2^2
    assert check_rule("chain", 0.0)[0] == 0.0
    assert check_rule("product", np.pi / 2)[0] == pytest.approx(np.pi)  # 2x sin x at pi/2


def test_a_misremembered_rule_fails_the_check() -> None:
    """(f g)' = f' g' is a classic mistake: for x^2 sin x it gives 2x cos x, far from the truth."""
    _, f, _, _ = RULES["product"]
    x = 1.5
    wrong = 2 * x * np.cos(x)
    assert relative_error(np.array(wrong), np.array(central_difference(f, x))) > 0.1


def test_main_prints_the_table_of_rules(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "4. The rules of calculus this course uses" in out
    for name in RULES:
        assert f"   {name:14s} " in out


def test_main_runs_and_writes_figures(figures_dir, capsys) -> None:
    main(["--function", "cube", "--x", "2", "--out", str(figures_dir)])
    assert "analytic f'(x)      = 12.0000000000" in capsys.readouterr().out
    assert len(list(figures_dir.glob("*.png"))) == 2
