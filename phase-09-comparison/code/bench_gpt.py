"""Training speed: our GPT against Hugging Face's GPT2LMHeadModel, at the same config and settings.

Two implementations of one architecture, so the comparison is about implementation only. To be
fair, everything else is equal: the same config and the same weights (converted by convert.py),
the same batch of tokens, the same dtype and autocast, the same thread count, the same compile
setting, dropout 0, and the same work timed, one training pass:

    gradients cleared -> forward with the loss -> backward

(no optimizer step: that is the same AdamW for both). Warm-up passes are not timed (with
--compile they include the compilation); each number is the median of --repeats passes with the
device synchronised around the clock, the contenders taking turns pass by pass so that a change
in the machine's load hits them all alike. Throughput is tokens per second, B x T / seconds.

Hugging Face's model runs with attention "sdpa" (F.scaled_dot_product_attention, like our fast
path) and "eager" (scores, mask, softmax written out, like our hand path); the headline ratio is
against whichever of the two was faster, so ours is never compared with the library's weaker
setting. Both losses are computed the same way: the library's logits, like ours, are scored
by F.cross_entropy against the next tokens at all T positions (given labels=, the library would
shift them inside the model, copy the logits and score T - 1 positions: more work than ours,
about 100 MB of copying per pass at GPT-2's vocabulary and batch 8). Before any timing, every
contender's logits on the timed batch are compared with ours, so a fast row is also a correct
one.

On a GPU, the project's reference points, measured on one H100 80GB (torch 2.11; GPT-2 124M,
32 x 1024 tokens, bf16 autocast, fused AdamW, compiled), are 331k tokens/s for GPT2LMHeadModel
and 462k for a lean single-file GPT; this script measures ours with --device cuda --compile
--autocast bf16 --preset gpt2-124m.

Run:  python phase-09-comparison/code/bench_gpt.py
      python phase-09-comparison/code/bench_gpt.py --quick
      python phase-09-comparison/code/bench_gpt.py --device cuda --preset gpt2-124m --batch 32 \
          --compile --autocast bf16
"""

import argparse
import contextlib
import statistics
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase06.device import device_from_flag, limit_cpu_threads
from phase07.model import GPT, GPTConfig, add_context_flag, add_preset_flag, preset
from phase09.convert import max_abs_diff, to_hf
from phase09.timing import (
    add_benchmark_flags,
    gpt_memory_bytes,
    machine,
    markdown_table,
    refuse_quick_overrides,
    spread,
    take_turns,
)

AUTOCAST = ("none", "bf16")
MAX_CONTEXT = 1024  # GPT-2's context; longer ones need --long-context


def score_table_bytes(batch: int, n_head: int, context: int) -> int:
    """Bytes of one layer's (B, H, T, T) float32 attention weights, which the eager path (ours
    by hand, Hugging Face's "eager") stores for the backward pass."""
    return batch * n_head * context**2 * 4


def training_pass(model: nn.Module, loss_fn: Callable[[], torch.Tensor], device: torch.device,
                  autocast: str) -> Callable[[], None]:
    """One pass: clear gradients, forward with the loss (under autocast if asked), backward."""
    def step() -> None:
        model.zero_grad(set_to_none=True)
        ctx = (torch.autocast(device.type, dtype=torch.bfloat16) if autocast == "bf16"
               else contextlib.nullcontext())
        with ctx:
            loss = loss_fn()
        loss.backward()

    return step


def logits_of(model: nn.Module, kind: str, x: torch.Tensor) -> torch.Tensor:
    """The logits (B, T, vocab) of either kind of model, without gradients."""
    with torch.no_grad():
        return model(x) if kind == "ours" else model(input_ids=x).logits


