"""The PyTorch GPT: exact parameter counts, the two attention paths agree, causality, tying,
overfitting, the KV cache, sampling filters, and clear errors."""

import math

import pytest
import torch

from phase07.model import GPT, KVCache, filter_logits, preset

torch.manual_seed(0)


def tiny(attention: str = "fast", **overrides: object) -> GPT:
    config = preset("char-1m", vocab_size=11, context=16, n_layer=2, n_head=2, n_embd=8,
                    attention=attention, **overrides)
    torch.manual_seed(0)
    return GPT(config)


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
    assert torch.allclose(fast(idx), hand(idx), atol=1e-10, rtol=0)


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
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-10, rtol=0)


def test_cached_generation_gives_the_same_tokens() -> None:
    model = tiny()
    prompt = torch.randint(0, 11, (2, 3))
    outs = [model.generate(prompt, 30, use_cache=c, generator=torch.Generator().manual_seed(1))
            for c in (True, False)]  # 33 tokens: the window slides past the context of 16
    assert torch.equal(*outs)
    assert outs[0].shape == (2, 33)


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
        assert torch.allclose(model(idx), before, atol=1e-12, rtol=0)
        for block in model.transformer.h:  # the query bias, moved the same way, does change them
            block.attn.c_attn.bias[:C] += 3.0
        assert (model(idx) - before).abs().max() > 1e-6
