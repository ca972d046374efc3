"""PyTorch's autograd against phase 02's Value engine: same values, same gradients; Value resets
its grads on backward while PyTorch accumulates them."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from phase02.autograd import neuron_with_loss
from phase06.autograd_torch import (
    accumulation_demo,
    gradient_step,
    graph_of,
    mixed_expression_both,
    mixed_expression_torch,
    split_batch_gradients,
    torch_neuron_with_loss,
)


def test_same_gradients_as_the_value_engine() -> None:
    L_v, nodes = neuron_with_loss(1.5, -0.8, 0.3, 0.5)
    L_v.backward()
    L_t, leaves = torch_neuron_with_loss(1.5, -0.8, 0.3, 0.5)
    L_t.backward()
    assert L_t.item() == pytest.approx(L_v.data, abs=1e-15)
    for name in ("x", "w", "b", "y"):
        assert leaves[name].grad.item() == pytest.approx(nodes[name].grad, abs=1e-14)
    assert leaves["w"].grad.item() == pytest.approx(-1.776710, abs=1e-6)  # phase 02's number


@settings(max_examples=40, deadline=None)
@given(st.floats(-1.5, 1.5), st.floats(-1, 1))
def test_every_operator_agrees(a0: float, b0: float) -> None:
    """Within a range where the expression is well conditioned (for b near -2, tanh saturates
    and log(1 + tanh) amplifies round-off: both engines would be right and still differ)."""
    (f_v, da_v, db_v), (f_t, da_t, db_t) = mixed_expression_both(a0, b0)

    def f(a: float, b: float) -> float:
        return mixed_expression_torch(torch.tensor(a, dtype=torch.float64),
                                      torch.tensor(b, dtype=torch.float64)).item()

    h = 1e-6  # and each slope against a central difference, so neither engine is the only judge
    if abs(a0 - b0) > 1e-4:  # away from relu(a - b)'s kink, where there is no slope to compare
        assert da_t == pytest.approx((f(a0 + h, b0) - f(a0 - h, b0)) / (2 * h), rel=1e-5,
                                     abs=1e-7)
        assert db_t == pytest.approx((f(a0, b0 + h) - f(a0, b0 - h)) / (2 * h), rel=1e-5,
                                     abs=1e-7)
    assert f_t == pytest.approx(f(a0, b0), rel=1e-15) and f_t == pytest.approx(f_v, rel=1e-12,
                                                                                 abs=1e-12)
    assert da_t == pytest.approx(da_v, rel=1e-10, abs=1e-12)
    assert db_t == pytest.approx(db_v, rel=1e-10, abs=1e-12)


def test_value_resets_but_torch_accumulates() -> None:
    acc = accumulation_demo(1.5, -0.8, 0.3, 0.5)
    assert acc["value_twice"] == acc["value_once"]
    assert acc["torch_twice"] == pytest.approx(2 * acc["torch_once"], abs=1e-14)
    assert acc["torch_after_zero"] == pytest.approx(acc["torch_once"], abs=1e-14)


def test_backward_twice_on_a_parameter_doubles_it_until_zero_grad() -> None:
    w = torch.nn.Parameter(torch.tensor([2.0], dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=0.1)
    for _ in range(2):
        (w**2).sum().backward()
    assert w.grad.item() == 8.0  # 2 * (2 w) at w = 2
    opt.zero_grad()
    assert w.grad is None  # set_to_none=True is the default
    (w**2).sum().backward()
    assert w.grad.item() == 4.0


def test_accumulated_halves_equal_the_full_batch() -> None:
    """Two separate arrays, both equal to the closed form 2/n X^T (X W - t) of the mean
    squared error's gradient (the data redrawn here from the same seed)."""
    full, accumulated = split_batch_gradients(seed=3)
    assert not np.shares_memory(full, accumulated), "two gradients, not one array twice"
    g = torch.Generator().manual_seed(3)
    X = torch.randn(8, 3, generator=g, dtype=torch.float64)
    t = torch.randn(8, generator=g, dtype=torch.float64)
    W = torch.randn(3, generator=g, dtype=torch.float64)
    exact = (2 / 8 * X.T @ (X @ W - t)).numpy()
    np.testing.assert_allclose(full, exact, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(accumulated, exact, rtol=1e-12, atol=1e-14)


def test_graph_has_the_value_engine_nodes() -> None:
    L_t, leaves = torch_neuron_with_loss(1.5, -0.8, 0.3, 0.5)
    L_t.backward(retain_graph=True)
    names = {id(t): k for k, t in leaves.items()}
    labels = [label for label, _, _ in graph_of(L_t, names)]
    for op in ("PowBackward0", "SubBackward0", "TanhBackward0", "AddBackward0", "MulBackward0"):
        assert op in labels
    assert sum(".grad +=" in label for label in labels) == 4  # one AccumulateGrad per leaf


def test_gradient_step_by_hand_is_sgd() -> None:
    """w - lr * w.grad, recorded by nobody: the step torch.optim.SGD takes, to the last bit."""
    w = torch.tensor(-0.8, dtype=torch.float64, requires_grad=True)
    ((torch.tanh(w * 1.5 + 0.3) - 0.5) ** 2).backward()  # phase 02's neuron: dL/dw = -1.7767
    w_new = gradient_step(w, 0.1)
    assert w_new.item() == pytest.approx(-0.8 + 0.1 * 1.776709647983, abs=1e-12)
    assert not w_new.requires_grad and w_new.grad_fn is None  # the update recorded nothing
    assert w.item() == -0.8  # a new tensor: the leaf itself is left as it was
    p = torch.nn.Parameter(w.detach().clone())
    p.grad = w.grad.clone()
    torch.optim.SGD([p], lr=0.1).step()
    assert torch.equal(p.detach(), w_new)
    with pytest.raises(ValueError, match="no gradient yet"):
        gradient_step(torch.tensor(1.0, requires_grad=True), 0.1)
