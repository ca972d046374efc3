"""How many threads NumPy's matrix products use, and why our training scripts ask for one.

Tooling, not a lesson. NumPy hands every matrix product to a BLAS library (OpenBLAS on Linux and
Windows, Apple's Accelerate on recent Macs), which may split it across all the CPU's cores.
For a big product that is a win. For the small and medium products of the NumPy phases (an
RNN step, one layer of a tiny transformer), thousands of times per second, the threads spend
more time waiting for one another than multiplying; and on a busy machine, where the operating
system pauses one of them, the others spin waiting for it: one product can become a hundred
times slower. The training scripts of phases 04 and 05 therefore call `limit_blas_threads(1)`.
(With Accelerate there is nothing to limit, and the call does nothing.)

`threadpoolctl` finds the BLAS library NumPy loaded and sets its thread count while the program
runs; the environment variable OPENBLAS_NUM_THREADS=1 does the same, but only if it is set before
NumPy is first imported.

Run:  python phase-00-foundations/code/threads.py      (times one product with 1 and n threads)
"""

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from phase00.flags import positive_int, script_parser


def limit_blas_threads(n: int = 1) -> list[str]:
    """Make NumPy's BLAS use n threads from now on; return the libraries that were limited."""
    threadpool_limits(limits=n, user_api="blas")
    return [info["internal_api"] for info in threadpool_info() if info["user_api"] == "blas"]


def time_product(rows: int, inner: int, cols: int, threads: int, repeats: int) -> float:
    """Median seconds of one float32 (rows x inner) @ (inner x cols) product with `threads`."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(rows, inner)).astype(np.float32)
    b = rng.normal(size=(inner, cols)).astype(np.float32)
    times = []
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ b  # warm up: the first call starts the threads
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)

    libraries = [f"{i['internal_api']} ({i['num_threads']} threads)" for i in threadpool_info()
                 if i["user_api"] == "blas"]
    print(f"BLAS libraries NumPy loaded: {', '.join(libraries) or 'none found'}")
    print(f"CPU cores: {os.cpu_count()}")
    flops = 2 * args.rows * args.inner * args.cols
    print(f"product ({args.rows} x {args.inner}) @ ({args.inner} x {args.cols}), float32, "
          f"{flops / 1e6:.0f} MFLOP; median of {args.repeats}:")
    for threads in sorted({1, os.cpu_count() or 1}):
        seconds = time_product(args.rows, args.inner, args.cols, threads, args.repeats)
        print(f"   {threads:2d} thread(s): {seconds * 1e3:8.2f} ms  "
              f"({flops / seconds / 1e9:6.1f} GFLOP/s)")
    print("On a busy machine run it twice: more threads can be much slower than one.")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Time one matrix product with 1 BLAS thread and with all of them.")
    parser.add_argument("--rows", type=positive_int, default=2048,
                        help="rows of the left matrix, e.g. batch x positions")
    parser.add_argument("--inner", type=positive_int, default=128, help="the shared dimension")
    parser.add_argument("--cols", type=positive_int, default=384,
                        help="columns of the right matrix")
    parser.add_argument("--repeats", type=positive_int, default=20,
                        help="timed products per setting")
    return parser


if __name__ == "__main__":
    main()
