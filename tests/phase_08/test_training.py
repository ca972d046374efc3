"""The training loop: accumulation, schedule, decay groups, exact resume, checkpoints, NaN."""

import contextlib
import math
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import phase08.train as trainer
from phase07.train_char import lr_at
from phase08.config import make_config
from phase08.loader import BatchLoader, TokenShards
from phase08.train import (
    CheckpointError,
    TrainingDiverged,
    accumulate_gradients,
    build_model,
    checkpoint_state,
    clip_gradients,
    load_checkpoint,
    make_optimizer,
    read_log,
    restore,
    save_checkpoint,
    train,
)


def smoke(data: Path, **overrides: object) -> object:
    return make_config("cpu-smoke", {"data": str(data), "device": "cpu", **overrides})


def step_losses(run_dir: Path) -> list[float]:
    return [r["loss"] for r in read_log(run_dir / "log.jsonl") if r["kind"] == "step"]


def test_gradient_accumulation_4x2_equals_1x8(char_data: Path) -> None:
    cfg = smoke(char_data)
    shards = TokenShards(char_data)
    grads = []
    for micro_batch, n_micro in ((8, 1), (2, 4)):
        torch.manual_seed(0)
        model = build_model(cfg, 40).double()
        loss = accumulate_gradients(model, BatchLoader(shards, micro_batch, cfg.context),
                                    n_micro, torch.device("cpu"), torch.float32)
        assert not loss.requires_grad, "return the loss detached: a number to log, not a graph"
        grads.append((loss.item(), [p.grad.clone() for p in model.parameters()]))
    (loss_1, g_1), (loss_4, g_4) = grads
    assert loss_1 == pytest.approx(loss_4, abs=1e-12)  # the mean loss of the same 8 sequences
    for a, b in zip(g_1, g_4, strict=True):
        assert a.dtype == torch.float64
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_accumulation_runs_the_forward_pass_in_the_dtype_asked(char_data: Path) -> None:
    """dtype=bfloat16 means the forward pass under torch.autocast in bfloat16 (on a CPU too):
    the loss is the one computed that way, not the float32 one."""
    cfg = smoke(char_data)
    shards = TokenShards(char_data)
    torch.manual_seed(0)
    model = build_model(cfg, 40)
    x, y = BatchLoader(shards, 2, cfg.context).next_batch()  # the batch the loader gives first
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = model(x, y)[1].item()
    with torch.no_grad():
        in_float32 = model(x, y)[1].item()
    assert expected != in_float32  # so the test can tell the two apart
    loss = accumulate_gradients(model, BatchLoader(shards, 2, cfg.context), 1,
                                torch.device("cpu"), torch.bfloat16)
    assert loss.item() == expected


