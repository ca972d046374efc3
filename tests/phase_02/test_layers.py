"""Matrix backprop: every layer and whole models gradient-checked in float64, plus the layer
protocol that the optimizers and the gradient checker rely on."""

import numpy as np
import pytest

from phase00.derivatives import numerical_gradient, relative_error
from phase01 import mlp as phase01_mlp
from phase01.activations import ACTIVATIONS
from phase02.gradcheck import gradcheck_layer, gradcheck_model
from phase02.layers import (
    MLP,
    Activation,
    Dense,
    SoftmaxCrossEntropy,
    SquaredError,
    build_mlp,
    init_std,
    main,
    mlp_from_weights,
)
from tests.protocol import assert_backward_writes_in_place

TOL = 1e-6


def test_layers_build_on_phase01() -> None:
    assert issubclass(Dense, phase01_mlp.Dense)
    assert issubclass(Activation, phase01_mlp.Activation)
    assert issubclass(MLP, phase01_mlp.MLP)


def test_dense_backward_formulas(rng: np.random.Generator) -> None:
    layer = Dense(3, 4, rng)
    x, delta = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    layer.forward(x)
    dx = layer.backward(delta)
    np.testing.assert_allclose(layer.grads["W"], x.T @ delta)
    np.testing.assert_allclose(layer.grads["b"], delta.sum(axis=0))
    np.testing.assert_allclose(dx, delta @ layer.params["W"].T)


def test_dense_backward_writes_its_grads_in_place(rng: np.random.Generator) -> None:
    layer = Dense(3, 4, rng)
    x, delta = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    assert_backward_writes_in_place(layer, lambda: layer.forward(x), delta)


@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 3, 4), (7, 2, 16)])
def test_dense_gradcheck(rng: np.random.Generator, shape: tuple[int, int, int]) -> None:
    batch, n_in, n_out = shape
    errors = gradcheck_layer(Dense(n_in, n_out, rng), rng.normal(size=(batch, n_in)), rng)
    assert set(errors) == {"W", "b", "x"}
    assert max(errors.values()) < TOL


@pytest.mark.parametrize("name", sorted(set(ACTIVATIONS) - {"step"}))
def test_activation_gradcheck(rng: np.random.Generator, name: str) -> None:
    x = rng.normal(size=(6, 5))
    if name == "relu":
        x[np.abs(x) < 1e-3] = 0.5  # keep clear of the kink, where no slope exists
    assert gradcheck_layer(Activation(name), x, rng)["x"] < TOL


@pytest.mark.parametrize("loss_cls", [SoftmaxCrossEntropy, SquaredError])
def test_loss_gradcheck(rng: np.random.Generator, loss_cls: type) -> None:
    z = rng.normal(size=(8, 3))
    target = rng.integers(0, 3, size=8) if loss_cls is SoftmaxCrossEntropy else \
        rng.normal(size=(8, 3))
    loss = loss_cls()
    loss.forward(z, target)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda z_: loss.forward(z_, target), z)
    assert relative_error(analytic, numeric) < TOL


def test_softmax_cross_entropy_known_values() -> None:
    loss = SoftmaxCrossEntropy()
    logits = np.log(np.array([[0.7, 0.2, 0.1]]))
    assert loss.forward(logits, np.array([0])) == pytest.approx(0.35667494, abs=1e-8)
    np.testing.assert_allclose(loss.backward(), [[0.7 - 1, 0.2, 0.1]])  # p - onehot
    np.testing.assert_allclose(loss.p, [[0.7, 0.2, 0.1]])  # backward left the kept p alone
    np.testing.assert_allclose(loss.backward(2.0), [[2 * (0.7 - 1), 0.4, 0.2]])  # times dout


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "gelu"])
def test_whole_model_gradcheck(rng: np.random.Generator, activation: str) -> None:
    model = build_mlp([2, 6, 5, 3], activation, rng, "he")
    x, y = rng.normal(size=(10, 2)), rng.integers(0, 3, size=10)
    errors = gradcheck_model(model, SoftmaxCrossEntropy(), x, y)
    assert set(errors) == {"0.W", "0.b", "2.W", "2.b", "4.W", "4.b", "x"}
    assert max(errors.values()) < TOL, errors


def test_model_params_are_the_layers_own_arrays(rng: np.random.Generator) -> None:
    model = build_mlp([2, 3, 2], "tanh", rng)
    model.params["0.W"][0, 0] = 123.0
    assert model.layers[0].params["W"][0, 0] == 123.0
    model.forward(rng.normal(size=(4, 2)))
    model.backward(np.ones((4, 2)))
    assert model.grads["2.b"] is model.layers[2].grads["b"]
    np.testing.assert_allclose(model.grads["2.b"], [4.0, 4.0])


def test_mlp_from_weights_reproduces_the_2_2_1_example() -> None:
    net = mlp_from_weights([([[0.8, -0.4], [0.3, 0.6]], [0.1, -0.2]),
                            ([[1.2], [-0.7]], [0.05])], "tanh")
    loss = SquaredError()
    assert loss.forward(net.forward(np.array([[0.5, -1.0]])), np.array([[1.0]])) == \
        pytest.approx(0.0162, abs=5e-5)
    net.backward(loss.backward())
    np.testing.assert_allclose(net.grads["0.W"], [[-0.1038, 0.0265], [0.2076, -0.0529]],
                               atol=5e-5)


def test_shape_errors_name_the_expected_shape(rng: np.random.Generator) -> None:
    layer = Dense(3, 4, rng)
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.ones((2, 4)))
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        layer.backward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="labels"):
        SoftmaxCrossEntropy().forward(np.ones((2, 3)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="choose one of"):
        build_mlp([2, 2], "sigmoidal", rng)
    with pytest.raises(ValueError, match="choose one of"):
        init_std("glorot", 2, 2)


def test_init_std_values() -> None:
    assert init_std("xavier", 256, 256) == pytest.approx(0.0625)
    assert init_std("he", 256, 128) == pytest.approx(np.sqrt(2 / 256))
    assert init_std("zeros", 3, 3) == 0.0


def test_main_runs(figures_dir, capsys) -> None:
    main(["--batch", "3", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "dL/d[0.W] = [[-0.1038, 0.0265], [0.2076, -0.0529]]" in out
    assert (figures_dir / "dense_backward_shapes.png").is_file()
