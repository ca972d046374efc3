"""Gradient descent converges for small learning rates and diverges past the threshold."""

import numpy as np
import pytest

from phase00.gradient_descent import (
    MINIMUM_1D,
    bowl_1d_gradient,
    bowl_2d,
    bowl_2d_gradient,
    gradient_descent,
    main,
)


def test_converges_to_the_bottom() -> None:
    traj = gradient_descent(bowl_1d_gradient, -4.0, lr=0.1, steps=200)
    assert traj.shape == (201,)
    assert traj[-1] == pytest.approx(MINIMUM_1D, abs=1e-12)
    start = np.array([-4.0])  # an array start is the caller's: the steps go to a copy
    traj = gradient_descent(bowl_1d_gradient, start, lr=0.1, steps=3)
    assert start.tolist() == [-4.0], "gradient_descent moved the caller's starting point"
    assert traj[0].tolist() == [-4.0] and traj.shape == (4, 1)


@pytest.mark.parametrize("lr", [0.05, 0.3, 0.5, 0.8, 1.0, 1.2])
def test_distance_follows_the_closed_form(lr: float) -> None:
    """Each step multiplies the distance to the bottom by exactly (1 - 2 lr)."""
    steps = 10
    traj = gradient_descent(bowl_1d_gradient, -4.0, lr, steps)
    expected = MINIMUM_1D + (-4.0 - MINIMUM_1D) * (1 - 2 * lr) ** np.arange(steps + 1)
    np.testing.assert_allclose(traj, expected, rtol=1e-10, atol=1e-12)


def test_too_large_learning_rate_diverges() -> None:
    traj = gradient_descent(bowl_1d_gradient, -4.0, lr=1.1, steps=50)
    distances = np.abs(traj - MINIMUM_1D)
    assert np.all(np.diff(distances) > 0), "every step should land further away"
    assert distances[-1] > 1e4


def test_2d_threshold_is_set_by_the_steep_direction() -> None:
    start = np.array([-5.0, 2.0])
    stable = gradient_descent(bowl_2d_gradient, start, lr=0.09, steps=200)[-1]
    unstable = gradient_descent(bowl_2d_gradient, start, lr=0.11, steps=200)[-1]
    assert bowl_2d(stable) < 1e-10
    assert bowl_2d(unstable) > 1e10


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        gradient_descent(bowl_1d_gradient, 0.0, lr=-0.1, steps=3)


def test_main_runs_and_writes_figures(figures_dir, capsys) -> None:
    main(["--lr", "1.1", "--steps", "5", "--out", str(figures_dir)])
    assert "diverges" in capsys.readouterr().out
    assert {p.name for p in figures_dir.iterdir()} == {"descent_1d.png", "descent_2d.png"}
