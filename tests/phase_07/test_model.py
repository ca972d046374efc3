"""The PyTorch GPT: each piece against an outside truth (attention against PyTorch's own, the
MLP against phase 01's GELU, the block's pre-LN order, GPT-2's initialisation), exact parameter
counts, the two attention paths agree, causality, tying, overfitting, the KV cache, sampling
filters, temperature, what generation feeds the model, and clear errors."""

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from phase01.activations import gelu
from phase07.model import (
    GPT,
    MLP,
    Block,
    CausalSelfAttention,
    GPTConfig,
    KVCache,
    filter_logits,
    preset,
    sample_next,
)

torch.manual_seed(0)


def tiny(attention: str = "fast", **overrides: object) -> GPT:
    config = preset("char-1m", vocab_size=11, context=16, n_layer=2, n_head=2, n_embd=8,
                    attention=attention, **overrides)
    torch.manual_seed(0)
    return GPT(config)


# --- Each piece on its own, before the whole model: these need no other piece of the GPT. ---

def small_config(attention: str = "fast") -> GPTConfig:
    """3 heads of width 4: small enough to read, and no two sizes alike (B=2, H=3, T=7, d=4)."""
    return preset("char-1m", vocab_size=11, context=16, n_layer=2, n_head=3, n_embd=12,
                  attention=attention)


def test_hand_attention_equals_pytorchs_causal_attention() -> None:
    """softmax(q k^T / sqrt(d) + mask) v against PyTorch's own causal attention; then the last 3
    queries alone against all 7 keys (what a KV cache asks for); and the weights it keeps for
    the pictures are distributions that never look ahead."""
    attn = CausalSelfAttention(small_config("hand"))
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 4, generator=g, dtype=torch.float64) for _ in range(3))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(attn.hand_attention(q, k, v, 0, 0.0), expected, atol=1e-12,
                               rtol=0)
    weights = attn.last_weights
    assert weights is not None and weights.shape == (2, 3, 7, 7)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 3, 7, dtype=torch.float64))
    assert torch.all(weights.triu(diagonal=1) == 0), "a query gave weight to a later key"
    late = attn.hand_attention(q[:, :, 4:], k, v, 4, 0.0)  # queries at positions 4, 5, 6
    torch.testing.assert_close(late, expected[:, :, 4:], atol=1e-12, rtol=0)


@pytest.mark.parametrize("attention", ["fast", "hand"])
def test_attention_equals_pytorchs_multihead_attention(attention: str) -> None:
    """Our heads, split and merged by hand, against nn.MultiheadAttention holding the same
    weights: its in_proj is our c_attn (queries, keys, values stacked), its out_proj our c_proj."""
    torch.manual_seed(0)
    config = small_config(attention)
    ours = CausalSelfAttention(config).double().eval()
    theirs = torch.nn.MultiheadAttention(config.n_embd, config.n_head, batch_first=True,
                                         dtype=torch.float64)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(ours.c_attn.weight)
        theirs.in_proj_bias.copy_(ours.c_attn.bias)
        theirs.out_proj.weight.copy_(ours.c_proj.weight)
        theirs.out_proj.bias.copy_(ours.c_proj.bias)
        x = torch.randn(2, 9, config.n_embd, dtype=torch.float64)
        future = torch.ones(9, 9, dtype=torch.bool).triu(diagonal=1)  # True: may not look
        expected, _ = theirs(x, x, x, attn_mask=future, need_weights=False)
        torch.testing.assert_close(ours(x), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("attention", ["fast", "hand"])
def test_attention_with_a_cache_equals_attention_without(attention: str) -> None:
    """A prompt of 5 positions, then one position at a time, through the cache of layer 1: the
    same outputs as all 9 at once. (GPT.forward moves cache.length on after its last block; with
    one attention layer alone, the test moves it.)"""
    torch.manual_seed(0)
    config = small_config(attention)
    attn = CausalSelfAttention(config).double().eval()
    x = torch.randn(2, 9, config.n_embd, dtype=torch.float64)
    cache = KVCache(config, 2, x.device, torch.float64)
    steps = []
    with torch.no_grad():
        for start, end in [(0, 5), *((t, t + 1) for t in range(5, 9))]:
            steps.append(attn(x[:, start:end], cache, 1))
            cache.length = end
        torch.testing.assert_close(torch.cat(steps, dim=1), attn(x), atol=1e-12, rtol=0)
    assert torch.all(cache.k[0] == 0), "layer 1's keys went into layer 0's cache"


def test_hand_attention_drops_weights_and_keeps_a_detached_copy() -> None:
    """With p_drop = 0.5 half the weights are zeroed at random (the rest doubled), so two calls
    differ; the copy kept for the pictures holds the weights before dropout (each row still sums
    to 1) and is cut from the graph."""
    attn = CausalSelfAttention(small_config("hand"))
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 4, generator=g, requires_grad=True) for _ in range(3))
    torch.manual_seed(0)
    first = attn.hand_attention(q, k, v, 0, 0.5)
    kept = attn.last_weights
    assert not torch.allclose(first, attn.hand_attention(q, k, v, 0, 0.5))
    assert kept is not None and not kept.requires_grad
    torch.testing.assert_close(kept.sum(dim=-1), torch.ones(2, 3, 7))
    # Dropout acts on the weights, not on the output: with equal scores and values all 1, each
    # output is (the weights left of its row) x 2, often strictly between 0 and 2. Dropping
    # whole outputs instead would give only 0s and 2s.
    flat = torch.zeros(1, 1, 4, 4)
    out = attn.hand_attention(flat, flat, torch.ones(1, 1, 4, 4), 0, 0.5)
    assert ((out > 0) & (out < 2)).any(), out


