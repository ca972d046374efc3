"""Phase 05's scripts answer bad input with one line that says what to do, before any work.

Degenerate texts, sizes that cannot fit in memory, output paths of the wrong kind and files that
are not models: each stops with exit status 1 or 2 and a one-line error, never a traceback, and
leaves no temporary file behind.
"""

import argparse
import importlib
from pathlib import Path

import numpy as np
import pytest

from phase00.flags import output_file, output_folder
from phase05.sample_transformer import main as sample_main
from phase05.train_transformer import main as train_main
from phase05.train_transformer import text_problem, training_text
from phase05.transformer import Transformer, TransformerConfig, training_bytes
from tests.scripts import refused

TINY = ["--steps", "1", "--warmup", "1", "--batch", "2", "--context", "8", "--d-model", "16",
        "--n-layers", "1", "--sample-chars", "5"]


def test_output_path_types(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert output_folder(str(tmp_path / "new" / "figures")) == tmp_path / "new" / "figures"
    assert output_file(str(tmp_path / "new" / "model.npz")) == tmp_path / "new" / "model.npz"
    with pytest.raises(argparse.ArgumentTypeError, match="is a file, not a folder"):
        output_folder(str(a_file))
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder, not a file"):
        output_file(str(tmp_path))
    with pytest.raises(argparse.ArgumentTypeError, match=f"{a_file} is a file, not a folder"):
        output_file(str(a_file / "model.npz"))  # a file where a folder of the path should be


def test_text_problems() -> None:
    assert "too short for --context 8" in text_problem("ab" * 20, 8)  # 4 for validation
    assert text_problem("ab" * 50, 8) is None  # 10 for validation: one window and a target
    assert "smaller --context or --batch" in text_problem("ab" * 50, 8, 9, "--context or --batch")


def test_training_bytes_grows_with_every_size() -> None:
    small = training_bytes(65, 64, 128, 4, 4, 32)
    for bigger in (training_bytes(65, 128, 128, 4, 4, 32), training_bytes(65, 64, 256, 4, 4, 32),
                   training_bytes(65, 64, 128, 4, 8, 32), training_bytes(65, 64, 128, 4, 4, 64),
                   training_bytes(650, 64, 128, 4, 4, 32)):
        assert bigger > small
    # the default run: 0.8M parameters; the estimate is tens of MB, far below any machine's
    assert 10e6 < small < 500e6


@pytest.mark.parametrize("content, expected", [
    ("a" * 5000, "holds a single distinct character ('a', 5,000 times)"),
    ("To be or not to be\n", "too short for --context 8"),
])
def test_degenerate_text_is_refused(tmp_path: Path, content: str, expected: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text(content, encoding="utf-8")
    line = refused(train_main, ["--path", str(book), *TINY, "--out", str(tmp_path)], capsys)
    assert line.startswith("error: ") and expected in line
    assert list(tmp_path.iterdir()) == [book]  # nothing written


def test_text_without_newline_trains_and_samples(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Sampling starts from the text's first character when "\\n" is not in its alphabet."""
    book = tmp_path / "book.txt"
    book.write_text("abcdefghij" * 30, encoding="utf-8")
    train_main(["--path", str(book), *TINY, "--save", str(tmp_path / "m.npz"),
                "--out", str(tmp_path)])
    assert (tmp_path / "m.npz").is_file()
    capsys.readouterr()
    sample_main(["--model", str(tmp_path / "m.npz"), "--chars", "5"])
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("a")
    assert not list(tmp_path.glob(".tmp-*"))


def test_impossible_sizes_are_refused_before_training(tmp_path: Path, tiny_text: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text(tiny_text * 10, encoding="utf-8")
    line = refused(train_main, ["--path", str(book), *TINY, "--batch", "1000000000",
                                "--out", str(tmp_path)], capsys)
    assert "--batch 1000000000" in line and "GiB of memory" in line


@pytest.mark.parametrize("script, argv", [
    ("attention", ["--seq-len", "100000"]),
    ("attention", ["--d-k", "1000000000"]),
    ("positional", ["--positions", "1000000000"]),
    ("layernorm", ["--depth", "1000000000"]),
    ("layernorm", ["--width", "1000000"]),
    ("bahdanau", ["--max-len", "100000"]),
    ("bahdanau", ["--batch-size", "1000000000"]),
    ("transformer", ["--vocab-size", "1000000000"]),
    ("transformer", ["--context", "1000000"]),
])
def test_sizes_that_cannot_fit(script: str, argv: list[str], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    main = importlib.import_module(f"phase05.{script}").main
    line = refused(main, [*argv, *(["--out", str(tmp_path)] if script != "transformer" else [])],
                   capsys)
    assert "GiB of memory and this machine has" in line


def test_save_that_is_a_folder_is_refused_before_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(train_main, ["--save", str(tmp_path)], capsys)
    assert "argument --save" in line and "is a folder, not a file" in line
    assert not list(tmp_path.iterdir())


@pytest.fixture
def saved_model(tmp_path: Path) -> Path:
    """A tiny model and its characters, as train_transformer.py saves them."""
    from phase03.char_tokenizer import CharTokenizer

    model = Transformer(TransformerConfig(vocab_size=7, context=6, d_model=8, n_heads=2,
                                          n_layers=1))
    path = model.save(tmp_path / "model.npz")
    CharTokenizer("abcdef\n").save(path.with_suffix(".chars.json"))
    return path


def test_sample_refuses_files_that_are_not_models(saved_model: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(saved_model.read_bytes()[:500])
    program = tmp_path / "program.npz"
    program.write_bytes(bytes(range(256)) * 4)
    other = tmp_path / "other.npz"
    np.savez(other, W=np.zeros(3))
    for path, why in ((truncated, "File is not a zip file"),
                      (program, "not a .npz (zip) archive"),
                      (other, "no __config__ entry")):
        line = refused(sample_main, ["--model", str(path)], capsys)
        assert line.startswith(f"error: {path} is not a model saved by train_transformer.py")
        assert why in line and "train_transformer.py --save" in line
    line = refused(sample_main, ["--model", str(tmp_path)], capsys)
    assert "found a folder" in line


def test_sample_refuses_an_empty_prompt(saved_model: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(sample_main, ["--model", str(saved_model), "--prompt", ""], capsys)
    assert "--prompt must hold at least one character" in line
    sample_main(["--model", str(saved_model), "--chars", "3"])  # the default prompt: "\n"
    assert "model " in capsys.readouterr().out


def test_training_text_gives_text_source_and_tokenizer_or_one_reason(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("to be or not to be " * 10, encoding="utf-8")
    text, source, tokenizer = training_text("tinyshakespeare", good, 8)
    assert text.startswith("to be") and str(good) in source
    assert tokenizer.decode(tokenizer.encode(text)) == text
    short = tmp_path / "short.txt"
    short.write_text("ab" * 20, encoding="utf-8")
    with pytest.raises(ValueError, match=r"short.txt: the text is too short for --context 8"):
        training_text("tinyshakespeare", short, 8)
    one = tmp_path / "one.txt"
    one.write_text("a" * 500, encoding="utf-8")
    with pytest.raises(ValueError, match="single distinct character"):
        training_text("tinyshakespeare", one, 8)


@pytest.mark.parametrize("script, argv, says", [
    ("train_transformer", ["--steps", "5", "--warmup", "50"], "is longer than the run"),
    ("transformer", ["--vocab-size", "1"], "at least 2 tokens"),
    ("sample_transformer", ["--chars", "100000000"], "at most 100,000"),
])
def test_settings_that_cannot_make_sense_are_refused_before_any_work(
        script: str, argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A run that would end inside its warmup, a vocabulary of one token (nothing to predict),
    and a sample of a hundred million characters (hours of forward passes): one line each."""
    main = importlib.import_module(f"phase05.{script}").main
    assert says in refused(main, argv, capsys)


def test_compare_rnn_stops_a_run_that_blows_up_instead_of_crowning_it(
        tmp_path: Path, tiny_text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """At --lr 1000 the losses are absurd but finite: the run stops, and names the model."""
    from phase05.compare_rnn import main as compare_main

    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text * 20, encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        compare_main(["--quick", "--path", str(corpus), "--models", "rnn", "--lr", "1000",
                      "--steps", "3", "--warmup", "1", "--out", str(tmp_path / "out")])
    assert stop.value.code == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "the loss became" in last and "for rnn" in last and "lowest" not in last


def test_layernorm_says_no_gradient_instead_of_nan(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Weights a million times too large saturate every tanh: the plain stack's gradient is
    exactly 0 and has no ratio, which is said in words, with no RuntimeWarning."""
    import warnings

    from phase05.layernorm import main as layernorm_main

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layernorm_main(["--scale", "1e6", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "plain - (no gradient at all" in out and "nan" not in out
