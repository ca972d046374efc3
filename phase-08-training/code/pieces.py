"""The training loop taken apart: each piece of train.py shown on its own, with numbers.

train.py puts five ideas into one loop. Each is easy to get subtly wrong, and the error rarely
crashes: the run just trains a little worse, or cannot be continued. This script isolates them
on a tiny model, so each takes a second and prints the number that proves it works:

1. The learning-rate schedule (Goyal et al. 2017 warmup; Loshchilov & Hutter 2016 cosine): the
   values at the steps that matter, and a picture.
2. Gradient accumulation: 4 micro-batches of 2 against one batch of 8, in float64 and float32;
   and what forgetting to divide the loss does (the gradient grows 4 times).
3. Gradient clipping (Pascanu et al. 2013): one bad batch, whose gradient is a thousand times
   the usual, with and without the limit, each against the same run with no bad batch. Without
   the limit, Adam's memory of squared gradients is poisoned by the one huge value, and the
   steps after it shrink for a long while. Turning clipping off changes every step, not only
   the bad one, so the bad batch's own cost is the gap between the two unclipped runs.
4. Mixed precision (Micikevicius et al. 2017): what bfloat16 rounds away, why float16 needs a
   loss scale and bfloat16 does not, and how far one batch's loss moves under autocast.
5. Exact resume: a run stopped by Ctrl-C and resumed against one that never stopped, step by
   step.

Run:  python phase-08-training/code/pieces.py
      python phase-08-training/code/pieces.py --bad-factor 100 --stop-at 20
"""

import argparse
import signal
import tempfile
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from phase00.figures import add_out_flag, save_figure
from phase00.flags import positive_float, positive_int, script_parser
from phase07.train_char import lr_at
from phase08.config import TrainConfig, make_config
from phase08.loader import BatchLoader, TokenShards
from phase08.prepare_data import add_data_dir_flag
from phase08.train import (
    accumulate_gradients,
    autocast,
    build_model,
    clip_gradients,
    make_optimizer,
    read_log,
    resolve_data,
    train,
)

CPU = torch.device("cpu")


def schedule(cfg: TrainConfig) -> np.ndarray:
    """The learning rate of every step of a run."""
    return np.array([lr_at(s, cfg.lr, cfg.warmup, cfg.steps, cfg.min_lr_ratio)
                     for s in range(cfg.steps)])


def accumulation_gap(shards: TokenShards, cfg: TrainConfig, dtype: torch.dtype,
                     divide: bool = True) -> tuple[float, float]:
    """(largest gradient difference, norm ratio) between 1 x 8 sequences and 4 x 2.

    divide=False forgets to divide each micro-batch's loss by 4 (the loss is multiplied back
    by 4 before backward), the classic accumulation bug.
    """
    grads = []
    for micro_batch, n_micro in ((8, 1), (2, 4)):
        torch.manual_seed(0)
        model = build_model(cfg, shards.tokenizer["vocab_size"]).to(dtype)
        loader = BatchLoader(shards, micro_batch, cfg.context)
        if divide or n_micro == 1:
            accumulate_gradients(model, loader, n_micro, CPU)
        else:
            for _ in range(n_micro):
                x, y = loader.next_batch()
                model(x, y)[1].backward()  # no division: four whole gradients add up
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    one, four = grads
    return (one - four).abs().max().item(), (four.norm() / one.norm()).item()


def bad_batch_run(shards: TokenShards, cfg: TrainConfig, bad_step: int, factor: float,
                  clip: float) -> np.ndarray:
    """Training losses of a short run in which the gradient of step bad_step is multiplied by
    `factor` (a bad batch; factor 1 = none), clipped at `clip` (0 = off)."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, shards.tokenizer["vocab_size"])
    optimizer, _ = make_optimizer(model, cfg, CPU)
    loader = BatchLoader(shards, cfg.micro_batch, cfg.context)
    losses = []
    for step in range(cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg.lr, cfg.warmup, cfg.steps, cfg.min_lr_ratio)
        losses.append(accumulate_gradients(model, loader, cfg.grad_accum, CPU).item())
        if step == bad_step:
            for p in model.parameters():
                p.grad *= factor
        clip_gradients(model, clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return np.array(losses)


def bf16_facts() -> list[tuple[str, float]]:
    """A few numbers through bfloat16 and float16, to see what each keeps."""
    facts = []
    for x in (1 + 2**-8, 1 + 2**-7, 3.14159265, 70000.0, 1e-8):
        for dtype in (torch.bfloat16, torch.float16):
            facts.append((f"{x!r} in {str(dtype).removeprefix('torch.')}",
                          torch.tensor(x, dtype=dtype).item()))
    return facts


@torch.no_grad()
def autocast_shift(shards: TokenShards, cfg: TrainConfig) -> tuple[float, float]:
    """One batch's loss in float32 and under bfloat16 autocast (CPU), same weights."""
    torch.manual_seed(0)
    model = build_model(cfg, shards.tokenizer["vocab_size"])
    x, y = BatchLoader(shards, 8, cfg.context).next_batch()
    full = model(x, y)[1].item()
    with autocast(CPU, torch.bfloat16):
        low = model(x, y)[1].item()
    return full, low


