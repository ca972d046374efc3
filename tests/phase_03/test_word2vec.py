"""word2vec: the word pipeline, pairs and negatives, the hand-written SGNS gradients checked
against finite differences, PCA by SVD, and training that lowers the loss."""

from pathlib import Path

import numpy as np
import pytest

from phase02.gradcheck import check_gradients
from phase03.word2vec import (
    SkipGram,
    build_vocab,
    main,
    nearest,
    noise_distribution,
    pca_2d,
    skipgram_pairs,
    subsample,
    train,
    words_of,
)
from tests.phase_03.test_char_tokenizer import assert_one_line_error

TOL = 1e-6


def test_words_are_lowercased_with_inner_apostrophes() -> None:
    assert words_of("KING RICHARD: O'er the hills, 'tis late-night!") == [
        "king", "richard", "o'er", "the", "hills", "tis", "late", "night"]


def test_vocab_is_sorted_by_count_and_drops_rare_words() -> None:
    vocab, counts = build_vocab("b a b c b a".split(), min_count=2)
    assert vocab == ["b", "a"]
    np.testing.assert_array_equal(counts, [3, 2])
    with pytest.raises(ValueError, match="--min-count"):
        build_vocab(["a", "b"], min_count=5)


def test_window_one_pairs_every_word_with_its_neighbours(rng: np.random.Generator) -> None:
    ids = np.array([0, 1, 2, 3])
    centre, context = skipgram_pairs(ids, 1, rng)
    assert sorted(zip(centre.tolist(), context.tolist(), strict=True)) == [
        (0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2)]


def test_pairs_stay_inside_the_window(rng: np.random.Generator) -> None:
    ids = np.arange(200)  # each id is its own position, so |centre - context| is the distance
    centre, context = skipgram_pairs(ids, 4, rng)
    distance = np.abs(centre - context)
    assert distance.min() == 1 and distance.max() == 4
    # a random window from 1..4: distance 1 always used, distance 4 about a quarter of the time
    assert (distance == 1).sum() == 2 * 199
    assert (distance == 4).sum() < (distance == 1).sum() / 2


def test_subsampling_drops_frequent_words_only(rng: np.random.Generator) -> None:
    counts = np.array([900.0, 100.0])
    ids = np.array([0] * 900 + [1] * 100)
    np.testing.assert_array_equal(subsample(ids, counts, 0.0, rng), ids)
    kept = subsample(ids, counts, 0.1, rng)
    assert (kept == 1).sum() == 100  # f = 0.1 <= t: always kept
    assert 250 < (kept == 0).sum() < 380  # f = 0.9: kept with probability sqrt(1/9) = 1/3


def test_noise_distribution_is_flatter_than_the_counts() -> None:
    counts = np.array([100.0, 10.0, 1.0])
    p = noise_distribution(counts)
    assert p.sum() == pytest.approx(1.0)
    assert p[0] < counts[0] / counts.sum() and p[2] > counts[2] / counts.sum()


def test_loss_at_the_start_is_one_plus_k_times_ln2(rng: np.random.Generator) -> None:
    """W_out starts at 0: every score is 0, every sigma 1/2, every term ln 2."""
    model = SkipGram(10, 4, rng)
    loss = model.sgns_loss_and_grads(np.array([1, 2]), np.array([3, 4]),
                                     rng.integers(0, 10, size=(2, 5)))
    assert loss == pytest.approx(6 * np.log(2))


def test_sgns_gradcheck(rng: np.random.Generator) -> None:
    V, d, B, k = 7, 4, 6, 3
    model = SkipGram(V, d, rng)
    model.params["W_in"][...] = rng.normal(size=(V, d))
    model.params["W_out"][...] = rng.normal(size=(V, d))
    centre = np.array([0, 1, 1, 2, 5, 0])  # repeats: rows used several times
    context = np.array([1, 0, 2, 2, 6, 3])  # including a word that is its own context
    negatives = rng.integers(0, V, size=(B, k))
    negatives[0] = [1, 1, 4]  # the true context drawn again as a negative

    def loss() -> float:
        return model.sgns_loss_and_grads(centre, context, negatives)

    loss()
    loss()  # twice: each call's gradients replace the last call's, they do not add up
    grads = {name: g.copy() for name, g in model.grads.items()}
    errors = check_gradients(loss, model.params, grads)
    assert max(errors.values()) < TOL, errors


