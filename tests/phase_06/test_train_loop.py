"""The PyTorch training loop: the Dataset of windows, the DataLoader, the optimizer groups, a
loss that goes down, and the whole script on a small text."""

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch

from phase05.transformer import TransformerConfig
from phase06.train_loop import (
    CharWindows,
    compare_reloaded,
    configure_optimizer,
    evaluate,
    make_loader,
    train_step,
)
from phase06.train_loop import main as train_main
from phase06.transformer_torch import TorchTransformer


def test_windows_are_inputs_and_next_characters() -> None:
    ids = torch.arange(10)
    ds = CharWindows(ids, context=4)
    assert len(ds) == 6
    x, y = ds[2]
    assert x.tolist() == [2, 3, 4, 5] and y.tolist() == [3, 4, 5, 6]
    x, y = ds[len(ds) - 1]
    assert y[-1].item() == 9  # the last window ends at the last id
    with pytest.raises(ValueError, match="too few"):
        CharWindows(torch.arange(4), context=4)


def test_loader_batches_and_repeatable_shuffle() -> None:
    ids = torch.arange(100)
    x, y = next(iter(make_loader(ids, 8, 5, seed=3)))
    assert x.shape == y.shape == (5, 8)
    assert torch.equal(y[:, :-1], x[:, 1:])
    x2, _ = next(iter(make_loader(ids, 8, 5, seed=3)))
    assert torch.equal(x, x2)
    assert len(make_loader(ids, 8, 5, seed=0)) == 92 // 5  # drop_last


def test_decay_groups_as_phase_05() -> None:
    config = TransformerConfig(vocab_size=7, context=4, d_model=8, n_heads=2, n_layers=2)
    model = TorchTransformer(config)
    decay, no_decay = configure_optimizer(model, 1e-3, 0.1, 0.99).param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)] for p in decay["params"]} == {
        n for n, p in model.named_parameters() if p.ndim == 2 and n != "wpe.weight"}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_evaluate_is_repeatable_and_leaves_training_mode() -> None:
    torch.manual_seed(0)
    model = TorchTransformer(TransformerConfig(vocab_size=7, context=4, d_model=8, n_heads=2,
                                               n_layers=1))
    ids = torch.randint(0, 7, (60,))
    first = evaluate(model, ids, 4, 3, 2, torch.device("cpu"))
    assert evaluate(model, ids, 4, 3, 2, torch.device("cpu")) == first
    assert model.training


