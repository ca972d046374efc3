"""The character-level training script and the generation script, on a small made-up text."""

from pathlib import Path

import pytest
import torch

from phase07 import generate
from phase07.generate import compare_cache, load_model
from phase07.generate import main as generate_main
from phase07.model import GPT, preset
from phase07.train_char import lr_at, param_groups
from phase07.train_char import main as train_main


def test_lr_schedule() -> None:
    assert lr_at(0, 1.0, 10, 100, 0.1) == pytest.approx(0.1)  # warmup never starts at 0
    assert lr_at(9, 1.0, 10, 100, 0.1) == pytest.approx(1.0)
    assert lr_at(99, 1.0, 10, 100, 0.1) == pytest.approx(0.1, abs=1e-3)
    # past the planned end (a resumed run that trains longer) the rate stays at the floor: the
    # cosine must not climb back up
    assert lr_at(160, 1e-3, 10, 110, 0.1) == pytest.approx(1e-4)
    assert lr_at(210, 1e-3, 10, 110, 0.1) == pytest.approx(1e-4)


def test_param_groups_decay_matrices_only() -> None:
    model = GPT(preset("char-1m", n_layer=1, n_embd=16, n_head=2))
    decay, no_decay = param_groups(model, 0.1)
    assert all(p.dim() == 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    n = sum(p.numel() for g in (decay, no_decay) for p in g["params"])
    assert n == model.n_params()  # the tied tensor is counted once


def test_train_then_generate(tmp_path: Path, tiny_text: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text(tiny_text * 40, encoding="utf-8")
    model_file = tmp_path / "gpt.pt"
    train_main(["--path", str(book), "--device", "cpu", "--steps", "60", "--batch", "8",
                "--context", "32", "--n-layer", "1", "--n-embd", "32", "--n-head", "2",
                "--eval-every", "30", "--eval-batches", "2", "--sample-chars", "20",
                "--save", str(model_file), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    vals = [float(line.split("val ")[1].split()[0]) for line in out.splitlines() if " val " in line]
    assert vals[-1] < vals[0]
    assert (tmp_path / "gpt_char_loss.png").is_file()
    assert (tmp_path / "gpt_char_attention.png").is_file()

    model, tokenizer = load_model(model_file, torch.device("cpu"))
    assert model.config.n_embd == 32 and tokenizer.vocab_size == model.config.vocab_size
    generate_main(["--model", str(model_file), "--prompt", "To be", "--tokens", "40",
                   "--device", "cpu", "--top-k", "5"])
    assert "same tokens: True" in capsys.readouterr().out


def test_missing_model_file_is_a_clear_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        generate_main(["--model", str(tmp_path / "none.pt"), "--device", "cpu"])
    assert stop.value.code == 2  # a bad file, like everywhere in the course
    assert "no model at" in capsys.readouterr().err


def test_warmup_longer_than_the_run_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        train_main(["--steps", "10", "--warmup", "50", "--device", "cpu"])
    assert stop.value.code == 2
    assert "--warmup (50) is longer than the run" in capsys.readouterr().err


def test_empty_prompt_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        generate_main(["--prompt", "", "--device", "cpu"])
    assert stop.value.code == 2
    assert "--prompt must hold at least one character" in capsys.readouterr().err


def test_the_cache_is_timed_fairly(monkeypatch: pytest.MonkeyPatch) -> None:
    """One untimed warm-up run of each path, then rounds that alternate which path goes first,
    and the median of the timed runs: neither path always runs cold or second."""
    calls: list[bool] = []
    # seconds of each path's runs in order: the warm-up first (slow, and ignored), then five
    # timed ones, one with a hiccup (50 s) that the median does not see
    seconds = {True: iter([9.0, 1.0, 1.2, 0.9, 50.0, 1.1]),
               False: iter([9.0, 4.0, 5.0, 3.0, 4.5, 1.5])}

    def fake_timed(model: GPT, prompt: torch.Tensor, n: int, use_cache: bool, seed: int,
                   device: torch.device, **sampling: object) -> tuple[torch.Tensor, float]:
        calls.append(use_cache)
        return torch.tensor([[1, 2, 3]]), next(seconds[use_cache])

    monkeypatch.setattr(generate, "timed_generate", fake_timed)
    text, same, t_plain, t_cache = compare_cache(GPT(preset("char-1m", n_layer=1)),
                                                 torch.tensor([[1]]), 2, 0,
                                                 torch.device("cpu"), repeats=5)
    assert calls == [True, False,  # warm-up
                     True, False, False, True, True, False, False, True, True, False]
    assert (t_plain, t_cache) == (4.0, 1.1) and same and text.tolist() == [[1, 2, 3]]


def test_generate_reports_the_median_of_alternating_runs(
        capsys: pytest.CaptureFixture[str]) -> None:
    generate_main(["--tokens", "5", "--repeats", "2", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "5 tokens (median of 2 alternating runs of each, after a warm-up run)" in out
    assert "same tokens: True" in out


def test_plot_attention_gives_the_model_back_as_it_came(tmp_path: Path) -> None:
    """Drawing the attention maps switches every block to the hand path and the model to eval
    mode; afterwards, and even when the forward pass fails, both are as they were."""
    from phase03.char_tokenizer import CharTokenizer
    from phase07.train_char import plot_attention

    tok = CharTokenizer("abcdefgh", "a test")
    model = GPT(preset("char-1m", vocab_size=8, context=16, n_layer=2, n_head=2, n_embd=16))
    model.train()
    paths = [block.attn.attention for block in model.transformer.h]
    plot_attention(model, tok, "abcabc", torch.device("cpu"), tmp_path)
    assert model.training and [b.attn.attention for b in model.transformer.h] == paths
    assert (tmp_path / "gpt_char_attention.png").is_file()
    with pytest.raises(ValueError):
        plot_attention(model, tok, "a" * 40, torch.device("cpu"), tmp_path)  # past the context
    assert model.training and [b.attn.attention for b in model.transformer.h] == paths
