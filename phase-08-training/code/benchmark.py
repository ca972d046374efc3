"""How fast does it train here? Tokens per second and MFU of full training steps, measured.

A plan (budget.py) needs a rate, and a rate has to be measured: on the model you will train, at
the batch you will train with, on this machine. This script times complete optimizer steps
(forward, backward, clipping, AdamW) of phase 07's GPT as train.py runs them, and prints:

- **tokens per second**: micro_batch x context tokens per step over the median step time;
- **MFU, model FLOPs utilisation** (Chowdhery et al. 2022, "PaLM"): the share of the device's
  peak arithmetic the training actually uses,

      MFU = (6N + 12 * L * H * Q * T) FLOPs per token x tokens per second / peak FLOP/s,

  with N the parameters (position table excluded), L layers, H heads of size Q (H * Q is the
  width), T the context. 6N is the weights' work (budget.py explains the 6); 12 L H Q T is
  attention's. The peak is the chip maker's figure for the precision used (an H100 SXM: 989.5
  TFLOP/s in dense bfloat16); MFU near 40-50% is excellent for a model this size, because
  memory traffic, the softmax, LayerNorm and GELU all take time without counting as FLOPs.
- **peak memory** as the backend reports it.

Each variant runs warm-up steps first (the first steps allocate memory and, with compile, build
the kernels: minutes, not counted) and synchronises the device around every timed step.

The settings of the speed reference points (GPT-2 small on one H100, bfloat16 autocast,
torch.compile, fused AdamW, 32 x 1024 tokens per step) are one command:

    python phase-08-training/code/benchmark.py --device cuda --micro-batch 32 --compile both

Run:  python phase-08-training/code/benchmark.py --quick
      python phase-08-training/code/benchmark.py --device mps --micro-batch 4
"""

import argparse
import platform
import statistics
import time
from dataclasses import dataclass

import torch

from phase00.flags import (
    check_fits_in_memory,
    nonnegative_int,
    positive_float,
    positive_int,
    script_parser,
)
from phase06.device import (
    add_device_flag,
    add_threads_flag,
    autocast,
    describe_device,
    device_from_flag,
    memory_report,
    synchronize,
)
from phase07.model import GPT, GPTConfig, add_context_flag
from phase08.budget import Shape
from phase08.config import DTYPES, PRESETS, TrainConfig, make_config
from phase08.train import clip_gradients, make_optimizer, precision

# Dense (no sparsity) bfloat16 peaks from the makers' data sheets, by a name in the device's.
PEAK_BF16_FLOPS = {"H100 PCIe": 756e12, "H100": 989.5e12, "H200": 989.5e12, "A100": 312e12,
                   "L4": 121e12, "A10G": 70e12, "RTX 4090": 165.2e12}
QUICK = {"n_layer": 2, "n_head": 2, "n_embd": 64, "context": 64}


def data_vocab_size(cfg: TrainConfig) -> int:
    """The vocabulary a preset trains with: GPT-2's 50,257 ids, or Tiny Shakespeare's 65
    characters (a character tokenizer's size comes from the text it reads)."""
    return 50_257 if cfg.tokenizer == "gpt2" else 65


@dataclass(frozen=True)
class Result:
    variant: str
    seconds: float  # median seconds per step
    tokens_per_step: int
    memory: dict[str, int]
    warmup_seconds: float  # the untimed first steps: allocation, and compiling when compiled

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_step / self.seconds


def peak_flops(device: torch.device, dtype: torch.dtype) -> float | None:
    """The device's dense bfloat16 peak if we know its name; None otherwise (give --peak-flops)."""
    if device.type != "cuda" or dtype != torch.bfloat16:
        return None
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_BF16_FLOPS.items():  # "H100 PCIe" is checked before "H100"
        if key in name:
            return value
    return None


