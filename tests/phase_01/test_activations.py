"""Activations and their derivatives: known values, finite differences, numerical stability."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from phase00.derivatives import central_difference
from phase01.activations import (
    ACTIVATIONS,
    KINKS,
    gelu,
    gelu_exact,
    gelu_grad,
    get_activation,
    main,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    step,
    step_grad,
    tanh,
    tanh_grad,
)

any_floats = arrays(np.float64, st.integers(1, 20),
                    elements=st.floats(-1e308, 1e308, allow_nan=False, allow_infinity=False))


def test_the_fixed_api() -> None:
    """Phase 02 looks activations up by these names and expects (function, derivative)."""
    assert list(ACTIVATIONS) == ["step", "sigmoid", "tanh", "relu", "gelu"]
    assert ACTIVATIONS["sigmoid"] == (sigmoid, sigmoid_grad)
    assert ACTIVATIONS["gelu"] == (gelu, gelu_grad)
    x = np.linspace(-2, 2, 12).reshape(3, 4)
    for name, (f, df) in ACTIVATIONS.items():
        for fn in (f, df):
            out = fn(x)
            assert isinstance(out, np.ndarray) and out.shape == (3, 4), name
            assert out.dtype == np.float64, name


def test_known_values() -> None:
    zero = np.array(0.0)
    assert sigmoid(zero) == 0.5
    assert sigmoid_grad(zero) == 0.25
    assert tanh(zero) == 0.0
    assert tanh_grad(zero) == 1.0
    assert relu_grad(zero) == 0.0  # the documented convention at the kink
    assert step(zero) == 0.0  # fires only when strictly positive
    assert gelu(zero) == 0.0
    assert gelu_grad(zero) == pytest.approx(0.5)
    np.testing.assert_array_equal(relu(np.array([-2.0, 0.0, 3.0])), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(step(np.array([-1e-9, 1e-9])), [0.0, 1.0])
    np.testing.assert_array_equal(step_grad(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 0.0])
    assert float(sigmoid(np.array(2.0))) == pytest.approx(0.8807970779778823, abs=1e-15)


def test_gelu_is_the_tanh_approximation() -> None:
    """GPT-2's GELU(1) is 0.841192 (tanh form); the exact x Phi(x) gives 0.841345."""
    assert float(gelu(np.array(1.0))) == pytest.approx(0.8411919906, abs=1e-9)
    assert float(gelu_exact(np.array(1.0))) == pytest.approx(0.8413447461, abs=1e-9)
    x = np.linspace(-6, 6, 1201)
    gap = np.abs(gelu(x) - gelu_exact(x))
    assert 1e-4 < gap.max() < 5e-4  # close, but measurably not the same function


def test_integers_are_accepted() -> None:
    np.testing.assert_array_equal(relu(np.array([-1, 2])), [0.0, 2.0])
    assert sigmoid(np.array([0])).dtype == np.float64


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_derivative_matches_central_differences(name: str) -> None:
    f, df = ACTIVATIONS[name]
    x = np.linspace(-6, 6, 241) + 0.0123  # a grid that never lands on 0 exactly
    x = x[np.all([np.abs(x - k) > 1e-3 for k in KINKS.get(name, ())], axis=0)]
    numeric = central_difference(f, x, 1e-6)
    np.testing.assert_allclose(df(x), numeric, rtol=1e-6, atol=1e-9)


def test_the_derivative_check_can_fail() -> None:
    """The same check rejects a plausible wrong derivative (sigmoid' without the (1 - s))."""
    x = np.linspace(-3, 3, 50) + 0.01
    wrong = sigmoid(x)
    assert not np.allclose(wrong, central_difference(sigmoid, x, 1e-6), rtol=1e-6, atol=1e-9)


@given(any_floats)
def test_sigmoid_never_overflows(x: np.ndarray) -> None:
    # Overflow, 0/0 and division by zero raise. Underflow (e^-1000 -> 0.0) is harmless.
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(x)
        ds = sigmoid_grad(x)
    assert np.all((s >= 0) & (s <= 1))
    assert np.all((ds >= 0) & (ds <= 0.25))
    np.testing.assert_allclose(sigmoid(-x), 1 - s, atol=1e-15)


def test_sigmoid_saturates_cleanly_at_the_extremes() -> None:
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(np.array([-1000.0, -40.0, 40.0, 1000.0]))
    assert s[0] == 0.0 and s[-1] == 1.0
    assert s[1] == pytest.approx(np.exp(-40.0), rel=1e-12)  # tiny, but not rounded to 0


def test_sigmoid_matches_the_textbook_formula_on_both_branches() -> None:
    """Where 1 / (1 + e^-x) cannot overflow (|x| <= 30), the stable sigmoid gives its values."""
    x = np.linspace(-30, 30, 121)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(sigmoid(-x), 1 - sigmoid(x), atol=1e-15)


def test_tanh_is_a_rescaled_sigmoid() -> None:
    x = np.linspace(-10, 10, 101)
    np.testing.assert_allclose(tanh(x), 2 * sigmoid(2 * x) - 1, atol=1e-15)
    np.testing.assert_allclose(tanh_grad(x), 4 * sigmoid_grad(2 * x), atol=1e-15)


def test_sigmoid_slope_is_never_above_a_quarter() -> None:
    x = np.linspace(-20, 20, 4001)
    assert sigmoid_grad(x).max() == pytest.approx(0.25)
    assert tanh_grad(x).max() == pytest.approx(1.0)


def test_unknown_activation_lists_the_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*'gelu'.*'tanh'"):
        get_activation("swish")


def test_main_runs_and_writes_its_figure(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--activation", "sigmoid", "--x", "0", "1"])
    out = capsys.readouterr().out
    assert "0.500000    0.250000" in out
    assert [p.name for p in figures_dir.iterdir()] == ["activations.png"]


@given(any_floats)
def test_gelu_never_overflows(x: np.ndarray) -> None:
    """x * x overflows past |x| = 1.3e154 and 0 * inf is nan: far out the slope must still be
    exactly 1 (right) or 0 (left), and GELU itself x or 0."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        g = gelu(x)
        dg = gelu_grad(x)
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(dg))
    far = np.abs(x) > 100
    np.testing.assert_array_equal(dg[far], (x[far] > 0).astype(float))
    np.testing.assert_array_equal(g[far], np.where(x[far] > 0, x[far], 0.0))


def test_gelu_clipping_changes_nothing_where_it_applies() -> None:
    x = np.array([-100.0, -40.0, 40.0, 100.0, 1e200, -1e200], dtype=np.float64)
    np.testing.assert_array_equal(gelu_grad(x), [0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(gelu_grad(x[:4].astype(np.float32)), [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("h", ["1e308", "2", "1e-11", "1e-320"])
def test_a_step_outside_the_sane_range_is_refused(h: str, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--h", h])
    assert stop.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "expected a step h from 1e-10 to 1" in last and "round-off" in last


def test_huge_and_negative_exponent_inputs_print_short_and_flagged(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--activation", "gelu", "--x", "1e200", "-1e-3"])
    table = capsys.readouterr().out.split("2. Why")[0]  # part 2 prints a nan on purpose
    row = next(line for line in table.splitlines() if "1e+200" in line)
    assert len(row) < 120 and "round-off, no check" in row
    assert "1.000000" in row and "nan" not in table
    assert "-0.001" in table