class Parcel:
    """A batch tensor in transit: it becomes the tensor only through .to(device), as a batch
    on the CPU must become one on the GPU. The model cannot read a Parcel."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor, self.moved_to = tensor, None

    def to(self, device: torch.device | str | None = None, *args: object,
           **kwargs: object) -> torch.Tensor:
        self.moved_to = torch.device(kwargs.get("device", device))
        return self.tensor


def test_accumulation_moves_every_batch_to_the_device_asked(char_data: Path) -> None:
    """On a CPU every tensor is already where it is used, so forgetting .to(device) shows only
    on a GPU: here each batch arrives as a Parcel that the model cannot read until it is moved."""
    cfg = smoke(char_data)
    torch.manual_seed(0)
    model = build_model(cfg, 40)
    loader = BatchLoader(TokenShards(char_data), 2, cfg.context)
    parcels: list[Parcel] = []

    class Shipping:
        def next_batch(self) -> tuple[Parcel, Parcel]:
            pair = tuple(Parcel(t) for t in loader.next_batch())
            parcels.extend(pair)
            return pair

    try:
        loss = accumulate_gradients(model, Shipping(), 3, torch.device("cpu"), torch.float32)
    except (AttributeError, TypeError) as err:
        if "Parcel" not in str(err):
            raise
        pytest.fail(f"a batch reached the model without .to(device) ({err})")
    assert torch.isfinite(loss)
    assert len(parcels) == 6, "take n_micro batches from loader.next_batch()"
    assert all(p.moved_to == torch.device("cpu") for p in parcels)


def test_accumulation_skips_the_gradient_sync_on_every_micro_batch_but_the_last(
        char_data: Path) -> None:
    """With several processes, no_sync() (DDP's) holds back the all-reduce: it must be entered
    around the forward and backward of every micro-batch except the last, whose backward then
    sends the summed gradients once."""
    cfg = smoke(char_data)
    model = build_model(cfg, 40)
    events: list[str] = []

    @contextlib.contextmanager
    def no_sync() -> Iterator[None]:
        events.append("enter")
        yield
        events.append("exit")

    model.register_forward_hook(lambda *args: events.append("forward"))
    accumulate_gradients(model, BatchLoader(TokenShards(char_data), 2, cfg.context), 3,
                         torch.device("cpu"), torch.float32, no_sync)
    assert events == ["enter", "forward", "exit"] * 2 + ["forward"], events


def test_lr_at_known_steps() -> None:
    peak, warmup, total, floor = 1e-3, 10, 110, 0.1
    assert lr_at(0, peak, warmup, total, floor) == pytest.approx(1e-4)  # step + 1: never 0
    assert lr_at(4, peak, warmup, total, floor) == pytest.approx(5e-4)
    assert lr_at(9, peak, warmup, total, floor) == pytest.approx(1e-3)
    assert lr_at(10, peak, warmup, total, floor) == pytest.approx(1e-3)  # cosine starts at peak
    assert lr_at(60, peak, warmup, total, floor) == pytest.approx(5.5e-4)  # half way: the mean
    assert lr_at(110, peak, warmup, total, floor) == pytest.approx(1e-4)  # the floor


def test_clipping_scales_the_whole_gradient_to_the_limit() -> None:
    layer = torch.nn.Linear(2, 1)
    for clip, scale in ((1.0, 0.2), (10.0, 1.0), (0.0, 1.0)):  # 0: measure only
        layer.weight.grad = torch.tensor([[3.0, 0.0]])
        layer.bias.grad = torch.tensor([4.0])  # one long vector (3, 0, 4): norm 5
        norm = clip_gradients(layer, clip)
        assert isinstance(norm, torch.Tensor) and norm.item() == pytest.approx(5.0)
        torch.testing.assert_close(layer.weight.grad, torch.tensor([[3.0 * scale, 0.0]]))
        torch.testing.assert_close(layer.bias.grad, torch.tensor([4.0 * scale]))


def test_decay_groups_hold_exactly_the_2d_weights(char_data: Path) -> None:
    cfg = smoke(char_data)
    model = build_model(cfg, 40)
    optimizer, _ = make_optimizer(model, cfg, torch.device("cpu"))
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == cfg.weight_decay and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}  # the tied head appears once
    want = {n for n, p in model.named_parameters() if p.dim() == 2}
    assert {names[id(p)] for p in decay["params"]} == want
    assert {names[id(p)] for p in no_decay["params"]} == set(names.values()) - want
    assert "transformer.wte.weight" in want and "transformer.h.0.attn.c_attn.weight" in want
    assert len(decay["params"]) + len(no_decay["params"]) == len(names)


def test_smoke_preset_lowers_the_loss(char_data: Path, tmp_path: Path) -> None:
    result = train(smoke(char_data), tmp_path / "run", out=tmp_path / "figs", verbose=False)
    first = step_losses(tmp_path / "run")[0]
    assert first == pytest.approx(math.log(40), abs=0.3)  # a fresh model: about ln V
    assert result["val_loss"] < first - 0.5
    assert (tmp_path / "figs" / "run_loss.png").is_file()
    lrs = [r["lr"] for r in read_log(tmp_path / "run" / "log.jsonl") if r["kind"] == "step"]
    assert lrs[0] == pytest.approx(3e-3 / 5)  # warmup begins above zero


def stopped_before_any_evaluation(char_data: Path, run_dir: Path) -> dict:
    """A run of 12 steps, evaluated at step 8, stopped by Ctrl-C at step 3."""
    def ctrl_c(step: int, loss: float) -> None:
        if step == 3:
            signal.raise_signal(signal.SIGINT)

    return train(smoke(char_data, steps=12, eval_every=8), run_dir, on_step=ctrl_c,
                 verbose=False)


def test_a_checkpoint_before_any_evaluation_has_no_best_loss(char_data: Path,
                                                             tmp_path: Path) -> None:
    """No evaluation yet: the checkpoint says there is no best loss (None, plain data), not
    infinity."""
    first = stopped_before_any_evaluation(char_data, tmp_path / "run")
    saved = load_checkpoint(tmp_path / "run" / "last.pt")
    assert first["interrupted"] and saved["step"] == 3 and saved["best_val_loss"] is None


def test_a_run_stopped_before_any_evaluation_resumes(char_data: Path, tmp_path: Path) -> None:
    stopped_before_any_evaluation(char_data, tmp_path / "run")
    rest = train(None, tmp_path / "run", resume=tmp_path / "run" / "last.pt", verbose=False)
    assert rest["step"] == 12 and math.isfinite(rest["val_loss"])
    assert load_checkpoint(tmp_path / "run" / "last.pt")["best_val_loss"] is not None


def test_resume_reproduces_the_uninterrupted_run_bit_for_bit(char_data: Path,
                                                             tmp_path: Path) -> None:
    cfg = smoke(char_data, dropout=0.1, steps=24, eval_every=8)  # dropout: the RNG matters
    whole = train(cfg, tmp_path / "whole", verbose=False)

    def ctrl_c(step: int, loss: float) -> None:
        if step == 11:
            signal.raise_signal(signal.SIGINT)  # a real Ctrl-C: finish the step, save, stop

    first = train(cfg, tmp_path / "parts", on_step=ctrl_c, verbose=False)
    assert first["interrupted"] and first["step"] == 11
    saved = load_checkpoint(tmp_path / "parts" / "last.pt")
    assert saved["step"] == 11 and saved["loader"]["position"] == 11 * 2 * 8 * 32
    rest = train(None, tmp_path / "parts", resume=tmp_path / "parts" / "last.pt", verbose=False)
    assert first["losses"] + rest["losses"] == whole["losses"]  # exactly equal floats
    assert step_losses(tmp_path / "parts") == step_losses(tmp_path / "whole")
    assert rest["val_loss"] == whole["val_loss"]
    a = load_checkpoint(tmp_path / "whole" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "parts" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def fake_run(char_data: Path, rank: int = 0, size: int = 8, loader: dict | None = None,
             **fields: object) -> SimpleNamespace:
    """The parts of a run that checkpoint_state reads and restore writes, without training:
    a small model and its optimizer, a loader at position 7, 8 processes, step 3's losses."""
    cfg = smoke(char_data)
    torch.manual_seed(0)
    model = build_model(cfg, 65)
    seen = {} if loader is None else loader
    return SimpleNamespace(
        model=model, optimizer=make_optimizer(model, cfg, torch.device("cpu"))[0], cfg=cfg,
        codec=SimpleNamespace(spec={"name": "char"}), data=char_data, device=torch.device("cpu"),
        loader=SimpleNamespace(state_dict=lambda: {"position": 7}, load_state_dict=seen.update),
        world=SimpleNamespace(size=size, rank=rank, distributed=size > 1),
        tokens_per_step=4096, start_step=0, last_saved=(None, 0),
        **({"last_val": 2.5, "best_val": 2.0} | fields))


def test_a_checkpoint_keeps_the_last_and_the_best_loss_and_the_run_s_size(
        char_data: Path) -> None:
    state = checkpoint_state(fake_run(char_data), 3)
    assert (state["step"], state["val_loss"], state["best_val_loss"]) == (3, 2.5, 2.0)
    assert state["tokens_seen"] == 3 * 4096 and state["tokens_per_step"] == 4096
    assert state["world_size"] == 8 and state["loader"] == {"position": 7}
    assert checkpoint_state(fake_run(char_data, best_val=math.inf), 3)["best_val_loss"] is None


def test_restore_puts_every_field_back_where_the_loop_reads_it(char_data: Path) -> None:
    """best.pt is replaced only by a better loss: the best must come back as the best (2.0),
    not as the last evaluation (2.5). And each of the 8 processes draws its own dropout masks
    again after a resume, not rank 0's."""
    state = checkpoint_state(fake_run(char_data), 3)
    loader: dict = {}
    fresh = fake_run(char_data, loader=loader, last_val=None, best_val=math.inf)
    restore(fresh, state, Path("run/last.pt"))
    assert (fresh.start_step, fresh.last_val, fresh.best_val) == (3, 2.5, 2.0)
    assert fresh.last_saved == (Path("run/last.pt"), 3) and loader == {"position": 7}
    draws = []
    for rank in (0, 1):
        restore(fake_run(char_data, rank=rank), state, Path("run/last.pt"))
        draws.append(torch.rand(4))
    assert not torch.equal(*draws), "rank 1 must reseed after a resume"


def test_checkpoint_is_plain_data(char_data: Path, tmp_path: Path) -> None:
    train(smoke(char_data, steps=20), tmp_path / "run", verbose=False)
    for name in ("last.pt", "best.pt"):
        state = torch.load(tmp_path / "run" / name, weights_only=True)  # no code can run
        assert not any(k.startswith("_orig_mod.") for k in state["model"])
        assert state["config"]["n_layer"] == 2 and state["tokenizer"]["name"] == "char"
        assert set(state["rng"]) >= {"torch", "numpy", "python"}
    evals = [r["val_loss"] for r in read_log(tmp_path / "run" / "log.jsonl")
             if r["kind"] == "eval"]
    assert load_checkpoint(tmp_path / "run" / "best.pt")["val_loss"] == min(evals)


def test_a_step_that_would_take_an_hour_on_a_cpu_is_refused_before_training(
        char_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """--context 100000 by mistake used to look like a hang: one step for an hour, in C code
    that Ctrl-C cannot stop. Here the CPU is made a million times slower than any real one, so
    that the tiny smoke config (a few MFLOP a step) counts as such a step."""
    speed = trainer.cpu_matmul_flops()
    assert 1e8 < speed < 1e14  # 0.1 GFLOP/s to 100 TFLOP/s: a real CPU, measured
    monkeypatch.setattr(trainer, "cpu_matmul_flops", lambda: 1e3)
    cfg = smoke(char_data)
    model = build_model(cfg, 65)
    flops = model.flops_per_token(cfg.context) * cfg.micro_batch * cfg.grad_accum * cfg.context
    with pytest.raises(ValueError, match=f"at least {flops / 1e3 / 60:,.0f} minutes on this CPU"):
        trainer.check_step_time(cfg, model, torch.device("cpu"))
    trainer.check_step_time(cfg, model, torch.device("meta"))  # only CPUs are timed
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as stop:
        trainer.main(["--preset", "cpu-smoke", "--data", str(char_data), "--device", "cpu",
                      "--run-dir", str(run), "--out", str(tmp_path / "figures")])
    err = capsys.readouterr().err
    assert stop.value.code == 1 and "Traceback" not in err
    assert err.startswith("error: one step of micro_batch 8 x grad_accum 2 x context 32")
    assert "Lower context, micro_batch or grad_accum" in err
    assert not list(run.glob("*.pt")) and not (run / "log.jsonl").exists()


def test_damaged_checkpoint_is_a_clear_error_and_the_previous_survives(
        char_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    train(smoke(char_data, steps=20), run, verbose=False)
    last = run / "last.pt"
    good = last.read_bytes()

    truncated = run / "copy.pt"
    truncated.write_bytes(good[:len(good) // 2])
    with pytest.raises(CheckpointError, match="copy.pt.*truncated"):
        load_checkpoint(truncated)
    garbage = run / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all" * 100)
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_checkpoint(garbage)
    with pytest.raises(SystemExit) as stop:
        trainer.main(["--resume", str(truncated), "--run-dir", str(run)])
    assert stop.value.code == 1 and "copy.pt" in capsys.readouterr().err

    def save_half_then_fail(state: dict, file: object) -> None:  # a failure mid-save
        file.write(good[:1000])
        raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos 1000")

    monkeypatch.setattr(trainer.torch, "save", save_half_then_fail)
    with pytest.raises(RuntimeError, match="unexpected pos"):
        save_checkpoint(last, {"anything": 1})
    assert last.read_bytes() == good  # the previous checkpoint is untouched
    assert not list(run.glob(".*.tmp"))
    monkeypatch.undo()
    assert load_checkpoint(last)["step"] == 20


def test_nan_loss_stops_and_names_the_last_good_checkpoint(
        char_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = trainer.accumulate_gradients
    calls = {"n": 0}

    def nan_at_step_25(*args: object, **kwargs: object) -> torch.Tensor:
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * math.nan if calls["n"] == 25 else loss

    monkeypatch.setattr(trainer, "accumulate_gradients", nan_at_step_25)
    with pytest.raises(TrainingDiverged) as err:
        train(smoke(char_data), tmp_path / "run", verbose=False)
    message = str(err.value)
    assert "nan at step 25" in message and "last.pt (step 20)" in message
    assert "learning rate" in message
    assert "already in float32" in message and "try --dtype float32" not in message
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 20


def test_unknown_preset_or_field_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, expected in ((["--preset", "huge"], "cpu-smoke"),
                           (["--set", "layers=3"], "n_layer"),
                           (["--set", "lr=fast"], "lr")):
        with pytest.raises(SystemExit) as stop:
            trainer.main(argv)
        assert stop.value.code == 2
        assert expected in capsys.readouterr().err
    with pytest.raises(ValueError, match="valid fields"):
        make_config("cpu-smoke", {"layers": 3})


def test_resume_refuses_changes_to_the_run(char_data: Path, tmp_path: Path) -> None:
    train(smoke(char_data, steps=10, eval_every=10), tmp_path / "run", verbose=False)
    with pytest.raises(ValueError, match="lr"):
        train(None, tmp_path / "run", resume=tmp_path / "run" / "last.pt",
              resume_overrides={"lr": 1.0}, verbose=False)
    shutil.rmtree(tmp_path / "run")


def test_keyboard_interrupt_between_steps_saves_that_step(char_data: Path,
                                                          tmp_path: Path) -> None:
    def interrupt(step: int, loss: float) -> None:
        if step == 7:
            raise KeyboardInterrupt  # as Ctrl-C arrives where no signal handler can be set

    result = train(smoke(char_data), tmp_path / "run", on_step=interrupt, verbose=False)
    assert result["interrupted"] and result["step"] == 7
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 7
