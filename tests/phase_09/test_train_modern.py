"""The modern recipe (after_gpt2.py) inside phase 08's pipeline (train_modern.py): it trains,
resumes bit for bit, stays causal, and a script that does not know it says so in one line."""

import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from phase08 import train as trainer
from phase08.config import make_config
from phase08.prepare_data import prepare_local
from phase08.sample import CheckpointError, load_for_sampling
from phase08.train import ARCHITECTURES, load_checkpoint, read_log, train
from phase09.after_gpt2 import MODERN_OPTIONS, MUON_LR_SCALE, ModernGPT, Muon, register_modern
from phase09.sample_modern import main as sample_main
from phase09.train_modern import main
from tests.scripts import refused


@pytest.fixture
def char_data(tmp_path: Path, tiny_text: str) -> Path:
    """A made-up book as character shards, small enough that batches cross shard ends."""
    folder = tmp_path / "tokens" / "book-char"
    prepare_local([tiny_text * 40], "char", folder, "a made-up book", shard_tokens=5000,
                  verbose=False)
    return folder


def modern(data: Path, **overrides: object) -> object:
    register_modern()
    return make_config("cpu-smoke", {"data": str(data), "device": "cpu",
                                      "architecture": "modern", "bias": False, **overrides})


@pytest.mark.parametrize("ours, theirs", [("modern-char", "shakespeare-char"),
                                          ("modern-gpt2", "shakespeare-gpt2")])
def test_a_preset_is_phase_08s_recipe_with_every_change(ours: str, theirs: str) -> None:
    register_modern()
    cfg, base = make_config(ours), make_config(theirs)
    assert cfg.architecture == "modern" and not cfg.bias
    assert replace(cfg, architecture="gpt2", bias=True) == base  # nothing else differs


def test_a_modern_run_resumes_bit_for_bit(char_data: Path, tmp_path: Path) -> None:
    cfg = modern(char_data, dropout=0.1, steps=16, eval_every=8)
    whole = train(cfg, tmp_path / "whole", verbose=False)

    def ctrl_c(step: int, loss: float) -> None:
        if step == 7:
            signal.raise_signal(signal.SIGINT)  # finish the step, save, stop

    first = train(cfg, tmp_path / "parts", on_step=ctrl_c, verbose=False)
    assert first["interrupted"] and first["step"] == 7
    saved = load_checkpoint(tmp_path / "parts" / "last.pt")
    assert saved["config"]["architecture"] == "modern"
    assert saved["model_config"]["rope"] and saved["model_config"]["activation"] == "relu2"
    momenta = [s["momentum"] for s in saved["optimizer"]["muon"]["state"].values()]
    assert momenta and all(m.abs().sum() > 0 for m in momenta)  # Muon's state is saved too
    rest = train(None, tmp_path / "parts", resume=tmp_path / "parts" / "last.pt", verbose=False)
    assert first["losses"] + rest["losses"] == whole["losses"]  # exactly equal floats
    assert rest["val_loss"] == whole["val_loss"]
    a = load_checkpoint(tmp_path / "whole" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "parts" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [r["loss"] for r in read_log(tmp_path / "whole" / "log.jsonl") if r["kind"] == "step"]
    assert steps and steps[-1] < steps[0]  # it learns


def test_muon_follows_the_schedule_at_its_multiple(char_data: Path) -> None:
    register_modern()
    cfg = modern(char_data)
    model = trainer.build_model(cfg, 40)
    assert isinstance(model, ModernGPT) and model.lm_head.weight is not model.transformer.wte.weight
    optimizer, note = ARCHITECTURES["modern"].optimizer(model, cfg, torch.device("cpu"))
    assert "Muon" in note and isinstance(optimizer.optimizers[0], Muon)
    trainer.set_lr(optimizer, 1e-3)
    muon_lr = optimizer.optimizers[0].param_groups[0]["lr"]
    assert muon_lr == pytest.approx(MUON_LR_SCALE * 1e-3)
    assert all(g["lr"] == 1e-3 for g in optimizer.optimizers[1].param_groups)


def test_a_trained_modern_model_is_causal_when_loaded(char_data: Path, tmp_path: Path) -> None:
    train(modern(char_data, steps=6, eval_every=6), tmp_path / "run", verbose=False)
    model, codec, _ = load_for_sampling(tmp_path / "run" / "best.pt", torch.device("cpu"))
    assert isinstance(model, ModernGPT)
    assert all(getattr(model.config, k) == v for k, v in MODERN_OPTIONS.items())
    idx = torch.randint(0, codec.vocab_size, (1, 12), generator=torch.Generator().manual_seed(0))
    changed = idx.clone()
    changed[0, 8:] = (changed[0, 8:] + 1) % codec.vocab_size
    with torch.no_grad():
        a, b = model(idx), model(changed)
    assert torch.equal(a[0, :8], b[0, :8]) and not torch.equal(a[0, 8:], b[0, 8:])


def test_a_script_that_does_not_know_the_architecture_says_so(
        char_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train(modern(char_data, steps=6, eval_every=6), tmp_path / "run", verbose=False)
    monkeypatch.delitem(ARCHITECTURES, "modern")  # as in phase 08's own sample.py
    with pytest.raises(CheckpointError, match="'modern' is not known.*train_modern.py"):
        load_for_sampling(tmp_path / "run" / "best.pt", torch.device("cpu"))
    with pytest.raises(ValueError, match="not known"):
        train(make_config("cpu-smoke", {"data": str(char_data), "architecture": "modern"}),
              tmp_path / "other", verbose=False)
    assert not (tmp_path / "other").exists()  # refused before the folder was touched


def test_sample_modern_continues_a_prompt_where_phase_08s_sample_refuses(
        char_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    train(modern(char_data, steps=6, eval_every=6), tmp_path / "run", verbose=False)
    best = str(tmp_path / "run" / "best.pt")
    sample_main(["--checkpoint", best, "--prompt", "To be", "--tokens", "12", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "step 6" in out
    sample = out.split("2.1 ---\n", 1)[1]
    assert sample.startswith("To be") and len(sample) >= len("To be") + 12  # 12 characters more
    monkeypatch.delitem(ARCHITECTURES, "modern")  # phase 08's own sample.py knows only gpt2
    from phase08.sample import main as phase08_sample
    line = refused(phase08_sample, ["--checkpoint", best, "--device", "cpu"], capsys, code=1)
    assert "'modern' is not known" in line and "sample_modern.py" in line


def test_init_from_is_refused_for_the_modern_model(char_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="init_from copies GPT-2"):
        train(modern(char_data, init_from="gpt2"), tmp_path / "run", verbose=False)


def test_the_command_line(char_data: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    smoke = ["--preset", "cpu-smoke", "--set", "architecture=modern", "--data", str(char_data),
             "--device", "cpu", "--steps", "6", "--eval-every", "6"]
    main([*smoke, "--set", "bias=false", "--run-dir", str(tmp_path / "run"), "--out",
          str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert "Muon (lr 4 x the schedule's" in out and "validation loss" in out
    line = refused(main, [*smoke, "--run-dir", str(tmp_path / "biased")], capsys, code=1)
    assert "needs bias=false" in line and "add --set bias=false" in line
    assert not (tmp_path / "biased").exists()  # refused before the folder was touched
    line = refused(main, ["--preset", "cpu-smoke", "--set", "architecture=llama", "--data",
                          str(char_data), "--device", "cpu", "--run-dir",
                          str(tmp_path / "run2")], capsys, code=1)
    assert "'llama' is not known" in line and "train_modern.py" not in line  # no circle
