"""The 2-2-1 network worked by hand: the numbers the notes quote, and a finite-difference check
for every activation."""

import numpy as np
import pytest

from phase00.derivatives import numerical_gradient, relative_error
from phase01.activations import ACTIVATIONS
from phase02.chain_rule import backward, engine_gradients, forward, main, tiny_network

X = np.array([0.5, -1.0])


def test_the_numbers_quoted_in_the_notes() -> None:
    params = tiny_network()
    cache = forward(params, X, 1.0, "tanh")
    np.testing.assert_allclose(cache["z1"], [0.2, -1.0], atol=1e-12)
    assert cache["y_hat"] == pytest.approx(0.8200, abs=5e-5)
    assert cache["L"] == pytest.approx(0.0162, abs=5e-5)
    grads = backward(params, cache, "tanh")
    np.testing.assert_allclose(grads["W1"], [[-0.1038, 0.0265], [0.2076, -0.0529]], atol=5e-5)
    np.testing.assert_allclose(grads["b1"], [-0.2076, 0.0529], atol=5e-5)
    np.testing.assert_allclose(grads["w2"], [-0.0355, 0.1371], atol=5e-5)
    assert float(grads["b2"]) == pytest.approx(cache["y_hat"] - 1.0, abs=1e-15)
    assert float(grads["b2"]) == pytest.approx(-0.1800, abs=5e-5)


@pytest.mark.parametrize("activation", sorted(set(ACTIVATIONS) - {"step"}))
def test_hand_backward_matches_finite_differences(activation: str) -> None:
    params = tiny_network()
    grads = backward(params, forward(params, X, 1.0, activation), activation)
    for name in params:
        def loss_of(v: np.ndarray, name: str = name) -> float:
            return float(forward({**params, name: v}, X, 1.0, activation)["L"])
        assert relative_error(grads[name], numerical_gradient(loss_of, params[name])) < 1e-7


def test_step_activation_passes_no_blame_to_the_first_layer() -> None:
    params = tiny_network()
    grads = backward(params, forward(params, X, 1.0, "step"), "step")
    assert not grads["W1"].any() and not grads["b1"].any()
    assert grads["w2"].any()


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_the_value_engine_agrees(activation: str) -> None:
    params = tiny_network()
    hand = backward(params, forward(params, X, 1.0, activation), activation)
    engine = engine_gradients(params, X, 1.0, activation)
    for name in params:
        np.testing.assert_allclose(engine[name], hand[name], atol=1e-14)


def test_main_prints_the_chain_and_draws(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "dy/dx = dy/du * du/dx = 14 * 3 = 42" in out
    assert "dL/da = sum over paths = -18 + -6 = -24" in out
    assert "dL/dz1[0]   = dL/dh[0] * f'(z1[0]) = -0.2160 * 0.9610 = -0.2076" in out
    assert (figures_dir / "chain_rule_network.png").is_file()
    main(["--lr", "1.0", "--out", str(figures_dir)])
    assert "went UP" in capsys.readouterr().out