def run_losses(run_dir: Path, key: str = "loss") -> np.ndarray:
    return np.array([r[key] for r in read_log(run_dir / "log.jsonl") if r["kind"] == "step"])


def plot_pieces(lr: np.ndarray, warmup: int, curves: dict[str, np.ndarray], bad_step: int,
                whole: np.ndarray, resumed: np.ndarray, stop_at: int,
                out_dir: Path | None) -> Figure:
    fig = Figure(figsize=(13, 3.8))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.plot(lr, color="tab:blue")
    ax1.axvline(warmup, color="0.6", ls=":", label=f"end of warmup ({warmup})")
    ax1.set_xlabel("step")
    ax1.set_ylabel("learning rate")
    ax1.set_title("warmup, then a cosine")
    ax1.legend()
    # Thick and pale: the runs with no bad batch, each the baseline of the thin line of its
    # colour; green with clipping, red without.
    styles = (("tab:green", 3, 0.3), ("tab:green", 1, 1.0), ("tab:red", 1, 1.0),
              ("tab:red", 3, 0.3))
    for (label, losses), (color, lw, alpha) in zip(curves.items(), styles, strict=True):
        ax2.plot(np.arange(len(losses)), losses, color=color, lw=lw, alpha=alpha, label=label)
    ax2.axvline(bad_step, color="0.6", ls=":")
    ax2.set_xlabel("step")
    ax2.set_ylabel("training loss")
    ax2.set_title(f"one bad batch at step {bad_step}")
    ax2.legend(fontsize="small")
    steps = np.arange(1, len(whole) + 1)
    ax3.plot(steps, whole, color="0.3", lw=3, alpha=0.35, label="never stopped")
    ax3.plot(steps[:stop_at], resumed[:stop_at], color="tab:orange", lw=1,
             label=f"until Ctrl-C at step {stop_at}")
    ax3.plot(steps[stop_at:], resumed[stop_at:], color="tab:purple", lw=1, label="resumed")
    ax3.axvline(stop_at, color="0.6", ls=":")
    ax3.set_xlabel("step")
    ax3.set_ylabel("training loss")
    ax3.set_title("stop, resume: the same curve")
    ax3.legend()
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out_dir, "training_pieces.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, value in (("--stop-at", args.stop_at), ("--bad-step", args.bad_step)):
        if value >= args.steps:
            parser.error(f"{flag} ({value}) must come before the end (--steps {args.steps})")
    torch.set_num_threads(1)
    small = make_config("cpu-smoke", {"device": "cpu", "steps": args.steps,
                                      "data": str(args.data or "")})
    try:
        folder = resolve_data(small, args.data_dir, verbose=False)
        shards = TokenShards(folder)  # sizes, hashes (once), then ids at every read
        BatchLoader(shards, 16, small.context)  # enough tokens for the demos' batches...
        BatchLoader(TokenShards(folder, "val"), 1, small.context)  # ...and for validation
    except (OSError, ValueError) as err:
        parser.exit(1, f"error: {err}\n")
    small = make_config("cpu-smoke", {"device": "cpu", "steps": args.steps,
                                      "data": str(folder)})
    print(f"Data: {folder} ({len(shards):,} training tokens); model: the cpu-smoke GPT "
          f"({small.n_layer} layers, width {small.n_embd}, context {small.context})")

    cfg = make_config("shakespeare-char")
    lr = schedule(cfg)
    print(f"\n1. Schedule of shakespeare-char: peak {cfg.lr:g}, warmup {cfg.warmup}, "
          f"{cfg.steps} steps, floor {cfg.min_lr_ratio:g} x peak")
    for s in (0, 1, cfg.warmup - 1, cfg.warmup, (cfg.warmup + cfg.steps) // 2, cfg.steps - 1):
        print(f"   step {s:5d}: lr {lr[s]:.6f}")

    print("\n2. Gradient accumulation: one batch of 8 sequences against 4 micro-batches of 2")
    for dtype in (torch.float64, torch.float32):
        gap, ratio = accumulation_gap(shards, small, dtype)
        print(f"   {str(dtype).removeprefix('torch.'):8s}: largest gradient difference "
              f"{gap:.2e}, norm ratio {ratio:.6f}")
    gap, ratio = accumulation_gap(shards, small, torch.float64, divide=False)
    print(f"   forgetting to divide each loss by 4: norm ratio {ratio:.6f}")

    print(f"\n3. Clipping at {args.clip:g}: one bad batch at step {args.bad_step} (its gradient "
          f"x {args.bad_factor:g})")
    clipped = make_config("cpu-smoke", {"device": "cpu", "steps": args.steps, "n_embd": 64,
                                        "n_head": 4, "micro_batch": 16, "grad_accum": 1,
                                        "lr": 5e-3, "warmup": 20, "clip": args.clip})
    curves, after = {}, {}
    # Two pairs: each run with a bad batch against the same run without one. Clipping changes
    # every step, not only the bad one, so only the gap within a pair is the bad batch's doing.
    unclipped = "bad batch, no clipping"
    for label, factor, clip in (("no bad batch", 1.0, args.clip),
                                (f"bad batch, clip {args.clip:g}", args.bad_factor, args.clip),
                                (unclipped, args.bad_factor, 0.0),
                                (f"no {unclipped}", 1.0, 0.0)):
        curves[label] = bad_batch_run(shards, clipped, args.bad_step, factor, clip)
        window = curves[label][args.bad_step + 1:args.bad_step + 21]
        after[label] = window.mean()
        print(f"   {label:22s}: mean loss of the {len(window)} steps after it {after[label]:.4f}, "
              f"last step {curves[label][-1]:.4f}")
    before = {label: losses[max(0, args.bad_step - 20):args.bad_step].mean()
              for label, losses in curves.items()}
    print(f"   before it, where the runs of a pair are equal: mean loss "
          f"{before['no bad batch']:.4f} with clipping, {before[unclipped]:.4f} without")
    print(f"   the bad batch's own cost over those steps: "
          f"{after[f'bad batch, clip {args.clip:g}'] - after['no bad batch']:+.4f} with clipping, "
          f"{after[unclipped] - after[f'no {unclipped}']:+.4f} without")

    print("\n4. Mixed precision: what 16 bits keep")
    for text, value in bf16_facts():
        print(f"   {text:28s} -> {value!r}")
    full, low = autocast_shift(shards, small)
    print(f"   one batch's loss: float32 {full:.6f}, bfloat16 autocast {low:.6f} "
          f"(difference {abs(full - low):.1e})")

    print(f"\n5. Exact resume: Ctrl-C at step {args.stop_at}, then --resume")
    with tempfile.TemporaryDirectory() as tmp:
        resume_cfg = make_config("cpu-smoke", {"device": "cpu", "steps": args.steps,
                                               "data": str(folder), "dropout": 0.1,
                                               "sample_tokens": 0})
        train(resume_cfg, Path(tmp) / "whole", verbose=False)

        def ctrl_c(step: int, loss: float) -> None:
            if step == args.stop_at:
                signal.raise_signal(signal.SIGINT)

        train(resume_cfg, Path(tmp) / "parts", on_step=ctrl_c, verbose=False)
        train(None, Path(tmp) / "parts", resume=Path(tmp) / "parts" / "last.pt", verbose=False)
        whole, resumed = run_losses(Path(tmp) / "whole"), run_losses(Path(tmp) / "parts")
    print(f"   {len(whole)} losses each; steps that differ: {int((whole != resumed).sum())}; "
          f"largest difference {np.abs(whole - resumed).max()}")

    print("\nFigure")
    plot_pieces(lr, cfg.warmup, curves, args.bad_step, whole, resumed, args.stop_at, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Each piece of the training loop, on its own.")
    parser.add_argument("--steps", type=positive_int, default=200, help="steps of the small runs")
    parser.add_argument("--bad-step", type=positive_int, default=80,
                        help="the step whose gradient is blown up")
    parser.add_argument("--bad-factor", type=positive_float, default=1000.0,
                        help="how much the bad batch multiplies the gradient")
    parser.add_argument("--clip", type=positive_float, default=1.0, help="the gradient norm limit")
    parser.add_argument("--stop-at", type=positive_int, default=25,
                        help="the step at which the resume demo presses Ctrl-C")
    parser.add_argument("--data", type=Path, default=None,
                        help="a prepared folder (default: Tiny Shakespeare as characters, "
                             "prepared if needed)")
    add_data_dir_flag(parser)
    add_out_flag(parser, __file__, "the figure")
    return parser


if __name__ == "__main__":
    main()
