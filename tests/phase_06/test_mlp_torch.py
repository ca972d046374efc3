"""Phase 02's MLP and optimizers against their PyTorch rebuilds, float64: equal forward passes,
equal gradients, equal weights after training steps."""

import numpy as np
import pytest
import torch
from torch import nn

from phase01.activations import ACTIVATIONS
from phase02.layers import build_mlp
from phase02.mlp_numpy import make_problem
from phase02.optimizers import OPTIMIZERS
from phase06.mlp_torch import (
    TorchMLP,
    compare_mlp,
    largest_weight_gap,
    mlp_to_numpy,
    mlp_to_torch,
    train_both,
)

FORWARD, GRAD = 1e-8, 1e-6


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_forward_and_gradients_match(activation: str, rng: np.random.Generator) -> None:
    model = build_mlp([3, 7, 5, 4], activation, rng)
    x, y = rng.normal(size=(9, 3)), rng.integers(0, 4, size=9)
    parity = compare_mlp(model, x, y)
    assert parity.forward < FORWARD
    assert set(parity.grads) == {"0.W", "0.b", "2.W", "2.b", "4.W", "4.b"}
    assert parity.worst_grad < GRAD, parity.grads


def test_converters_both_ways(rng: np.random.Generator) -> None:
    model = build_mlp([2, 6, 3], "relu", rng)
    torch_model = mlp_to_torch(model)
    assert isinstance(torch_model[0], nn.Linear)
    assert torch_model[0].weight.shape == (6, 2)  # nn.Linear: (n_out, n_in), transposed
    assert torch_model[0].weight.dtype == torch.float64
    back = mlp_to_numpy(torch_model)
    for name, p in model.params.items():
        assert np.array_equal(p, back.params[name])
    fresh = TorchMLP([2, 6, 3], "relu")
    again = mlp_to_torch(mlp_to_numpy(fresh.double()))
    for (k, a), (_, b) in zip(fresh.state_dict().items(), again.state_dict().items(),
                              strict=True):
        assert torch.equal(a, b), k


def test_torch_mlp_layers_names_and_forward() -> None:
    """Linear, activation, Linear, activation, Linear: numbered as phase 02's layers, found by
    parameters() without a list, and an activation between layers but not after the last."""
    torch.manual_seed(0)
    model = TorchMLP([2, 16, 16, 2], "tanh")
    assert isinstance(model, nn.Module) and len(model) == 5
    assert [type(layer).__name__ for layer in model] == ["Linear", "Activation", "Linear",
                                                         "Activation", "Linear"]
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {
        "0.weight": (16, 2), "0.bias": (16,), "2.weight": (16, 16), "2.bias": (16,),
        "4.weight": (2, 16), "4.bias": (2,)}
    assert sum(p.numel() for p in model.parameters()) == 354  # phase 02's moons MLP
    assert model.sizes == [2, 16, 16, 2] and model.activation == "tanh"
    sizes = [2, 4, 3]  # the model keeps its own list: the caller may change theirs later
    kept = TorchMLP(sizes, "tanh")
    sizes.append(9)
    assert kept.sizes == [2, 4, 3]
    assert TorchMLP((2, 4, 3), "relu").sizes == [2, 4, 3]  # a list, whatever sequence came in
    x = torch.randn(5, 2)
    h = x
    for i in (0, 2, 4):
        h = h @ model[i].weight.T + model[i].bias
        h = torch.tanh(h) if i < 4 else h
    torch.testing.assert_close(model(x), h)
    assert len(TorchMLP([3, 4], "relu")) == 1  # no hidden layer: one Linear, no activation


def test_torch_mlp_checks_its_input() -> None:
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        TorchMLP([2, 4, 3], "tanh")(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="choose one of"):
        TorchMLP([2, 4, 3], "swish")


@pytest.mark.parametrize("name, settings", [
    ("adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.05}),
    ("adamw", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.05}),
    ("adam", {}), ("adamw", {}),
    ("sgd", {}), ("momentum", {"beta": 0.7}), ("rmsprop", {"decay": 0.95}),
])
def test_optimizers_give_the_same_weights_after_10_steps(name: str,
                                                         settings: dict[str, float]) -> None:
    run = train_both(name, lr=0.05, epochs=10, settings=settings)
    assert largest_weight_gap(run["np_model"], run["torch_model"]) < 1e-10
    assert np.abs(run["numpy"] - run["torch"]).max() < 1e-12
    assert run["numpy"][-1] < run["numpy"][0]  # and they did learn something


def test_training_side_by_side_follows_one_curve() -> None:
    run = train_both("adam", 0.02, 100)
    assert np.abs(run["numpy"] - run["torch"]).max() < 1e-10
    assert run["torch"][-1] < 0.3 * run["torch"][0]


def test_same_start_as_phase_02() -> None:
    _, _, model = make_problem("moons", 200, 0.1, 16, 2, "tanh", "xavier", 0)
    assert sum(p.numel() for p in mlp_to_torch(model).parameters()) == model.n_params == 354


def test_unknown_optimizer_lists_the_names() -> None:
    with pytest.raises(ValueError, match=str(sorted(OPTIMIZERS)).replace("[", r"\[")):
        train_both("lion", epochs=1)
