"""Phase 06's scripts answer bad input with one line that says what to do, before any work.

Degenerate texts, sizes that cannot fit, too many threads, output paths of the wrong kind and
files that are not models each stop with exit status 2 (a usage error or a bad file) and a
one-line error, never a traceback; an ordinary value (two epochs, a text without a newline)
just runs.
"""

import importlib
from pathlib import Path

import numpy as np
import pytest

from phase06 import lm_torch, mlp_torch, train_loop, transformer_torch
from tests.scripts import refused

TINY_LOOP = ["--steps", "2", "--warmup", "1", "--batch", "2", "--context", "8", "--d-model", "16",
             "--n-layers", "1", "--n-heads", "2", "--eval-batches", "1", "--sample-chars", "5",
             "--device", "cpu"]


@pytest.mark.parametrize("content, expected", [
    ("a" * 5000, "holds a single distinct character ('a', 5,000 times)"),
    ("abc " * 30, "too short for --context 8"),  # 12 for validation, a batch needs 11 + 2
])
def test_train_loop_refuses_a_degenerate_text(tmp_path: Path, content: str, expected: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text(content, encoding="utf-8")
    line = refused(train_loop.main, ["--path", str(book), *TINY_LOOP, "--batch", "4",
                                     "--save", str(tmp_path / "w.pt"),
                                     "--out", str(tmp_path / "figs")], capsys)
    assert line.startswith("error: ") and expected in line
    assert list(tmp_path.iterdir()) == [book]  # nothing trained, nothing written


def test_train_loop_samples_a_text_without_newline(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text("abcdefghij" * 30, encoding="utf-8")
    train_loop.main(["--path", str(book), *TINY_LOOP, "--save", str(tmp_path / "w.pt"),
                     "--out", str(tmp_path / "figs")])
    out = capsys.readouterr().out
    assert "   | a" in out  # the sample starts from the text's first character
    assert (tmp_path / "w.pt").is_file() and not list(tmp_path.glob(".*.tmp"))


def test_train_loop_refuses_wrong_paths_sizes_and_threads(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "figures"
    a_file.write_text("not a folder")
    line = refused(train_loop.main, ["--save", str(tmp_path)], capsys)
    assert "argument --save" in line and "is a folder, not a file" in line
    line = refused(train_loop.main, ["--out", str(a_file)], capsys)
    assert "argument --out" in line and "is a file, not a folder" in line
    line = refused(train_loop.main, ["--threads", "10000"], capsys)
    assert "argument --threads: expected at most" in line
    book = tmp_path / "book.txt"
    book.write_text("To be, or not to be: that is the question.\n" * 30, encoding="utf-8")
    line = refused(train_loop.main, ["--path", str(book), *TINY_LOOP, "--d-model", "1000000"],
                   capsys)
    assert "--d-model 1000000" in line and "GiB of memory" in line
    assert sorted(tmp_path.iterdir()) == [book, a_file]


@pytest.mark.parametrize("content, expected", [
    ("a" * 100, "a single distinct character"), ("short text\n", "needs at least 40")])
def test_lm_torch_refuses_a_text_its_demos_cannot_use(tmp_path: Path, content: str,
                                                      expected: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text(content, encoding="utf-8")
    line = refused(lm_torch.main, ["--path", str(book), "--steps", "1"], capsys)
    assert line.startswith("error: ") and expected in line


def test_lm_torch_runs_on_forty_characters_and_refuses_a_huge_batch(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text("abcdefghij" * 4, encoding="utf-8")
    lm_torch.main(["--path", str(book), "--steps", "2", "--batch", "4"])
    assert "round trip keeps every weight: True" in capsys.readouterr().out
    line = refused(lm_torch.main, ["--path", str(book), "--batch", "1000000000"], capsys)
    assert "--batch 1000000000" in line and "GiB of memory" in line


@pytest.mark.parametrize("epochs", ["1", "2", "11"])
def test_mlp_torch_runs_any_number_of_epochs(epochs: str, figures_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    mlp_torch.main(["--epochs", epochs, "--out", str(figures_dir)])
    shown = [int(line.split()[1].rstrip(":")) for line in capsys.readouterr().out.splitlines()
             if line.strip().startswith("epoch ")]
    last = int(epochs)
    assert shown == sorted({e for e in (0, 1, 10, last // 2, last) if e <= last})


@pytest.mark.parametrize("script, argv", [
    ("device", ["--size", "10000000"]),
    ("tensors", ["--width", "10000000"]),
    ("mlp_torch", ["--hidden", "10000000"]),
    ("rnn_torch", ["--seq-len", "1000000000"]),
    ("optimizers_torch", ["--steps", "1000000000"]),
    ("transformer_torch", ["--vocab-size", "1000000000"]),
    ("transformer_torch", ["--context", "1000000"]),
])
def test_sizes_that_cannot_fit(script: str, argv: list[str],
                               capsys: pytest.CaptureFixture[str]) -> None:
    main = importlib.import_module(f"phase06.{script}").main
    assert "GiB of memory and this machine has" in refused(main, argv, capsys)


@pytest.mark.parametrize("script, argv", [("parity", ["--steps", "1000000"]),
                                          ("optimizers_torch", ["--steps", "10000000"])])
def test_runs_that_would_take_hours_are_refused_with_the_estimate(
        script: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    main = importlib.import_module(f"phase06.{script}").main
    line = refused(main, argv, capsys)
    assert "would take about" in line and "minutes" in line and "at most 30 minutes" in line


def test_transformer_torch_refuses_a_vocabulary_of_one_token(
        capsys: pytest.CaptureFixture[str]) -> None:
    """With one token every prediction is certain: it printed a loss of 0 and called it ln 1."""
    main = importlib.import_module("phase06.transformer_torch").main
    assert "expected at least 2 tokens" in refused(main, ["--vocab-size", "1"], capsys)


@pytest.mark.parametrize("script", ["mlp_torch", "benchmark", "train_loop"])
def test_threads_beyond_the_cores_are_refused(script: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    main = importlib.import_module(f"phase06.{script}").main
    assert "expected at most" in refused(main, ["--threads", "10000"], capsys)


def test_transformer_torch_refuses_files_that_are_not_models(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = tmp_path / "program.npz"
    program.write_bytes(bytes(range(256)) * 4)
    other = tmp_path / "other.npz"
    np.savez(other, W=np.zeros(3))
    for path, why in ((program, "not a .npz (zip) archive"), (other, "no __config__ entry")):
        line = refused(transformer_torch.main, ["--model", str(path)], capsys)
        assert f"{path} is not a model saved by train_transformer.py" in line and why in line
    assert capsys.readouterr().out == ""  # refused before the parity checks ran