def dropout_config(p: float) -> GPTConfig:
    return preset("char-1m", vocab_size=11, context=16, n_layer=2, n_head=3, n_embd=12,
                  dropout=p)


@pytest.mark.parametrize("attention", ["fast", "hand"])
def test_attention_drops_in_training_only(attention: str) -> None:
    """dropout = 0.5 on the attention weights (the output's own dropout is switched off here,
    to see them alone): in training two calls differ; in eval they are equal, and equal to the
    same layer built without dropout."""
    torch.manual_seed(0)
    attn = CausalSelfAttention(dataclasses.replace(dropout_config(0.5), attention=attention))
    attn.resid_dropout = torch.nn.Identity()
    plain = CausalSelfAttention(dataclasses.replace(dropout_config(0.0), attention=attention))
    plain.load_state_dict(attn.state_dict())
    x = torch.randn(2, 7, 12)
    assert not torch.allclose(attn(x), attn(x)), "no dropout on the weights in training"
    attn.eval()
    plain.eval()
    with torch.no_grad():
        assert torch.equal(attn(x), attn(x)), "dropout still acts in eval()"
        torch.testing.assert_close(attn(x), plain(x), atol=1e-6, rtol=0)


def test_attention_output_goes_through_its_dropout() -> None:
    """The heads' joined output, after c_proj, goes through resid_dropout (here with the
    weights' own dropout switched off): zeros appear in training."""
    torch.manual_seed(1)
    attn = CausalSelfAttention(dataclasses.replace(dropout_config(0.5), attention="hand"))
    attn.dropout = 0.0  # the weights' dropout rate
    assert (attn(torch.randn(1, 3, 12)) == 0).sum() > 5, "no dropout after c_proj in training"


def test_mlp_drops_in_training_only() -> None:
    """The MLP's output goes through its dropout: zeros appear in training, none in eval."""
    torch.manual_seed(0)
    mlp = MLP(dropout_config(0.5))
    x = torch.randn(3, 5, 12)
    assert (mlp(x) == 0).sum() > 10, "no dropout after c_proj in training"
    mlp.eval()
    with torch.no_grad():
        assert torch.equal(mlp(x), mlp.c_proj(mlp.gelu(mlp.c_fc(x))))


def test_gpt_drops_the_embeddings_in_training_only() -> None:
    """The sum of the token and position vectors goes through transformer.drop, once per
    forward pass, in training and in eval (where nn.Dropout passes it through unchanged)."""
    model = tiny(dropout=0.2)
    seen: list[bool] = []
    model.transformer.drop.register_forward_hook(lambda m, i, o: seen.append(m.training))
    idx = torch.randint(0, 11, (2, 9))
    model(idx)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(idx), model(idx)), "the model is not deterministic in eval()"
    assert seen == [True, False, False], "the embeddings must go through transformer.drop"
    # the SUM goes through it: with the token table zeroed, dropout still zeroes entries of
    # the position vectors
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        model.transformer.wte.weight.zero_()
    into_block: list[torch.Tensor] = []
    model.transformer.h[0].register_forward_pre_hook(lambda m, args: into_block.append(args[0]))
    model(idx[:, :8])
    assert (into_block[0] == 0).sum() > 10, "dropout must act on token + position vectors"


