"""Least squares by descent equals least squares by the normal equations."""

import warnings

import numpy as np
import pytest

from phase00.derivatives import numerical_gradient, relative_error
from phase00.linear_regression import (
    fit_closed_form,
    fit_gradient_descent,
    main,
    make_data,
    mse_gradients,
    mse_loss,
)


def test_gradient_matches_finite_differences(rng: np.random.Generator) -> None:
    X, y = make_data(20, np.array([1.0, -2.0, 0.5]), 0.3, 0.5, rng)
    w, b = rng.normal(size=3), 0.7
    dL_dw, dL_db = mse_gradients(X, y, w, b)
    assert relative_error(dL_dw, numerical_gradient(lambda w_: mse_loss(X, y, w_, b), w)) < 1e-8
    num_b = numerical_gradient(lambda b_: mse_loss(X, y, w, float(b_[0])), np.array([b]))
    assert relative_error(np.array([dL_db]), num_b) < 1e-8


@pytest.mark.parametrize("use_bias", [True, False])
def test_descent_equals_closed_form(rng: np.random.Generator, use_bias: bool) -> None:
    X, y = make_data(200, np.array([2.0, -1.0]), 1.5, 1.0, rng)
    w_gd, b_gd, losses = fit_gradient_descent(X, y, lr=0.05, epochs=2000, use_bias=use_bias)
    w_cf, b_cf = fit_closed_form(X, y, use_bias=use_bias)
    np.testing.assert_allclose(w_gd, w_cf, atol=1e-8)
    assert b_gd == pytest.approx(b_cf, abs=1e-8)
    assert np.all(np.diff(losses) <= 1e-12), "full-batch descent on a bowl never goes uphill"


def test_closed_form_recovers_noiseless_truth(rng: np.random.Generator) -> None:
    X, y = make_data(50, np.array([3.0, 0.0, -1.0]), -2.0, 0.0, rng)
    w, b = fit_closed_form(X, y)
    np.testing.assert_allclose(w, [3.0, 0.0, -1.0], atol=1e-10)
    assert b == pytest.approx(-2.0)


def test_shape_errors_name_the_expected_shape() -> None:
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        mse_loss(X, np.zeros(4), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match=r"w must have shape \(2,\)"):
        mse_loss(X, np.zeros(5), np.zeros(3), 0.0)


def test_main_reports_agreement(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir)])
    assert "(they agree)" in capsys.readouterr().out
    assert (figures_dir / "linear_regression.png").is_file()


def test_main_reports_divergence_without_warnings(figures_dir, capsys) -> None:
    """A learning rate far past the threshold ends in a clear verdict, not overflow warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning (overflow) fails the test
        main(["--lr", "1", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "descent diverged" in out
    assert "epoch   200: loss inf" in out
    assert "epoch    10: loss 3.456013e+16" in out, "huge losses are shown in scientific notation"
