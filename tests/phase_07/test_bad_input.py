"""Phase 07's scripts answer bad input with one line that says what to do, before any work.

train_char.py refuses degenerate texts, sizes that cannot fit, too many threads and output paths
of the wrong kind before training, and never leaves a temporary file; generate.py reads a model
of train_char.py or a character checkpoint of phase 08, and refuses anything else with the
command that makes the right file.
"""

import importlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from phase03.char_tokenizer import CharTokenizer
from phase06 import device as dev
from phase07 import train_char
from phase07.generate import main as generate_main
from phase07.model import GPT, preset
from phase07.train_char import main as train_main
from phase07.train_char import save_model
from tests.scripts import refused

TINY = ["--device", "cpu", "--steps", "2", "--batch", "2", "--context", "8", "--n-layer", "1",
        "--n-embd", "16", "--n-head", "2", "--warmup", "1", "--eval-every", "1",
        "--eval-batches", "1", "--sample-chars", "5"]
CHARS = list("\nabcdefgh")


@pytest.mark.parametrize("content, expected", [
    ("a" * 5000, "holds a single distinct character ('a', 5,000 times)"),
    ("To be, or not to be\n", "too short for --context 8"),
])
def test_degenerate_text_is_refused(tmp_path: Path, content: str, expected: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text(content, encoding="utf-8")
    line = refused(train_main, ["--path", str(book), *TINY, "--out", str(tmp_path / "figs")],
                   capsys)
    assert line.startswith("error: ") and expected in line
    assert list(tmp_path.iterdir()) == [book]


def test_text_without_newline_trains_samples_and_generates(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text("abcdefghij" * 30, encoding="utf-8")
    model_file = tmp_path / "gpt.pt"
    train_main(["--path", str(book), *TINY, "--save", str(model_file), "--out", str(tmp_path)])
    assert model_file.is_file() and not list(tmp_path.glob(".*.tmp"))
    capsys.readouterr()
    generate_main(["--model", str(model_file), "--tokens", "3", "--device", "cpu"])
    # the default prompt "ROMEO:" is not in this alphabet, nor is "\n": the first character is
    assert capsys.readouterr().out.splitlines()[3].startswith("a")


def test_wrong_paths_threads_and_sizes_are_refused_before_training(
        tmp_path: Path, tiny_text: str, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "figures"
    a_file.write_text("not a folder")
    line = refused(train_main, ["--save", str(tmp_path)], capsys)
    assert "argument --save" in line and "is a folder, not a file" in line
    line = refused(train_main, ["--out", str(a_file)], capsys)
    assert "argument --out" in line and "is a file, not a folder" in line
    assert "expected at most" in refused(train_main, ["--threads", "10000"], capsys)
    book = tmp_path / "book.txt"
    book.write_text(tiny_text * 10, encoding="utf-8")
    for flags in (["--batch", "1000000000"], ["--n-embd", "1000000", "--n-head", "1"]):
        line = refused(train_main, ["--path", str(book), *TINY, *flags], capsys)
        assert "GiB of memory and this machine has" in line
    assert sorted(tmp_path.iterdir()) == [book, a_file]


def test_gpu_memory_is_compared_with_the_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    class Card:
        total_memory = 16 * 2**30

    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: Card())
    dev.check_fits_on_device(12 * 2**30, "12 GiB", "cuda")  # fits in 80% of 16 GiB
    with pytest.raises(ValueError, match="about 14.0 GiB of GPU memory and this GPU has 16.0"):
        dev.check_fits_on_device(14 * 2**30, "--batch 64", "cuda")
    with pytest.raises(ValueError, match="this machine has"):
        dev.check_fits_on_device(1e15, "--batch 64", "cpu")


def test_a_failed_save_leaves_no_temporary_file_and_the_old_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = GPT(preset("char-1m", vocab_size=len(CHARS), n_layer=1, n_embd=16, n_head=2))
    tokenizer = CharTokenizer.from_chars(CHARS, "test")
    path = save_model(model, tokenizer, tmp_path / "gpt.pt")
    before = path.read_bytes()

    def full_disk(*args: object, **kwargs: object) -> None:
        args[1].write(b"half a file")  # into the open temporary file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train_char.torch, "save", full_disk)
    with pytest.raises(OSError):
        save_model(model, tokenizer, path)
    assert path.read_bytes() == before and sorted(tmp_path.iterdir()) == [path]


@pytest.fixture
def phase07_file(tmp_path: Path) -> Path:
    model = GPT(preset("char-1m", vocab_size=len(CHARS), n_layer=1, n_embd=16, n_head=2))
    return save_model(model, CharTokenizer.from_chars(CHARS, "test"), tmp_path / "gpt.pt")


def test_generate_refuses_files_that_are_not_its_models(
        phase07_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(phase07_file.read_bytes()[:2000])
    program = tmp_path / "program.pt"
    program.write_bytes(bytes(range(256)) * 8)
    numpy_model = tmp_path / "numpy.npz"
    np.savez(numpy_model, W=np.zeros(3))
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    saved = torch.load(phase07_file, weights_only=True)
    mismatched = tmp_path / "mismatched.pt"
    torch.save({**saved, "chars": CHARS[:-1]}, mismatched)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    for path, why in ((truncated, "is not a model file (torch.save writes a whole zip archive"),
                      (program, "is not a model file (torch.save writes a whole zip archive"),
                      (empty, "it is empty, truncated or another kind of file"),
                      (numpy_model, "is not a model file torch.load can read"),
                      (other, "expected the keys chars, config, model; found ['weights']"),
                      (mismatched, "lists 8 characters for a vocabulary of 9")):
        line = refused(generate_main, ["--model", str(path), "--device", "cpu"], capsys)
        assert line.startswith(f"error: {path}") and why in line
        assert "train_char.py --save" in line
    assert "found a folder" in refused(generate_main, ["--model", str(tmp_path)], capsys)


def phase08_checkpoint(path: Path, tokenizer: dict) -> Path:
    """A checkpoint written by phase 08's own save_checkpoint, of a tiny character model."""
    train08 = importlib.import_module("phase08.train")
    keys = getattr(train08, "CHECKPOINT_KEYS", None)
    if keys is None:  # phase 08 keeps its checkpoint format in runfolder.py
        keys = importlib.import_module("phase08.runfolder").CHECKPOINT_KEYS
    model = GPT(preset("char-1m", vocab_size=len(CHARS), n_layer=1, n_embd=16, n_head=2))
    state = {key: None for key in keys}
    state.update({"format": train08.CHECKPOINT_FORMAT, "step": 3, "model": model.state_dict(),
                  "optimizer": {}, "config": {}, "model_config": asdict(model.config),
                  "tokenizer": tokenizer, "rng": {}, "loader": {}})
    return train08.save_checkpoint(path, state)


def test_generate_reads_a_phase_08_character_checkpoint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = phase08_checkpoint(tmp_path / "best.pt", {"name": "char", "chars": CHARS})
    generate_main(["--model", str(path), "--prompt", "abc", "--tokens", "4", "--device", "cpu"])
    out = capsys.readouterr().out
    assert f"trained model {path}" in out and "same tokens: True" in out


def test_generate_sends_a_gpt2_checkpoint_to_phase_08(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = phase08_checkpoint(tmp_path / "best.pt", {"name": "gpt2", "vocab_size": 50257})
    line = refused(generate_main, ["--model", str(path), "--device", "cpu"], capsys)
    assert "tokenised with 'gpt2'" in line
    assert f"python phase-08-training/code/sample.py --checkpoint {path}" in line


def test_an_unwritten_exercise_is_not_taken_for_a_damaged_file(
        phase07_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the workbook, GPT.init_weights may still be a stub that raises NotImplementedError, a
    kind of RuntimeError: generate.py must let it through (the workbook then names the exercise)
    instead of reporting a damaged model file."""
    def stub(self: GPT) -> None:
        raise NotImplementedError("exercise 07.gpt2-init is yours to write")

    monkeypatch.setattr(GPT, "init_weights", stub)
    for argv in (["--model", str(phase07_file), "--tokens", "2"], ["--tokens", "2"]):
        with pytest.raises(NotImplementedError, match="07.gpt2-init"):
            generate_main(argv)
