"""Additive attention on phase 04's seq2seq: gradient checks, weights that sum to 1, and the
point of it all, attention beating the plain encoder-decoder on long sequences."""

import numpy as np
import pytest

from phase02.gradcheck import check_gradients
from phase04.seq2seq import Seq2Seq, evaluate, make_test_set, train
from phase05.bahdanau import AdditiveAttention, AttentionSeq2Seq

TOL = 1e-6


def test_additive_attention_gradcheck(rng: np.random.Generator) -> None:
    att = AdditiveAttention(6, 5, rng)
    s, h, R = rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 3, 6))
    att.forward(s, h)
    ds, dh = att.backward(R)
    grads = {k: g.copy() for k, g in att.grads.items()} | {"s": ds, "h": dh}
    errors = check_gradients(lambda: float(np.sum(att.forward(s, h) * R)),
                             att.params | {"s": s, "h": h}, grads)
    assert max(errors.values()) < TOL, errors
    np.testing.assert_allclose(att.weights.sum(axis=-1), 1.0)


def test_additive_attention_small_example() -> None:
    """The notes' example: W_q = W_k = I, v = (3, -1), one decoder state against three."""
    att = AdditiveAttention(2, 2, np.random.default_rng(0))
    att.params["W_q"], att.params["W_k"] = np.eye(2), np.eye(2)
    att.params["v"] = np.array([3.0, -1.0])
    s = np.array([[[1.0, 0.0]]])  # (B, T, H) = (1, 1, 2)
    h = np.array([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]])  # (B, S, H) = (1, 3, 2)
    c = att.forward(s, h)
    np.testing.assert_allclose(att.weights, [[[0.7634, 0.1942, 0.0423]]], atol=1e-4)
    np.testing.assert_allclose(c, [[[0.7211, 0.1942]]], atol=1e-4)


def test_additive_attention_refuses_widths_it_was_not_built_for() -> None:
    att = AdditiveAttention(4, 3, np.random.default_rng(0))
    for s, h in (((1, 2, 4), (1, 5, 7)), ((1, 2, 7), (1, 5, 4)), ((1, 2, 4), (2, 5, 4))):
        with pytest.raises(ValueError, match=r"expected s \(B, T, 4\) and h \(B, S, 4\)"):
            att.forward(np.zeros(s), np.zeros(h))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_attention_seq2seq_gradcheck(rng: np.random.Generator, cell: str) -> None:
    model = AttentionSeq2Seq(10, 4, 6, cell, rng, n_attn=5)
    src = rng.integers(0, 10, (2, 4))
    tgt = src[:, ::-1].copy()
    model.loss(src, tgt)
    model.backward()
    grads = {k: g.copy() for k, g in model.grads.items()}
    errors = check_gradients(lambda: model.loss(src, tgt), model.params, grads)
    assert max(errors.values()) < TOL, max(errors, key=errors.get)


def test_greedy_decode_records_an_alignment(rng: np.random.Generator) -> None:
    model = AttentionSeq2Seq(10, 4, 8, "gru", rng)
    src, _ = make_test_set(7, 3)
    out = model.greedy_decode(src)
    assert out.shape == (3, 7) and model.alignment.shape == (3, 7, 7)
    np.testing.assert_allclose(model.alignment.sum(axis=-1), 1.0)


def test_attention_beats_plain_seq2seq_at_length_20() -> None:
    """Same data, same steps, same test set: the bottleneck costs the plain model."""
    scores = {}
    for name, cls in (("plain", Seq2Seq), ("attention", AttentionSeq2Seq)):
        model = cls(10, 16, 32, "gru", np.random.default_rng(0))
        train(model, 600, 1, 20, 32, 1e-2, 1.0, np.random.default_rng(1), progress=False)
        scores[name] = evaluate(model, *make_test_set(20, 100))["token"]
    assert scores["attention"] > scores["plain"] + 0.05, scores
