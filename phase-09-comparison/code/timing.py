"""How to time code fairly: warm-up, several runs, the median, the machine written down.

Every speed claim of this phase comes from a benchmark script built on these few functions. A
single stopwatch reading lies in four ways, and each has a fix:

1. The first call pays once-only costs: memory allocation, kernel selection, caches filling
   (and, with torch.compile, the whole compilation). Fix: warm-up calls that are not timed.
2. Runs vary: the operating system, other programs and the CPU's clock all move the time.
   Fix: repeat, and report the median, which one slow outlier cannot drag (a mean can), with
   the spread (the fastest and slowest run) so a reader sees how much it moved.
3. A GPU returns before it has finished (phase 06's device.py). Fix: synchronize before
   reading the clock.
4. Numbers without the machine are meaningless. Fix: print the machine, the library versions
   and the thread count with every table (machine()).

A fifth applies to comparisons: if contender A is timed for a minute and then B, a change in
the machine's load halfway through lands on one of them only. Fix: take_turns() times them in
rounds, A B C A B C ..., so every contender runs in every moment of the afternoon.

main() shows the first two on a small matrix product: the first call, then the spread of
later ones, and how the median and mean differ.

Run:  python phase-09-comparison/code/timing.py --size 256 --repeats 15
"""

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from phase00.flags import (
    add_seed_flag,
    check_fits_in_memory,
    nonnegative_int,
    positive_int,
    script_parser,
)
from phase06.device import (
    add_device_flag,
    add_threads_flag,
    describe_device,
    limit_cpu_threads,
    synchronize,
)
from phase07.model import GPTConfig


def time_runs(fn: Callable[[], object], repeats: int, warmup: int = 1,
              device: torch.device | str = "cpu") -> list[float]:
    """Seconds of each of `repeats` calls of fn(), after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1,
                device: torch.device | str = "cpu") -> float:
    """Median seconds of fn() over `repeats` timed calls, after `warmup` untimed ones."""
    return statistics.median(time_runs(fn, repeats, warmup, device))


def take_turns(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1,
               device: torch.device | str = "cpu") -> dict[str, list[float]]:
    """Seconds of each contender's `repeats` calls, timed in rounds (A, B, C, A, B, C, ...).

    Each round calls every contender once, so a change in the machine's load lands on all of
    them alike. `warmup` untimed rounds come first.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            runs[name] += time_runs(fn, 1, 0, device)
    return runs


def spread(seconds: list[float], scale: float = 1e3, digits: int = 2) -> str:
    """'fastest-slowest' of a list of timings, in ms by default: the noise next to a median."""
    return f"{min(seconds) * scale:.{digits}f}-{max(seconds) * scale:.{digits}f}"


def flags_typed(parser: argparse.ArgumentParser, argv: list[str] | None,
                names: tuple[str, ...]) -> list[str]:
    """The flags among `names` (argparse dests) that the command line typed, as "--name".

    Comparing a value with its default cannot tell `--batch 32` typed from the default 32, so
    the command line is parsed a second time into a namespace that already holds a marker for
    each name: argparse fills in a default only where the namespace has no value yet, so a name
    still holding the marker afterwards was not typed.
    """
    marker = object()
    probe = argparse.Namespace(**{name: marker for name in names})
    parser.parse_args(argv, probe)  # argv None = sys.argv[1:], as the first parse
    return [f"--{name.replace('_', '-')}" for name in names if getattr(probe, name) is not marker]


def refuse_quick_overrides(parser: argparse.ArgumentParser, args: argparse.Namespace,
                           argv: list[str] | None, overridden: tuple[str, ...]) -> None:
    """--quick sets its own sizes; a flag it would override, typed with it, is a usage error,
    even when typed at its default value.

    (Accepting `--quick --batch 64` and then running batch 2 would be a silent lie.)
    """
    if not args.quick:
        return
    given = flags_typed(parser, argv, overridden)
    if given:
        parser.error(f"--quick sets its own {', '.join(given)}: leave "
                     f"{'it' if len(given) == 1 else 'them'} out, or drop --quick")