def test_mlp_is_linear_gelu_linear() -> None:
    """The MLP against phase 01's NumPy GELU (the tanh form GPT-2 uses) between two matrix
    products: GELU(x W1^T + b1) W2^T + b2, from width 12 to 48 and back."""
    torch.manual_seed(0)
    mlp = MLP(small_config()).double().eval()
    x = torch.randn(2, 5, 12, dtype=torch.float64)
    W1, b1, W2, b2 = (t.detach().numpy() for t in (mlp.c_fc.weight, mlp.c_fc.bias,
                                                   mlp.c_proj.weight, mlp.c_proj.bias))
    expected = gelu(x.numpy() @ W1.T + b1) @ W2.T + b2
    with torch.no_grad():
        y = mlp(x)
    assert y.shape == (2, 5, 12)
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12, rtol=0)


def test_block_is_pre_ln() -> None:
    """x + attn(ln_1(x)), then that plus mlp(ln_2(that)), with every parameter drawn at random
    first (so ln_1 and ln_2 differ and a swapped piece shows); and a block given a cache passes
    it, and its layer number, on to its attention."""
    torch.manual_seed(0)
    config = small_config()
    block = Block(config).double().eval()
    x = torch.randn(2, 6, 12, dtype=torch.float64)
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0.0, 0.5)
        h = x + block.attn(block.ln_1(x))
        expected = h + block.mlp(block.ln_2(h))
        torch.testing.assert_close(block(x), expected, atol=1e-12, rtol=0)
        cache = KVCache(config, 2, x.device, torch.float64)
        torch.testing.assert_close(block(x, cache, 1), expected, atol=1e-12, rtol=0)
    assert cache.k[1][:, :, :6].abs().sum() > 0, "the block did not hand its cache to attention"
    assert torch.all(cache.k[0] == 0), "the block wrote into another layer's cache"


@pytest.mark.parametrize("n_layer", [4, 8])
def test_gpt2_initialisation(n_layer: int) -> None:
    """N(0, 0.02) for the weights and both tables, zero biases, LayerNorms at 1 and 0, and the
    two projections into the residual stream at 0.02 / sqrt(2 n_layer): 0.0071 for 4 blocks,
    0.0050 for 8."""
    torch.manual_seed(0)
    model = GPT(preset("char-1m", n_layer=n_layer))  # width 144
    residual_std = 0.02 / math.sqrt(2 * model.config.n_layer)
    assert model.lm_head.weight is model.transformer.wte.weight
    for name, p in model.named_parameters():
        if ".ln_" in f".{name}":
            value = 1.0 if name.endswith("weight") else 0.0
            assert torch.all(p == value), f"{name} should start at {value}"
        elif name.endswith("bias"):
            assert torch.all(p == 0), f"{name} should start at 0"
        else:
            std = residual_std if name.endswith("c_proj.weight") else 0.02
            spread, centre = p.std().item(), p.mean().item()
            assert abs(spread - std) < 0.05 * std, f"{name}: std {spread:.4f}, not {std:.4f}"
            assert abs(centre) < 0.05 * std, f"{name}: mean {centre:.5f}, not 0"


def test_gpt2_small_has_124_439_808_parameters() -> None:
    with torch.device("meta"):
        model = GPT(preset("gpt2-124m"))
    assert model.n_params() == 124_439_808
    assert model.n_params(include_positions=False) == 124_439_808 - 1024 * 768


@pytest.mark.parametrize("name, n", [("gpt2-medium", 354_823_168), ("gpt2-large", 774_030_080),
                                     ("gpt2-xl", 1_557_611_200)])
def test_larger_gpt2_shapes(name: str, n: int) -> None:
    with torch.device("meta"):
        assert GPT(preset(name)).n_params() == n


def test_loss_at_init_is_ln_vocab() -> None:
    model = GPT(preset("char-1m", vocab_size=65))
    idx, targets = torch.randint(0, 65, (8, 64)), torch.randint(0, 65, (8, 64))
    _, loss = model(idx, targets)  # (not targets=idx: a tied head favours repeating its input)
    assert abs(loss.item() - math.log(65)) < 0.1


def test_hand_and_fast_attention_agree_in_float64() -> None:
    fast, hand = tiny("fast").double(), tiny("hand").double()
    hand.load_state_dict(fast.state_dict())
    idx = torch.randint(0, 11, (3, 16))
    torch.testing.assert_close(fast(idx), hand(idx), atol=1e-10, rtol=0)


