"""Initialisation: the activation statistics the notes describe, measured on a 10-layer stack."""

from functools import cache

import numpy as np
import pytest

from phase02.initialization import activation_statistics, main, plot_statistics
from phase02.layers import SoftmaxCrossEntropy
from phase02.mlp_numpy import make_problem
from phase02.optimizers import SGD


@cache
def stats(activation: str, init: str) -> dict[str, np.ndarray]:
    return activation_statistics(activation, init, depth=10, width=128, n_samples=300,
                                 rng=np.random.default_rng(0))


def test_he_keeps_relu_activations_steady_across_ten_layers() -> None:
    s = stats("relu", "he")["std"]
    assert len(s) == 10
    assert 0.5 < s[-1] / s[0] < 2.0
    assert np.all((s > 0.4) & (s < 1.5))


def test_xavier_lets_relu_activations_shrink() -> None:
    """Xavier's variance 1/n is half what ReLU needs: the spread halves in variance per layer."""
    s = stats("relu", "xavier")["std"]
    assert s[-1] / s[0] < 0.1


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_small_init_vanishes_and_large_relu_explodes(activation: str) -> None:
    assert stats(activation, "small")["std"][-1] < 1e-6
    assert stats(activation, "small")["grad_std"][0] < 1e-6
    if activation == "relu":
        assert stats("relu", "large")["std"][-1] > 1e6
    else:
        assert stats("tanh", "large")["std"][-1] > 0.9  # saturated at +-1


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_zeros_init_gives_identical_hidden_units(activation: str) -> None:
    s = activation_statistics(activation, "zeros", 4, 16, 50, np.random.default_rng(0))
    assert np.all(s["unit_spread"] == 0.0)


def test_zeros_init_learns_nothing_at_all() -> None:
    """With zeros everywhere and balanced classes every gradient is exactly 0: a flat saddle."""
    X, y, model = make_problem("moons", 64, 0.1, 8, 2, "tanh", "zeros", seed=0)
    loss_fn, opt = SoftmaxCrossEntropy(), SGD(model.layers, lr=0.5)
    for _ in range(20):
        loss = loss_fn.forward(model.forward(X), y)
        model.backward(loss_fn.backward())
        opt.step()
    assert loss == pytest.approx(np.log(2))
    assert not any(np.any(p) for p in model.params.values())


def test_a_symmetric_start_is_never_broken_by_training() -> None:
    """Identical units get identical blame: start every weight at the same 0.3 and, after 50
    steps that do lower the loss, every hidden unit is still a copy of the others."""
    X, y, model = make_problem("moons", 64, 0.1, 8, 2, "tanh", "zeros", seed=0)
    for W in (layer.params["W"] for layer in model.layers[::2]):
        W.fill(0.3)
    loss_fn, opt = SoftmaxCrossEntropy(), SGD(model.layers, lr=0.5)
    losses = []
    for _ in range(50):
        losses.append(loss_fn.forward(model.forward(X), y))
        model.backward(loss_fn.backward())
        opt.step()
    assert losses[-1] < losses[0] - 0.05  # it learns something...
    for layer in (model.layers[0], model.layers[2]):  # ...but unit j's weights = unit 0's
        W, b = layer.params["W"], layer.params["b"]
        assert np.abs(W - 0.3).max() > 1e-3
        np.testing.assert_allclose(W, W[:, :1] * np.ones((1, W.shape[1])), atol=1e-12)
        np.testing.assert_allclose(b, b[0], atol=1e-12)


def test_main_runs(figures_dir, capsys) -> None:
    main(["--depth", "10", "--hidden", "32", "--n-samples", "100", "--epochs", "20",
          "--train-depth", "3", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "all units identical" in out and "stuck" in out
    for name in ("init_statistics.png", "init_histograms_tanh.png", "init_histograms_relu.png"):
        assert (figures_dir / name).is_file()


def test_the_statistics_figure_names_the_stack_it_shows() -> None:
    """The title states the depth and width measured (the notebook uses a narrower stack)."""
    s = activation_statistics("relu", "he", 3, 8, 20, np.random.default_rng(0))
    title = plot_statistics({("relu", "he"): s})._suptitle.get_text()
    assert title.startswith("3 layers of 8 units") and "Zeros" not in title
