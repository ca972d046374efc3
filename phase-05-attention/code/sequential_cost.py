"""The sequential cost of a recurrence, measured: the same arithmetic as T products in a row, or
as one product.

A recurrent layer computes h_t = tanh(x_t + h_(t-1) W) for t = 1 .. T: T matrix products of B
rows each (one row per sequence of the batch), and product t cannot start before product t - 1
has finished. A transformer's layers have no such chain: every position of every sequence goes
through the same weights in one product of B * T rows. This script times the two forms with the
same weights W (H x H), the same number of FLOPs (2 * T * B * H * H for the products, plus the
same T * B * H tanh and additions), float32 both, the same thread count. What is left to differ
is only the rows per product and the chain.

The one-product form, tanh(X + X W), is not a recurrence: it computes something else with the
same work. That is the point: it is what a layer costs when nothing waits for anything.

Each setting is timed with one BLAS thread and with every core. More threads can help a product
only when it has rows to share out, and every product pays to wake the threads and wait for
them: a chain of 64 small products pays that 64 times in a row. On a busy machine the extra
threads mostly wait (phase 00's threads.py), so read the thread rows on an idle one. A GPU,
with thousands of arithmetic units to fill, is the same question at a far larger scale.

Run:  python phase-05-attention/code/sequential_cost.py
      python phase-05-attention/code/sequential_cost.py --batch 1 32 --width 128 --steps 256
"""

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from phase00.flags import check_fits_in_memory, positive_int, script_parser

# The longest a whole measurement may take by a pessimistic estimate (1 GFLOP/s) before it is
# refused: these are seconds-long measurements, not experiments to wait hours for.
MAX_SECONDS = 600.0


def chain(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """The recurrence over X (T, B, H): T products of B rows, each waiting for the one before."""
    h = np.zeros(X.shape[1:], dtype=X.dtype)
    for x_t in X:  # the loop IS the lesson: step t needs h from step t - 1
        h = np.tanh(x_t + h @ W)
    return h


def one_product(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """The same work with no chain: all T * B rows of X in one product."""
    rows = X.reshape(-1, X.shape[-1])
    return np.tanh(rows + rows @ W)


def flops(steps: int, batch: int, width: int) -> int:
    """FLOPs of the products in either form: T * B rows, each a (1 x H) @ (H x H) product of
    H * H multiply-adds (2 FLOPs each)."""
    return 2 * steps * batch * width * width


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls of run(), after one untimed call that warms up."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(steps: int, batch: int, width: int, threads: int, repeats: int,
            seed: int = 0) -> tuple[float, float]:
    """Median seconds of the chain and of the one product for one setting, float32."""
    rng = np.random.default_rng(seed)
    W = (rng.normal(size=(width, width)) / np.sqrt(width)).astype(np.float32)
    X = rng.normal(size=(steps, batch, width)).astype(np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        return (median_seconds(lambda: chain(X, W), repeats),
                median_seconds(lambda: one_product(X, W), repeats))


def thread_counts() -> list[int]:
    """One BLAS thread, and every core of this machine (just one entry on a single core)."""
    return sorted({1, os.cpu_count() or 1})


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    T, widths, batches = args.steps, sorted(set(args.width)), sorted(set(args.batch))
    try:  # X and the stacked rows of the largest setting, float32, plus W
        check_fits_in_memory(4 * (2 * T * max(batches) * max(widths) + max(widths) ** 2),
                             f"--steps {T} --batch {max(batches)} --width {max(widths)}")
    except ValueError as err:
        parser.error(str(err))
    work = sum(flops(T, b, w) for b in batches for w in widths)
    seconds = 2 * (args.repeats + 1) * len(thread_counts()) * work / 1e9
    if seconds > MAX_SECONDS:
        parser.error(f"these settings could take about {seconds / 60:,.0f} minutes (at a slow "
                     f"1 GFLOP/s): at most {MAX_SECONDS / 60:.0f}; choose fewer or smaller "
                     f"--batch, --width, --steps or --repeats")

    print(f"1. A recurrence of {T} steps against one product of the same arithmetic, float32, "
          f"median of {args.repeats}")
    print(f"   {'threads':>7s} {'batch':>5s} {'width':>5s} {'MFLOP':>7s} {'chain ms':>9s} "
          f"{'one ms':>8s} {'chain GFLOP/s':>13s} {'one GFLOP/s':>11s} {'chain / one':>11s}")
    results: dict[tuple[int, int, int], tuple[float, float]] = {}
    for threads in thread_counts():
        for batch in batches:
            for width in widths:
                t_chain, t_one = measure(T, batch, width, threads, args.repeats)
                results[threads, batch, width] = t_chain, t_one
                f = flops(T, batch, width)
                print(f"   {threads:7d} {batch:5d} {width:5d} {f / 1e6:7.1f} "
                      f"{t_chain * 1e3:9.3f} {t_one * 1e3:8.3f} {f / t_chain / 1e9:13.1f} "
                      f"{f / t_one / 1e9:11.1f} {t_chain / t_one:10.1f}x")

    print("\n2. What the table says")
    width = max(widths)
    for batch in (min(batches), max(batches)):
        t_chain, t_one = results[1, batch, width]
        rows = f"{batch} row{'s' if batch > 1 else ''}"
        print(f"   one thread, batch {batch}, width {width}: the chain takes {t_chain / t_one:.1f} "
              f"times as long as one product of the same FLOPs ({rows} per product against "
              f"{batch * T:,})")
    most = max(thread_counts())
    if most > 1:
        batch = max(batches)
        (c1, o1), (cn, on) = results[1, batch, width], results[most, batch, width]
        print(f"   {most} threads instead of 1, batch {batch}, width {width}: the chain runs "
              f"{c1 / cn:.2f} times as fast, the one product {o1 / on:.2f} times")
    else:
        print("   (one core: the thread columns need a machine with more)")
    print("   A busy machine moves these numbers: run it twice, and trust what repeats.")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Time a recurrence of T small products against "
                           "one product of the same arithmetic.")
    parser.add_argument("--steps", type=positive_int, default=64,
                        help="T, the positions of a window: products in the chain (default: 64, "
                             "compare_rnn.py's context)")
    parser.add_argument("--batch", type=positive_int, nargs="+", default=[1, 8, 32],
                        help="sequences side by side: rows in each product of the chain")
    parser.add_argument("--width", type=positive_int, nargs="+", default=[64, 128, 512],
                        help="H, the width of the state and of W (H x H)")
    parser.add_argument("--repeats", type=positive_int, default=20,
                        help="timed runs per setting; the median is shown")
    return parser


if __name__ == "__main__":
    main()
