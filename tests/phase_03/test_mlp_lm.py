"""The Bengio et al. (2003) MLP language model: shapes, a first loss near ln V, the whole
model's hand-written backward pass against finite differences, and a model that overfits a
tiny text."""

from pathlib import Path

import numpy as np
import pytest

from phase02.gradcheck import check_gradients
from phase02.layers import SoftmaxCrossEntropy
from phase03.char_tokenizer import CharTokenizer
from phase03.mlp_lm import (
    MLPLanguageModel,
    count_of_contexts,
    evaluate,
    generate,
    main,
    make_examples,
    train,
)
from tests.phase_03.test_char_tokenizer import (
    assert_one_line_error,
    many_characters,
)

TOL = 1e-6


def test_examples_are_sliding_windows() -> None:
    X, Y = make_examples(np.array([5, 6, 7, 8, 9]), 3)
    np.testing.assert_array_equal(X, [[5, 6, 7], [6, 7, 8]])
    np.testing.assert_array_equal(Y, [8, 9])
    with pytest.raises(ValueError, match="more than 3"):
        make_examples(np.array([1, 2, 3]), 3)


def test_shapes_and_first_loss(rng: np.random.Generator) -> None:
    V, n = 30, 4
    model = MLPLanguageModel(V, n, dim=5, hidden=16, rng=rng)
    X, y = rng.integers(0, V, size=(64, n)), rng.integers(0, V, size=64)
    logits = model.forward(X)
    assert logits.shape == (64, V)
    assert SoftmaxCrossEntropy().forward(logits, y) == pytest.approx(np.log(V), abs=0.1)
    assert model.n_params == V * 5 + n * 5 * 16 + 16 + 16 * V + V
    assert set(model.params) == {"C", "mlp.0.W", "mlp.0.b", "mlp.2.W", "mlp.2.b"}