def limit_rust_threads(n: int) -> int:
    """Make Hugging Face's Rust `tokenizers` library use n threads, as limit_cpu_threads does
    for PyTorch and NumPy; return n.

    The library runs its parallel work on a Rayon thread pool, sized once, from the environment
    variable RAYON_NUM_THREADS, the first time the library goes parallel: so this must run
    before any tokenizer trains or encodes in this process. TOKENIZERS_PARALLELISM, read at each
    call, switches the parallel code on or off: off for one thread, which holds even if the pool
    was already built. (tiktoken encodes one text on the calling thread.)
    """
    os.environ["RAYON_NUM_THREADS"] = str(n)
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if n > 1 else "false"
    return n


def gpt_memory_bytes(config: GPTConfig, batch: int, T: int, copies: int = 1, train: bool = True,
                     tables: int = 1) -> int:
    """About the most memory `copies` float32 GPTs of `config` and one pass at batch x T hold.

    The weights (twice with training: their gradients), the activations kept for the backward
    pass (about 16 numbers per token per unit of width per block, plus the logits and their
    softmax), and `tables` (B, heads, T, T) attention tables per block that an eager path keeps.
    A rough estimate, made to refuse a typo such as --context 100000 before anything is
    allocated, not to plan a run to the last megabyte.
    """
    C, L, V = config.n_embd, config.n_layer, config.vocab_size
    n_params = (V + config.context) * C + L * (12 * C * C + 13 * C) + 2 * C
    weights = n_params * copies * (2 if train else 1)
    kept = L if train else 1  # without a backward pass, one block's tables live at a time
    scores = kept * tables * batch * config.n_head * T * T
    activations = batch * T * (16 * C * kept + 3 * V) + scores
    return 4 * (weights + activations)


def machine(device: torch.device | str = "cpu") -> str:
    """One line saying what the numbers were measured on."""
    import transformers

    return (f"{describe_device(device)}; {platform.system()} {platform.machine()}, "
            f"{os.cpu_count()} CPU cores; Python {platform.python_version()}, torch "
            f"{torch.__version__}, transformers {transformers.__version__}, NumPy "
            f"{np.__version__}")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table, ready to paste into a README."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # A, B and their product: three n x n float32 matrices
        check_fits_in_memory(3 * 4 * args.size**2, f"--size {args.size}")
    except ValueError as err:
        parser.error(str(err))
    limit_cpu_threads(args.threads)
    print(f"machine: {machine()}")
    A, B = torch.randn(args.size, args.size), torch.randn(args.size, args.size)

    start = time.perf_counter()
    A @ B
    first = time.perf_counter() - start
    times = time_runs(lambda: A @ B, args.repeats, args.warmup)
    ms = [t * 1e3 for t in times]
    print(f"\n{args.size} x {args.size} matrix product, float32")
    print(f"   the very first call: {first * 1e3:8.3f} ms")
    print(f"   {args.repeats} later calls:   min {min(ms):.3f}, median "
          f"{statistics.median(ms):.3f}, mean {statistics.mean(ms):.3f}, max {max(ms):.3f} ms")
    print("   The median ignores the odd slow call; the mean does not. Report the median, "
          "and the machine.")


def add_benchmark_flags(parser: argparse.ArgumentParser, repeats: int, quick: str,
                        device: bool = False) -> None:
    """Give a benchmark the flags every timing of this phase takes: how many timed `--repeats`
    (the median is shown), `--quick`, a smoke test of seconds (`quick` says what it sets), the
    CPU `--threads`, the `--seed` of the random weights and, with device=True, `--device`: the
    CPU by default, so that every machine compares like with like."""
    parser.add_argument("--repeats", type=positive_int, default=repeats,
                        help="timed runs; the median is shown")
    parser.add_argument("--quick", action="store_true", help=quick)
    add_threads_flag(parser)
    add_seed_flag(parser)
    if device:
        add_device_flag(parser, "cpu")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Show why benchmarks warm up, repeat and take the median.")
    parser.add_argument("--size", type=positive_int, default=256,
                        help="n for the n x n matrix product timed")
    parser.add_argument("--repeats", type=positive_int, default=15, help="timed calls")
    parser.add_argument("--warmup", type=nonnegative_int, default=1, help="untimed calls first")
    add_threads_flag(parser)
    return parser


if __name__ == "__main__":
    main()
