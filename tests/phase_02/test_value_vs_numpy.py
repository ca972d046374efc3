"""The Value-engine MLP and the vectorised MLP are the same network: from the same weights they
give the same loss and the same gradients, and both learn the toy sets."""

import numpy as np
import pytest

from phase02 import value_mlp
from phase02.layers import SoftmaxCrossEntropy, build_mlp, mlp_from_weights
from phase02.mlp_numpy import accuracy, gradient_noise, make_problem, train
from phase02.mlp_numpy import main as numpy_main
from phase02.toy_data import make_dataset


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_same_weights_same_loss_and_gradients(rng: np.random.Generator,
                                              activation: str) -> None:
    X, y = make_dataset("spirals", 12, 0.1, rng)
    y = np.arange(12) % 3  # three classes, to exercise the general softmax
    vectorised = build_mlp([2, 5, 4, 3], activation, rng, "he")
    for layer in vectorised.layers[::2]:
        layer.params["b"][:] = rng.normal(size=layer.params["b"].shape)  # nonzero biases too
    engine = value_mlp.MLP(vectorised.weights(), activation)

    loss_fn = SoftmaxCrossEntropy()
    L_numpy = loss_fn.forward(vectorised.forward(X), y)
    vectorised.backward(loss_fn.backward())
    L_value, _ = value_mlp.loss_and_accuracy(engine, X, y)
    L_value.backward()

    assert L_value.data == pytest.approx(L_numpy, abs=1e-12)
    for i, (dW, db) in enumerate(engine.gradients()):
        layer = vectorised.layers[2 * i]
        np.testing.assert_allclose(dW, layer.grads["W"], atol=1e-10, rtol=0)
        np.testing.assert_allclose(db, layer.grads["b"], atol=1e-10, rtol=0)


def test_weights_round_trip(rng: np.random.Generator) -> None:
    weights = build_mlp([2, 3, 2], "tanh", rng).weights()
    back = value_mlp.MLP(weights, "tanh").weights()
    for (W, b), (W2, b2) in zip(weights, back, strict=True):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def test_training_curves_agree_epoch_by_epoch() -> None:
    setup = {"dataset": "moons", "n_samples": 24, "noise": 0.1, "hidden": 4, "depth": 1,
             "activation": "tanh", "init": "xavier", "seed": 3}
    X, y, reference = make_problem(**setup)
    engine = value_mlp.MLP(reference.weights(), "tanh")
    history = value_mlp.train(engine, X, y, lr=0.5, epochs=5, verbose=False)
    numpy_run = train(**setup, optimizer="sgd", lr=0.5, epochs=5, verbose=False)
    np.testing.assert_allclose(history["losses"], numpy_run["losses"], atol=1e-12)
    trained = mlp_from_weights(engine.weights(), "tanh")
    for (W, _), (W2, _) in zip(trained.weights(), numpy_run["model"].weights(), strict=True):
        np.testing.assert_allclose(W, W2, atol=1e-12)


def test_value_mlp_learns_moons_quickly() -> None:
    X, y, reference = make_problem("moons", 60, 0.1, 8, 2, "relu", "xavier", seed=0)
    engine = value_mlp.MLP(reference.weights(), "relu")
    history = value_mlp.train(engine, X, y, lr=1.5, epochs=30, verbose=False)
    assert history["accuracies"][-1] >= 0.95


@pytest.mark.parametrize(("dataset", "hidden", "epochs"), [("moons", 16, 500),
                                                           ("spirals", 32, 1000)])
def test_numpy_mlp_reaches_95_percent(dataset: str, hidden: int, epochs: int) -> None:
    result = train(dataset=dataset, hidden=hidden, epochs=epochs, seed=0, verbose=False)
    assert result["accuracies"][-1] >= 0.95
    assert result["losses"][-1] < 0.2 * result["losses"][0]
    assert accuracy(result["model"], result["X"], result["y"]) == result["accuracies"][-1]


def test_mini_batches_train_too() -> None:
    result = train(epochs=60, batch_size=32, seed=1, verbose=False)
    assert result["accuracies"][-1] >= 0.95


def test_mini_batch_gradients_are_noisy_estimates_of_the_full_one() -> None:
    """The whole batch gives the full gradient exactly; smaller batches stray, less and less."""
    X, y, model = make_problem("moons", 200, 0.1, 16, 2, "tanh", "xavier", seed=0)
    noise = gradient_noise(model, X, y, [1, 4, 16, 64, 200], np.random.default_rng(5), draws=100)
    distances = [noise[B][0] for B in (1, 4, 16, 64)]
    assert distances == sorted(distances, reverse=True)  # bigger batches, less noise
    assert noise[200] == (pytest.approx(0.0, abs=1e-12), pytest.approx(1.0, abs=1e-12))
    # An average of B examples: noise about 1/sqrt(B), so 4x the batch roughly halves it.
    assert noise[4][0] / noise[16][0] == pytest.approx(2.0, rel=0.25)
    assert noise[1][1] > 0  # even one example points, on average, downhill-ish
    assert noise[64][1] > 0.95


def test_gradient_noise_has_nothing_to_measure_at_a_flat_start() -> None:
    """All-zero weights on balanced moons: the full gradient is 0, so there is no direction."""
    X, y, model = make_problem("moons", 200, 0.1, 16, 2, "tanh", "zeros", seed=0)
    assert gradient_noise(model, X, y, [1, 16], np.random.default_rng(0), draws=5) == {}


def test_cross_entropy_of_values_is_stable() -> None:
    logits = [value_mlp.Value(1000.0), value_mlp.Value(0.0)]
    assert value_mlp.cross_entropy(logits, 1).data == pytest.approx(1000.0)


def test_mains_run(figures_dir, capsys) -> None:
    value_mlp.main(["--n-samples", "30", "--hidden", "4", "--epochs", "3",
                    "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "largest loss difference" in out
    numpy_main(["--epochs", "30", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "the backward pass is right" in out
    assert "batch of  200: |g_B - g| / |g| = 0.000, cosine with the full gradient +1.000" in out
    for name in ("value_mlp_boundary.png", "mlp_numpy_boundary.png", "mlp_numpy_training.png"):
        assert (figures_dir / name).is_file()
