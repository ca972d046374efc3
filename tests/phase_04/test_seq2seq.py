"""Seq2seq: the task's data, teacher forcing, a whole-model gradient check through the bridge
between encoder and decoder, learning short reversals, the bottleneck at length 20, and errors."""

import numpy as np
import pytest

from phase02.gradcheck import TOLERANCE, check_gradients
from phase04.seq2seq import (
    Seq2Seq,
    accuracy_by_length,
    bos_id,
    decoder_inputs,
    evaluate,
    make_batch,
    make_test_set,
    train,
)


def test_reverse_and_copy_data(rng: np.random.Generator) -> None:
    src, tgt = make_batch(5, 7, rng, "reverse")
    assert src.shape == tgt.shape == (5, 7) and src.max() < 10
    np.testing.assert_array_equal(tgt, src[:, ::-1])
    src, tgt = make_batch(3, 4, rng, "copy")
    np.testing.assert_array_equal(tgt, src)
    with pytest.raises(ValueError, match="choose one of"):
        make_batch(2, 3, rng, "sort")


def test_test_sets_are_fixed() -> None:
    a, _ = make_test_set(12, 50)
    b, _ = make_test_set(12, 50)
    c, _ = make_test_set(13, 50)
    np.testing.assert_array_equal(a, b)  # the same sequences for every caller (phase 05 too)
    assert c.shape == (50, 13)


def test_teacher_forcing_shifts_the_targets() -> None:
    tgt = np.array([[5, 1, 3]])
    np.testing.assert_array_equal(decoder_inputs(tgt), [[bos_id(), 5, 1]])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_whole_model_gradcheck(rng: np.random.Generator, cell: str) -> None:
    model = Seq2Seq(n_symbols=4, embed=3, hidden=4, cell=cell, rng=rng)
    src, tgt = make_batch(2, 4, rng, n_symbols=4)

    def loss() -> float:
        return model.loss(src, tgt)

    loss()
    model.backward()
    grads = {k: g.copy() for k, g in model.grads.items()}
    errors = check_gradients(loss, model.params, grads)
    assert max(errors.values()) < TOLERANCE, errors
    assert np.abs(grads["encoder.W_x"]).max() > 0  # the blame crossed the bridge


def test_learns_short_reversals_and_fails_long_ones() -> None:
    """A tiny GRU seq2seq trained on lengths 1 to 20: reliable at 5, lost at 20."""
    model = Seq2Seq(embed=8, hidden=48, cell="gru", rng=np.random.default_rng(0))
    train(model, 1200, 1, 20, 32, 1e-2, 1.0, np.random.default_rng(1), progress=False)
    results = accuracy_by_length(model, [5, 20], n=200)
    assert results[5]["exact"] >= 0.9
    assert results[20]["exact"] < 0.3
    assert results[20]["token"] < results[5]["token"] - 0.3
    by_position = results[20]["by_position"]
    assert by_position[:3].mean() > by_position[-3:].mean()  # the first digits read are lost


def test_evaluate_scores_a_perfect_and_a_useless_model() -> None:
    class Oracle:
        def greedy_decode(self, src: np.ndarray, length: int | None = None) -> np.ndarray:
            return src[:, ::-1]

    class Zeros:
        def greedy_decode(self, src: np.ndarray, length: int | None = None) -> np.ndarray:
            return np.zeros_like(src)

    src, tgt = make_test_set(6, 100)
    assert evaluate(Oracle(), src, tgt)["exact"] == 1.0
    result = evaluate(Zeros(), src, tgt)
    assert result["exact"] == 0.0 and 0.03 < result["token"] < 0.2
    assert result["by_position"].shape == (6,)


def test_greedy_decode_shapes_and_errors(rng: np.random.Generator) -> None:
    model = Seq2Seq(hidden=8, rng=rng)
    src, _ = make_batch(3, 5, rng)
    assert model.greedy_decode(src).shape == (3, 5)
    assert model.greedy_decode(src, 2).shape == (3, 2)
    with pytest.raises(ValueError, match=r"\(B, T_src\)"):
        model.encode(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"0\.\.9"):
        model.encode(np.array([[1, 12]]))
    with pytest.raises(ValueError, match=r"\(B, T_tgt\) with B = 3"):
        model.forward(src, np.zeros((2, 5), dtype=int))
    with pytest.raises(ValueError, match="min_len"):
        train(model, 1, 5, 3, 2, 1e-3, 1.0, rng, progress=False)
