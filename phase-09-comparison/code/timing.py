"""How to time code fairly: warm-up, several runs, the median, the machine written down.

Every speed claim of this phase comes from a benchmark script built on these few functions. A
single stopwatch reading lies in four ways, and each has a fix:

1. The first call pays once-only costs: memory allocation, kernel selection, caches filling
   (and, with torch.compile, the whole compilation). Fix: warm-up calls that are not timed.
2. Runs vary: the operating system, other programs and the CPU's clock all move the time.
   Fix: repeat, and report the median, which one slow outlier cannot drag (a mean can).
3. A GPU returns before it has finished (phase 06's device.py). Fix: synchronize before
   reading the clock.
4. Numbers without the machine are meaningless. Fix: print the machine, the library versions
   and the thread count with every table (machine()).

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

from phase00.flags import nonnegative_int, positive_int
from phase06.device import describe_device, limit_cpu_threads, synchronize


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
    parser = argparse.ArgumentParser(description="Show why benchmarks warm up, repeat and take "
                                                 "the median.")
    parser.add_argument("--size", type=positive_int, default=256,
                        help="n for the n x n matrix product timed (default: 256)")
    parser.add_argument("--repeats", type=positive_int, default=15,
                        help="timed calls (default: 15)")
    parser.add_argument("--warmup", type=nonnegative_int, default=1,
                        help="untimed calls first (default: 1)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="CPU threads (default: 1)")
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    main()