def test_wrong_context_length_is_refused(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        MLPLanguageModel(10, 3, 2, 4, rng).forward(np.zeros((2, 4), dtype=int))


def test_params_are_the_layers_own_arrays(rng: np.random.Generator) -> None:
    model = MLPLanguageModel(10, 3, 2, 4, rng)
    assert model.params["C"] is model.embedding.params["W"]
    assert model.params["mlp.0.W"] is model.mlp.layers[0].params["W"]


def test_forward_prints_its_stages_only_when_asked(rng: np.random.Generator,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """verbose=True prints the shape of each stage (its format is free); the default is quiet,
    and both give the same logits."""
    model = MLPLanguageModel(10, 3, 2, 4, rng)
    X = np.array([[1, 2, 3], [4, 5, 6]])
    quiet = model.forward(X)
    assert capsys.readouterr().out == ""
    loud = model.forward(X, verbose=True)
    assert "(2, 10)" in capsys.readouterr().out, "print the logits' shape, (B, V), among others"
    np.testing.assert_array_equal(quiet, loud)


def test_forward_lays_each_contexts_vectors_side_by_side_token_by_token() -> None:
    """The row for context (a, b, c) is C[a], then C[b], then C[c] (all d numbers of the first
    token first): the MLP's first layer sees exactly that row."""
    rng = np.random.default_rng(0)
    model = MLPLanguageModel(7, 3, 2, 5, rng)
    X = np.array([[1, 4, 6], [0, 0, 2]])
    C = model.embedding.params["W"]
    rows = np.stack([np.concatenate([C[i] for i in context]) for context in X])  # (2, 6)
    np.testing.assert_allclose(model.forward(X), model.mlp.forward(rows), rtol=1e-12)


def test_whole_model_gradcheck(rng: np.random.Generator) -> None:
    V, n = 6, 3
    model = MLPLanguageModel(V, n, dim=2, hidden=5, rng=rng)
    X = np.array([[0, 1, 1], [5, 0, 1], [2, 2, 2], [1, 4, 0], [3, 3, 5], [0, 1, 1], [4, 5, 0]])
    y = np.array([2, 0, 2, 5, 1, 3, 4])
    loss_fn = SoftmaxCrossEntropy()

    def loss() -> float:
        return loss_fn.forward(model.forward(X), y)

    loss()
    model.backward(loss_fn.backward())
    grads = {name: g.copy() for name, g in model.grads.items()}
    errors = check_gradients(loss, model.params, grads)
    assert set(errors) == set(model.params)
    assert max(errors.values()) < TOL, errors


def test_overfits_a_tiny_text(tiny_text: str) -> None:
    tok = CharTokenizer(tiny_text)
    ids = np.array(tok.encode(tiny_text))
    X, Y = make_examples(ids, 4)
    rng = np.random.default_rng(0)
    model = MLPLanguageModel(tok.vocab_size, 4, dim=8, hidden=64, rng=rng)
    history = train(model, X, Y, X, Y, steps=600, batch=64, lr=1e-2, optimizer="adam", rng=rng,
                    progress=False)
    assert history["train"][0] == pytest.approx(np.log(tok.vocab_size), abs=0.1)
    assert history["batch_loss"][-1] < history["batch_loss"][0]
    assert evaluate(model, X, Y) < 0.6  # from about 3.6 nats: it has memorised the text


def test_generate_uses_the_vocabulary(tiny_text: str, rng: np.random.Generator) -> None:
    tok = CharTokenizer(tiny_text)
    model = MLPLanguageModel(tok.vocab_size, 3, 4, 8, rng)
    text = generate(model, tok, 40, rng, temperature=0.8)
    assert len(text) == 40 and set(text) <= set(tok.chars)


def test_main_runs(tmp_path: Path, tiny_text: str, figures_dir: Path,
                   capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text * 3, encoding="utf-8")
    main(["--path", str(corpus), "--context", "3", "--dim", "4", "--hidden", "16",
          "--steps", "100", "--batch", "32", "--sample-chars", "20", "--no-progress",
          "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "Final loss on every example" in out
    assert (figures_dir / "mlp_lm_training.png").is_file()
    assert not (figures_dir / "mlp_lm_map.png").exists()  # only with --map


def test_main_draws_the_character_map(tmp_path: Path, tiny_text: str, figures_dir: Path) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text * 3, encoding="utf-8")
    main(["--path", str(corpus), "--context", "3", "--dim", "2", "--hidden", "8", "--steps", "20",
          "--batch", "16", "--sample-chars", "5", "--map", "--no-progress",
          "--out", str(figures_dir)])
    assert (figures_dir / "mlp_lm_map.png").is_file()


def test_main_refuses_a_context_longer_than_the_text(tmp_path: Path, tiny_text: str) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text, encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["--path", str(corpus), "--context", "500", "--no-progress", "--out", str(tmp_path)])


# Bad input: a one-line error before any work, or a normal run where the text is usable.

def test_main_says_which_split_the_context_cannot_fill(tmp_path: Path, tiny_text: str,
                                                       capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text, encoding="utf-8")  # 324 characters: validation holds 33
    with pytest.raises(SystemExit) as stop:
        main(["--path", str(corpus), "--context", "40", "--no-progress", "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, "validation split has 33 characters", "--context 40")


def test_main_runs_on_a_short_text_without_a_newline(tmp_path: Path, figures_dir: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "line.txt"  # 60 characters: fewer than 100 training examples
    corpus.write_text("abcab cabca " * 5, encoding="utf-8")
    main(["--path", str(corpus), "--context", "3", "--dim", "2", "--hidden", "8", "--steps",
          "10", "--batch", "8", "--sample-chars", "20", "--no-progress",
          "--out", str(figures_dir)])
    out = capsys.readouterr().out
    sample = [line for line in out.splitlines() if line.startswith("   | ")][0]
    assert set(sample[5:]) <= set("abc ")


def test_main_refuses_a_context_that_cannot_fit_in_memory(
        tmp_path: Path, tiny_text: str, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("phase00.flags.machine_memory_bytes", lambda: 16 * 2**30)
    corpus = tmp_path / "long.txt"
    corpus.write_text(tiny_text * 150, encoding="utf-8")  # 48,600 characters, 24,300 a split
    with pytest.raises(SystemExit) as stop:  # the evaluation chunk alone: 8192 x 20000 x 16
        main(["--path", str(corpus), "--context", "20000", "--val-fraction", "0.5",
              "--no-progress", "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, "--context 20000", "GiB", "16.0 GiB")


def test_main_refuses_a_vocabulary_that_cannot_fit(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("phase00.flags.machine_memory_bytes", lambda: 16 * 2**30)
    corpus = tmp_path / "cjk.txt"
    corpus.write_text(many_characters(70_000) * 2, encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--path", str(corpus), "--no-progress", "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, "V = 70,000", "GiB")


def test_count_of_contexts_is_exact_when_short_and_a_power_of_ten_when_long() -> None:
    assert count_of_contexts(65, 8) == "318,644,812,890,625"
    assert count_of_contexts(65, 100_000) == "about 10^181,291"  # 4,300 digits is Python's limit
    assert count_of_contexts(1, 1000) == "1"
