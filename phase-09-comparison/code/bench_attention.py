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
2. the core alone on the same q, k, v: our hand formula against F.scaled_dot_product_attention,
   and SDPA once more without the causal mask (is_causal=False), which computes every score as
   the hand formula does; that row splits SDPA's gain in two (printed below the table).
The contenders of a table take turns pass by pass at each T (timing.take_turns). Each row also
says how far its output is from the hand path's, computed in float64 at the timed size (the
same batch and T).

Why SDPA is faster, two candidate reasons. Less arithmetic: with is_causal=True a tiled kernel
can skip the tiles above the diagonal, which the mask hides; the hand formula computes every
score and then masks. Less memory traffic: the hand path writes a (T, T) table per head to
memory and reads it back, several times, forward and backward; once T is large that table no
longer fits in the processor's caches, while a tiled kernel keeps each tile in cache (the GPU
story too: on-chip memory against the GPU's main memory). SDPA without the mask measures the
first: hand / SDPA-without-mask is the gain at equal arithmetic, and SDPA without / with the
mask is the work skipped. That the gain at equal arithmetic is memory traffic is a hypothesis
this script does not measure (it reads no cache counters).

Run:  python phase-09-comparison/code/bench_attention.py
      python phase-09-comparison/code/bench_attention.py --quick
      python phase-09-comparison/code/bench_attention.py --device cuda --lengths 256 1024 4096
"""

import argparse
import math
import statistics
from collections.abc import Callable
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F

from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase06.device import device_from_flag, limit_cpu_threads
from phase07.model import CausalSelfAttention, GPTConfig
from phase09.convert import max_abs_diff
from phase09.timing import (
    add_benchmark_flags,
    machine,
    markdown_table,
    refuse_quick_overrides,
    spread,
    take_turns,
)

HAND_CORE = "ours, hand formula"
SDPA_CAUSAL = "F.scaled_dot_product_attention"
SDPA_FULL = "SDPA without the mask (whole table)"


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


def causal_mask(T: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(T, T) booleans, True above the diagonal: the future positions a token may not see."""
    return torch.ones(T, T, dtype=torch.bool, device=device).triu(1)