def hf_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """GPT2LMHeadModel's logits, scored exactly as our GPT scores its own: cross-entropy against
    the next tokens y at all T positions. (Its `labels=x` would shift inside the model, copy the
    logits and score T - 1 positions: at a 50,257-token vocabulary and batch 8 the copy alone
    is about 100 MB a pass, work ours does not do.)"""
    logits = model(input_ids=x).logits
    return F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))


def contenders(config: GPTConfig, device: torch.device, compile_models: bool, seed: int,
               hand: bool, x: torch.Tensor) -> tuple[dict[str, tuple[nn.Module, str]],
                                                     dict[str, float]]:
    """name -> (model, kind) with identical weights: ours (fast path), HF sdpa, HF eager; and
    each one's max |logits difference| from ours at the timed size (the model and length timed,
    on the batch's first two sequences: the whole batch's logits at GPT-2's vocabulary would
    take gigabytes), in float32, without autocast, before compiling."""
    torch.manual_seed(seed)
    ours = GPT(config)
    models: dict[str, tuple[nn.Module, str]] = {"ours (fast path)": (ours, "ours")}
    if hand:
        ours_hand = GPT(GPTConfig(**{**config.__dict__, "attention": "hand"}))
        ours_hand.load_state_dict(ours.state_dict())
        models["ours (hand path)"] = (ours_hand, "ours")
    models["GPT2LMHeadModel (sdpa)"] = (to_hf(ours, "sdpa"), "hf")
    models["GPT2LMHeadModel (eager)"] = (to_hf(ours, "eager"), "hf")
    x = x[:2]
    reference = logits_of(ours.to(device).train(), "ours", x)
    diffs = {}
    for name, (model, kind) in models.items():
        model.to(device).train()  # train mode, as in training; dropout is 0 in both
        diffs[name] = max_abs_diff(logits_of(model, kind, x), reference)
        models[name] = (torch.compile(model) if compile_models else model, kind)
    return models, diffs


