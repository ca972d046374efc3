"""Dense layers and MLPs: the layer protocol, shapes, clear errors, and XOR by hand."""

import numpy as np
import pytest

from phase01.activations import ACTIVATIONS, relu, sigmoid
from phase01.mlp import (
    MLP,
    XOR_ACTIVATIONS,
    Activation,
    Dense,
    build_mlp,
    hidden_coordinates,
    main,
    xor_network,
)
from phase01.perceptron import GATES, X_GATE, train_perceptron


def test_dense_follows_the_layer_protocol(rng: np.random.Generator) -> None:
    layer = Dense(3, 5, rng)
    assert set(layer.params) == {"W", "b"} == set(layer.grads)
    assert layer.params["W"].shape == (3, 5) and layer.params["b"].shape == (5,)
    for name, p in layer.params.items():
        assert layer.grads[name].shape == p.shape
        assert not layer.grads[name].any()
    x = rng.normal(size=(7, 3))
    out = layer.forward(x)
    assert out.shape == (7, 5)
    assert layer.x is x  # kept for the backward pass
    np.testing.assert_allclose(out, x @ layer.params["W"] + layer.params["b"])


def test_dense_on_known_numbers() -> None:
    layer = Dense.from_weights([[1.0, -1.0, 0.5], [2.0, 0.0, -1.0]], [0.0, 1.0, -0.5])
    np.testing.assert_array_equal(layer.forward(np.array([[3.0, 1.0]])), [[5.0, -2.0, 0.0]])
    # Each row of a batch is treated on its own.
    batch = np.array([[3.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(layer.forward(batch),
                                  [[5.0, -2.0, 0.0], [0.0, 1.0, -0.5], [3.0, 0.0, -1.0]])


def test_dense_initial_weights_have_the_documented_scale() -> None:
    W = Dense(400, 300, np.random.default_rng(0)).params["W"]
    assert W.std() == pytest.approx(1 / np.sqrt(400), rel=0.02)


def test_shape_errors_name_the_expected_shape(rng: np.random.Generator) -> None:
    layer = Dense(2, 3, rng)
    with pytest.raises(ValueError) as info:
        layer.forward(np.zeros((4, 3)))
    assert str(info.value) == "Dense(2 -> 3) expects x of shape (batch, 2), got (4, 3)"
    with pytest.raises(ValueError, match=r"expects x of shape \(batch, 2\), got \(2,\)"):
        layer.forward(np.zeros(2))  # a single example still needs its batch axis
    net = build_mlp([2, 4, 1], "relu", rng)
    with pytest.raises(ValueError, match=r"Dense\(2 -> 4\) expects x of shape \(batch, 2\)"):
        net.forward(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"b of shape \(n_out,\)"):
        Dense.from_weights(np.zeros((2, 3)), np.zeros(2))


def test_mlp_shapes_and_parameter_count(rng: np.random.Generator, capsys) -> None:
    net = build_mlp([2, 16, 8, 1], "tanh", rng)
    assert [repr(layer) for layer in net.layers] == [
        "Dense(2 -> 16)", "Activation(tanh)", "Dense(16 -> 8)", "Activation(tanh)",
        "Dense(8 -> 1)"]
    assert net.n_params == (2 * 16 + 16) + (16 * 8 + 8) + (8 * 1 + 1)
    out = net.forward(rng.normal(size=(5, 2)), verbose=True)
    assert out.shape == (5, 1)
    printed = capsys.readouterr().out
    assert "(5, 2) -> (5, 16)" in printed and "(5, 8) -> (5, 1)" in printed


def test_mlp_forward_is_the_composition_of_its_layers(rng: np.random.Generator) -> None:
    net = build_mlp([3, 4, 2], "sigmoid", rng)
    x = rng.normal(size=(6, 3))
    d1, d2 = net.layers[0].params, net.layers[2].params
    expected = sigmoid(x @ d1["W"] + d1["b"]) @ d2["W"] + d2["b"]
    np.testing.assert_allclose(net.forward(x), expected)


def test_without_biases_a_relu_net_scales_with_its_input(rng: np.random.Generator) -> None:
    """relu(a z) = a relu(z) for a > 0, so with no biases net(3x) = 3 net(x); biases break it."""
    x = rng.normal(size=(10, 2))
    plain = build_mlp([2, 8, 8, 1], "relu", np.random.default_rng(5), use_bias=False)
    np.testing.assert_allclose(plain.forward(3 * x), 3 * plain.forward(x), atol=1e-12)
    biased = build_mlp([2, 8, 8, 1], "relu", np.random.default_rng(5), use_bias=True)
    assert not np.allclose(biased.forward(3 * x), 3 * biased.forward(x))


def test_unknown_activation_lists_the_valid_names(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="choose one of"):
        build_mlp([2, 3, 1], "softplus", rng)
    with pytest.raises(ValueError, match="no hand-set XOR network for 'tanh'"):
        xor_network("tanh")


@pytest.mark.parametrize("activation", ["step", "relu"])
def test_hand_set_network_computes_xor_exactly(activation: str) -> None:
    out = xor_network(activation).forward(X_GATE)
    assert out.shape == (4, 1)
    np.testing.assert_array_equal(out[:, 0], GATES["xor"])


def test_steep_sigmoid_network_approaches_xor() -> None:
    misses = [np.abs(xor_network("sigmoid", k).forward(X_GATE)[:, 0] - GATES["xor"]).max()
              for k in (5.0, 10.0, 20.0)]
    assert misses[0] > misses[1] > misses[2]
    assert misses[1] < 0.01 and misses[2] < 1e-4
    out = xor_network("sigmoid", 10.0).forward(X_GATE)[:, 0]
    np.testing.assert_array_equal(np.round(out), GATES["xor"])


def test_hidden_layer_makes_xor_linearly_separable() -> None:
    """The perceptron that fails on the raw XOR inputs succeeds on the hidden coordinates."""
    for activation in XOR_ACTIVATIONS:
        H = hidden_coordinates(xor_network(activation), X_GATE)
        assert not train_perceptron(X_GATE, GATES["xor"], epochs=50).converged
        run = train_perceptron(H, GATES["xor"], epochs=50)
        assert run.converged, activation
    H_step = hidden_coordinates(xor_network("step"), X_GATE)
    np.testing.assert_array_equal(H_step, [[0, 0], [1, 0], [1, 0], [1, 1]])  # (OR, AND)


def test_activation_layer_applies_its_function(rng: np.random.Generator) -> None:
    x = rng.normal(size=(3, 4))
    layer = Activation("relu")
    np.testing.assert_array_equal(layer.forward(x), relu(x))
    assert layer.params == {} and layer.grads == {} and layer.x is x
    assert (layer.f, layer.df) == ACTIVATIONS["relu"]


def test_an_mlp_is_just_its_layers() -> None:
    net = MLP([Dense.from_weights([[2.0]], [1.0]), Activation("relu")])
    np.testing.assert_array_equal(net.forward(np.array([[-1.0], [3.0]])), [[0.0], [7.0]])
    assert net.n_params == 2


def test_main_runs_and_writes_its_figures(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--hidden", "5", "3", "--activation", "gelu",
          "--batch", "2", "--no-bias", "--seed", "1"])
    out = capsys.readouterr().out
    assert "Dense(2 -> 3) expects x of shape (batch, 2), got (4, 3)" in out
    assert "(2, 5) -> (2, 3)" in out
    assert out.count("exactly XOR") == 2
    assert {p.name for p in figures_dir.iterdir()} == {"xor_hidden_space.png",
                                                       "mlp_random_functions.png"}


def test_from_weights_draws_no_random_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hand-set layer used to draw a full random W from an unseeded generator, then drop it."""
    def no_draw(*args: object) -> None:
        raise AssertionError("from_weights asked for a random generator")

    monkeypatch.setattr(np.random, "default_rng", no_draw)
    layer = Dense.from_weights([[1.0, 2.0]], [0.5, -0.5])
    np.testing.assert_array_equal(layer.forward(np.array([[2.0]])), [[2.5, 3.5]])
    assert set(layer.grads) == {"W", "b"} and layer.grads["W"].shape == (1, 2)


def test_main_runs_the_worked_layer_once(figures_dir, capsys,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    shapes = []
    forward = Dense.forward

    def counting(self: Dense, x: np.ndarray) -> np.ndarray:
        shapes.append(x.shape)
        return forward(self, x)

    monkeypatch.setattr(Dense, "forward", counting)
    for plot in ("plot_xor_hidden_space", "plot_random_functions"):  # not needed here: faster
        monkeypatch.setattr(f"phase01.mlp.{plot}", lambda *args: None)
    main(["--out", str(figures_dir), "--hidden", "3", "--batch", "20"])
    assert shapes.count((1, 2)) == 1
    out = capsys.readouterr().out
    assert "... (20 in all)" in out  # a batch of 20 prints its first 8 outputs only


@pytest.fixture
def small_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine of 16 GiB, whatever runs the tests."""
    monkeypatch.setattr("phase00.flags.machine_memory_bytes", lambda: 16 * 2**30)


@pytest.mark.usefixtures("small_machine")
@pytest.mark.parametrize("flags, fragment", [
    (["--hidden", "100000", "100000"], "--hidden 100000 100000 with --batch 4 needs about"),
    (["--batch", "1000000000"], "--hidden 16 16 with --batch 1000000000 needs about"),
    (["--hidden", "5000", "5000"], "would take about 11 minutes"),
])
def test_networks_too_big_to_fit_or_finish_are_refused(flags: list[str], fragment: str,
                                                       figures_dir, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--out", str(figures_dir), *flags])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and fragment in err.strip().splitlines()[-1]
    assert not list(figures_dir.iterdir())
