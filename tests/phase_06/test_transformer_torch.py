"""Phase 05's LayerNorm, attention, block and whole transformer against their PyTorch rebuilds:
same names, same shapes, same numbers (float64), and the behaviour phase 05 tested."""

import math

import numpy as np
import pytest
import torch

from phase05.attention import MultiHeadAttention
from phase05.layernorm import LayerNorm
from phase05.transformer import Block, Transformer, TransformerConfig
from phase06.transformer_torch import (
    TorchTransformer,
    attention_to_numpy,
    attention_to_torch,
    block_to_numpy,
    block_to_torch,
    compare_layer,
    compare_transformer,
    layernorm_to_numpy,
    layernorm_to_torch,
    transformer_to_numpy,
    transformer_to_torch,
)

FORWARD, GRAD = 1e-8, 1e-6


def nudge(params: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    for p in params.values():
        p += rng.normal(0, 0.1, p.shape)


def test_nn_layernorm_equals_numpy_layernorm(rng: np.random.Generator) -> None:
    ln = LayerNorm(6)
    nudge(ln.params, rng)
    module = layernorm_to_torch(ln)
    assert isinstance(module, torch.nn.LayerNorm) and module.eps == 1e-5
    parity = compare_layer("ln", ln, module, rng.normal(size=(3, 4, 6)) * 5 - 2, rng)
    assert parity.forward < FORWARD and parity.worst_grad < GRAD
    assert set(parity.grads) == {"weight", "bias", "x"}
    back = layernorm_to_numpy(module)
    assert all(np.array_equal(v, back.params[k]) for k, v in ln.params.items())
    with torch.no_grad():  # a module that really differs: the bias off by -0.5 everywhere
        module.bias -= 0.5
    wrong = compare_layer("ln, shifted", ln, module, rng.normal(size=(3, 4, 6)), rng)
    assert wrong.forward == pytest.approx(0.5, abs=1e-12), "a distance is never negative"
    with torch.no_grad():  # and shifted the other way: still a distance of 0.5
        module.bias += 1.0
    wrong = compare_layer("ln, shifted up", ln, module, rng.normal(size=(3, 4, 6)), rng)
    assert wrong.forward == pytest.approx(0.5, abs=1e-12), "a distance is never negative"


def test_compare_layer_finds_a_wrong_gradient_of_the_input_or_of_a_weight(
        rng: np.random.Generator) -> None:
    """Two twins with the same forward pass and one wrong gradient each: the comparison must
    report it. A module whose input gradient is doubled (2x - x.detach() has the value of x and
    twice its gradient); a NumPy LayerNorm whose gain gradient forgets the upstream gradient
    (sum of x_hat instead of sum of dout * x_hat), which an upstream gradient of ones hides."""

    class DoubledInputGradient(torch.nn.LayerNorm):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(2 * x - x.detach())

    class ForgetsDout(LayerNorm):
        def backward(self, dout: np.ndarray) -> np.ndarray:
            dx = super().backward(dout)
            self.grads["g"][...] = self.x_hat.reshape(-1, self.d).sum(axis=0)
            return dx

    ln = LayerNorm(6)
    nudge(ln.params, rng)
    doubled = DoubledInputGradient(6).double()
    doubled.load_state_dict(layernorm_to_torch(ln).state_dict())
    x = rng.normal(size=(3, 4, 6))
    parity = compare_layer("ln, doubled dx", ln, doubled, x, rng)
    assert parity.forward < FORWARD and parity.grads["weight"] < GRAD
    assert parity.grads["x"] > 0.1, parity.grads
    forgetful = ForgetsDout(6)
    forgetful.params["g"][...], forgetful.params["b"][...] = ln.params["g"], ln.params["b"]
    parity = compare_layer("ln, dgamma without dout", forgetful, layernorm_to_torch(ln), x, rng)
    assert parity.forward < FORWARD and parity.grads["weight"] > 0.1, parity.grads


@pytest.mark.parametrize("causal", [True, False])
def test_attention(causal: bool, rng: np.random.Generator) -> None:
    mha = MultiHeadAttention(8, 2, rng, causal=causal)
    module = attention_to_torch(mha)
    parity = compare_layer("attn", mha, module, rng.normal(size=(2, 5, 8)), rng)
    assert parity.forward < FORWARD and parity.worst_grad < GRAD
    # the weights are kept, detached, as phase 05 keeps them: (B, H, T, T), the same numbers
    assert module.P is not None and not module.P.requires_grad
    np.testing.assert_allclose(module.P.numpy(), mha.P, rtol=0, atol=1e-12)
    assert set(parity.grads) == {"c_attn.weight", "c_attn.bias", "c_proj.weight",
                                 "c_proj.bias", "x"}
    back = attention_to_numpy(attention_to_torch(mha))
    assert back.causal == causal
    assert all(np.array_equal(v, back.params[k]) for k, v in mha.params.items())


def test_block(rng: np.random.Generator) -> None:
    block = Block(8, 2, 1e-5, rng)
    nudge(block.params, rng)
    parity = compare_layer("block", block, block_to_torch(block), rng.normal(size=(2, 5, 8)),
                           rng)
    assert parity.forward < FORWARD and parity.worst_grad < GRAD
    assert len(parity.grads) == 13  # 12 arrays and the input
    back = block_to_numpy(block_to_torch(block))
    assert all(np.array_equal(v, back.params[k]) for k, v in block.params.items())


@pytest.mark.parametrize("positions, tied", [("learned", True), ("sinusoidal", False),
                                             ("none", True)])
def test_whole_transformer(positions: str, tied: bool, rng: np.random.Generator) -> None:
    config = TransformerConfig(vocab_size=9, context=6, d_model=8, n_heads=2, n_layers=2,
                               positions=positions, tied_head=tied)
    model = Transformer(config, seed=1)
    nudge(model.params, rng)
    parity = compare_transformer(model, rng.integers(0, 9, (2, 6)), rng.integers(0, 9, (2, 6)))
    assert parity.forward < FORWARD
    assert set(parity.grads) == set(model.params)  # every parameter, by its GPT-2 name
    assert parity.worst_grad < GRAD, max(parity.grads, key=parity.grads.get)


def test_same_state_dict_names_shapes_and_round_trip() -> None:
    config = TransformerConfig(vocab_size=9, context=6, d_model=8, n_heads=2, n_layers=2,
                               tied_head=False)
    model = Transformer(config, seed=0)
    module = transformer_to_torch(model)
    ours, theirs = model.state_dict(), module.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == tuple(theirs[k].shape) for k in ours)
    assert theirs["h.0.attn.c_attn.weight"].shape == (8, 24)  # Conv1D layout (d, 3d)
    assert "lm_head.weight" in theirs
    back = transformer_to_numpy(module)
    assert back.dtype == np.float64
    assert all(np.array_equal(v, back.params[k]) for k, v in model.params.items())
    assert transformer_to_numpy(TorchTransformer(config)).dtype == np.float32