def test_sgns_refuses_mismatched_shapes(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        SkipGram(5, 2, rng).sgns_loss_and_grads(np.array([0, 1, 2]), np.array([1, 2]),
                                                np.zeros((2, 3), dtype=int))


def test_training_lowers_the_loss(tiny_text: str) -> None:
    words = words_of(tiny_text * 5)
    vocab, counts = build_vocab(words, 1)
    word_id = {w: i for i, w in enumerate(vocab)}
    ids = np.array([word_id[w] for w in words])
    _, losses = train(ids, counts, dim=8, window=2, negatives=3, epochs=10, lr=2.0, batch=32,
                      subsample_t=0.0, rng=np.random.default_rng(0), progress=False)
    assert losses[-1] < losses[0] - 0.5  # from about (1 + 3) ln 2 = 2.77 per pair


def test_pairs_made_epoch_by_epoch_train_as_before(tiny_text: str) -> None:
    """Each epoch's pairs are drawn again from the random state the epoch started from, so only
    one epoch is held in memory; the numbers are those of the version that drew every epoch's
    pairs up front (measured with it, seed 0)."""
    words = words_of(tiny_text * 5)
    vocab, counts = build_vocab(words, 1)
    word_id = {w: i for i, w in enumerate(vocab)}
    ids = np.array([word_id[w] for w in words])
    model, losses = train(ids, counts, dim=8, window=2, negatives=3, epochs=3, lr=2.0, batch=32,
                          subsample_t=0.01, rng=np.random.default_rng(0), progress=False)
    assert losses == pytest.approx([2.772243907744814, 2.7710095377095705, 2.770091071637588],
                                   rel=1e-12)
    assert model.params["W_in"][0, 0] == pytest.approx(0.016686556225451923, rel=1e-12)


def test_nearest_uses_cosine() -> None:
    E = np.array([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    near = nearest(E, 0, 3)
    assert [i for i, _ in near] == [1, 2, 3]  # length does not matter, direction does
    assert near[2][1] == pytest.approx(-1.0)


def test_pca_by_hand(rng: np.random.Generator) -> None:
    # Points spread along (1, 1, 0) a lot and along (0, 0, 1) a little.
    t, s = rng.normal(size=50) * 10, rng.normal(size=50)
    X = np.outer(t, [1, 1, 0]) / np.sqrt(2) + np.outer(s, [0, 0, 1]) + 5.0
    coords, explained = pca_2d(X)
    assert coords.shape == (50, 2)
    np.testing.assert_allclose(coords.mean(axis=0), 0.0, atol=1e-10)
    assert explained[0] > 0.95 and explained.sum() == pytest.approx(1.0)
    # the variances along the directions are the eigenvalues of the covariance matrix
    eig = np.sort(np.linalg.eigvalsh(np.cov(X.T)))[::-1]
    np.testing.assert_allclose(coords.var(axis=0, ddof=1), eig[:2], rtol=1e-10)


def test_main_runs(tmp_path: Path, tiny_text: str, figures_dir: Path,
                   capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text * 3, encoding="utf-8")
    main(["--path", str(corpus), "--min-count", "2", "--epochs", "2", "--batch", "16",
          "--dim", "8", "--query", "To", "sleep", "King", "TO", "--no-progress",
          "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "Nearest neighbours" in out and "'king': not in the vocabulary" in out
    assert out.count("\n         to: ") == 1  # "To" and "TO" are the word "to", asked once
    assert (figures_dir / "word2vec_map.png").is_file()
    # the PCA example of the notes: variance 5 along x, 1 along y, 5.83 (97.1%) along its line
    assert "is 5 along x and 1 along y, 6 in all" in out
    assert "[0.924, 0.383] carries 5.83 of the 6 (97.1%)" in out
    assert "sit at [3.15, 1.31, -1.31, -3.15]" in out


def test_main_explains_an_empty_vocabulary(tmp_path: Path, tiny_text: str) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text, encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["--path", str(corpus), "--min-count", "1000", "--no-progress"])


# Bad input: a one-line error before any work, or a normal run where the input is usable.

def test_main_refuses_a_text_with_fewer_pairs_than_one_batch(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "two.txt"
    corpus.write_text("alpha beta " * 3, encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--path", str(corpus), "--min-count", "1", "--subsample", "0", "--no-progress",
              "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, "fewer than one --batch of 256", "nothing would be")


def test_train_refuses_to_train_on_nothing(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="fewer .* pairs than one batch"):
        train(np.array([0, 1, 0]), np.array([2.0, 1.0]), 4, 2, 2, 1, 0.1, 256, 0.0, rng,
              progress=False)


def test_skipgram_pairs_of_fewer_than_two_words_are_empty(rng: np.random.Generator) -> None:
    for ids in (np.array([], dtype=np.int64), np.array([3])):
        centre, context = skipgram_pairs(ids, 5, rng)
        assert centre.shape == context.shape == (0,)


def test_pca_2d_of_one_dimension_pads_the_second_coordinate() -> None:
    coords, explained = pca_2d(np.array([[1.0], [2.0], [4.0]]))
    assert coords.shape == (3, 2) and np.all(coords[:, 1] == 0)
    np.testing.assert_allclose(explained, [1.0, 0.0])
    coords, explained = pca_2d(np.ones((3, 4)))  # every row the same point: no spread at all
    assert np.all(coords == 0) and np.all(explained == 0)


