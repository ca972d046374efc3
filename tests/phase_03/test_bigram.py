"""The bigram model: counts and probabilities by hand, rows that sum to 1, and the neural bigram
reaching the counting model's loss."""

from pathlib import Path

import numpy as np
import pytest

from phase00.probability import log_softmax
from phase03.bigram import (
    bigram_counts,
    bigram_probs,
    log_of,
    main,
    mean_nll,
    sample_text,
    train_neural_bigram,
)
from phase03.char_tokenizer import CharTokenizer
from tests.phase_03.test_char_tokenizer import (
    assert_one_line_error,
    many_characters,
)


def test_counts_by_hand() -> None:
    # "abab" with a = 0, b = 1: pairs ab, ba, ab
    N = bigram_counts(np.array([0, 1, 0, 1]), 2)
    np.testing.assert_array_equal(N, [[0, 2], [1, 0]])
    assert np.issubdtype(N.dtype, np.integer), f"counts are whole numbers, got {N.dtype}"
    # the table is V x V even when the text does not use the last ids of the vocabulary
    np.testing.assert_array_equal(bigram_counts(np.array([0, 1, 0, 1]), 3),
                                  [[0, 2, 0], [1, 0, 0], [0, 0, 0]])


def test_counts_refuse_too_short_input() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        bigram_counts(np.array([3]), 5)


@pytest.mark.parametrize("k", [0.0, 0.5, 1.0])
def test_rows_sum_to_one(tiny_text: str, k: float) -> None:
    tok = CharTokenizer(tiny_text)
    P = bigram_probs(bigram_counts(np.array(tok.encode(tiny_text)), tok.vocab_size), k)
    assert P.shape == (tok.vocab_size, tok.vocab_size)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert (P >= 0).all()


def test_smoothing_by_hand() -> None:
    N = np.array([[0, 2], [1, 0]])
    np.testing.assert_allclose(bigram_probs(N, 0.0), [[0, 1], [1, 0]])
    np.testing.assert_allclose(bigram_probs(N, 1.0), [[1 / 4, 3 / 4], [2 / 3, 1 / 3]])


def test_unseen_row_is_uniform_without_smoothing() -> None:
    N = np.array([[0, 2, 0], [1, 0, 0], [0, 0, 0]])  # id 2 never comes first
    np.testing.assert_allclose(bigram_probs(N, 0.0)[2], [1 / 3] * 3)


def test_mean_nll_by_hand() -> None:
    ids = np.array([0, 1, 0, 1])
    P = bigram_probs(bigram_counts(ids, 2), 1.0)  # P(b|a) = 3/4, P(a|b) = 2/3
    expected = -(np.log(3 / 4) + np.log(2 / 3) + np.log(3 / 4)) / 3
    assert mean_nll(log_of(P), ids) == pytest.approx(expected, rel=1e-12)


def test_unseen_pair_without_smoothing_is_infinitely_surprising() -> None:
    P = bigram_probs(bigram_counts(np.array([0, 1, 0, 1]), 2), 0.0)
    assert mean_nll(log_of(P), np.array([0, 0])) == np.inf


def test_neural_bigram_reaches_the_counting_loss(tiny_text: str) -> None:
    """Raw frequencies (k = 0) are the exact minimum of the training loss of any (V, V) table;
    descent gets within 0.01 nats of it, from above."""
    tok = CharTokenizer(tiny_text)
    ids, V = np.array(tok.encode(tiny_text)), tok.vocab_size
    counting = mean_nll(log_of(bigram_probs(bigram_counts(ids, V), 0.0)), ids)
    W_layer, history = train_neural_bigram(ids, V, steps=1500, batch=256, lr=0.3,
                                           rng=np.random.default_rng(0))
    neural = mean_nll(log_softmax(W_layer.params["W"]), ids)
    assert history["train_nll"][0] == pytest.approx(np.log(V))  # W = 0: a uniform guess
    assert history["train_nll"][-1] == pytest.approx(neural)
    assert counting <= neural < counting + 0.01


def test_weight_decay_pulls_toward_uniform(tiny_text: str) -> None:
    tok = CharTokenizer(tiny_text)
    ids, V = np.array(tok.encode(tiny_text)), tok.vocab_size
    norms = []
    for wd in (0.0, 0.01):
        W_layer, _ = train_neural_bigram(ids, V, steps=300, batch=128, lr=0.1,
                                         rng=np.random.default_rng(0), weight_decay=wd)
        norms.append(np.linalg.norm(W_layer.params["W"]))
    assert norms[1] < norms[0]


def test_samples_use_the_vocabulary(tiny_text: str) -> None:
    tok = CharTokenizer(tiny_text)
    P = bigram_probs(bigram_counts(np.array(tok.encode(tiny_text)), tok.vocab_size), 1.0)
    text = sample_text(P, tok, 50, np.random.default_rng(0))
    assert len(text) == 50 and set(text) <= set(tok.chars)


def test_main_runs(tmp_path: Path, tiny_text: str, figures_dir: Path,
                   capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text * 3, encoding="utf-8")
    main(["--path", str(corpus), "--steps", "300", "--batch", "64", "--sample-chars", "20",
          "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "every row sums to 1: True" in out
    assert (figures_dir / "bigram_counts.png").is_file()
    assert (figures_dir / "bigram_training.png").is_file()


def test_main_refuses_a_bad_split(tmp_path: Path, tiny_text: str) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text, encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["--path", str(corpus), "--val-fraction", "1.5"])


# Bad input: a one-line error before any work, or a normal run where the text is usable.

def test_main_samples_a_text_without_a_newline(tmp_path: Path, figures_dir: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "line.txt"
    corpus.write_text("the cat sat on the mat " * 20, encoding="utf-8")
    main(["--path", str(corpus), "--steps", "20", "--batch", "16", "--sample-chars", "30",
          "--out", str(figures_dir)])
    samples = [line for line in capsys.readouterr().out.splitlines() if line.startswith("   | ")]
    assert len(samples) == 2 and all(set(s[5:]) <= set("the cat sat on mat") for s in samples)


def test_main_refuses_a_vocabulary_whose_table_cannot_fit(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("phase00.flags.machine_memory_bytes", lambda: 16 * 2**30)
    corpus = tmp_path / "cjk.txt"  # 70,000 distinct characters: a (V, V) table of 39 GB
    corpus.write_text(many_characters(70_000), encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--path", str(corpus), "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, "V = 70,000", "GiB", "16.0 GiB")


