"""The character LM: whole-model gradient check with a carried state, learning below the
unigram entropy on a tiny text, overfitting it, streams for truncated BPTT, sampling, equal
parameter budgets, and clear errors."""

import numpy as np
import pytest

from phase02.gradcheck import TOLERANCE, check_gradients
from phase03.char_tokenizer import CharTokenizer
from phase04.char_rnn import (
    CharRNN,
    evaluate,
    generate,
    make_cell,
    make_streams,
    train,
    unigram_entropy,
)
from phase04.compare_cells import count_params, hidden_for_budget


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_whole_model_gradcheck_with_carried_state(rng: np.random.Generator, cell: str) -> None:
    model = CharRNN(7, 3, 4, cell, rng)
    ids, targets = rng.integers(0, 7, size=(2, 5)), rng.integers(0, 7, size=(2, 5))
    s0 = rng.normal(size=(2, model.rnn.state_size)) * 0.5

    def loss() -> float:
        return model.loss(ids, targets, s0)

    loss()
    ds0 = model.backward()
    grads = {k: g.copy() for k, g in model.grads.items()}
    errors = check_gradients(loss, model.params, grads)
    assert max(errors.values()) < TOLERANCE, errors
    assert ds0.shape == s0.shape
    errors = check_gradients(loss, {"s0": s0}, {"s0": ds0})
    assert errors["s0"] < TOLERANCE


def test_fresh_model_loss_is_near_uniform(rng: np.random.Generator) -> None:
    model = CharRNN(20, 8, 16, "rnn", rng)
    ids = rng.integers(0, 20, size=(4, 10))
    assert abs(model.loss(ids, rng.integers(0, 20, size=(4, 10))) - np.log(20)) < 0.6


def test_char_rnn_learns_below_the_unigram_entropy(tiny_text: str) -> None:
    tok = CharTokenizer(tiny_text)
    ids = np.array(tok.encode(tiny_text))
    unigram = unigram_entropy(ids, tok.vocab_size)
    model = CharRNN(tok.vocab_size, 16, 64, "rnn", np.random.default_rng(0))
    history = train(model, ids, 300, 4, 16, 1e-2, 1.0, np.random.default_rng(0), progress=False)
    first, last = np.mean(history["loss"][:10]), np.mean(history["loss"][-20:])
    assert last < first - 1.0  # it learns
    assert last < unigram - 1.0  # it uses context: far below what character counts allow
    assert evaluate(model, ids, 4, 16) < unigram  # carried-state evaluation agrees


def test_lstm_overfits_the_tiny_text(tiny_text: str) -> None:
    tok = CharTokenizer(tiny_text)
    ids = np.array(tok.encode(tiny_text))
    model = CharRNN(tok.vocab_size, 16, 64, "lstm", np.random.default_rng(0))
    history = train(model, ids, 400, 4, 16, 2e-2, 1.0, np.random.default_rng(0), progress=False)
    assert np.mean(history["loss"][-20:]) < 0.7


def test_streams_continue_row_by_row() -> None:
    streams = make_streams(np.arange(23), 4)
    assert streams.shape == (4, 5)
    np.testing.assert_array_equal(streams[1], np.arange(5, 10))  # row 1 continues in order
    with pytest.raises(ValueError, match="too short"):
        make_streams(np.arange(5), 4)


def test_generate_returns_valid_ids(rng: np.random.Generator) -> None:
    model = CharRNN(9, 4, 8, "gru", rng)
    out = generate(model, [1, 2, 3], 25, 0.8, rng)
    assert len(out) == 25 and all(0 <= i < 9 for i in out)
    with pytest.raises(ValueError, match="starting character"):
        generate(model, [], 5, 1.0, rng)


def test_generate_feeds_each_draw_back_and_carries_the_state(rng: np.random.Generator) -> None:
    """Near temperature 0 each draw is the most likely next character; and the state carried
    from draw to draw gives the scores that reading the whole text so far from the start gives."""
    model = CharRNN(9, 4, 16, "rnn", rng)
    prompt = [5, 0, 7, 2]  # the most likely character after 5 differs from the one after 2
    out = generate(model, prompt, 12, 1e-6, np.random.default_rng(0))
    assert len(out) == 12
    for k, nxt in enumerate(out):
        logits = model.forward(np.array([prompt + out[:k]]))  # (1, 4 + k, V), read afresh
        assert nxt == int(np.argmax(logits[0, -1])), f"draw {k}"


def test_generate_draws_at_its_temperature_from_the_generator_given(
        rng: np.random.Generator) -> None:
    """A head with no weights and biases (2, 0, ..., 0) predicts the same distribution after
    any state: character 0 with e^2 / (e^2 + 8) = 0.480 at temperature 1, e / (e + 8) = 0.254
    at temperature 2. 2,000 draws land near those shares; the same seed gives the same text,
    another seed another; and after the prompt, each forward pass reads one new character
    (the state is carried, the text is not read again)."""
    model = CharRNN(9, 4, 16, "rnn", rng)
    model.head.params["W"][...] = 0.0
    model.head.params["b"][...] = [2.0] + [0.0] * 8
    fed = []
    forward = model.forward

    def counting_forward(ids: np.ndarray, s0: np.ndarray | None = None) -> np.ndarray:
        fed.append(ids.shape[1])
        return forward(ids, s0)

    model.forward = counting_forward
    for temperature, share in ((1.0, np.e**2 / (np.e**2 + 8)), (2.0, np.e / (np.e + 8))):
        fed.clear()
        out = generate(model, [5, 0, 7], 2000, temperature, np.random.default_rng(0))
        assert np.mean(np.array(out) == 0) == pytest.approx(share, abs=0.035), temperature
        assert fed[0] == 3 and set(fed[1:]) == {1}, f"positions read per forward pass: {fed[:6]}"
    same = [generate(model, [5, 0, 7], 30, 1.0, np.random.default_rng(s)) for s in (1, 1, 2)]
    assert same[0] == same[1] and same[0] != same[2]


def test_equal_parameter_budgets() -> None:
    budget = count_params("rnn", 65, 32, 128)
    assert budget == 31_073
    for cell in ("lstm", "gru"):
        H = hidden_for_budget(cell, budget, 65, 32)
        assert abs(count_params(cell, 65, 32, H) - budget) / budget < 0.02
        model = CharRNN(65, 32, H, cell, np.random.default_rng(0))
        assert model.n_params() == count_params(cell, 65, 32, H)


def test_bad_inputs_get_clear_errors(rng: np.random.Generator) -> None:
    model = CharRNN(5, 3, 4, "rnn", rng)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model.forward(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="shape of ids"):
        model.loss(np.zeros((2, 3), dtype=int), np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match="choose one of"):
        make_cell("transformer", 3, 4, rng)
