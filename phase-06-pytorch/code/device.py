"""Where the arithmetic runs: picking a device, timing it honestly, and watching its memory.

NumPy always computes on the CPU. PyTorch can send the same tensor operations to a GPU, which
runs thousands of multiply-adds side by side: through CUDA on NVIDIA cards, and through Apple's
Metal Performance Shaders ("MPS") on Apple silicon such as the M4 Max this course targets. A
`torch.device` names where a tensor lives; moving a model there (`model.to(device)`) moves its
parameters, and every batch must follow (`x.to(device)`).

Every later script of the course picks its device through this file, with the `--device` flag
that add_device_flag gives it, whose choices are DEVICE_CHOICES:

- "auto" (the default) takes the best this machine has: MPS, then CUDA, then the CPU. The
  environment variable TFS_DEVICE overrides "auto" (`TFS_DEVICE=cpu python ...` to compare).
- Asking for a device that is not there is an error that says which ones are.
- PYTORCH_ENABLE_MPS_FALLBACK=1 lets operations that Metal lacks run on the CPU instead of
  failing. It is silent and slow (the data travels to the CPU and back), so we say so loudly.

Four habits that matter once a GPU is involved:

1. GPU work is asynchronous. `y = x @ W` returns as soon as the work is queued, long before it
   is done. A timer read right after it measures the queueing. `synchronize(device)` waits for
   the queue to drain; call it before reading a clock (main() shows the difference).
2. Memory is read differently per backend: `torch.mps.current_allocated_memory()` and
   `driver_allocated_memory()` on a Mac, `torch.cuda.memory_allocated()` and
   `max_memory_allocated()` on NVIDIA; `memory_report` gives one dict for either.
3. Mixed precision ("autocast") runs the big matrix products in a 16-bit float. bfloat16 keeps
   float32's range with fewer digits, so it needs no loss scaling; `autocast_dtype` says
   whether a device supports it.
4. Apple's GPU has no float64 at all. The float64 parity checks of this phase run on the CPU,
   wherever you are; float32 is the working precision of every GPU run.

History: GPUs were built for graphics; Raina, Madhavan & Ng (2009, "Large-scale Deep
Unsupervised Learning using Graphics Processors") showed they speed up neural network training
by an order of magnitude, and Krizhevsky, Sutskever & Hinton (2012, "ImageNet Classification
with Deep Convolutional Neural Networks") made it the norm. Apple's Metal backend arrived in
PyTorch 1.12 (2022).

Run:  python phase-06-pytorch/code/device.py --device auto --size 1024
"""

import argparse
import contextlib
import os
import platform
import time
from collections.abc import Callable

import torch

from phase00.flags import check_fits_in_memory, gib, positive_int, script_parser, thread_count
from phase00.threads import limit_blas_threads

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
ENV_VAR = "TFS_DEVICE"  # overrides "auto" when set, e.g. TFS_DEVICE=cpu
MPS_FALLBACK_VAR = "PYTORCH_ENABLE_MPS_FALLBACK"
# The help text of every script's --device flag (add_device_flag)
DEVICE_HELP = (f"where to compute (default: auto = {ENV_VAR} if set, else MPS, then CUDA, "
               f"then CPU)")


def available_devices() -> list[str]:
    """The device kinds this machine can use right now, best first (the CPU is always there)."""
    found = []
    if torch.backends.mps.is_available():
        found.append("mps")
    if torch.cuda.is_available():
        found.append("cuda")
    return [*found, "cpu"]


def pick_device(requested: str | None = None) -> torch.device:
    """The torch.device to compute on.

    requested: one of DEVICE_CHOICES, or None (same as "auto"). "auto" means the environment
    variable TFS_DEVICE if it is set, else the best available: MPS, then CUDA, then CPU.
    Raises ValueError for an unknown name (listing the valid ones) and RuntimeError for a
    device this machine does not have (listing the ones it has).
    """
    source = "--device"
    name = "auto" if requested is None else requested
    if name == "auto" and os.environ.get(ENV_VAR):
        name, source = os.environ[ENV_VAR].strip().lower(), f"the environment variable {ENV_VAR}"
    if name not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {name!r} (from {source}); valid names are "
                         f"{', '.join(DEVICE_CHOICES)}")
    have = available_devices()
    if name == "auto":
        name = have[0]
    elif name not in have:
        raise RuntimeError(f"device {name!r} (from {source}) is not available on this machine; "
                           f"available: {', '.join(have)}")
    device = torch.device(name)
    if device.type == "mps" and mps_fallback_enabled():
        print(f"Warning: {MPS_FALLBACK_VAR}=1 is set: operations that Metal lacks will run "
              f"on the CPU, silently and slowly (data copied there and back). Unset it to see "
              f"which operation that is.")
    return device


def mps_fallback_enabled() -> bool:
    """True when PYTORCH_ENABLE_MPS_FALLBACK=1: unsupported MPS operations quietly use the CPU."""
    return os.environ.get(MPS_FALLBACK_VAR, "").strip() == "1"


