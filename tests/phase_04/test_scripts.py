"""Every script of the phase runs end to end on tiny settings and writes its figures where it is
told (never into blog/figures), printing the numbers it promises."""

from pathlib import Path

import pytest

from phase04 import (
    char_rnn,
    clipping,
    compare_cells,
    gradient_flow,
    gru,
    lstm,
    rnn,
    seq2seq,
)


def test_rnn_main(figures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rnn.main(["--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "h = tanh(a) = +0.4621" in out and "gives the same three numbers: True" in out
    assert "WRONG" not in out
    assert (figures_dir / "rnn_unrolled.png").is_file()


def test_lstm_and_gru_main(figures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lstm.main(["--seq-len", "10", "--hidden", "8", "--out", str(figures_dir)])
    gru.main(["--hidden", "3"])
    out = capsys.readouterr().out
    assert "c_t = f * c_(t-1) + i * g" in out and "WRONG" not in out
    assert (figures_dir / "lstm_cell.png").is_file()


def test_gradient_flow_main(figures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gradient_flow.main(["--seq-len", "55", "--hidden", "16", "--batch", "4",
                        "--out", str(figures_dir)])
    assert "50 steps back, the best LSTM keeps" in capsys.readouterr().out
    assert (figures_dir / "gradient_flow.png").is_file()


def test_clipping_main(figures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clipping.main(["--steps", "5", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "norm 5 -> [0.6, 0.8]" in out and "(short enough: unchanged)" in out
    assert (figures_dir / "clipping_cliff.png").is_file()


def test_clipping_main_refuses_a_slope_without_a_wall(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        clipping.main(["--w", "0.5"])
    assert stop.value.code == 2 and "no cliff" in capsys.readouterr().err


def test_char_rnn_main(figures_dir: Path, text_file: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    char_rnn.main(["--path", str(text_file), "--cell", "gru", "--hidden", "16", "--embed", "8",
                   "--seq-len", "8", "--batch-size", "2", "--steps", "20", "--eval-every", "10",
                   "--sample-chars", "20", "--prompt", "To", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "final validation loss" in out and "| To" in out
    assert (figures_dir / "char_rnn_training.png").is_file()


def test_char_rnn_main_bad_prompt(text_file: Path, figures_dir: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        char_rnn.main(["--path", str(text_file), "--hidden", "4", "--seq-len", "4", "--steps",
                       "2", "--prompt", "€", "--out", str(figures_dir)])
    assert stop.value.code == 2 and "not in the vocabulary" in capsys.readouterr().err


def test_compare_cells_main(figures_dir: Path, text_file: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    compare_cells.main(["--path", str(text_file), "--hidden", "12", "--embed", "4",
                        "--seq-len", "8", "--batch-size", "2", "--steps", "10",
                        "--eval-every", "5", "--prompt", "To", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "Side by side" in out and "LSTM" in out and "GRU" in out
    assert (figures_dir / "compare_cells.png").is_file()


def test_seq2seq_main(figures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq2seq.main(["--hidden", "8", "--embed", "4", "--steps", "20", "--max-len", "6",
                  "--test-size", "20", "--task", "copy", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "length   6:" in out
    assert (figures_dir / "seq2seq_accuracy.png").is_file()


def test_seq2seq_main_checks_the_length_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        seq2seq.main(["--min-len", "9", "--max-len", "4"])
    assert stop.value.code == 2 and "--min-len" in capsys.readouterr().err
