"""Our NumPy transformer against our PyTorch GPT: the same model, the same step, how far apart?

Phase 05's transformer computes every forward and backward pass with NumPy calls we wrote;
phase 07's GPT lets PyTorch's autograd derive the backward pass and runs its kernels. Here the
two get the same weights (GPT-2's names and layouts, converted by convert.py) and the same
batch, and do the same work, one training pass without the optimizer:

    forward -> mean cross-entropy -> backward (every gradient filled)

First the answers are compared in float64 (loss and every gradient) at the size then timed,
then the time of a pass in float32, NumPy and PyTorch taking turns pass by pass, at the sizes
phase 06's benchmark uses (tiny: 2 blocks of width 32 on 8 x 16 tokens; small; phase05: the
phase 05 training run's size). At tiny sizes both spend most of their time
in overhead, not arithmetic: Python's for NumPy, PyTorch's dispatcher and autograd
bookkeeping for torch. As sizes grow, both spend it in the same matrix products.

Run:  python phase-09-comparison/code/bench_numpy.py
      python phase-09-comparison/code/bench_numpy.py --quick
"""

import argparse
import statistics
from collections.abc import Callable

import numpy as np
import torch

from phase00.flags import script_parser
from phase05.transformer import Transformer
from phase06.benchmark import SIZES, VOCAB
from phase06.device import limit_cpu_threads
from phase07.model import GPT, GPTConfig
from phase09.convert import from_numpy_state, max_abs_diff, numpy_config, to_numpy_state
from phase09.timing import (
    add_benchmark_flags,
    machine,
    markdown_table,
    refuse_quick_overrides,
    spread,
    take_turns,
)


def twin_models(size: str, dtype: type, seed: int) -> tuple[Transformer, GPT]:
    """Phase 05's NumPy transformer and our GPT with the same weights, in `dtype`."""
    shape, _ = SIZES[size]
    config = GPTConfig(vocab_size=VOCAB, context=shape["context"], n_layer=shape["n_layers"],
                       n_head=shape["n_heads"], n_embd=shape["d_model"])
    numpy_model = Transformer(numpy_config(config), seed=seed, dtype=dtype)
    # the dtype first, then the weights: loading float64 weights into float32 parameters
    # would round them, and the float64 comparison would measure that rounding
    ours = GPT(config).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours.load_state_dict(from_numpy_state(numpy_model.params))
    return numpy_model, ours


def batch(size: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    shape, B = SIZES[size]
    rng = np.random.default_rng(seed)
    return (rng.integers(0, VOCAB, size=(B, shape["context"])),
            rng.integers(0, VOCAB, size=(B, shape["context"])))


def numpy_pass(model: Transformer, x: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    def step() -> float:
        loss = model.loss(x, y)
        model.backward_loss()
        return loss

    return step


def torch_pass(model: GPT, x: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    x_t, y_t = torch.as_tensor(x), torch.as_tensor(y)

    def step() -> float:
        model.zero_grad(set_to_none=True)
        _, loss = model(x_t, y_t)
        loss.backward()
        return loss.item()

    return step


def parity(size: str, seed: int) -> tuple[float, float]:
    """(|loss difference|, max |gradient difference|) in float64, over every parameter."""
    numpy_model, ours = twin_models(size, np.float64, seed)
    x, y = batch(size, seed)
    loss_np, loss_torch = numpy_pass(numpy_model, x, y)(), torch_pass(ours, x, y)()
    grads = to_numpy_state({name: p.grad for name, p in ours.named_parameters()})
    worst = max(max_abs_diff(numpy_model.grads[name], g) for name, g in grads.items())
    return abs(loss_np - loss_torch), worst


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    refuse_quick_overrides(parser, args, argv, ("sizes", "repeats"))
    limit_cpu_threads(args.threads)
    sizes, repeats = (["tiny"], 3) if args.quick else (args.sizes, args.repeats)

    print(f"machine: {machine()}")
    print(f"one training pass (forward, loss, backward; no optimizer); float32 timings, median "
          f"of {repeats} after a warm-up, NumPy and PyTorch taking turns; float64 for the "
          f"differences\n")
    rows = []
    for size in sizes:
        shape, B = SIZES[size]
        loss_diff, grad_diff = parity(size, args.seed)
        numpy_model, ours = twin_models(size, np.float32, args.seed)
        x, y = batch(size, args.seed)
        runs = take_turns({"numpy": numpy_pass(numpy_model, x, y),
                           "torch": torch_pass(ours, x, y)}, repeats)
        t_np, t_torch = statistics.median(runs["numpy"]), statistics.median(runs["torch"])
        rows.append([f"{size}: {shape['n_layers']} x {shape['d_model']}, {B} x "
                     f"{shape['context']} tokens", f"{numpy_model.n_params:,}",
                     f"{t_np * 1e3:.2f} ms ({spread(runs['numpy'])})",
                     f"{t_torch * 1e3:.2f} ms ({spread(runs['torch'])})",
                     f"{t_np / t_torch:.2f}x", f"{loss_diff:.1e}", f"{grad_diff:.1e}"])
    print(markdown_table(["size", "parameters", "NumPy (phase 05): median (fastest-slowest)",
                          "PyTorch (phase 07): median (fastest-slowest)",
                          "NumPy time / PyTorch time", "loss diff", "max grad diff"], rows))


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Time one training pass of the NumPy "
                           "transformer and of our PyTorch GPT.")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES),
                        help="model sizes (default: all)")
    add_benchmark_flags(parser, repeats=20,
                        quick="the tiny size, 3 repeats; refuses --sizes, --repeats")
    return parser


if __name__ == "__main__":
    main()
