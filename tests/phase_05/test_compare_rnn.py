"""The RNN-against-transformer comparison measures every model the same way.

The evaluation is the models' own loss, position by position, on windows read from scratch; a
model that knows nothing scores ln V everywhere; every model trains on the same windows of text
and is scored on the same validation windows; and the --quick run finishes in seconds.
"""

import math
from pathlib import Path

import numpy as np
import pytest

import phase05.compare_rnn as compare
from phase04.char_rnn import CharRNN
from phase05.transformer import Transformer, TransformerConfig


class Uniform:
    """A model that knows nothing: the same score for every character, at every position."""

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size

    def forward(self, ids: np.ndarray) -> np.ndarray:
        return np.zeros((*ids.shape, self.vocab_size))


def test_validation_windows_predict_every_character_once() -> None:
    val = np.arange(50)
    x, y = compare.validation_windows(val, 8)
    assert x.shape == y.shape == (6, 8)  # (50 - 1) // 8 windows
    assert x[2].tolist() == list(range(16, 24)) and y[2].tolist() == list(range(17, 25))
    assert y.ravel().tolist() == list(range(1, 49))  # each target once, in order
    assert compare.validation_windows(val, 8, limit=2)[0].shape == (2, 8)


def test_a_model_that_knows_nothing_scores_ln_v_at_every_position() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 7, size=(2, 10, 5))
    by_position = compare.loss_by_position(Uniform(7), x, y, batch=3)
    assert by_position.shape == (5,)
    np.testing.assert_allclose(by_position, math.log(7), rtol=1e-12)


@pytest.mark.parametrize("model", [
    CharRNN(11, 4, 8, "gru", np.random.default_rng(0)),
    Transformer(TransformerConfig(11, 6, 8, 2, 1), seed=0),
], ids=["gru", "transformer"])
def test_the_mean_over_positions_is_the_models_own_loss(model: CharRNN | Transformer) -> None:
    """Averaged over positions, the evaluation is the loss each model trains on, computed
    from a fresh start: a zero state for the recurrent model, the window alone for attention."""
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 11, size=(2, 7, 6))
    by_position = compare.loss_by_position(model, x, y, batch=4)  # batches of 4, then 3
    assert by_position.mean() == pytest.approx(model.loss(x, y), rel=1e-12)


def test_quick_run_trains_on_the_same_windows_and_scores_the_same_windows(
        tmp_path: Path, tiny_text: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text(tiny_text * 6, encoding="utf-8")
    batches: list[np.ndarray] = []
    scored: list[np.ndarray] = []
    get_batch, loss_by_position = compare.get_batch, compare.loss_by_position

    def recording_get_batch(*args: object) -> tuple[np.ndarray, np.ndarray]:
        x, y = get_batch(*args)
        batches.append(x)
        return x, y

    def recording_loss_by_position(model: object, x: np.ndarray, y: np.ndarray,
                                   batch: int) -> np.ndarray:
        scored.append(x)
        return loss_by_position(model, x, y, batch)

    monkeypatch.setattr(compare, "get_batch", recording_get_batch)
    monkeypatch.setattr(compare, "loss_by_position", recording_loss_by_position)
    compare.main(["--quick", "--steps", "6", "--eval-every", "3", "--path", str(book),
                  "--out", str(tmp_path)])
    out = capsys.readouterr().out
    n = len(compare.MODELS)
    assert len(batches) == 6 * n
    for k in range(1, n):  # model k drew exactly model 0's windows, in the same order
        assert all(np.array_equal(a, b) for a, b in zip(batches[:6], batches[6 * k:6 * k + 6],
                                                        strict=True))
    finals = [s for s in scored if len(s) == len(scored[-1])]
    assert len(scored) == 3 * n  # two points of the time curve and the final score, per model
    assert all(np.array_equal(s, scored[-1]) for s in finals)
    for name in compare.MODELS:
        assert f"   {name} " in out.split("3. Side by side")[1]
    assert "lowest validation loss:" in out
    assert (tmp_path / "rnn_vs_transformer.png").is_file()


@pytest.mark.parametrize("argv, expected", [
    (["--quick", "--steps", "3", "--warmup", "4"], "--warmup 4 is longer than the run"),
    (["--quick", "--context", "64"], "too short for --context 64"),
])
def test_bad_settings_are_refused_in_one_line(argv: list[str], expected: str, tmp_path: Path,
                                              tiny_text: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text(tiny_text, encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        compare.main([*argv, "--path", str(book), "--out", str(tmp_path / "figures")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and expected in err.strip().splitlines()[-1]
    assert not (tmp_path / "figures").exists()