def time_steps(model: GPT, cfg: TrainConfig, device: torch.device, dtype: torch.dtype,
               micro_batch: int, compile_model: bool, steps: int, warmup: int,
               seed: int = 0) -> Result:
    """Median seconds of `steps` whole optimizer steps, after `warmup` untimed ones (whose
    total time is kept too: with compile, that is where the compiling happens)."""
    optimizer, _ = make_optimizer(model, cfg, device)  # the preset's AdamW, as train.py builds
    step_model = torch.compile(model) if compile_model else model
    T = model.config.context
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(0, model.config.vocab_size, (micro_batch, T), generator=generator)
    x, y = x.to(device), x.roll(-1, dims=1).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    warmup_start = time.perf_counter()
    warmup_seconds = 0.0
    for i in range(warmup + steps):
        synchronize(device)
        start = time.perf_counter()
        with autocast(device, dtype):
            _, loss = step_model(x, y)
        loss.backward()
        clip_gradients(model, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
        elif i == warmup - 1:
            warmup_seconds = time.perf_counter() - warmup_start
    variant = f"{'compiled' if compile_model else 'eager'}, {str(dtype).removeprefix('torch.')}"
    return Result(variant, statistics.median(times), micro_batch * T, memory_report(device),
                  warmup_seconds)


def markdown_table(results: list[Result], flops_per_token: int, peak: float | None) -> str:
    lines = ["| variant | tokens/s | ms per step | MFU | memory | warm-up |",
             "|---|---|---|---|---|---|"]
    for r in results:
        mfu = f"{flops_per_token * r.tokens_per_s / peak:.1%}" if peak else "n/a"
        memory = ", ".join(f"{k} {v / 2**30:.2f} GiB" for k, v in r.memory.items())
        lines.append(f"| {r.variant} | {r.tokens_per_s:,.0f} | {r.seconds * 1e3:,.1f} | {mfu} | "
                     f"{memory} | {r.warmup_seconds:.1f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)

    device = device_from_flag(parser, args.device)  # an unknown name is a usage error
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = dict(QUICK) if args.quick else {}
    if args.context:
        overrides["context"] = args.context
    cfg = make_config(args.preset, overrides)
    micro_batch = args.micro_batch or (2 if args.quick else cfg.micro_batch)
    steps, warmup = (2, 1) if args.quick else (args.steps, args.warmup_steps)
    dtype, dtype_note = precision(device, args.dtype)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for any float32 products left
    base_vocab = 50_257 if args.quick else data_vocab_size(cfg)
    vocab = -(-base_vocab // args.pad_vocab) * args.pad_vocab
    shape = Shape(args.preset, cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.context, vocab)
    try:  # refused now, not after minutes of allocating and swapping
        check_fits_in_memory(shape.training_bytes(micro_batch, args.attention == "hand"),
                             f"--micro-batch {micro_batch} x --context {cfg.context} on "
                             f"{args.preset}{' (--quick)' if args.quick else ''}, vocabulary "
                             f"{vocab:,}")
    except ValueError as err:
        parser.error(str(err))
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vocab, context=cfg.context, n_layer=cfg.n_layer,
                          n_head=cfg.n_head, n_embd=cfg.n_embd, attention=args.attention))
    model.to(device)
    flops_per_token = model.flops_per_token()
    peak = args.peak_flops or peak_flops(device, dtype)

    print(f"1. {describe_device(device)}; torch {torch.__version__}, Python "
          f"{platform.python_version()}")
    print(f"   model: {cfg.n_layer} layers x {cfg.n_head} heads x {cfg.n_embd}, context "
          f"{cfg.context}, vocab {vocab:,}: {model.n_params():,} parameters, "
          f"{flops_per_token / 1e9:.3f} GFLOP per token ({args.attention} attention)")
    print(f"   step: {micro_batch} x {cfg.context} tokens; {dtype_note}; "
          f"{steps} timed steps after {warmup} warm-up")
    print(f"   peak for MFU: {f'{peak / 1e12:.1f} TFLOP/s' if peak else 'unknown (--peak-flops)'}")
    variants = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
    results = []
    for compile_model in variants:
        results.append(time_steps(model, cfg, device, dtype, micro_batch, compile_model,
                                  steps, warmup))
        print(f"   timed {results[-1].variant}: {results[-1].tokens_per_s:,.0f} tokens/s")
    print("\n2. Results (median step)\n")
    print(markdown_table(results, flops_per_token, peak))


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Measure training tokens/s and MFU of a preset's model on this device.")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="gpt2-124m",
                        help="whose model shape to time")
    parser.add_argument("--micro-batch", type=positive_int, default=None,
                        help="sequences per step (default: the preset's)")
    add_context_flag(parser)
    parser.add_argument("--steps", type=positive_int, default=10, help="timed steps per variant")
    parser.add_argument("--warmup-steps", type=nonnegative_int, default=3,
                        help="untimed steps first")
    parser.add_argument("--compile", choices=["off", "on", "both"], default="off",
                        help="torch.compile the model: off, on, or time both")
    parser.add_argument("--dtype", choices=DTYPES, default="auto",
                        help="auto (bfloat16 where supported), float32 or bfloat16")
    parser.add_argument("--attention", choices=["fast", "hand"], default="fast",
                        help="attention path")
    parser.add_argument("--pad-vocab", type=positive_int, default=1,
                        help="round the vocabulary up to a multiple of this (64 gives 50,304: "
                             "friendlier matrix shapes; default: 1 = GPT-2's 50,257)")
    parser.add_argument("--peak-flops", type=positive_float, default=None,
                        help="the device's peak FLOP/s in this precision, for MFU (default: known "
                             "data-sheet values for some NVIDIA GPUs)")
    add_device_flag(parser)
    add_threads_flag(parser, None)
    parser.add_argument("--quick", action="store_true",
                        help="a tiny model (2 layers x 64), micro-batch 2, one warm-up and two "
                             "timed steps, whatever --steps says: checks that everything runs")
    return parser


if __name__ == "__main__":
    main()
