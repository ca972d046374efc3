"""Phase 04's RNN, LSTM and GRU against their PyTorch rebuilds, through several steps, from a
given initial state: every state and every gradient (weights, inputs, initial state)."""

import numpy as np
import pytest
import torch

from phase04.gru import GRU
from phase04.lstm import LSTM
from phase04.rnn import RNN
from phase06.rnn_torch import (
    TorchLSTM,
    TorchRNN,
    compare_recurrent,
    nn_twin_gap,
    recurrent_to_numpy,
    recurrent_to_torch,
)

CELLS = [RNN, LSTM, GRU]


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("with_s0", [True, False], ids=["initial state", "zero state"])
def test_states_and_bptt_match(cls: type, with_s0: bool, rng: np.random.Generator) -> None:
    layer = cls(3, 4, rng)
    for p in layer.params.values():
        p += rng.normal(0, 0.1, p.shape)
    x = rng.normal(size=(2, 8, 3))
    s0 = rng.normal(size=(2, layer.state_size)) if with_s0 else None
    parity = compare_recurrent(layer, x, s0, rng)
    assert parity.forward < 1e-8
    expected = {"W_x", "W_h", "b", "x"} | ({"s0"} if with_s0 else set())
    assert set(parity.grads) == expected
    assert parity.worst_grad < 1e-6, parity.grads


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_converters_keep_names_and_weights(cls: type, rng: np.random.Generator) -> None:
    layer = cls(2, 3, rng)
    module = recurrent_to_torch(layer)
    assert list(module.state_dict()) == ["W_x", "W_h", "b"]
    back = recurrent_to_numpy(module)
    assert type(back) is cls
    assert all(np.array_equal(v, back.params[k]) for k, v in layer.params.items())


def test_fresh_lstm_starts_with_forget_bias_one() -> None:
    b = TorchLSTM(2, 3).b.detach()
    assert torch.equal(b[3:6], torch.ones(3)) and torch.equal(b[:3], torch.zeros(3))


def test_bad_state_shape_names_the_expected_one() -> None:
    with pytest.raises(ValueError, match=r"\(2, 8\)"):
        TorchLSTM(3, 4)(torch.zeros(2, 5, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        TorchRNN(3, 4)(torch.zeros(2, 5))


def test_pytorch_own_cells_agree_except_gru(rng: np.random.Generator) -> None:
    x = rng.normal(size=(2, 5, 3))
    for cls in (RNN, LSTM):
        layer = cls(3, 4, rng)
        assert nn_twin_gap(layer, x, rng.normal(size=(2, layer.state_size))) < 1e-12
    gru = GRU(3, 4, rng)
    assert nn_twin_gap(gru, x, rng.normal(size=(2, 4))) > 1e-3  # reset before vs after