def layer_forward(layer: nn.Module, x: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """One causal self-attention pass of a layer from build_layers.

    nn.MultiheadAttention wants the mask itself beside is_causal=True (a hint that lets it call
    SDPA's causal kernel instead of applying the mask); it is built once per T, outside the
    timed pass. Our layers build their own.
    """
    if isinstance(layer, nn.MultiheadAttention):
        return layer(x, x, x, attn_mask=future, need_weights=False, is_causal=True)[0]
    return layer(x)


def hand_core(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Our hand formula alone: phase 07's CausalSelfAttention.hand_attention (offset 0, no
    dropout), called on a stand-in for the layer, since the method reads only self.head_dim
    (and keeps its weights in self.last_weights)."""
    layer = SimpleNamespace(head_dim=q.shape[-1])
    return CausalSelfAttention.hand_attention(layer, q, k, v, 0, 0.0)


def sdpa_core(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def sdpa_full(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """SDPA without the causal mask: the whole T x T table, as much arithmetic as the hand
    formula does (it computes every score, then masks). A different function, timed only to
    split SDPA's gain into skipped work and the rest."""
    return F.scaled_dot_product_attention(q, k, v, is_causal=False)


def formula_full(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v without a mask, written out: sdpa_full's reference."""
    return F.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v


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
        ref = layer_forward(layers["ours, hand path"].double(), x64, causal_mask(T))
        diffs = {name: max_abs_diff(layer_forward(layer.double(), x64, causal_mask(T)), ref)
                 for name, layer in layers.items()}
    x = torch.randn(B, T, C, device=device, requires_grad=True)
    future = causal_mask(T, device)
    steps = {}
    for name, layer in layers.items():
        layer.float().to(device)
        steps[name] = train_pass(lambda m=layer: layer_forward(m, x, future), [x],
                                 list(layer.parameters()))
    return rows_of(T, B, take_turns(steps, repeats, 1, device), diffs)


def core_rows(B: int, C: int, H: int, T: int, device: torch.device, repeats: int
              ) -> tuple[list[list[str]], dict[str, float]]:
    """Table 2 rows at length T: the core formula alone, hand against SDPA, with and without
    the causal mask. Each row's distance is from the float64 formula it computes; the medians
    come back too, for the split of SDPA's gain."""
    q64, k64, v64 = (torch.randn(B, H, T, C // H, dtype=torch.float64)  # the timed size
                     for _ in range(3))
    cores = {HAND_CORE: (hand_core, hand_core), SDPA_CAUSAL: (sdpa_core, hand_core),
             SDPA_FULL: (sdpa_full, formula_full)}  # name -> (timed, float64 reference)
    diffs = {name: max_abs_diff(fn(q64, k64, v64), ref(q64, k64, v64))
             for name, (fn, ref) in cores.items()}
    q, k, v = (torch.randn(B, H, T, C // H, device=device, requires_grad=True)
               for _ in range(3))
    steps = {name: train_pass(lambda f=fn: f(q, k, v), [q, k, v], [])
             for name, (fn, _) in cores.items()}
    runs = take_turns(steps, repeats, 1, device)
    medians = {name: statistics.median(seconds) for name, seconds in runs.items()}
    return rows_of(T, B, runs, diffs), medians


def attention_memory_bytes(B: int, H: int, T: int) -> int:
    """About the most memory one length needs: the (B, H, T, T) tables of the float64 reference
    (scores, weights, their difference: 3 x 8 bytes) or of a float32 training pass (scores,
    weights and their gradients: 4 x 4 bytes), whichever is larger, and the (T, T) mask."""
    return B * H * T * T * max(3 * 8, 4 * 4) + T * T


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.n_embd % args.n_head:
        parser.error(f"--n-embd {args.n_embd} must be divisible by --n-head {args.n_head}")
    device = device_from_flag(parser, args.device)
    refuse_quick_overrides(parser, args, argv, ("lengths", "batch", "repeats"))
    limit_cpu_threads(args.threads)
    lengths, B, repeats = args.lengths, args.batch, args.repeats
    if args.quick:
        lengths, B, repeats = [32, 64], 2, 3
    C, H = args.n_embd, args.n_head
    if device.type == "cpu":
        try:
            check_fits_in_memory(attention_memory_bytes(B, H, max(lengths)),
                                 f"--lengths {max(lengths)} at --batch {B}, --n-head {H}")
        except ValueError as err:
            parser.error(str(err))

    print(f"machine: {machine(device)}")
    print(f"float32, batch {B}, width {C}, {H} heads; a training pass (forward + backward); "
          f"median of {repeats} after a warm-up, the contenders taking turns\n")
    header = ["T", "implementation", "time (median)", "fastest-slowest (ms)", "tokens/s",
              "speed vs hand", "max diff vs hand (float64)"]
    print("1. The whole layer (projections included), the same weights in each")
    try:
        rows = [r for T in lengths for r in layer_rows(B, C, H, T, device, repeats, args.seed)]
    except torch.OutOfMemoryError:
        parser.exit(1, f"error: out of memory on {device}: choose smaller --lengths or "
                       f"--batch\n")
    print(markdown_table(header, rows))
    print("\n2. The core softmax(q k^T / sqrt(d) + mask) v alone, the same q, k, v; the last "
          "row computes every score (no mask), a different function, measured against the "
          "formula without the mask")
    cores = {T: core_rows(B, C, H, T, device, repeats) for T in lengths}
    print(markdown_table([*header[:-1], "max diff vs its formula (float64)"],
                         [r for rows, _ in cores.values() for r in rows]))
    print("\n   SDPA's gain over the hand formula, split in two (ratios of the medians above):")
    for T, (_, t) in cores.items():
        print(f"   T = {T}: hand / SDPA without the mask (both compute every score) "
              f"{t[HAND_CORE] / t[SDPA_FULL]:.2f}x; SDPA without / with the mask (the work the "
              f"mask lets it skip) {t[SDPA_FULL] / t[SDPA_CAUSAL]:.2f}x; together "
              f"{t[HAND_CORE] / t[SDPA_CAUSAL]:.2f}x")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Time causal self-attention: our hand and fast "
                           "paths, nn.MultiheadAttention, SDPA.")
    parser.add_argument("--lengths", nargs="+", type=positive_int, default=[64, 256, 1024],
                        help="sequence lengths T")
    parser.add_argument("--batch", type=positive_int, default=4, help="sequences")
    parser.add_argument("--n-embd", type=positive_int, default=128, help="width")
    parser.add_argument("--n-head", type=positive_int, default=4, help="heads")
    add_benchmark_flags(parser, repeats=7, device=True,
                        quick="lengths 32 and 64, batch 2, 3 repeats: seconds, for a smoke "
                              "test; refuses --lengths, --batch, --repeats")
    return parser


if __name__ == "__main__":
    main()
