"""Attention four ways: our hand and fast paths, nn.MultiheadAttention, and PyTorch's fused SDPA.

Phase 07's CausalSelfAttention has two paths that compute the same thing: the hand path writes
out softmax(q k^T / sqrt(d) + mask) v, storing the (T, T) table of weights per head; the fast
path hands q, k, v to F.scaled_dot_product_attention ("SDPA"), which picks a fused kernel that
never keeps that whole table: FlashAttention (Dao et al. 2022) on a recent NVIDIA GPU, and on a
CPU a tiled kernel in the same spirit (the profiler names it
aten::_scaled_dot_product_flash_attention_for_cpu, forward and backward). PyTorch's own
ready-made layer, nn.MultiheadAttention, does the whole job (projections included) in one
module; called with need_weights=False and is_causal=True, as here, it drops the explicit mask
and hands its q, k, v to the same SDPA kernel, which is why its row tracks our fast path.

Two tables, each timing a training pass (forward and backward) at several sequence lengths T:
1. the whole layer, projections included, the same weights in each: our hand path, our fast
   path, nn.MultiheadAttention with a causal mask;
2. the core alone on the same q, k, v: our hand formula against F.scaled_dot_product_attention.
The contenders of a table take turns pass by pass at each T (timing.take_turns). Each row also
says how far its output is from the hand path's, computed in float64 at the timed size (the
same batch and T).

The hand path writes a (T, T) table per head to memory and reads it back, several times, forward
and backward; once T is large that table no longer fits in the processor's caches, and the pass
waits on main memory. A tiled kernel keeps each tile in cache: the same arithmetic, far less
traffic. That is the GPU story too (on-chip memory against the GPU's main memory), which is why
a fused kernel wins on a CPU as well once T is large.

Run:  python phase-09-comparison/code/bench_attention.py
      python phase-09-comparison/code/bench_attention.py --quick
      python phase-09-comparison/code/bench_attention.py --device cuda --lengths 256 1024 4096
"""

import argparse
import statistics
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from phase00.flags import nonnegative_int, positive_int
from phase06.device import DEVICE_CHOICES, DEVICE_HELP, limit_cpu_threads, pick_device
from phase07.model import CausalSelfAttention, GPTConfig
from phase09.convert import max_abs_diff
from phase09.timing import machine, markdown_table, refuse_quick_overrides, spread, take_turns


def build_layers(C: int, H: int, T: int, seed: int) -> dict[str, nn.Module]:
    """Our attention (hand and fast paths) and nn.MultiheadAttention, with the same weights."""
    torch.manual_seed(seed)
    hand = CausalSelfAttention(GPTConfig(vocab_size=2, context=T, n_layer=1, n_head=H,
                                         n_embd=C, attention="hand"))
    fast = CausalSelfAttention(GPTConfig(vocab_size=2, context=T, n_layer=1, n_head=H,
                                         n_embd=C, attention="fast"))
    fast.load_state_dict(hand.state_dict())
    mha = nn.MultiheadAttention(C, H, bias=True, batch_first=True)
    with torch.no_grad():  # (3C, C) rows q, k, v stacked: the same layout as our c_attn
        mha.in_proj_weight.copy_(hand.c_attn.weight)
        mha.in_proj_bias.copy_(hand.c_attn.bias)
        mha.out_proj.weight.copy_(hand.c_proj.weight)
        mha.out_proj.bias.copy_(hand.c_proj.bias)
    return {"ours, hand path": hand, "ours, fast path (SDPA)": fast,
            "nn.MultiheadAttention": mha}