def test_fresh_model_loss_is_ln_vocab_and_init_is_gpt2s() -> None:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=50, context=16, d_model=32, n_heads=4, n_layers=2)
    model = TorchTransformer(config)
    ids = torch.randint(0, 50, (4, 16))
    with torch.no_grad():
        assert model.loss(ids, torch.randint(0, 50, (4, 16))).item() == pytest.approx(
            math.log(50), abs=0.05)
    state = model.state_dict()
    assert torch.equal(state["h.0.ln_1.weight"], torch.ones(32))
    assert state["wte.weight"].std().item() == pytest.approx(0.02, rel=0.1)
    assert state["h.1.mlp.c_proj.weight"].std().item() == pytest.approx(0.01, rel=0.1)


def test_torch_model_is_causal() -> None:
    torch.manual_seed(0)
    model = TorchTransformer(TransformerConfig(vocab_size=7, context=6, d_model=8, n_heads=2,
                                               n_layers=2)).double()
    ids = torch.randint(0, 7, (1, 6))
    base = model(ids)
    for t in range(5):
        changed = ids.clone()
        changed[0, t + 1] = (changed[0, t + 1] + 1) % 7
        assert torch.allclose(model(changed)[0, : t + 1], base[0, : t + 1], atol=1e-12)


def test_overfits_one_batch() -> None:
    torch.manual_seed(0)
    model = TorchTransformer(TransformerConfig(vocab_size=7, context=8, d_model=16, n_heads=2,
                                               n_layers=1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    ids = torch.randint(0, 7, (2, 8))
    targets = torch.randint(0, 7, (2, 8))
    for _ in range(150):
        loss = model.loss(ids, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1


def test_clear_errors() -> None:
    model = TorchTransformer(TransformerConfig(vocab_size=7, context=4, d_model=8, n_heads=2,
                                               n_layers=1))
    with pytest.raises(ValueError, match="longer than the context of 4"):
        model(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible"):
        attention_to_torch(MultiHeadAttention(8, 2)).__class__(8, 3)
