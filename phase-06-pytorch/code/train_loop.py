"""A complete PyTorch training loop: Dataset, DataLoader, nn.Module, optimizer, device, schedule.

Phase 05 trained its NumPy transformer with a loop we wrote piece by piece: cut random windows
of text, run forward, compute the loss, run our backward, clip, step AdamW. This script trains
the PyTorch rebuild of that same model (transformer_torch.py) on the same text with the same
recipe, and each piece of the old loop has a PyTorch name:

    phase 05 (NumPy)                           PyTorch
    get_batch(data, B, T, rng)                 a Dataset of windows + a DataLoader that
                                               shuffles and stacks them into batches
    model.loss(x, y); model.backward_loss()    loss = model.loss(x, y); loss.backward()
    clip_gradients(model.grads, 1.0)           torch.nn.utils.clip_grad_norm_(params, 1.0)
    AdamW([decay]), AdamW([no_decay])          torch.optim.AdamW with two parameter groups
    opt.lr = lr_at(step, ...)                  group["lr"] = lr_at(step, ...) (same function)
    (our layers overwrite their grads)         optimizer.zero_grad(): autograd adds into .grad
    evaluate(...)                              model.eval(), torch.no_grad(), model.train()

The Dataset answers two questions, how many examples (`__len__`) and what example i is
(`__getitem__`); the DataLoader turns it into shuffled batches. `num_workers=0` loads batches in
the training process itself: a window of text is a slice, far cheaper than starting worker
processes (which macOS starts with "spawn", re-importing the script: one more reason for the
`if __name__ == "__main__":` guard).

The model runs on the device device.py picks (MPS, then CUDA, then CPU); on a GPU the timer
is read after `synchronize`. It prints the loss, the time and the throughput in tokens per
second (a token here is one character), then samples text, saves the weights as a state_dict,
reloads them, and runs the trained weights in phase 05's NumPy model: the same logits.

Adam is Kingma & Ba (2014, "Adam: A Method for Stochastic Optimization"), its decoupled weight
decay Loshchilov & Hutter (2017, "Decoupled Weight Decay Regularization"), the clipping Pascanu,
Mikolov & Bengio (2013, "On the difficulty of training recurrent neural networks"), the library
Paszke et al. (2019, "PyTorch: An Imperative Style, High-Performance Deep Learning Library").

Run:  python phase-06-pytorch/code/train_loop.py
      python phase-06-pytorch/code/train_loop.py --device cpu --steps 300 --threads 2
"""

import argparse
import contextlib
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch.utils.data import DataLoader, Dataset

from phase00.corpus import add_corpus_flags, write_atomically
from phase00.figures import add_out_flag, save_figure, scratch_dir
from phase00.flags import add_seed_flag, output_file, positive_int, script_parser
from phase02.optimizers import AdamW
from phase03.char_tokenizer import sample_start
from phase05.train_transformer import (
    add_adamw_flags,
    add_loop_flags,
    add_sampling_flags,
    clip_gradients,
    decay_groups,
    get_batch,
    lr_at,
    training_text,
)
from phase05.transformer import Transformer, TransformerConfig, add_shape_flags, training_bytes
from phase06.device import (
    add_device_flag,
    add_threads_flag,
    autocast_dtype,
    check_fits_on_device,
    describe_device,
    limit_cpu_threads,
    memory_report,
    pick_device,
    synchronize,
)
from phase06.tensors import max_abs_diff
from phase06.transformer_torch import TorchTransformer, transformer_to_numpy, transformer_to_torch


class CharWindows(Dataset):
    """Every window of context + 1 consecutive ids of a text, as (input, target) pairs.

    Example i is x = ids[i : i + T] and y = ids[i + 1 : i + T + 1]: the target at each position
    is the next character. With N ids there are N - T examples, overlapping (shuffling decides
    which ones a batch gets, as phase 05's random windows did).
    """

    def __init__(self, ids: torch.Tensor, context: int) -> None:
        if ids.ndim != 1:
            raise ValueError(f"expected a 1-D tensor of token ids, got shape {tuple(ids.shape)}")
        if len(ids) <= context:
            raise ValueError(f"the text has {len(ids)} tokens, too few for one window of "
                             f"context {context} plus its target")
        self.ids, self.context = ids, context

    def __len__(self) -> int:
        return len(self.ids) - self.context

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        window = self.ids[i: i + self.context + 1]  # (T + 1,)
        return window[:-1], window[1:]


def make_loader(ids: torch.Tensor, context: int, batch: int, seed: int) -> DataLoader:
    """Shuffled batches of windows, x and y each (batch, context); the order is set by seed."""
    return DataLoader(CharWindows(ids, context), batch_size=batch, shuffle=True, drop_last=True,
                      num_workers=0, generator=torch.Generator().manual_seed(seed))


