"""Vanishing and exploding gradients, measured; the LSTM's longer memory; clipping bounds the
global norm, keeps the direction and leaves small gradients alone; the cliff."""

import numpy as np
import pytest

from phase04.clipping import (
    Vector,
    clip_global_norm,
    final_state,
    find_wall,
    global_norm,
    loss_and_grad,
)
from phase04.gradient_flow import gradient_norms, measure
from phase04.lstm import LSTM, blame_reach
from phase04.rnn import RNN


def relative_norms(cell: RNN, T: int, input_scale: float) -> np.ndarray:
    norms = gradient_norms(cell, T, np.random.default_rng(1), batch=8, input_scale=input_scale)
    return norms / norms[-1]


@pytest.mark.parametrize("input_scale", [0.1, 1.0])
def test_gradients_vanish_below_radius_one(input_scale: float) -> None:
    g = relative_norms(RNN(8, 32, np.random.default_rng(0), spectral_radius=0.5), 60,
                       input_scale)
    assert g[60 - 50] < 1e-10  # 50 steps back: less than a ten-billionth of the blame
    assert np.all(np.diff(g[::10]) > 0)  # and it shrinks steadily with distance


def test_gradients_explode_above_radius_one() -> None:
    """In tanh's linear part (small inputs) a radius above 1 makes the blame grow."""
    g = relative_norms(RNN(8, 32, np.random.default_rng(0), spectral_radius=2.0), 60, 0.1)
    assert g[60 - 50] > 1e2
    # With busy units (inputs of size 1) tanh's slope shrinks the factor: radius 3 to explode.
    g = relative_norms(RNN(8, 32, np.random.default_rng(0), spectral_radius=3.0), 60, 1.0)
    assert g[60 - 50] > 1e2


def test_lstm_keeps_more_gradient_50_steps_back_than_the_rnn() -> None:
    """Same input weights, same recurrent draw rescaled to radius 1, default forget bias 1."""
    T = 60
    rnn = relative_norms(RNN(8, 32, np.random.default_rng(0), spectral_radius=1.0), T, 1.0)
    lstm = relative_norms(LSTM(8, 32, np.random.default_rng(0), 1.0), T, 1.0)
    assert lstm[T - 50] > 1e3 * rnn[T - 50]


def test_measure_returns_one_curve_per_setting() -> None:
    rnn_curves, gated, slopes = measure([0.5, 2.0], [1.0], 20, 8, 4, 4, 1.0, 0)
    assert list(rnn_curves) == ["RNN, radius 0.5", "RNN, radius 2"]
    assert list(gated) == ["RNN, radius 1", "LSTM, forget bias 1", "GRU"]
    assert all(c.shape == (21,) and c[-1] == pytest.approx(1.0) for c in rnn_curves.values())
    assert all(0 < gamma <= 1 for gamma in slopes.values())


def test_forget_bias_lets_the_lstm_remember() -> None:
    weak = blame_reach(LSTM(4, 16, np.random.default_rng(0), forget_bias=0.0), 40,
                       np.random.default_rng(1))
    strong = blame_reach(LSTM(4, 16, np.random.default_rng(0), forget_bias=3.0), 40,
                         np.random.default_rng(1))
    assert strong > 1e3 * weak


def test_clipping_bounds_the_global_norm_and_keeps_the_direction(
        rng: np.random.Generator) -> None:
    layers = [Vector(list(rng.normal(size=5) * 10)), Vector(list(rng.normal(size=3) * 10))]
    before = np.concatenate([layer.grads["v"] for layer in layers])
    arrays = [layer.grads["v"] for layer in layers]  # the arrays an optimizer holds
    norm = clip_global_norm((layer for layer in layers), 1.0)  # any iterable, read once
    after = np.concatenate([layer.grads["v"] for layer in layers])
    assert all(layer.grads["v"] is a for layer, a in zip(layers, arrays, strict=True)), (
        "clipping must scale the arrays in place, not put new ones in the dicts")
    assert norm == pytest.approx(np.linalg.norm(before))
    assert global_norm(layers) == pytest.approx(1.0)
    np.testing.assert_allclose(after, before / np.linalg.norm(before))  # same direction


def test_clipping_leaves_small_gradients_unchanged(rng: np.random.Generator) -> None:
    layer = Vector([0.3, 0.4])
    assert clip_global_norm([layer], 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(layer.grads["v"], [0.3, 0.4])
    with pytest.raises(ValueError, match="max_norm"):
        clip_global_norm([layer], 0.0)


def test_the_cliff_has_a_huge_gradient_near_the_wall() -> None:
    b_wall = find_wall(2.0, 50)
    assert final_state(2.0, b_wall - 1e-3, 50) < -0.9 < 0.8 < final_state(2.0, b_wall + 1e-3, 50)
    _, far = loss_and_grad(2.0, b_wall + 1e-2, 0.8, 50)
    _, near = loss_and_grad(2.0, b_wall + 1e-8, 0.8, 50)
    assert np.linalg.norm(near) > 1e4 * np.linalg.norm(far)


def test_no_wall_without_two_stable_states() -> None:
    with pytest.raises(ValueError, match="w > 1"):
        find_wall(0.5, 50)


@pytest.mark.parametrize("flags, says", [
    ([], "The unclipped step lands so far off"),
    (["--distance", "1"], "clipping changed nothing, and the two runs are the same"),
    (["--lr", "1e308"], "too long to represent (it overflowed to infinity)"),
])
def test_clipping_concludes_from_its_own_run(flags: list[str], says: str, tmp_path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The closing sentence is chosen from the run's numbers: the default run's story is told
    only when the run shows it, and a huge step is named, not printed as nan with warnings."""
    import warnings

    from phase04.clipping import main as clipping_main

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may reach the learner
        clipping_main([*flags, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert says in out
    assert "the loss falls toward the wall, to its lowest" in out


def test_rnn_with_no_input_weight_says_the_pulse_never_entered(
        tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import warnings

    from phase04.rnn import main as rnn_main

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rnn_main(["--w-x", "0", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "the pulse never entered the state" in out and "nan" not in out
