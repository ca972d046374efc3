"""One-hot times a matrix is a row lookup, exactly; the Embedding layer's backward pass is the
one-hot matmul's dL/dW, and passes a finite-difference check."""

from pathlib import Path

import numpy as np
import pytest

from phase02.gradcheck import check_gradients
from phase03.embeddings import Embedding, main, one_hot
from tests.phase_03.test_char_tokenizer import assert_one_line_error
from tests.protocol import assert_backward_writes_in_place

TOL = 1e-6


def test_one_hot_by_hand() -> None:
    np.testing.assert_array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.zeros((4, 5), dtype=int), 7).shape == (4, 5, 7)


@pytest.mark.parametrize("ids", [[0, 3], [-1, 0]])
def test_one_hot_refuses_ids_out_of_range(ids: list[int]) -> None:
    with pytest.raises(ValueError, match=r"0\.\.2"):
        one_hot(ids, 3)


def test_one_hot_refuses_float_ids() -> None:
    with pytest.raises(TypeError, match="integer"):
        one_hot(np.array([0.0, 1.0]), 3)


def test_lookup_equals_one_hot_matmul_exactly(rng: np.random.Generator) -> None:
    V, d = 11, 4
    emb = Embedding(V, d, rng)
    ids = rng.integers(0, V, size=(5, 7))  # a batch of sequences, with repeats
    out = emb.forward(ids)
    assert out.shape == (5, 7, d)
    np.testing.assert_array_equal(out, one_hot(ids, V) @ emb.params["W"])  # bit for bit


def test_backward_is_one_hot_transpose_times_dout(rng: np.random.Generator) -> None:
    V, d = 6, 3
    emb = Embedding(V, d, rng)
    ids = np.array([1, 4, 1, 1, 0])  # id 1 three times, ids 2, 3, 5 never
    dout = rng.normal(size=(5, d))
    emb.forward(ids)
    assert emb.backward(dout) is None  # integer ids get no gradient
    np.testing.assert_allclose(emb.grads["W"], one_hot(ids, V).T @ dout, atol=1e-15)
    np.testing.assert_allclose(emb.grads["W"][1], dout[[0, 2, 3]].sum(axis=0))
    assert not emb.grads["W"][[2, 3, 5]].any()


def test_backward_overwrites_like_every_layer(rng: np.random.Generator) -> None:
    emb = Embedding(4, 2, rng)
    ids, dout = np.array([0, 1]), rng.normal(size=(2, 2))
    assert_backward_writes_in_place(emb, lambda: emb.forward(ids), dout)
    np.testing.assert_allclose(emb.grads["W"][:2], dout)


def test_embedding_gradcheck(rng: np.random.Generator) -> None:
    V, d = 5, 3
    emb = Embedding(V, d, rng)
    ids = np.array([[0, 2, 2], [4, 0, 2]])
    R = rng.normal(size=(2, 3, d))  # L = sum(out * R), so dL/dout = R

    def loss() -> float:
        return float(np.sum(emb.forward(ids) * R))

    loss()
    emb.backward(R)
    errors = check_gradients(loss, emb.params, {"W": emb.grads["W"].copy()})
    assert errors["W"] < TOL


def test_errors_are_clear(rng: np.random.Generator) -> None:
    emb = Embedding(4, 2, rng)
    with pytest.raises(RuntimeError, match="forward"):
        emb.backward(np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"0\.\.3"):
        emb.forward(np.array([4]))
    with pytest.raises(TypeError, match="integer"):
        emb.forward(np.array([0.5]))
    emb.forward(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        emb.backward(np.zeros((2, 3)))


def test_from_weights() -> None:
    W = np.arange(6.0).reshape(3, 2)
    emb = Embedding.from_weights(W)
    np.testing.assert_array_equal(emb.forward(np.array([2, 0])), [[4, 5], [0, 1]])


def test_main_runs(tmp_path: Path, tiny_text: str, figures_dir: Path,
                   capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text, encoding="utf-8")
    main(["--path", str(corpus), "--tokens", "50", "--timing-dim", "8",
          "--out", str(figures_dir)])
    assert "identical, bit for bit: True" in capsys.readouterr().out
    assert (figures_dir / "one_hot_lookup.png").is_file()


# Bad input: a one-line error before any work.

@pytest.mark.parametrize(("flags", "fragment"), [
    (["--text", ""], "--text is empty"),
    (["--text", "x" * 101], "--text has 101 characters"),
    (["--dim", "65"], "--dim 65"),
])
def test_main_refuses_an_example_it_cannot_draw(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                flags: list[str], fragment: str) -> None:
    with pytest.raises(SystemExit) as stop:
        main([*flags, "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, fragment)


