"""Tensors against arrays: the helpers every parity check uses, and the differences that bite."""

import numpy as np
import pytest
import torch

from phase06.tensors import Parity, max_abs_diff, numpy_torch_gap, to_array, to_tensor


def test_to_tensor_copies_and_keeps_float64() -> None:
    a = np.array([1.0, 2.0])
    t = to_tensor(a)
    assert t.dtype == torch.float64
    a[0] = 9.0
    assert t[0].item() == 1.0  # a copy, not a view
    assert to_tensor(a, dtype=torch.float32).dtype == torch.float32


def test_from_numpy_shares_memory_but_to_array_copies() -> None:
    a = np.zeros(3)
    shared = torch.from_numpy(a)
    a[1] = 5.0
    assert shared[1].item() == 5.0
    t = torch.ones(2, requires_grad=True)
    out = to_array(t * 2)  # detached, on the CPU, a copy
    out[0] = 0.0
    assert isinstance(out, np.ndarray) and t[0].item() == 1.0


def test_default_dtypes_differ() -> None:
    assert np.array([0.1]).dtype == np.float64
    assert torch.tensor([0.1]).dtype == torch.float32


def test_softmax_known_values_in_both() -> None:
    p = torch.softmax(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), dim=0)
    assert np.allclose(p.numpy(), [0.09003057, 0.24472847, 0.66524096], atol=1e-8)


def test_max_abs_diff_refuses_broadcasting() -> None:
    assert max_abs_diff(np.array([1.0, 2.0]), torch.tensor([1.0, 2.5])) == 0.5
    with pytest.raises(ValueError, match="same shape"):
        max_abs_diff(np.zeros((2, 3)), np.zeros((3,)))


def test_parity_applies_the_bars() -> None:
    assert Parity("x", 1e-12, {"W": 1e-9}).ok
    assert not Parity("x", 1e-7, {"W": 1e-9}).ok
    assert not Parity("x", 0.0, {"W": 1e-5}).ok
    assert "DIFFERENT" in Parity("x", 1.0).line()


def test_float32_gap_dwarfs_float64() -> None:
    gap = numpy_torch_gap(256, np.random.default_rng(0))
    assert gap["float64"] < 1e-13 < 1e-8 < gap["float32"] < 1e-4


def test_float32_gap_is_the_largest_difference_of_tanh_of_the_same_cast_numbers() -> None:
    """The gap is defined exactly: in each dtype, both libraries get x and W cast to it, apply
    tanh(x @ W), and the largest |difference| is kept. The same draws, recomputed here, give the
    same numbers (a mean, a missing tanh or a float64 PyTorch side would not)."""
    gap = numpy_torch_gap(256, np.random.default_rng(0))
    assert set(gap) == {"float32", "float64"} and all(isinstance(v, float) for v in gap.values())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 256))
    W = rng.normal(size=(256, 256)) / np.sqrt(256)
    for name, dtype in (("float32", np.float32), ("float64", np.float64)):
        x_d, W_d = x.astype(dtype), W.astype(dtype)
        ours = np.tanh(x_d @ W_d)
        theirs = torch.tanh(torch.from_numpy(x_d) @ torch.from_numpy(W_d)).numpy()
        assert ours.dtype == theirs.dtype == dtype
        assert gap[name] == pytest.approx(float(np.abs(ours - theirs).max()), rel=1e-6, abs=0)
