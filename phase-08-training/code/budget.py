"""What a training budget buys: tokens, hours and model sizes, worked out before the run starts.

A run of GPT-2 small is days of a machine's time, so the arithmetic comes first. It has three
inputs and no guesswork beyond them:

1. **The cost of one token.** Training a model of N parameters costs about 6N floating-point
   operations (FLOPs) per token: each weight takes part in one multiply and one add going
   forward (2N) and twice that going backward (4N: the gradient for the input and the gradient
   for the weight). Kaplan et al. (2020, "Scaling Laws for Neural Language Models") use this
   count. Attention adds work that no weight accounts for: each layer compares every position
   with up to T others, 12 * n_layer * n_embd * T FLOPs per token over a context of T (the
   form Chowdhery et al. 2022, "PaLM", use). For GPT-2 small at T = 1024 that is
   6 * 123.65M + 113.2M = 0.855 GFLOP per token (phase 07's `GPT.flops_per_token`; N leaves out
   the position table, which is looked up, not multiplied).
2. **The rate the machine sustains**, in tokens per second, MEASURED on the model and batch you
   will train (`benchmark.py` measures it). A device's advertised peak is not a rate: a laptop
   reaches a fraction of it, and slows down further once it is hot. The default is a public
   measurement of GPT-2 small on an Apple M4 Max with PyTorch's MPS backend: about 5,000 tokens
   per second in float32 (batch 4 x 1024), with no gain from bfloat16.
3. **The hours you can give it.**

tokens = rate x seconds. Everything else follows: how far GPT-2 small gets in 24, 48 or 72 hours,
and which smaller model would use the same compute better. For the second question we use the
rule of thumb from Hoffmann et al. (2022, "Training Compute-Optimal Large Language Models",
"Chinchilla"): for a fixed compute C, the loss is lowest with about 20 training tokens per
parameter, i.e. C = 6 * N * (20 N), so N = sqrt(C / 120). Smaller models run faster on the same
machine (fewer FLOPs per token), so we convert the measured rate into sustained FLOP/s and assume
the machine keeps that FLOP/s on the smaller model (an optimistic assumption: small matrices use
a GPU less well; measure before a long run).

The plans printed here are the `gpt2-124m-mac-*` and `gpt-51m-mac-24h` presets of config.py
(a test checks that their step counts are the ones this file computes).

Run:  python phase-08-training/code/budget.py
      python phase-08-training/code/budget.py --tokens-per-s 4200 --hours 24 48 72 168
"""

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_out_flag, save_figure
from phase00.flags import positive_float, positive_int, script_parser

MAC_TOKENS_PER_S = 5_000  # GPT-2 small, M4 Max, PyTorch MPS, float32, B=4, T=1024 (public report)
MAC_TOKENS_PER_STEP = 8 * 8 * 1024  # the Mac presets: micro-batch 8 x 8 accumulation x 1024
GPU_TOKENS_PER_STEP = 16 * 32 * 1024  # gpt2-124m: 524,288, GPT-2/GPT-3 small's ~0.5M
CHINCHILLA_TOKENS_PER_PARAM = 20
REPRODUCTION_TOKENS = 10_000_000_000  # the usual GPT-2 small reproduction: 10B tokens
BUDGET_HOURS = (24, 48, 72)
VOCAB = 50_257


@dataclass(frozen=True)
class Shape:
    """A GPT's shape: enough to count its parameters and FLOPs without building it."""

    name: str
    n_layer: int
    n_head: int
    n_embd: int
    context: int = 1024
    vocab_size: int = VOCAB

    def n_params(self, include_positions: bool = True) -> int:
        """Phase 07's count: embeddings (tied with the head), 12C^2 + 13C per block, final LN."""
        C, L = self.n_embd, self.n_layer
        n = self.vocab_size * C + L * (12 * C * C + 13 * C) + 2 * C
        return n + self.context * C if include_positions else n

    def flops_per_token(self, T: int | None = None) -> int:
        """6N (N without the position table) + 12 * n_layer * n_embd * T."""
        T = self.context if T is None else T
        return 6 * self.n_params(include_positions=False) + 12 * self.n_layer * self.n_embd * T

    def training_bytes(self, micro_batch: int, hand_attention: bool = False) -> int:
        """About the memory one float32 training step needs: a lower estimate, for refusing a
        setting that cannot fit before anything is allocated.

        - weights, their gradients and AdamW's two moments: 4 x 4 = 16 bytes per parameter;
        - what the forward pass keeps for the backward pass: about 24 values per token per
          layer per unit of width (Korthikanti et al. 2022 count 34 bytes in 16-bit, 17 values;
          measured here on a CPU, closer to 22);
        - the logits, their softmax and its gradient: 3 values per token per vocabulary entry;
        - with the hand attention path, 3 maps of T x T per head and layer (scores, weights,
          their gradient); the fast path never stores them whole.
        """
        tokens = micro_batch * self.context
        values = tokens * (24 * self.n_layer * self.n_embd + 3 * self.vocab_size)
        if hand_attention:
            values += 3 * self.n_layer * micro_batch * self.n_head * self.context ** 2
        return 16 * self.n_params() + 4 * values