def measure(config: GPTConfig, batch: int, device: torch.device, repeats: int, warmup: int,
            compile_models: bool, autocast: str, seed: int, hand: bool
            ) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Seconds of each timed training pass of each contender, on the same tokens, and each
    contender's max |logits difference| from ours on those tokens."""
    g = torch.Generator().manual_seed(seed)
    seq = torch.randint(0, config.vocab_size, (batch, config.context + 1), generator=g)
    x, y = seq[:, :-1].to(device), seq[:, 1:].to(device)
    steps = {}
    models, diffs = contenders(config, device, compile_models, seed, hand, x)
    for name, (model, kind) in models.items():
        if kind == "ours":
            loss_fn = lambda m=model: m(x, y)[1]  # noqa: E731
        else:  # the same loss as ours, on the same T targets (see the module's docstring)
            loss_fn = lambda m=model: hf_loss(m, x, y)  # noqa: E731
        steps[name] = training_pass(model, loss_fn, device, autocast)
    # Interleaved rounds (A, B, C, A, B, C, ...): if the machine gets busier halfway through,
    # every contender feels it alike, instead of whichever happened to run last.
    return take_turns(steps, repeats, warmup, device), diffs


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    device = device_from_flag(parser, args.device)
    refuse_quick_overrides(parser, args, argv, ("preset", "vocab_size", "context", "batch",
                                                "repeats", "warmup"))
    limit_cpu_threads(args.threads)
    overrides = {k: v for k, v in (("vocab_size", args.vocab_size), ("context", args.context))
                 if v is not None}
    config = preset(args.preset, dropout=0.0, **overrides)
    if config.context > MAX_CONTEXT and not args.long_context:
        table = score_table_bytes(args.batch, config.n_head, config.context)
        parser.error(f"--context {config.context} is above GPT-2's {MAX_CONTEXT}: in the eager "
                     f"path one layer's attention weights at batch {args.batch} would take "
                     f"{table / 1e9:,.1f} GB. Add --long-context if you mean it")
    batch, repeats, warmup = args.batch, args.repeats, args.warmup
    if args.quick:
        config = GPTConfig(vocab_size=65, context=32, n_layer=2, n_head=2, n_embd=32)
        batch, repeats, warmup = 4, 2, 1
    if device.type == "cpu":  # up to four models' weights and gradients, eager score tables
        try:
            check_fits_in_memory(gpt_memory_bytes(config, batch, config.context, copies=4,
                                                  tables=3),
                                 f"a training pass at --batch {batch}, context "
                                 f"{config.context}, vocabulary {config.vocab_size}")
        except ValueError as err:
            parser.error(str(err))

    tokens = batch * config.context
    with torch.device("meta"):  # shapes only, to count FLOPs: 6 N + 12 L C T per token
        flops = GPT(config).flops_per_token(config.context) * tokens
    print(f"machine: {machine(device)}")
    print(f"model: {config.n_layer} layers, {config.n_head} heads, width {config.n_embd}, "
          f"context {config.context}, vocabulary {config.vocab_size}; batch {batch} x "
          f"{config.context} = {tokens:,} tokens per pass")
    print(f"settings for every model: float32 weights, autocast {args.autocast}, compile "
          f"{args.compile}, {args.threads} CPU thread(s), dropout 0; one pass = zero_grad, "
          f"forward with the same loss (F.cross_entropy at all {config.context} positions), "
          f"backward; median of {repeats} after {warmup} warm-up\n")
    try:
        runs, diffs = measure(config, batch, device, repeats, warmup, args.compile,
                              args.autocast, args.seed, args.hand)
    except torch.OutOfMemoryError:
        parser.exit(1, f"error: out of memory on {device}: choose a smaller --batch or "
                       f"--context\n")
    times = {name: statistics.median(seconds) for name, seconds in runs.items()}
    ours = times["ours (fast path)"]
    rows = [[name, f"{s * 1e3:.1f} ms", spread(runs[name], digits=1), f"{tokens / s:,.0f}",
             f"{flops / s / 1e12:.3f}", f"{s / ours:.2f}x", f"{diffs[name]:.1e}"]
            for name, s in times.items()]
    print(markdown_table(["model", "time per pass (median)", "fastest-slowest (ms)", "tokens/s",
                          "TFLOP/s", "time / ours (fast)", "max |logits diff| vs ours"], rows))
    best = min((name for name in times if name.startswith("GPT2LMHeadModel")), key=times.get)
    print(f"\n   our GPT / GPT2LMHeadModel throughput, against its faster variant here "
          f"({best.split()[-1].strip('()')}): {times[best] / ours:.2f}x")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Tokens per second of a training pass: our GPT "
                           "against GPT2LMHeadModel at equal settings.")
    add_preset_flag(parser, "char-1m")
    parser.add_argument("--vocab-size", type=positive_int, default=None,
                        help="override the vocabulary (default: the preset's)")
    add_context_flag(parser)
    parser.add_argument("--long-context", action="store_true",
                        help=f"allow a --context above {MAX_CONTEXT} (GPT-2's); the eager "
                             f"attention's score tables grow with its square")
    parser.add_argument("--batch", type=positive_int, default=32, help="sequences per pass")
    add_benchmark_flags(parser, repeats=10, device=True,
                        quick="a tiny model (2 layers x 2 heads x 32, context 32), batch 4, "
                              "2 repeats, 1 warm-up: seconds, for a smoke test; refuses "
                              "--preset, --vocab-size, --context, --batch, --repeats, --warmup")
    parser.add_argument("--warmup", type=positive_int, default=2,
                        help="untimed passes first (default: 2; compile happens here)")
    parser.add_argument("--compile", action="store_true", help="torch.compile every model")
    parser.add_argument("--autocast", choices=AUTOCAST, default="none",
                        help="bf16 autocast for every model, or none")
    parser.add_argument("--hand", action="store_true", help="also time our hand attention path")
    return parser


if __name__ == "__main__":
    main()