def test_causality() -> None:
    model = tiny().double().eval()
    idx = torch.randint(0, 11, (1, 12))
    base = model(idx)
    for t in range(11):
        changed = idx.clone()
        changed[0, t + 1] = (changed[0, t + 1] + 1) % 11
        assert torch.allclose(model(changed)[0, :t + 1], base[0, :t + 1], atol=1e-12)


def test_tied_weights_share_storage() -> None:
    model = tiny()
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()


def test_overfits_one_batch() -> None:
    model = tiny()
    idx = torch.randint(0, 11, (4, 16))
    targets = torch.randint(0, 11, (4, 16))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(200):
        _, loss = model(idx, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1


@pytest.mark.parametrize("attention", ["fast", "hand"])
def test_kv_cache_logits_equal_full_forward(attention: str) -> None:
    model = tiny(attention).double().eval()
    idx = torch.randint(0, 11, (2, 16))
    full = model(idx)
    cache = KVCache(model.config, 2, idx.device, torch.float64)
    steps = [model(idx[:, :5], cache=cache)]  # a prompt of 5, then one token at a time
    steps += [model(idx[:, t:t + 1], cache=cache) for t in range(5, 16)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-10, rtol=0)
    # the context counts the cached positions too: 10 cached + 10 new exceed 16
    cache = KVCache(model.config, 2, idx.device, torch.float64)
    model(idx[:, :10], cache=cache)
    with pytest.raises(ValueError, match="20 positions exceed the context of 16"):
        model(idx[:, :10], cache=cache)


def test_cached_generation_gives_the_same_tokens() -> None:
    model = tiny()
    prompt = torch.randint(0, 11, (2, 3))
    outs = [model.generate(prompt, 30, use_cache=c, generator=torch.Generator().manual_seed(1))
            for c in (True, False)]  # 33 tokens: the window slides past the context of 16
    assert torch.equal(*outs)
    assert outs[0].shape == (2, 33)


def test_cached_generation_feeds_one_new_position_per_step() -> None:
    """What generate hands the model at each step: the prompt, then one token at a time with the
    cache; the whole text each time without it; and once the text outgrows the context of 16, the
    last 16 tokens at every step (the window slides: nothing cached is still right). All in eval
    mode, and the model's own mode is given back."""
    model = tiny()
    fed: list[tuple[int, bool]] = []
    model.register_forward_pre_hook(lambda m, args: fed.append((args[0].size(1), m.training)))
    model.train()
    out = model.generate(torch.zeros((1, 3), dtype=torch.long), 5)
    assert out.shape == (1, 8), f"3 prompt tokens and 5 new ones make 8, got {out.shape[1]}"
    assert model.training, "generate must give the model back in the mode it found it in"
    assert [n for n, _ in fed] == [3, 1, 1, 1, 1], "positions fed per step, with the cache"
    assert not any(training for _, training in fed), "generate must run the model in eval()"
    fed.clear()
    model.generate(torch.zeros((1, 3), dtype=torch.long), 5, use_cache=False)
    assert [n for n, _ in fed] == [3, 4, 5, 6, 7], "positions fed per step, without the cache"
    fed.clear()
    model.generate(torch.zeros((1, 14), dtype=torch.long), 5)
    assert [n for n, _ in fed] == [14, 1, 1, 16, 16], (
        "positions fed per step, when the text outgrows the context of 16")

    def fail(module: torch.nn.Module, args: tuple) -> None:
        raise KeyboardInterrupt  # Ctrl-C in the middle of a step
    model.register_forward_pre_hook(fail)
    with pytest.raises(KeyboardInterrupt):
        model.generate(torch.zeros((1, 3), dtype=torch.long), 5)
    assert model.training, "a generation that stops half-way must still give the mode back"


def test_same_seed_same_text_and_max_tokens() -> None:
    model = tiny()
    prompt = torch.zeros((1, 1), dtype=torch.long)
    a = model.generate(prompt, 10, generator=torch.Generator().manual_seed(7))
    b = model.generate(prompt, 10, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and a.shape == (1, 11)


def test_top_k_and_top_p_masks() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.2, 0.15, 0.1, 0.05]]))
    kept_k = torch.isfinite(filter_logits(logits, top_k=2))
    assert kept_k.tolist() == [[True, True, False, False, False]]
    kept_p = torch.isfinite(filter_logits(logits, top_p=0.8))  # 0.5 + 0.2 < 0.8 <= + 0.15
    assert kept_p.tolist() == [[True, True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.3)).sum() == 1  # the top one always
    # a token is dropped once the tokens before it already cover top_p: 0.5 covers 0.5 exactly
    halves = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    assert torch.isfinite(filter_logits(halves, top_p=0.5)).tolist() == [[True, False, False]]
    # top_k larger than the vocabulary keeps every token (a char model has 65, a flag says 100)
    assert torch.isfinite(filter_logits(logits, top_k=10)).all()