GPT2_SMALL = Shape("gpt2-124m", 12, 12, 768)
# The smaller model of the 24-hour plan: near the Chinchilla size for that compute (see plan()).
GPT_51M = Shape("gpt-51m", 8, 8, 512)


@dataclass(frozen=True)
class Plan:
    """One row of the planner: a model, a number of hours, and what they buy."""

    shape: Shape
    hours: float
    tokens_per_s: float
    tokens: int
    steps: int
    tokens_per_step: int

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.shape.n_params()


def sustained_flops(tokens_per_s: float, shape: Shape = GPT2_SMALL) -> float:
    """The FLOP/s a measured token rate on `shape` stands for."""
    return tokens_per_s * shape.flops_per_token()


def rate_for(shape: Shape, flops_per_s: float) -> float:
    """Tokens per second of another shape at the same sustained FLOP/s (optimistic, see above)."""
    return flops_per_s / shape.flops_per_token()


def plan(shape: Shape, hours: float, tokens_per_s: float,
         tokens_per_step: int = MAC_TOKENS_PER_STEP) -> Plan:
    """What `hours` at `tokens_per_s` buy: tokens, and whole optimizer steps of tokens_per_step."""
    if hours <= 0 or tokens_per_s <= 0 or tokens_per_step <= 0:
        raise ValueError(f"hours, tokens per second and tokens per step must be positive, got "
                         f"{hours}, {tokens_per_s}, {tokens_per_step}")
    tokens = int(tokens_per_s * hours * 3600)
    steps = tokens // tokens_per_step
    return Plan(shape, hours, tokens_per_s, steps * tokens_per_step, steps, tokens_per_step)


def days_for(tokens: float, tokens_per_s: float) -> float:
    return tokens / tokens_per_s / 86_400


def chinchilla_params(flops: float) -> float:
    """The compute-optimal parameter count for `flops`: C = 6 N (20 N), so N = sqrt(C / 120)."""
    return math.sqrt(flops / (6 * CHINCHILLA_TOKENS_PER_PARAM))


def mac_plans(tokens_per_s: float = MAC_TOKENS_PER_S) -> dict[str, Plan]:
    """The plans behind config.py's Mac presets, keyed by preset name."""
    plans = {f"gpt2-124m-mac-{h}h": plan(GPT2_SMALL, h, tokens_per_s) for h in BUDGET_HOURS}
    small_rate = rate_for(GPT_51M, sustained_flops(tokens_per_s))
    plans["gpt-51m-mac-24h"] = plan(GPT_51M, 24, small_rate)
    return plans


def report(tokens_per_s: float, hours: list[float], throttle: float,
           tokens_per_step: int = MAC_TOKENS_PER_STEP) -> None:
    rate = tokens_per_s * throttle
    flop_s = sustained_flops(rate)
    n, n_pos = GPT2_SMALL.n_params(), GPT2_SMALL.n_params(include_positions=False)
    attention = 12 * GPT2_SMALL.n_layer * GPT2_SMALL.n_embd * GPT2_SMALL.context
    print("1. The cost of one token of GPT-2 small (12 layers x 768, context 1024)")
    print(f"   N = {n:,} parameters; without the position table {n_pos:,}")
    print(f"   6N = {6 * n_pos / 1e6:,.1f} MFLOP + attention 12 x 12 x 768 x 1024 = "
          f"{attention / 1e6:,.1f} MFLOP = {GPT2_SMALL.flops_per_token() / 1e9:.3f} GFLOP per "
          f"token")

    print("\n2. The rate")
    print(f"   {tokens_per_s:,.0f} tokens/s measured"
          + (f", x {throttle:g} for a hot laptop = {rate:,.0f} tokens/s" if throttle != 1 else ""))
    print(f"   = {flop_s / 1e12:.2f} TFLOP/s sustained ({rate:,.0f} x "
          f"{GPT2_SMALL.flops_per_token() / 1e9:.3f} GFLOP)")

    chinchilla = CHINCHILLA_TOKENS_PER_PARAM * n
    print("\n3. Whole runs at that rate")
    print(f"   {REPRODUCTION_TOKENS / 1e9:.0f}B tokens (the usual GPT-2 small reproduction): "
          f"{days_for(REPRODUCTION_TOKENS, rate):.1f} days, not 24-72 hours")
    print(f"   {chinchilla / 1e9:.2f}B tokens (20 per parameter, Chinchilla): "
          f"{days_for(chinchilla, rate):.1f} days")

    print(f"\n4. What a budget buys (steps of {tokens_per_step:,} tokens)\n")
    print("| hours | GPT-2 small sees | tokens per parameter | steps | compute | "
          "Chinchilla-optimal size for it | its tokens |")
    print("|---|---|---|---|---|---|---|")
    for h in hours:
        p = plan(GPT2_SMALL, h, rate, tokens_per_step)
        flops = flop_s * h * 3600
        n_opt = chinchilla_params(flops)
        print(f"| {h:g} | {p.tokens / 1e9:.2f}B | {p.tokens_per_param:.1f} | {p.steps:,} | "
              f"{flops:.2e} FLOP | {n_opt / 1e6:.0f}M | "
              f"{CHINCHILLA_TOKENS_PER_PARAM * n_opt / 1e9:.2f}B |")

    print(f"\n5. The presets (config.py), planned at {MAC_TOKENS_PER_S:,} tokens/s")
    for name, p in mac_plans().items():
        print(f"   {name:18s} {p.shape.n_layer:2d} layers x {p.shape.n_embd}: "
              f"{p.shape.n_params() / 1e6:6.1f}M parameters, {p.tokens_per_s:>7,.0f} tokens/s, "
              f"{p.steps:>6,} steps = {p.tokens / 1e9:.2f}B tokens "
              f"({p.tokens_per_param:.1f} per parameter) in {p.hours:g} h")
    print("\n   A plan is only as good as its rate: measure yours with\n"
          "   python phase-08-training/code/benchmark.py --preset gpt2-124m --device mps\n"
          "   and re-plan with --tokens-per-s.")