def synchronize(device: torch.device | str) -> None:
    """Wait until every operation queued on `device` has finished (nothing to wait for on CPU).

    Call it before reading a timer: GPU calls return when the work is queued, not when it is done.
    """
    kind = torch.device(device).type
    if kind == "cuda":
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()


def memory_report(device: torch.device | str) -> dict[str, int]:
    """Bytes of memory in use, as each backend counts it.

    mps:  current_allocated_memory (tensors alive now), driver_allocated_memory (everything
          Metal holds for this process, caches included);
    cuda: memory_allocated (tensors alive now), max_memory_allocated (the peak so far);
    cpu:  max_rss (the peak resident size of the whole process), where the OS reports it.
    """
    device = torch.device(device)
    if device.type == "mps":
        return {"current_allocated_memory": int(torch.mps.current_allocated_memory()),
                "driver_allocated_memory": int(torch.mps.driver_allocated_memory())}
    if device.type == "cuda":
        return {"memory_allocated": int(torch.cuda.memory_allocated(device)),
                "max_memory_allocated": int(torch.cuda.max_memory_allocated(device))}
    try:
        import resource  # Unix only
    except ImportError:
        return {}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return {"max_rss": int(peak if platform.system() == "Darwin" else peak * 1024)}


def check_fits_on_device(nbytes: float, what: str, device: torch.device | str) -> None:
    """Refuse, before allocating, a setting whose tensors would not fit where they will live.

    A CUDA card has its own memory: compare with it. The CPU and an Apple GPU (whose memory is
    the machine's) share the machine's memory: phase00.flags.check_fits_in_memory. Raises
    ValueError with the estimate, like that function.
    """
    device = torch.device(device)
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        if nbytes > 0.8 * total:
            raise ValueError(f"{what} needs about {gib(nbytes)} of GPU memory and this GPU has "
                             f"{gib(total)}: choose smaller values")
    else:
        check_fits_in_memory(nbytes, what)


def _torch_version() -> tuple[int, int]:
    major, minor = torch.__version__.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def autocast_dtype(device: torch.device | str, cpu_bf16: bool = False) -> torch.dtype:
    """The low-precision dtype to use with torch.autocast on `device`, or float32 for "none".

    cuda: bfloat16 where the card supports it (Ampere and later), else float32. A T4 or V100
          can emulate bf16, slowly, and torch.cuda.is_bf16_supported() counts that unless told
          not to: here only the native kind counts.
    mps:  bfloat16 with torch >= 2.6 (and macOS 14 or later). Note: on an M4 Max, GPT-2 small
          was measured no faster in bf16 than in float32, only lighter on memory; phase 08
          measures both on your machine and chooses. (Never float16 with a GradScaler on MPS.)
    cpu:  float32 (autocast off) unless cpu_bf16 is asked for; most CPUs gain nothing from it.
    """
    kind = torch.device(device).type
    if kind == "cuda":
        native = torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.bfloat16 if native else torch.float32
    if kind == "mps":
        mac = platform.mac_ver()[0]
        mac_major = int(mac.split(".")[0]) if mac else 0
        return torch.bfloat16 if _torch_version() >= (2, 6) and mac_major >= 14 else torch.float32
    return torch.bfloat16 if cpu_bf16 else torch.float32