def forever(loader: DataLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches without end: a new shuffled pass (epoch) whenever the last one runs out."""
    while True:
        yield from loader


def evaluate(model: TorchTransformer, ids: torch.Tensor, context: int, batch: int,
             n_batches: int, device: torch.device) -> float:
    """Mean loss on n_batches windows of `ids`, the same windows every call (a fixed seed).

    model.eval() switches layers that behave differently in training off (ours has none, but the
    habit matters: dropout, in later phases, does); torch.no_grad() records no graph.
    """
    model.eval()
    losses = []
    with torch.no_grad():
        for _, (x, y) in zip(range(n_batches), make_loader(ids, context, batch, seed=1),
                             strict=False):
            losses.append(model.loss(x.to(device), y.to(device)).item())
    model.train()
    return float(np.mean(losses))


def train_step(model: TorchTransformer, opt: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor, clip: float,
               autocast: contextlib.AbstractContextManager | None = None) -> torch.Tensor:
    """One step of training on one batch: the loss, a fresh gradient, clipping, the update.

    x and y are (B, T) token ids (y is x shifted by one); returns the batch's loss, computed
    before the update. The order is the lesson: autograd ADDS into .grad, so last step's
    gradient is cleared before backward(); clipping needs the whole new gradient, so it comes
    after backward() and before step(). clip 0 turns clipping off. `autocast` is the context
    the forward pass runs in (bfloat16 on a GPU with --amp); None runs it as it is.
    """
    with autocast if autocast is not None else contextlib.nullcontext():
        loss = model.loss(x, y)
    opt.zero_grad(set_to_none=True)  # autograd adds into .grad: start from nothing
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss


def configure_optimizer(model: TorchTransformer, lr: float, weight_decay: float,
                        beta2: float) -> torch.optim.AdamW:
    """AdamW with decay on the weight matrices only, as phase 05: 2-D weights other than the
    position table are decayed; biases, LayerNorm gains and positions are not."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim == 2 and not name.startswith("wpe") else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, beta2))


def recipe_side_by_side(model: Transformer, data: np.ndarray, steps: int, batch: int, lr: float,
                        warmup: int, clip: float, weight_decay: float, beta2: float,
                        seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, TorchTransformer]:
    """Phase 05's whole training recipe, run twice from the same weights on the same batches.

    Once as phase 05's NumPy loop does it (its hand-written backward pass, clip_gradients,
    phase 02's AdamW in two groups, lr_at), once as this phase's loop does it (autograd,
    clip_grad_norm_, torch.optim.AdamW in the same two groups, the same schedule). Returns the
    NumPy losses, the PyTorch losses and the gradient norms before clipping, one per step, and
    the PyTorch model; `model` itself is trained in place. In float64 the two runs agree to
    round-off: the parity of every piece at once, including the ones no single row checks (the
    decay groups, clipping inside a step, the schedule)."""
    twin = transformer_to_torch(model)
    opt = configure_optimizer(twin, lr, weight_decay, beta2)
    decay, no_decay = decay_groups(model)
    ours = [AdamW([decay], lr=lr, beta2=beta2, weight_decay=weight_decay),
            AdamW([no_decay], lr=lr, beta2=beta2, weight_decay=0.0)]
    rng = np.random.default_rng(seed)  # the batches: drawn once, fed to both
    numpy_losses, torch_losses, norms = [], [], []
    for step in range(steps):
        rate = lr_at(step, lr, warmup, steps)
        for optimizer in ours:
            optimizer.lr = rate
        for group in opt.param_groups:
            group["lr"] = rate
        x, y = get_batch(data, batch, model.config.context, rng)
        numpy_losses.append(model.loss(x, y))
        model.backward_loss()
        norms.append(clip_gradients(model.grads, clip))
        for optimizer in ours:
            optimizer.step()
        torch_losses.append(train_step(twin, opt, torch.from_numpy(x), torch.from_numpy(y),
                                       clip).item())
    return np.array(numpy_losses), np.array(torch_losses), np.array(norms), twin


def save_state(model: torch.nn.Module, path: Path) -> Path:
    """torch.save the model's state_dict to a temporary name beside `path`, then rename it: a
    save that fails halfway (a full disk, Ctrl-C) leaves no half file and the old one intact."""
    return write_atomically(path, lambda f: torch.save(model.state_dict(), f))


RELOAD_TOLERANCE = 1e-3  # float32 logits of order 10, computed by two different sets of kernels


def compare_reloaded(trained: torch.Tensor, reloaded: torch.Tensor, device: torch.device) -> str:
    """Say whether the reloaded weights give the trained model's logits (both on the CPU here).

    On the CPU both ran the same kernels on the same numbers in the same order: the logits must be
    bit for bit equal. The trained logits of a GPU run came from the GPU's kernels (MPS, CUDA),
    which add up a dot product in another order (in parallel pieces, fused operations), and
    float32 addition is not associative: (a + b) + c and a + (b + c) can differ in the last bit.
    So off the CPU equality is the wrong test; a gap of float32 round-off is the right one.
    """
    if device.type == "cpu":
        return f"identical logits: {torch.equal(trained, reloaded)}"
    gap = max_abs_diff(trained, reloaded)
    verdict = "the same up to float32 round-off" if gap <= RELOAD_TOLERANCE else "DIFFERENT"
    return (f"logits differ by {gap:.1e} from the {device.type} run's ({verdict}; tolerance "
            f"{RELOAD_TOLERANCE:g}: another device adds in another order)")


def plot_losses(history: dict[str, list[float]], title: str,
                out_dir: Path | None = None) -> Figure:
    """Training loss per step and validation loss at each evaluation, against steps and time."""
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_step, ax_time = fig.subplots(1, 2)
    for ax, x_train, x_val, label in ((ax_step, history["step"], history["eval_step"], "step"),
                                      (ax_time, history["seconds"], history["eval_seconds"],
                                       "seconds of training")):
        ax.plot(x_train, history["train"], color="tab:blue", alpha=0.35, lw=0.8,
                label="training batch")
        ax.plot(x_val, history["val"], "o-", color="tab:orange", ms=3,
                label=f"validation, last {history['val'][-1]:.3f}")
        ax.set_xlabel(label)
        ax.set_ylabel("cross-entropy (nats per character)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax_step.set_title(title, fontsize=10)
    ax_time.set_title("the same run against wall time", fontsize=10)
    save_figure(fig, out_dir, "train_loop_loss.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.warmup > args.steps:  # as phase 07: a run that ends inside its warmup is a mistake
        parser.error(f"--warmup ({args.warmup}) is longer than the run (--steps {args.steps}): "
                     f"the learning rate would never reach its peak; choose a smaller --warmup")
    T, B = args.context, args.batch
    try:
        device = pick_device(args.device)
        config = TransformerConfig(1, T, args.d_model, args.n_heads, args.n_layers)
    except (ValueError, RuntimeError) as err:
        parser.error(str(err))
    try:  # a validation batch is B windows of T + 1 characters, overlapping: T + B characters
        text, source, tokenizer = training_text(args.corpus, args.path, T, window_extra=B + 1,
                                                smaller="--context or --batch")
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    try:  # before any tensor is made: --context 100000 is refused, not swapped to disk
        check_fits_on_device(training_bytes(tokenizer.vocab_size, T, args.d_model, args.n_heads,
                                            args.n_layers, B),
                             f"training with --batch {B} --context {T} --d-model "
                             f"{args.d_model} --n-layers {args.n_layers}", device)
    except ValueError as err:
        parser.error(str(err))
    limit_cpu_threads(args.threads)
    torch.manual_seed(args.seed)

    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    n_val = len(ids) // 10  # the last tenth, as phase 05
    train_ids, val_ids = ids[:-n_val], ids[-n_val:]
    config.vocab_size = tokenizer.vocab_size
    model = TorchTransformer(config).to(device)
    amp = autocast_dtype(device) if args.amp else torch.float32
    print(f"1. Data: {source}; {tokenizer.vocab_size} characters; {len(train_ids):,} train / "
          f"{len(val_ids):,} validation")
    print(f"   device: {describe_device(device)}")
    print(f"   model: {config.n_layers} blocks x {config.n_heads} heads, width {config.d_model}, "
          f"context {T}: {model.n_params:,} parameters, float32"
          + (f", autocast {amp}" if amp != torch.float32 else ""))
    loader = make_loader(train_ids, T, B, args.seed)
    print(f"   Dataset: {len(loader.dataset):,} windows; DataLoader: batches of {B}, shuffled, "
          f"num_workers=0; {len(loader):,} batches per epoch")
    x, y = next(iter(loader))
    print(f"   a batch: x {tuple(x.shape)} {x.dtype}, y {tuple(y.shape)}; "
          f"x[0, :20] = {tokenizer.decode(x[0, :20].tolist())!r}")
    with torch.no_grad():
        loss0 = model.loss(x.to(device), y.to(device)).item()
    print(f"   loss before training {loss0:.3f} (uniform guessing: ln {tokenizer.vocab_size} = "
          f"{math.log(tokenizer.vocab_size):.3f})")

    opt = configure_optimizer(model, args.lr, args.weight_decay, args.beta2)
    n_decay = len(opt.param_groups[0]["params"])
    print(f"\n2. Train {args.steps} steps of {B} x {T} characters: AdamW (decay "
          f"{args.weight_decay} on {n_decay} weight matrices), peak lr {args.lr}, warmup "
          f"{args.warmup}, cosine to a tenth, clip {args.clip}")
    history: dict[str, list[float]] = {"step": [], "train": [], "seconds": [],
                                       "eval_step": [], "val": [], "eval_seconds": []}
    batches = forever(loader)
    autocast = (torch.autocast(device.type, dtype=amp) if amp != torch.float32
                else contextlib.nullcontext())
    synchronize(device)
    start = time.perf_counter()
    eval_time = 0.0  # evaluation is not training: keep it out of tokens/s
    for step in range(args.steps):
        lr = lr_at(step, args.lr, args.warmup, args.steps)  # phase 05's schedule, reused
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = next(batches)
        x, y = x.to(device), y.to(device)
        loss = train_step(model, opt, x, y, args.clip, autocast)
        last = step == args.steps - 1
        train_loss = loss.item()  # .item() waits for the device: the loss is really computed
        if not math.isfinite(train_loss):
            parser.exit(1, f"error: the loss became {train_loss} at step {step}: the learning "
                           f"rate ({lr:.2e}) is probably too high; try a smaller --lr\n")
        synchronize(device)
        elapsed = time.perf_counter() - start - eval_time
        history["step"].append(step)
        history["train"].append(train_loss)
        history["seconds"].append(elapsed)
        out_of_time = args.max_seconds is not None and elapsed > args.max_seconds
        if step % args.eval_every == 0 or last or out_of_time:
            t0 = time.perf_counter()
            val_loss = evaluate(model, val_ids, T, B, args.eval_batches, device)
            eval_time += time.perf_counter() - t0
            history["eval_step"].append(step)
            history["val"].append(val_loss)
            history["eval_seconds"].append(elapsed)
            print(f"   step {step:5d}  train {train_loss:.3f}  val {val_loss:.3f}  lr {lr:.2e}  "
                  f"{elapsed:6.1f} s  {(step + 1) * B * T / elapsed:,.0f} tokens/s")
        if out_of_time and not last:
            print(f"   stopped by --max-seconds {args.max_seconds:g}")
            break
    seconds = history["seconds"][-1]
    steps_done = history["step"][-1] + 1
    print(f"   {steps_done} steps in {seconds:.1f} s of training ({seconds / steps_done * 1e3:.0f} "
          f"ms per step, {steps_done * B * T / seconds:,.0f} tokens/s): validation loss "
          f"{history['val'][-1]:.3f} nats")
    mem = memory_report(device)
    print("   memory: " + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in mem.items()))

    print(f"\n3. Sample {args.sample_chars} characters at temperature {args.temperature}")
    sample = model.generate(tokenizer.encode(sample_start(text)), args.sample_chars,
                            args.temperature, torch.Generator().manual_seed(args.seed))
    print("   | " + tokenizer.decode(sample).replace("\n", "\n   | "))

    print("\n4. Save, reload, and run the trained weights in phase 05's NumPy model")
    path = save_state(model, args.save)  # a dict of named tensors, nothing else
    fresh = TorchTransformer(config)
    fresh.load_state_dict(torch.load(path, weights_only=True))  # data only: no code runs
    x, _ = next(iter(make_loader(val_ids, T, 2, seed=2)))
    with torch.no_grad():
        logits = model(x.to(device)).cpu()
        verdict = compare_reloaded(logits, fresh(x), device)  # `fresh` runs on the CPU
    print(f"   saved {path} ({path.stat().st_size / 1e6:.1f} MB); the reloaded model on the CPU: "
          f"{verdict}")
    np_model = transformer_to_numpy(model.cpu())
    gap = max_abs_diff(np_model.forward(x.numpy()), logits)
    print(f"   phase 05's NumPy Transformer with these weights: logits differ by {gap:.1e} "
          f"(float32 round-off)")

    print("\nFigures")
    plot_losses(history, f"{config.n_layers} blocks x width {config.d_model}, {model.n_params:,} "
                         f"parameters, {B} x {T} characters per step", args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Train phase 05's transformer in PyTorch: a complete training loop.")
    add_device_flag(parser)
    add_shape_flags(parser, context=64, d_model=128, n_heads=4, n_layers=4, positions=False)
    add_loop_flags(parser, steps=600)
    add_adamw_flags(parser, lr=3e-3, beta2=True)
    parser.add_argument("--eval-batches", type=positive_int, default=10,
                        help="batches per validation loss")
    parser.add_argument("--amp", action="store_true",
                        help="autocast to the device's bf16 where it has one (device.py)")
    add_threads_flag(parser, why="; steadiest on a busy machine")
    add_sampling_flags(parser, chars=200)
    add_corpus_flags(parser)
    add_seed_flag(parser)
    parser.add_argument("--save", type=output_file,
                        default=scratch_dir(__file__) / "train_loop_state.pt",
                        help="where to save the trained weights (default: in the git-ignored "
                             "scratch/ folder)")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