def test_filters_keep_the_right_tokens_wherever_they_sit() -> None:
    """Two rows holding the five probabilities above in other orders: the tokens kept follow the
    probabilities, not the places, the kept logits are untouched, and top-p after top-k works on
    what top-k left, renormalised (0.5 and 0.2 become 0.714 and 0.286: 0.714 already covers 0.6)."""
    probs = torch.tensor([[0.1, 0.5, 0.05, 0.2, 0.15],
                          [0.15, 0.05, 0.2, 0.1, 0.5]])
    logits = torch.log(probs)
    for kept, expected in [(filter_logits(logits, top_k=2), probs >= 0.2),
                           (filter_logits(logits, top_p=0.8), probs >= 0.15),
                           (filter_logits(logits, top_k=2, top_p=0.6), probs == 0.5)]:
        assert torch.isfinite(kept).tolist() == expected.tolist()
        assert torch.equal(kept[expected], logits[expected])


def test_temperature_sharpens_and_flattens() -> None:
    """20,000 draws from p = (0.5, 0.2, 0.15, 0.1, 0.05) at each temperature: 1 keeps p, 0.5
    squares it and 2 takes its square root (renormalised: note 02's numbers); top_k=1 is greedy;
    and the draws come from the generator given, so one seed gives one text."""
    logits = torch.log(torch.tensor([[0.5, 0.2, 0.15, 0.1, 0.05]])).expand(20_000, 5)
    expected = {0.5: [0.769, 0.123, 0.069, 0.031, 0.008], 1.0: [0.5, 0.2, 0.15, 0.1, 0.05],
                2.0: [0.34, 0.215, 0.186, 0.152, 0.107]}
    for temperature, p in expected.items():
        drawn = sample_next(logits, temperature, None, None, torch.Generator().manual_seed(0))
        assert drawn.shape == (20_000, 1)
        share = torch.bincount(drawn[:, 0], minlength=5) / 20_000
        assert torch.allclose(share, torch.tensor(p), atol=0.015), (temperature, share.tolist())
    # the temperature first, then top-p: at 2, p becomes (0.34, 0.215, 0.186, 0.152, 0.107),
    # whose first four reach 0.8, renormalised (filtering first would keep three, not four)
    drawn = sample_next(logits, 2.0, None, 0.8, torch.Generator().manual_seed(0))
    share = torch.bincount(drawn[:, 0], minlength=5) / 20_000
    assert torch.allclose(share, torch.tensor([0.381, 0.241, 0.208, 0.170, 0.0]), atol=0.015), (
        "top_p must act on the tempered distribution", share.tolist())
    greedy = sample_next(logits[:4], 1.0, 1, None, torch.Generator().manual_seed(0))
    assert greedy.tolist() == [[0]] * 4
    again = [sample_next(logits[:50], 1.0, None, None, torch.Generator().manual_seed(1))
             for _ in range(2)]
    assert torch.equal(*again), "the same generator seed must give the same draws"
    # bfloat16 logits are divided in float32: their draws are those of the same logits in float32
    low = (torch.randn(2_000, 5, generator=torch.Generator().manual_seed(2)) * 3).bfloat16()
    drawn = [sample_next(z, 0.7, None, None, torch.Generator().manual_seed(0))
             for z in (low, low.float())]
    assert torch.equal(*drawn), "divide the logits by the temperature in float32 (.float())"