def test_script_trains_and_round_trips(tmp_path: Path, tiny_text: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "tiny.txt"
    text.write_text(tiny_text * 8, encoding="utf-8")
    train_main(["--path", str(text), "--steps", "60", "--batch", "8", "--context", "16",
                "--d-model", "32", "--n-layers", "1", "--n-heads", "2", "--eval-every", "20",
                "--eval-batches", "2", "--sample-chars", "20", "--device", "cpu",
                "--save", str(tmp_path / "w.pt"), "--out", str(tmp_path / "figs")])
    out = capsys.readouterr().out
    losses = [float(line.split("train ")[1].split()[0]) for line in out.splitlines()
              if line.strip().startswith("step ")]
    assert losses[-1] < losses[0] - 0.5
    assert "tokens/s" in out and "identical logits: True" in out
    gap = float(out.split("logits differ by ")[1].split()[0])
    assert gap < 1e-4  # float32: the trained weights run the same in phase 05's NumPy model
    assert (tmp_path / "w.pt").is_file() and (tmp_path / "figs" / "train_loop_loss.png").is_file()


def test_script_refuses_a_missing_device_and_a_short_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as stop:
        train_main(["--device", "cuda"])
    assert stop.value.code == 2 and "not available" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("abc " * 30, encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        train_main(["--path", str(short), "--device", "cpu"])
    assert stop.value.code == 2 and "too short" in capsys.readouterr().err


def test_windows_of_numpy_text_agree_with_phase_05_batches() -> None:
    """phase 05 cut (x, y) as window[:-1], window[1:]: the Dataset does the same."""
    data = np.arange(30)
    start = 7
    window = data[start: start + 6]
    x, y = CharWindows(torch.as_tensor(data), 5)[start]
    assert x.tolist() == window[:-1].tolist() and y.tolist() == window[1:].tolist()


def test_reloaded_logits_equal_on_the_cpu_and_close_off_it() -> None:
    """On the CPU the same kernels give the same bits; a GPU adds in another order, so its
    logits are compared with a tolerance, and a real difference is still caught."""
    logits = torch.randn(2, 4, 7)
    assert compare_reloaded(logits, logits.clone(), torch.device("cpu")) == (
        "identical logits: True")
    assert compare_reloaded(logits, logits + 1e-6, torch.device("cpu")) == (
        "identical logits: False")
    nudged = logits.clone()
    nudged[1, 2, 3] += 0.5
    # float64 here: in float32, x + 3e-6 - x rounds to 3.1e-06
    near = compare_reloaded(logits.double(), logits.double() + 3e-6, torch.device("mps"))
    assert "3.0e-06" in near and "the same up to float32 round-off" in near
    far = compare_reloaded(logits, nudged, torch.device("cuda"))
    assert "differ by 5.0e-01" in far and "DIFFERENT" in far


def test_script_refuses_a_warmup_longer_than_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        train_main(["--steps", "10", "--warmup", "50", "--device", "cpu"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert "--warmup (50) is longer than the run (--steps 10)" in err.strip().splitlines()[-1]


def test_train_step_runs_the_forward_pass_inside_autocast() -> None:
    """The autocast context given (bfloat16 on a GPU with --amp) must hold the loss: the forward
    pass, and only it, runs inside; backward and the update come after the context is left."""
    torch.manual_seed(0)
    model = TorchTransformer(TransformerConfig(vocab_size=7, context=4, d_model=8, n_heads=2,
                                               n_layers=1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    events: list[str] = []

    class Recorder(contextlib.AbstractContextManager):
        def __enter__(self) -> "Recorder":
            events.append("enter")
            return self

        def __exit__(self, *exc: object) -> None:
            events.append("exit")

    loss = model.loss

    def recorded_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        events.append("forward")
        value = loss(x, y)
        value.register_hook(lambda grad: events.append("backward"))
        return value

    model.loss = recorded_loss
    x, y = torch.randint(0, 7, (3, 4)), torch.randint(0, 7, (3, 4))
    train_step(model, opt, x, y, 0.0, Recorder())
    assert events == ["enter", "forward", "exit", "backward"], events


def test_train_step_is_one_clean_step() -> None:
    """Each step moves every weight by -lr times a fresh gradient of this batch, clipped when
    asked: nothing left over from the step before, clipping after backward and before step."""
    torch.manual_seed(0)
    model = TorchTransformer(TransformerConfig(vocab_size=7, context=4, d_model=8, n_heads=2,
                                               n_layers=1)).double()
    lr = 0.5
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = torch.randint(0, 7, (3, 4)), torch.randint(0, 7, (3, 4))
    params = list(model.parameters())
    for clip in (0.0, 0.0, 0.05):  # the second step would see a left-over gradient
        before = [p.detach().clone() for p in params]
        expected_loss = model.loss(x, y)
        grads = torch.autograd.grad(expected_loss, params)  # fills no .grad
        norm = torch.sqrt(sum((g ** 2).sum() for g in grads)).item()
        scale = min(1.0, clip / (norm + 1e-6)) if clip > 0 else 1.0  # clip_grad_norm_'s rule
        assert clip == 0 or scale < 1  # the clipped step really is clipped
        loss = train_step(model, opt, x, y, clip)
        assert loss.item() == pytest.approx(expected_loss.item(), abs=1e-12)  # before the step
        for p, p0, g in zip(params, before, grads, strict=True):
            # 1e-7: room for a clip by hand without clip_grad_norm_'s 1e-6 in the divisor
            torch.testing.assert_close(p.detach(), p0 - lr * scale * g, rtol=0, atol=1e-7)


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_phase05_clip_gradients_and_torchs_clip_grad_norm_agree(max_norm: float) -> None:
    """The second witness for gradient clipping: phase 05's clip_gradients (NumPy, by hand) and
    torch.nn.utils.clip_grad_norm_, which train_loop.py uses, on the same float64 gradients.
    Both return the norm before clipping and scale every array by the same factor (none when
    the norm is already below max_norm)."""
    from phase05.train_transformer import clip_gradients

    rng = np.random.default_rng(0)
    shapes = {"wte": (7, 4), "W_qkv": (4, 12), "b": (12,), "gain": (4,)}
    grads = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    tensors = []
    for g in grads.values():
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.from_numpy(g.copy())
        tensors.append(t)
    theirs = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    ours = clip_gradients(grads, max_norm)
    assert ours == pytest.approx(theirs.item(), rel=1e-12)
    assert (ours > max_norm) == (max_norm < 5)  # the small limits clip, the large one does not
    for g, t in zip(grads.values(), tensors, strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("steps", [10, 30])
def test_phase05_recipe_and_this_loop_train_the_same_model(steps: int) -> None:
    """Phase 05's NumPy training loop and this phase's PyTorch one, from the same weights on
    the same batches, in float64: every step's loss and every final weight agree to
    round-off, with the gradient clipped in some steps and not in others (so both branches of
    clipping are compared), the warmup and the cosine both exercised, and the decay groups
    applied. One wrong piece (a decayed LayerNorm gain, clipping after the step, the schedule
    one step off) would part the two runs by far more than 1e-12."""
    from phase05.transformer import Transformer
    from phase06.train_loop import recipe_side_by_side
    from phase06.transformer_torch import transformer_to_numpy

    config = TransformerConfig(vocab_size=11, context=8, d_model=16, n_heads=4, n_layers=2)
    model = Transformer(config, seed=1)
    data = np.random.default_rng(1).integers(0, 11, 400)
    ours, theirs, norms, twin = recipe_side_by_side(model, data, steps, batch=4, lr=3e-3,
                                                    warmup=3, clip=1.0, weight_decay=0.1,
                                                    beta2=0.99, seed=1)
    assert (norms > 1.0).any() and (norms < 1.0).any()
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-12)
    assert ours[-1] < ours[0]  # it did train
    back = transformer_to_numpy(twin).state_dict()
    for name, p in model.state_dict().items():
        np.testing.assert_allclose(back[name], p, rtol=0, atol=1e-12, err_msg=name)
