"""How much faster is PyTorch? One training step of phase 05's transformer, NumPy against torch.

Both programs do the same arithmetic: forward, cross-entropy, backward, gradient clipping and
an AdamW step, in float32, on the same model with the same batch. NumPy runs each operation as
one call into its compiled routines and our Python code strings them together; PyTorch does
the same on the CPU, with its own compiled kernels for every forward and backward operation,
and can also send them to a GPU. So the comparison answers two questions:

- on the CPU, how much does it cost to drive the arithmetic from our own Python (phase 05's
  hand-written backward passes, with their temporary arrays) rather than from PyTorch's
  kernels? Not a factor of a hundred: both spend their time in the same matrix products;
- on a GPU (run with --device mps or cuda), how much does the hardware give? That is where the
  large factors are, and why phase 08 trains on one.

The numbers are a benchmark, not a test: they depend on the machine and on whatever else it is
doing. Each entry is the median of --repeats steps after one warm-up step, with the device
synchronised before the clock is read (device.py). CPU threads are set with --threads for both
libraries alike (device.py explains why one thread is the default on a busy machine).

Run:  python phase-06-pytorch/code/benchmark.py --threads 1 2 --repeats 5
"""

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import positive_int, script_parser, thread_count
from phase02.optimizers import AdamW
from phase05.train_transformer import clip_gradients, decay_groups
from phase05.transformer import Transformer, TransformerConfig
from phase06.device import (
    add_device_flag,
    describe_device,
    device_from_flag,
    limit_cpu_threads,
    synchronize,
)
from phase06.train_loop import configure_optimizer
from phase06.transformer_torch import transformer_to_torch

# name -> (config without vocabulary, batch size). "phase05" is phase 05's default training run.
SIZES: dict[str, tuple[dict[str, int], int]] = {
    "tiny": ({"context": 16, "d_model": 32, "n_heads": 4, "n_layers": 2}, 8),
    "small": ({"context": 32, "d_model": 64, "n_heads": 4, "n_layers": 2}, 16),
    "phase05": ({"context": 64, "d_model": 128, "n_heads": 4, "n_layers": 4}, 32),
}
VOCAB = 65  # Tiny Shakespeare's characters


def median_time(step: Callable[[], None], repeats: int, device: torch.device | None = None
                ) -> float:
    """Median seconds of step() over `repeats` calls, after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        if device is not None:
            synchronize(device)
        start = time.perf_counter()
        step()
        if device is not None:
            synchronize(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def numpy_step(model: Transformer, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    """Phase 05's training step: loss, hand-written backward, clip, AdamW (two groups)."""
    decay, no_decay = decay_groups(model)
    optimizers = [AdamW([decay], lr=1e-3, weight_decay=0.1),
                  AdamW([no_decay], lr=1e-3, weight_decay=0.0)]

    def step() -> None:
        model.loss(x, y)
        model.backward_loss()
        clip_gradients(model.grads, 1.0)
        for opt in optimizers:
            opt.step()

    return step


def torch_step(model: Transformer, x: np.ndarray, y: np.ndarray,
               device: torch.device) -> Callable[[], None]:
    """The same step in PyTorch on `device`, starting from the same weights."""
    module = transformer_to_torch(model).to(device)
    opt = configure_optimizer(module, 1e-3, 0.1, 0.999)
    x_t, y_t = torch.as_tensor(x).to(device), torch.as_tensor(y).to(device)

    def step() -> None:
        loss = module.loss(x_t, y_t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        opt.step()

    return step


def run(size: str, threads: list[int], device: torch.device, repeats: int,
        seed: int) -> dict[str, float]:
    """Seconds per step for NumPy and PyTorch (per thread count, and on `device` if not CPU)."""
    shape, B = SIZES[size]
    config = TransformerConfig(vocab_size=VOCAB, **shape)
    model = Transformer(config, seed=seed, dtype=np.float32)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, VOCAB, size=(B, config.context))
    y = rng.integers(0, VOCAB, size=(B, config.context))
    times: dict[str, float] = {"params": model.n_params, "tokens": B * config.context}
    for n in threads:
        limit_cpu_threads(n)
        times[f"numpy {n}t"] = median_time(numpy_step(model, x, y), repeats)
        times[f"torch cpu {n}t"] = median_time(torch_step(model, x, y, torch.device("cpu")),
                                               repeats)
    if device.type != "cpu":
        times[f"torch {device.type}"] = median_time(torch_step(model, x, y, device), repeats,
                                                    device)
    return times


def plot_speed(results: dict[str, dict[str, float]], out_dir: Path | None = None) -> Figure:
    """Milliseconds per training step, grouped by model size, one bar per library/setting."""
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    ax = fig.subplots()
    sizes = list(results)
    keys = [k for k in results[sizes[0]] if k not in ("params", "tokens")]
    width = 0.8 / len(keys)
    for j, key in enumerate(keys):
        ms = [results[s][key] * 1e3 for s in sizes]
        bars = ax.bar(np.arange(len(sizes)) + (j - (len(keys) - 1) / 2) * width, ms, width,
                      label=key, color=f"C{j}")
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(np.arange(len(sizes)),
                  [f"{s}\n{int(results[s]['params']):,} params, {int(results[s]['tokens'])} "
                   f"tokens" for s in sizes], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("milliseconds per training step (log scale)")
    ax.set_title("One training step of phase 05's transformer (float32): NumPy with our "
                 "backward passes\nagainst PyTorch with autograd (t = CPU threads; median of "
                 "repeated steps)", fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, out_dir, "numpy_vs_torch_speed.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    device = device_from_flag(parser, args.device)
    args.threads = list(dict.fromkeys(args.threads))  # `--threads 1 1` is one row, not two

    limit_cpu_threads(args.threads[0])
    print(f"Device: {describe_device(device)} (each row below sets its own count, 't'); "
          f"PyTorch {torch.__version__}, NumPy {np.__version__}")
    print(f"One training step (forward, loss, backward, clip, AdamW), float32, median of "
          f"{args.repeats}\n")
    results = {}
    for size in args.sizes:
        results[size] = run(size, args.threads, device, args.repeats, args.seed)
        r = results[size]
        shape, B = SIZES[size]
        print(f"   {size}: {int(r['params']):,} parameters, batch {B} x {shape['context']} = "
              f"{int(r['tokens'])} tokens ({shape['n_layers']} blocks, width "
              f"{shape['d_model']})")
        numpy_best = min(v for k, v in r.items() if k.startswith("numpy"))
        for key, seconds in r.items():
            if key in ("params", "tokens"):
                continue
            print(f"      {key:14s} {seconds * 1e3:9.1f} ms   {r['tokens'] / seconds:10,.0f} "
                  f"tokens/s   {numpy_best / seconds:5.2f}x the best NumPy")
    print("\n   Both libraries spend most of a step in the same matrix products, so on a CPU "
          "the gap is a small factor;\n   a GPU (--device mps or cuda) is where the large "
          "factors come from.")

    print("\nFigures")
    plot_speed(results, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Time one training step of phase 05's "
                           "transformer in NumPy and in PyTorch.")
    add_device_flag(parser)
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES),
                        help="model sizes to time (default: all)")
    parser.add_argument("--threads", nargs="+", type=thread_count, default=[1],
                        help="CPU thread counts to try, for both libraries")
    parser.add_argument("--repeats", type=positive_int, default=5, help="timed steps per entry")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
