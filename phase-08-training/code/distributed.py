"""Several GPUs, one run: data parallelism with DistributedDataParallel, launched by torchrun.

The idea (data parallelism): every process ("rank") holds a full copy of the model and reads
its own slice of each batch. After the backward pass, the ranks average their gradients, so
every copy takes the same optimizer step and stays identical. k GPUs then process k times the
tokens per second, and the run is the same run as one GPU with a k-times-larger batch.

PyTorch's `DistributedDataParallel` (Li et al. 2020, "PyTorch Distributed: Experiences on
Accelerating Data Parallel Training") does the averaging: it wraps the model, and during
`loss.backward()` it starts averaging each bucket of gradients as soon as that bucket is ready
(an "all-reduce": every rank sends its numbers and receives the mean), overlapping the network
with the rest of the backward pass.

Three details this course gets right, each a known bug of hand-written trainers:

1. **Gradient accumulation.** With grad_accum micro-steps per optimizer step, an all-reduce
   after every micro-step would send the gradients grad_accum times for nothing: only the sum
   at the end matters. `model.no_sync()` turns the all-reduce off; it must be entered BEFORE
   the forward pass (DDP decides during forward whether the next backward will synchronise)
   for every micro-step but the last. train.py's `accumulate_gradients` does exactly that, and
   a test counts the all-reduces.
2. **Disjoint data.** Each rank reads a different slice of each batch (phase 08's loader: rank r
   takes the r-th B*T tokens of the world's next world*B*T); a test checks that 2 ranks take
   the same step as 1 process on the combined batch.
3. **One writer.** Only rank 0 prints, logs, samples and saves checkpoints; the model is saved
   unwrapped (no `module.` prefix), so a checkpoint does not care how many GPUs wrote it.

The processes talk through a "backend": NCCL between NVIDIA GPUs (fast, GPU to GPU), gloo
between CPU processes (what the tests use). Apple's GPUs have neither, so there is no DDP on a
Mac: one process uses the whole GPU.

`torchrun` starts the processes and tells each who it is through environment variables: RANK
(0..world-1), LOCAL_RANK (the GPU index on this machine) and WORLD_SIZE.

Run:  torchrun --standalone --nproc_per_node=8 phase-08-training/code/train.py --preset gpt2-124m
      torchrun --standalone --nproc_per_node=2 phase-08-training/code/distributed.py  (a demo on
      CPU: each rank reports what it read and the gradient it averaged)
"""

import argparse
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

from phase00.flags import positive_int, script_parser


@dataclass(frozen=True)
class World:
    """Who this process is among the ranks of a run (a single process: rank 0 of 1)."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that prints, logs and saves."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world_from_environment(environ: dict[str, str] | None = None) -> World:
    """The World torchrun describes in RANK, LOCAL_RANK and WORLD_SIZE (none set: one process)."""
    env = os.environ if environ is None else environ
    if "RANK" not in env and "WORLD_SIZE" not in env:
        return World()
    try:
        world = World(int(env["RANK"]), int(env.get("LOCAL_RANK", env["RANK"])),
                      int(env["WORLD_SIZE"]))
    except (KeyError, ValueError) as err:
        raise ValueError(f"RANK, LOCAL_RANK and WORLD_SIZE must be integers set together (as "
                         f"torchrun sets them): {err}") from None
    if not (0 <= world.rank < world.size and world.local_rank >= 0):
        raise ValueError(f"RANK {world.rank} is not in 0..WORLD_SIZE-1 ({world.size})")
    return world


def backend_for(device_type: str) -> str:
    """nccl for NVIDIA GPUs, gloo for CPU processes; nothing for a Mac's GPU."""
    if device_type == "cuda":
        return "nccl"
    if device_type == "cpu":
        return "gloo"
    raise ValueError(f"several processes need a communication backend, and {device_type!r} "
                     f"has none (no NCCL on a Mac): train with one process, which uses the "
                     f"whole GPU")


def start(world: World, device_type: str, init_method: str = "env://") -> torch.device:
    """Join the process group (once per process) and return this rank's device.

    With CUDA each rank takes GPU number LOCAL_RANK. init_method "env://" reads the address
    torchrun sets (MASTER_ADDR, MASTER_PORT); the tests use a file instead.
    """
    backend = backend_for(device_type)
    device = torch.device(device_type)
    if device_type == "cuda":  # before joining: NCCL binds each process to its GPU
        torch.cuda.set_device(world.local_rank)
        device = torch.device("cuda", world.local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend, init_method=init_method, rank=world.rank,
                                world_size=world.size)
    return device


def stop(wait_for_others: bool = True) -> None:
    """Leave the process group. After a run that went well, a barrier first: a rank that tears
    its connections down while another is still using them can abort the other one (gloo
    does). After an error, no barrier: the other ranks may never arrive at it."""
    if dist.is_initialized():
        if wait_for_others:
            dist.barrier()
        dist.destroy_process_group()


def leave(world: World, code: int = 0) -> None:
    """End a process of a several-process run now, with `code`, once its work is done and saved.

    Why not simply return: with the gloo backend (CPU), PyTorch releases of 2025-26 sometimes
    abort a process while the interpreter shuts down (a gloo thread outlives Python; exit
    status -6, "terminate called without an active exception"), after everything was done and
    written. Leaving with os._exit skips that shutdown; the output is flushed first. One
    process (no `torchrun`) returns normally.
    """
    if not world.distributed:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def mean_over_ranks(value: torch.Tensor, world: World) -> torch.Tensor:
    """The mean of a tensor over all ranks (itself, for one process)."""
    if not world.distributed:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / world.size


def sum_over_ranks(counts: dict[str, int], world: World, device: torch.device) -> dict[str, int]:
    """Integer counts added up over all ranks (HellaSwag: examples and correct answers)."""
    if not world.distributed:
        return counts
    keys = sorted(counts)
    values = torch.tensor([counts[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return {k: int(v) for k, v in zip(keys, values.tolist(), strict=True)}


def min_over_ranks(value: int, world: World, device: torch.device) -> int:
    """The smallest of an integer over all ranks (so that all ranks agree on it)."""
    if not world.distributed:
        return value
    tensor = torch.tensor([float(value)], device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return int(tensor.item())


def any_rank(flag: bool, world: World, device: torch.device) -> bool:
    """True on every rank if it is True on any (so that all ranks stop at the same step)."""
    if not world.distributed:
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    world = world_from_environment()
    if not world.distributed:
        print("One process. Start several with:\n  torchrun --standalone --nproc_per_node=2 "
              "phase-08-training/code/distributed.py")
        return
    start(world, "cpu")
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(args.width, 1))
    x = torch.full((1, args.width), float(world.rank + 1))  # each rank's own data
    model(x).sum().backward()
    print(f"rank {world.rank}/{world.size}: my input is all {world.rank + 1}s; the gradient "
          f"every rank now holds is {model.module.weight.grad[0].tolist()} (the mean of the "
          f"ranks' inputs)")
    del model  # DDP's gradient machinery goes first, then the process group it talks through
    stop()
    leave(world)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("A two-line demo of DDP on CPU: run it under "
                           "torchrun --nproc_per_node=2.")
    parser.add_argument("--width", type=positive_int, default=4, help="the toy layer's width")
    return parser


if __name__ == "__main__":
    main()
