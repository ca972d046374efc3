"""Equal time, measured: one training step of phase 08's presets, timed in turns.

A recipe that wins at equal steps may still lose at equal time, if each of its steps costs
more. after_gpt2.py asks this on its own small loop. This script asks it of the real pipeline:
the presets of phase 08's train.py, and the modern ones that train_modern.py adds
(`modern-char`, `modern-gpt2`). It prints how long one optimizer step of each preset takes on
this machine, and how many steps each preset gets in the seconds that `--steps` steps of the
last one take: the step count of an equal-time run.

What one step is here: train.py's step without the data loading and the evaluation. Each
preset's model is built as train.py builds it (its architecture: phase 07's GPT, or the modern
recipe), with its own optimizer (AdamW, or Muon and AdamW for the modern recipe). Then
grad_accum micro-batches of micro_batch x context token ids go forward and backward, the
gradients are clipped, and the optimizer steps, in float32 and without torch.compile (phase
08's benchmark.py measures those). The ids are random: a step's time does not
depend on which ids they are, only on how many there are and on the vocabulary, which is the
data's (GPT-2's 50,257 ids, or the 65 characters of Tiny Shakespeare). The presets take turns,
one step each per round (timing.take_turns), so a change in the machine's load lands on all of
them alike; the median of `--repeats` rounds is shown, with its spread.

Run:  python phase-09-comparison/code/bench_presets.py        (shakespeare-gpt2 vs modern-gpt2)
      python phase-09-comparison/code/bench_presets.py --presets shakespeare-char modern-char
      python phase-09-comparison/code/bench_presets.py --quick  (a tiny shape: a smoke test)
"""

import argparse
import statistics
from collections.abc import Callable

import torch

from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase06.device import device_from_flag, limit_cpu_threads
from phase08.benchmark import data_vocab_size
from phase08.config import PRESETS, TrainConfig, make_config
from phase08.train import (
    architecture,
    build_model,
    check_architecture,
    clip_gradients,
    training_memory,
)
from phase09 import timing
from phase09.after_gpt2 import register_modern

QUICK = {"n_layer": 1, "n_head": 2, "n_embd": 32, "context": 16, "micro_batch": 2,
         "grad_accum": 1}


def training_step(cfg: TrainConfig, vocab_size: int, device: torch.device, seed: int
                  ) -> tuple[Callable[[], None], torch.nn.Module]:
    """One optimizer step of the preset, ready to be called again and again, and the model it
    trains. The model and optimizer are built as train.py builds them."""
    torch.manual_seed(seed)
    model = build_model(cfg, vocab_size).to(device)
    optimizer, _ = architecture(cfg.architecture).optimizer(model, cfg, device)
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab_size, (cfg.micro_batch, cfg.context + 1), generator=generator)
    x, y = ids[:, :-1].to(device), ids[:, 1:].to(device)

    def step() -> None:
        for _ in range(cfg.grad_accum):
            _, loss = model(x, y)
            (loss / cfg.grad_accum).backward()
        clip_gradients(model, cfg.clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, model


def equal_time_steps(seconds: dict[str, float], steps: int) -> dict[str, int]:
    """How many steps each preset takes in the time `steps` steps of the last one take."""
    budget = steps * list(seconds.values())[-1]
    return {name: round(budget / s) for name, s in seconds.items()}


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    timing.refuse_quick_overrides(parser, args, argv, ("repeats",))
    if len(args.presets) < 2 or len(set(args.presets)) < len(args.presets):
        parser.error(f"--presets needs two or more different presets, got "
                     f"{' '.join(args.presets)}")
    device = device_from_flag(parser, args.device)
    limit_cpu_threads(args.threads)
    repeats, warmup = (2, 1) if args.quick else (args.repeats, 3)
    configs = {}
    try:
        for name in args.presets:
            cfg = make_config(name, QUICK if args.quick else {})
            check_architecture(cfg)
            configs[name] = cfg
        check_fits_in_memory(sum(training_memory(cfg, data_vocab_size(cfg))
                                 for cfg in configs.values()),
                             f"one model of each of {', '.join(args.presets)}")
    except ValueError as err:
        parser.error(str(err))
    steps = args.steps or configs[args.presets[-1]].steps

    print(f"1. {timing.machine(device)}")
    calls, sizes = {}, {}
    for name, cfg in configs.items():
        calls[name], model = training_step(cfg, data_vocab_size(cfg), device, args.seed)
        sizes[name] = model.n_params()
        print(f"   {name}: {cfg.architecture} model, {sizes[name]:,} parameters; a step is "
              f"{cfg.grad_accum} x {cfg.micro_batch} x {cfg.context} tokens, vocabulary "
              f"{data_vocab_size(cfg):,}")
    print(f"\n2. One training step each, in turns: {warmup} untimed round(s), then {repeats} "
          f"timed (the median shown, its spread beside it)\n")
    runs = timing.take_turns(calls, repeats, warmup, device)
    seconds = {name: statistics.median(times) for name, times in runs.items()}
    last = args.presets[-1]
    equal = equal_time_steps(seconds, steps)
    rows = [[name, f"{sizes[name]:,}", f"{seconds[name] * 1e3:,.1f}",
             timing.spread(runs[name], 1e3, 1), f"{seconds[name] / seconds[last]:.3f}",
             f"{equal[name]:,}"] for name in configs]
    print(timing.markdown_table(["preset", "parameters", "ms per step", "spread (ms)",
                          f"time / {last}'s", f"steps in the time of {steps:,} of {last}"],
                         rows))
    first = args.presets[0]
    print(f"\n   {last}'s step costs {seconds[last] / seconds[first]:.2f}x {first}'s: in the "
          f"seconds of its {steps:,} steps, {first} takes {equal[first]:,}.")
    if args.quick:
        print("   (--quick: a tiny shape; these times say nothing about the real presets)")


def build_parser() -> argparse.ArgumentParser:
    register_modern()  # modern-char and modern-gpt2 become presets of phase 08
    parser = script_parser("Time one training step of phase 08's presets "
                           "(the modern ones too), in turns.")
    parser.add_argument("--presets", nargs="+", choices=sorted(PRESETS),
                        default=["shakespeare-gpt2", "modern-gpt2"], metavar="PRESET",
                        help="two or more presets; the last one is the yardstick (default: "
                             f"shakespeare-gpt2 modern-gpt2; any of {', '.join(sorted(PRESETS))})")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="the last preset's run length for the equal-time column (default: "
                             "its preset's steps)")
    timing.add_benchmark_flags(parser, 20, "a tiny shape and 2 rounds: a smoke test of seconds",
                        device=True)
    return parser


if __name__ == "__main__":
    main()