def layer_forward(name: str, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One causal self-attention pass of a layer from build_layers."""
    if name == "nn.MultiheadAttention":
        T = x.shape[1]
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)  # True = hidden
        return layer(x, x, x, attn_mask=future, need_weights=False, is_causal=True)[0]
    return layer(x)


def hand_core(C: int, H: int) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor],
                                          torch.Tensor]:
    """Our hand formula alone: phase 07's hand_attention (offset 0, no dropout) as a function
    of q, k, v. (The layer's projections are built but not used.)"""
    layer = CausalSelfAttention(GPTConfig(vocab_size=2, context=1, n_layer=1, n_head=H,
                                          n_embd=C, attention="hand"))
    return lambda q, k, v: layer.hand_attention(q, k, v, 0, 0.0)


def sdpa_core(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def train_pass(fn: Callable[[], torch.Tensor], inputs: list[torch.Tensor],
               params: list[nn.Parameter]) -> Callable[[], None]:
    """forward, then backward of the output's sum, gradients cleared each time."""
    def step() -> None:
        for t in (*inputs, *params):
            t.grad = None
        fn().sum().backward()

    return step


def rows_of(T: int, B: int, runs: dict[str, list[float]], diffs: dict[str, float]
            ) -> list[list[str]]:
    """Table rows: median time, spread, tokens/s, speed against the first row, distance."""
    times = {name: statistics.median(seconds) for name, seconds in runs.items()}
    base = next(iter(times.values()))
    return [[str(T), name, f"{s * 1e3:.2f} ms", spread(runs[name]), f"{B * T / s:,.0f}",
             f"{base / s:.2f}x", f"{diffs[name]:.1e}"] for name, s in times.items()]


def layer_rows(B: int, C: int, H: int, T: int, device: torch.device, repeats: int,
               seed: int) -> list[list[str]]:
    """Table 1 rows at length T: time of a training pass and distance from the hand path."""
    layers = build_layers(C, H, T, seed)
    x64 = torch.randn(B, T, C, dtype=torch.float64)  # the timed size, in float64
    with torch.no_grad():
        ref = layer_forward("hand", layers["ours, hand path"].double(), x64)
        diffs = {name: max_abs_diff(layer_forward(name, layer.double(), x64), ref)
                 for name, layer in layers.items()}
    x = torch.randn(B, T, C, device=device, requires_grad=True)
    steps = {}
    for name, layer in layers.items():
        layer.float().to(device)
        steps[name] = train_pass(lambda n=name, m=layer: layer_forward(n, m, x), [x],
                                 list(layer.parameters()))
    return rows_of(T, B, take_turns(steps, repeats, 1, device), diffs)


def core_rows(B: int, C: int, H: int, T: int, device: torch.device, repeats: int
              ) -> list[list[str]]:
    """Table 2 rows at length T: the core formula alone, hand against SDPA."""
    hand = hand_core(C, H)
    q64, k64, v64 = (torch.randn(B, H, T, C // H, dtype=torch.float64)  # the timed size
                     for _ in range(3))
    diffs = {"ours, hand formula": 0.0,
             "F.scaled_dot_product_attention": max_abs_diff(sdpa_core(q64, k64, v64),
                                                            hand(q64, k64, v64))}
    q, k, v = (torch.randn(B, H, T, C // H, device=device, requires_grad=True)
               for _ in range(3))
    steps = {"ours, hand formula": train_pass(lambda: hand(q, k, v), [q, k, v], []),
             "F.scaled_dot_product_attention": train_pass(lambda: sdpa_core(q, k, v), [q, k, v],
                                                          [])}
    return rows_of(T, B, take_turns(steps, repeats, 1, device), diffs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time causal self-attention: our hand and fast "
                                                 "paths, nn.MultiheadAttention, SDPA.")
    parser.add_argument("--lengths", nargs="+", type=positive_int, default=[64, 256, 1024],
                        help="sequence lengths T (default: 64 256 1024)")
    parser.add_argument("--batch", type=positive_int, default=4, help="sequences (default: 4)")
    parser.add_argument("--n-embd", type=positive_int, default=128, help="width (default: 128)")
    parser.add_argument("--n-head", type=positive_int, default=4, help="heads (default: 4)")
    parser.add_argument("--repeats", type=positive_int, default=7,
                        help="timed passes per entry; the median is shown (default: 7)")
    parser.add_argument("--quick", action="store_true",
                        help="lengths 32 and 64, batch 2, 3 repeats: seconds, for a smoke test; "
                             "refuses --lengths, --batch, --repeats")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="CPU threads (default: 1)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="cpu",
                        help=DEVICE_HELP.replace("default: auto", "default: cpu; auto"))
    args = parser.parse_args(argv)
    if args.n_embd % args.n_head:
        parser.error(f"--n-embd {args.n_embd} must be divisible by --n-head {args.n_head}")
    try:
        device = pick_device(args.device)
    except (ValueError, RuntimeError) as err:
        parser.error(str(err))
    refuse_quick_overrides(parser, args, ("lengths", "batch", "repeats"))
    limit_cpu_threads(args.threads)
    lengths, B, repeats = args.lengths, args.batch, args.repeats
    if args.quick:
        lengths, B, repeats = [32, 64], 2, 3
    C, H = args.n_embd, args.n_head

    print(f"machine: {machine(device)}")
    print(f"float32, batch {B}, width {C}, {H} heads; a training pass (forward + backward); "
          f"median of {repeats} after a warm-up, the contenders taking turns\n")
    header = ["T", "implementation", "time (median)", "fastest-slowest (ms)", "tokens/s",
              "speed vs hand", "max diff vs hand (float64)"]
    print("1. The whole layer (projections included), the same weights in each")
    print(markdown_table(header, [r for T in lengths
                                  for r in layer_rows(B, C, H, T, device, repeats, args.seed)]))
    print("\n2. The core softmax(q k^T / sqrt(d) + mask) v alone, the same q, k, v")
    print(markdown_table(header, [r for T in lengths
                                  for r in core_rows(B, C, H, T, device, repeats)]))


if __name__ == "__main__":
    main()