def autocast(device: torch.device | str,
             dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """torch.autocast for a 16-bit dtype on `device`, or nothing at all for float32.

    `with autocast(device, torch.bfloat16): loss = model(x, y)` runs the matrix products in
    bfloat16 while the weights stay float32 (phase 08 trains this way where it pays).
    """
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def describe_device(device: torch.device | str) -> str:
    """One human line about the device: what it is, and what it offers."""
    device = torch.device(device)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return (f"cuda: {props.name}, {props.total_memory / 2**30:.1f} GiB, compute capability "
                f"{props.major}.{props.minor}, autocast {autocast_dtype(device)}")
    if device.type == "mps":
        fallback = "on (slow CPU fallback!)" if mps_fallback_enabled() else "off"
        return (f"mps: Apple GPU through Metal, macOS {platform.mac_ver()[0] or '?'}, autocast "
                f"{autocast_dtype(device)}, {MPS_FALLBACK_VAR} {fallback}")
    n = torch.get_num_threads()
    return (f"cpu: {platform.machine() or '?'} {platform.system()}, {os.cpu_count()} cores, "
            f"torch uses {n} thread{'' if n == 1 else 's'}")


def time_call(fn: Callable[[], object], device: torch.device | str, repeats: int = 5,
              sync: bool = True) -> float:
    """Median wall time of fn() in seconds, after one warm-up call.

    sync=True waits for the device before starting and before stopping the clock (the honest
    way); sync=False shows what a naive timer reports on a GPU.
    """
    fn()  # warm-up: the first call pays for memory allocation and kernel selection
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if sync:
            synchronize(device)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def limit_cpu_threads(n: int = 1) -> int:
    """Make PyTorch's CPU operations (and NumPy's matrix library) use n threads; return n.

    PyTorch splits each CPU operation over all cores by default. For the small tensors of this
    phase that costs more than it saves, and on a busy machine it can be dramatic: on our
    shared 2-core test machine, `mlp_torch.py` trained phase 02's 354-parameter MLP at under
    1 ms per step with one thread and about 200 ms per step with two (`--threads 2`), because
    threads that wait for each other wait longest when the machine is busy (phase00/threads.py).
    Big products (benchmark.py, train_loop.py) may gain from more threads on an idle machine:
    their --threads flag lets you measure it. On a GPU this setting does not matter.
    """
    torch.set_num_threads(n)
    limit_blas_threads(n)
    return n


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # A, B and the product, n x n float32 each
        check_fits_in_memory(3 * args.size**2 * 4, f"--size {args.size}")
    except ValueError as err:
        parser.error(str(err))
    device = device_from_flag(parser, args.device)  # one that is not here: refused before output

    print(f"1. PyTorch {torch.__version__}; what this machine offers")
    print(f"   mps (Apple GPU) available: {torch.backends.mps.is_available()}   "
          f"(built into this torch: {torch.backends.mps.is_built()})")
    print(f"   cuda (NVIDIA GPU) available: {torch.cuda.is_available()}   "
          f"(torch built for CUDA {torch.version.cuda})")
    print(f"   cpu: always; available, best first: {', '.join(available_devices())}")
    print(f"   {ENV_VAR} = {os.environ.get(ENV_VAR)!r};  {MPS_FALLBACK_VAR} = "
          f"{os.environ.get(MPS_FALLBACK_VAR)!r}")
    print(f"\n2. --device {args.device} -> {device}")
    print(f"   {describe_device(device)}")
    print(f"   autocast dtype here: {autocast_dtype(device)}")

    n = args.size
    before = memory_report(device)
    A = torch.randn(n, n, device=device)
    B = torch.randn(n, n, device=device)
    after = memory_report(device)
    print(f"\n3. Memory, before and after two {n} x {n} float32 tensors "
          f"({2 * n * n * 4 / 2**20:.1f} MiB)")
    for key in after:
        print(f"   {key:26s} {before.get(key, 0) / 2**20:10.1f} MiB -> "
              f"{after[key] / 2**20:10.1f} MiB")
    if device.type == "cpu":
        print("   (on the CPU this is the whole process's peak, Python and torch included)")

    flops = 2 * n**3
    honest = time_call(lambda: A @ B, device, args.repeats, sync=True)
    naive = time_call(lambda: A @ B, device, args.repeats, sync=False)
    print(f"\n4. Timing A @ B ({flops / 1e9:.2f} GFLOP), median of {args.repeats}")
    print(f"   with synchronize:    {honest * 1e3:8.2f} ms  = {flops / honest / 1e9:7.1f} GFLOP/s")
    print(f"   without synchronize: {naive * 1e3:8.2f} ms  = {flops / naive / 1e9:7.1f} GFLOP/s")
    if device.type == "cpu":
        print("   On the CPU the two agree: each call finishes before it returns.")
    else:
        print("   On a GPU the second only measures queueing the work: always synchronize "
              "before reading a clock.")


def add_device_flag(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    """Give a script `--device`, read by pick_device. A benchmark that must compare like with
    like on any machine passes default="cpu"; "auto" is still one flag away."""
    said = DEVICE_HELP.replace("default: auto", f"default: {default}; auto")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default=default,
                        help=DEVICE_HELP if default == "auto" else said)


def device_from_flag(parser: argparse.ArgumentParser, requested: str) -> torch.device:
    """pick_device for the `--device` a script was given. A name that is no device here (typed,
    or from TFS_DEVICE) stops the script with a usage error that lists the ones there are."""
    try:
        return pick_device(requested)
    except (ValueError, RuntimeError) as err:
        parser.error(str(err))


def add_threads_flag(parser: argparse.ArgumentParser, default: int | None = 1,
                     why: str = "") -> None:
    """Give a script `--threads`: the CPU threads it may use (limit_cpu_threads), refused above
    this machine's cores. None leaves PyTorch's own choice; `why` gives a reason for the default
    in the help ("; for a model this small, more threads cost more than they save")."""
    shown = "PyTorch's choice" if default is None else default
    parser.add_argument("--threads", type=thread_count, default=default,
                        help=f"CPU threads, 1 to this machine's cores (default: {shown}{why})")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Pick a device, time on it honestly, report its memory.")
    add_device_flag(parser)
    parser.add_argument("--size", type=positive_int, default=1024,
                        help="n for the n x n matrix product that is timed")
    parser.add_argument("--repeats", type=positive_int, default=5, help="timed repetitions")
    return parser


if __name__ == "__main__":
    main()
