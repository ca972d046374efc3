"""Every script of the phase runs end to end on small settings, prints the numbers it promises
and writes its figures where it is told (never into blog/figures)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from phase03.char_tokenizer import CharTokenizer
from phase05.transformer import Transformer, TransformerConfig
from phase06 import (
    autograd_torch,
    benchmark,
    lm_torch,
    mlp_torch,
    optimizers_torch,
    parity,
    rnn_torch,
    tensors,
    transformer_torch,
)


@pytest.fixture
def text_file(tmp_path: Path, tiny_text: str) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text(tiny_text * 6, encoding="utf-8")
    return path


def test_tensors_main(figures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tensors.main(["--width", "64", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "[0.09003057, 0.24472847, 0.66524096]" in out and "[8.0, 26.0, 44.0]" in out
    assert "the array [7.0, 5.0, 0.0]" in out
    assert (figures_dir / "float32_vs_float64.png").is_file()


def test_autograd_main(figures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    autograd_torch.main(["--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "dL/dw: Value -1.776709647983   torch -1.776709647983" in out
    assert "again: -3.553419" in out
    assert (figures_dir / "autograd_graphs.png").is_file()


def test_mlp_main(figures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mlp_torch.main(["--epochs", "20", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "parameters: NumPy 354, PyTorch 354" in out
    assert "changes no weight: True" in out
    assert (figures_dir / "mlp_numpy_vs_torch.png").is_file()


def test_optimizers_main(figures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    optimizers_torch.main(["--steps", "50", "--optimizers", "adam", "adamw", "--out",
                           str(figures_dir)])
    out = capsys.readouterr().out
    assert "adamw     -> torch.optim.AdamW" in out
    assert (figures_dir / "optimizers_torch.png").is_file()


def test_lm_main(text_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lm_torch.main(["--path", str(text_file), "--steps", "50", "--batch", "64"])
    out = capsys.readouterr().out
    assert "one_hot(ids) @ weight == emb(ids) in PyTorch too: True" in out
    assert out.count("round trip keeps") == 2 and "True" in out


def test_rnn_main(capsys: pytest.CaptureFixture[str]) -> None:
    rnn_torch.main(["--seq-len", "4"])
    out = capsys.readouterr().out
    assert out.count("round trip keeps every weight: True") == 3
    assert "another GRU" in out


def test_transformer_main_runs_a_phase_05_model(tmp_path: Path, tiny_text: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    tok = CharTokenizer(tiny_text)
    model = Transformer(TransformerConfig(tok.vocab_size, context=8, d_model=16, n_heads=2,
                                          n_layers=1), dtype=np.float32)
    path = model.save(tmp_path / "m.npz")
    tok.save(path.with_suffix(".chars.json"))
    transformer_torch.main(["--model", str(path)])
    out = capsys.readouterr().out
    assert "state_dict keys identical, in the same order: True" in out
    assert "DIFFERENT" not in out and "sampled by PyTorch" in out


def test_transformer_main_fresh_loss_is_seeded(capsys: pytest.CaptureFixture[str]) -> None:
    """The fresh model's loss the README quotes: the same number on every run with --seed 0."""
    torch.manual_seed(123)  # whatever state the generator is in, the script seeds it itself
    transformer_torch.main(["--seed", "0"])
    first = capsys.readouterr().out
    transformer_torch.main(["--seed", "0"])
    line = [ln for ln in first.splitlines() if "a fresh PyTorch model" in ln][0]
    assert "torch seed 0): loss 2.3905, ln 11 = 2.3979" in line
    assert line in capsys.readouterr().out


def test_transformer_main_refuses_a_missing_model(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        transformer_torch.main(["--model", str(tmp_path / "none.npz")])
    assert stop.value.code == 2 and "no model file" in capsys.readouterr().err


def test_parity_main(figures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parity.main(["--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "18 of 18 components equal" in out and "DIFFERENT" not in out
    assert (figures_dir / "parity_summary.png").is_file()


def test_benchmark_main(figures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    benchmark.main(["--sizes", "tiny", "--repeats", "1", "--device", "cpu",
                    "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "numpy 1t" in out and "torch cpu 1t" in out
    assert (figures_dir / "numpy_vs_torch_speed.png").is_file()