def plot_budget(tokens_per_s: float, hours: list[float], out_dir: Path | None) -> Figure:
    """Tokens GPT-2 small sees against hours of training, beside the token counts people aim
    for: the budgets, Chinchilla's 20 per parameter, and the 10B of a full reproduction."""
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot()
    days = np.linspace(0.0, 1.15 * days_for(REPRODUCTION_TOKENS, tokens_per_s), 200)
    ax.plot(days, tokens_per_s * days * 86_400 / 1e9, color="tab:blue",
            label=f"GPT-2 small at {tokens_per_s:,.0f} tokens/s")
    chinchilla = CHINCHILLA_TOKENS_PER_PARAM * GPT2_SMALL.n_params()
    for tokens, text, color in ((REPRODUCTION_TOKENS, "10B tokens: a full reproduction",
                                 "tab:red"),
                                (chinchilla, f"{chinchilla / 1e9:.2f}B: 20 tokens per "
                                             f"parameter (Chinchilla)", "tab:green")):
        ax.axhline(tokens / 1e9, color=color, ls="--", lw=1)
        ax.text(0.2, tokens / 1e9 + 0.15, f"{text}, {days_for(tokens, tokens_per_s):.1f} days",
                color=color, fontsize=9)
    for h in hours:
        p = plan(GPT2_SMALL, h, tokens_per_s)
        ax.plot([h / 24], [p.tokens / 1e9], "o", color="black", ms=4)
        ax.annotate(f"{h:g} h: {p.tokens / 1e9:.2f}B", (h / 24, p.tokens / 1e9),
                    textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax.set_xlabel("days of training")
    ax.set_ylabel("tokens seen (billions)")
    ax.set_title("What a budget buys: GPT-2 small on an M4 Max-class rate")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    save_figure(fig, out_dir, "budget_tokens.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.throttle > 1:
        parser.error(f"--throttle is a slow-down factor in (0, 1], got {args.throttle}")
    rate = args.tokens_per_s * args.throttle
    if not 1 <= rate <= 1e12:  # beyond these the days and the figure become 0 or infinity
        parser.error(f"--tokens-per-s x --throttle must be between 1 and 10^12 tokens per "
                     f"second (a laptop: thousands; a big GPU: about a million), got {rate:g}")
    if max(args.hours) > 100_000:
        parser.error(f"--hours above 100,000 (11 years) plan nothing a run can do, got "
                     f"{max(args.hours):g}")
    report(args.tokens_per_s, args.hours, args.throttle, args.tokens_per_step)
    print("\nFigure")
    plot_budget(args.tokens_per_s * args.throttle, args.hours, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Tokens, hours and model sizes of a training "
                           "budget, from a measured token rate.")
    parser.add_argument("--tokens-per-s", type=positive_float, default=MAC_TOKENS_PER_S,
                        help="GPT-2 small training tokens per second, measured on your machine "
                             "(default: 5,000, an M4 Max with MPS in float32)")
    parser.add_argument("--hours", type=positive_float, nargs="+", default=list(BUDGET_HOURS),
                        help="budgets to plan, in hours")
    parser.add_argument("--throttle", type=positive_float, default=1.0,
                        help="multiply the rate by this for a machine that slows when hot (e.g. "
                             "0.6; default: 1)")
    parser.add_argument("--tokens-per-step", type=positive_int, default=MAC_TOKENS_PER_STEP,
                        help="tokens per optimizer step in the table (default: 65,536 = 64 "
                             "sequences of 1024, the Mac presets)")
    add_out_flag(parser, __file__, "the figure")
    return parser


if __name__ == "__main__":
    main()