def test_generation_follows_its_settings_and_the_last_position() -> None:
    """A tiny model with large weights, so its next tokens are clear-cut. top_k=1, a temperature
    near 0 and a tiny top_p each reduce sampling to the argmax of the LAST position's logits,
    with or without the cache, in float32 or float64 (the cache takes the model's dtype)."""
    torch.manual_seed(0)
    model = GPT(preset("char-1m", vocab_size=11, n_layer=1, n_head=2, n_embd=8, context=16))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(30)
    model.eval()
    greedy = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        for _ in range(6):
            greedy = torch.cat([greedy, model(greedy)[:, -1].argmax(-1, keepdim=True)], dim=1)
    for dtype in (torch.float32, torch.float64):
        model.to(dtype)
        for settings in ({"top_k": 1}, {"temperature": 1e-3}, {"top_p": 1e-6}):
            for use_cache in (True, False):
                out = model.generate(greedy[:, :3], 6, use_cache=use_cache,
                                     generator=torch.Generator().manual_seed(0), **settings)
                assert out.tolist() == greedy.tolist(), (dtype, settings, use_cache, out.tolist())


def test_clear_errors() -> None:
    with pytest.raises(ValueError, match="divisible by n_head"):
        preset("char-1m", n_embd=10, n_head=3)
    with pytest.raises(ValueError, match=r"valid presets are \['char-10m'"):
        preset("gpt-5")
    with pytest.raises(ValueError, match="unknown config fields"):
        preset("char-1m", n_embed=10)
    with pytest.raises(ValueError, match="exceed the context of 16"):
        tiny()(torch.zeros((1, 17), dtype=torch.long))
    idx = torch.zeros((2, 8), dtype=torch.long)
    with pytest.raises(ValueError, match=r"targets must have the shape of the inputs \(2, 8\)"):
        tiny()(idx, idx.view(4, 4))  # the same 16 numbers, the wrong pairing


def test_a_cache_of_another_batch_dtype_or_shape_is_refused() -> None:
    model = tiny()
    idx = torch.zeros((2, 4), dtype=torch.long)
    with pytest.raises(ValueError, match=r"holds 3 sequence\(s\) but the input has 2"):
        model(idx, cache=KVCache(model.config, 3, idx.device, torch.float32))
    with pytest.raises(ValueError, match="holds torch.float64 but the model's weights are "
                                         "torch.float32"):
        model(idx, cache=KVCache(model.config, 2, idx.device, torch.float64))
    other = preset("char-1m", vocab_size=11, context=16, n_layer=3, n_head=2, n_embd=8)
    with pytest.raises(ValueError, match="made for another model shape"):
        model(idx, cache=KVCache(other, 2, idx.device, torch.float32))
    cache = KVCache(model.config, 2, torch.device("meta"), torch.float32)
    with pytest.raises(ValueError, match="the KV cache is on meta but the input is on cpu"):
        model(idx, cache=cache)
    assert cache.length == 0  # refused before anything was written


def test_flops_per_token_refuses_a_sequence_beyond_the_context() -> None:
    model = tiny()  # context 16
    assert model.flops_per_token(16) == model.flops_per_token()
    assert model.flops_per_token(16) - model.flops_per_token(1) == 12 * 2 * 8 * 15
    for T in (0, 17):
        with pytest.raises(ValueError, match=f"a sequence of {T} tokens: this model reads 1 to "
                                             f"16"):
            model.flops_per_token(T)


def test_the_key_bias_gets_no_gradient_beyond_round_off() -> None:
    """c_attn.bias is three biases side by side: query, key, value. The key bias b_k adds
    q . b_k to every score of a query's row, the same number for every key; softmax ignores a
    constant added to a whole row, so the loss does not depend on b_k: its gradient is 0 in exact
    arithmetic, and round-off in float64 (a billionth of a millionth of the query bias's), while
    the query and value biases learn. A check that only asks "is every gradient non-zero and
    finite?" passes it all the same."""
    model = tiny().double()
    idx, targets = torch.randint(0, 11, (3, 16)), torch.randint(0, 11, (3, 16))
    _, loss = model(idx, targets)
    loss.backward()
    C = model.config.n_embd
    for block in model.transformer.h:
        query, key, value = block.attn.c_attn.bias.grad.abs().split(C)
        assert query.max() > 1e-7 and value.max() > 1e-4
        assert key.max() < 1e-12 * query.max()
    # the forward pass agrees: moving the key bias a long way changes no logit beyond round-off
    with torch.no_grad():
        before = model(idx)
        for block in model.transformer.h:
            block.attn.c_attn.bias[C:2 * C] += 3.0
        torch.testing.assert_close(model(idx), before, atol=1e-12, rtol=0)
        for block in model.transformer.h:  # the query bias, moved the same way, does change them
            block.attn.c_attn.bias[:C] += 3.0
        assert (model(idx) - before).abs().max() > 1e-6
