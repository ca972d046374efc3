"""One model carried from NumPy to GPT-2: phase 05's transformer, our PyTorch GPT, Hugging Face's.

The course built the same architecture three times: in NumPy with every backward pass by hand
(phase 05), in PyTorch by hand (phase 07), and now we meet the library version (Hugging Face's
GPT2LMHeadModel). This script takes ONE set of weights, in GPT-2's names and layouts, and runs
it through all three, comparing the activations at every stage, not only the final logits:

    embeddings  wte[ids] + wpe[positions]        (B, T, C)
    block 1..L  the residual stream after each block
    ln_f        the final LayerNorm
    logits      ln_f(x) @ wte^T                  (B, T, vocab)

In float64 the three agree to about 1e-15 at every stage: the same arithmetic in a different
order differs only by round-off. A bug (a transposed matrix, a missing scale, a wrong epsilon)
shows up as a difference of 1e-3 or more (the notebook's one transposed matrix moves the logits
by 0.109) at the first stage where it happens, which is why every stage is checked: the table
points at the layer to look at.

Round-off is relative: a number of size s carries an error of about s x 1e-16 in float64. The
stages differ in size (at GPT-2's initialisation the residual stream has entries of a few
hundredths; the final LayerNorm rescales it to entries of order 1), so the absolute differences
jump at ln_f while nothing went wrong. The table prints each stage's size, max |value|, and the
figure shows the differences both ways: absolute, and divided by that size.

The stages are caught with forward hooks: a function PyTorch calls with a module's output
every time that module runs (register_forward_hook), so we read the activations without
changing the model's code.

The weights start in NumPy (a random phase 05 model, GPT-2's initialisation), or, with
--pretrained gpt2 and a network, are OpenAI's GPT-2 small.

Run:  python phase-09-comparison/code/numpy_to_gpt2.py
      python phase-09-comparison/code/numpy_to_gpt2.py --pretrained gpt2   (online; > 4 GB RAM)
"""

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from matplotlib.figure import Figure

from phase00.figures import add_out_flag, save_figure
from phase00.flags import add_seed_flag, check_fits_in_memory, positive_int, script_parser
from phase05.transformer import Transformer
from phase06.device import add_threads_flag, limit_cpu_threads
from phase07.model import GPT, GPTConfig, add_gpt_shape_flags
from phase09.convert import (
    PretrainedUnavailable,
    from_hf_state,
    from_numpy_state,
    load_pretrained,
    max_abs_diff,
    numpy_config,
    our_config,
    to_hf,
    to_numpy_state,
)
from phase09.timing import flags_typed

MODELS = ("numpy", "ours", "hf")
# the flags that set the random model's shape; a pretrained model brings its own
SHAPE_FLAGS = ("n_layer", "n_head", "n_embd", "context", "vocab_size")
PRETRAINED_SEQ_LEN = 16  # a short input: four float64 copies of GPT-2 small are the cost
PAIRS = (("numpy", "ours"), ("ours", "hf"), ("numpy", "hf"))


def numpy_stages(model: Transformer, ids: np.ndarray) -> list[np.ndarray]:
    """Phase 05's forward pass, stage by stage: embeddings, each block, ln_f, logits."""
    T = ids.shape[1]
    x = model.wte.forward(ids) + model.wpe.forward(np.arange(T))
    stages = [x]
    for block in model.blocks:
        x = block.forward(x)
        stages.append(x)
    x_final = model.ln_f.forward(x)
    stages.append(x_final)
    stages.append(x_final @ model.wte.params["W"].T)  # the tied head, as Transformer.forward
    return stages


@torch.no_grad()
def torch_stages(blocks: nn.ModuleList, first: nn.Module, ln_f: nn.Module,
                 run: Callable[[], torch.Tensor]) -> list[torch.Tensor]:
    """The same stages from a PyTorch model, caught with forward hooks.

    first: the module whose output is the embedding sum (the embedding dropout, an identity in
    eval mode); run() does a forward pass and returns the logits.
    """
    caught: list[torch.Tensor] = []

    def keep(_module: nn.Module, _inputs: tuple, output: object) -> None:
        caught.append(output[0] if isinstance(output, tuple) else output)

    handles = [m.register_forward_hook(keep) for m in (first, *blocks, ln_f)]
    try:
        logits = run()
    finally:
        for handle in handles:
            handle.remove()
    return [*caught, logits]


def stage_names(n_layer: int) -> list[str]:
    return ["embeddings", *[f"block {i + 1}" for i in range(n_layer)], "ln_f", "logits"]


def three_outputs(params: dict[str, np.ndarray], config: GPTConfig, ids: np.ndarray
                  ) -> dict[str, list[np.ndarray | torch.Tensor]]:
    """Run GPT-2-named float64 weights through the three models; every stage of each.

    Memory: the NumPy model, our GPT and Hugging Face's each hold a copy of the weights, beside
    `params` itself: four float64 copies (at GPT-2 small's 124M parameters, about 4 GB).
    """
    numpy_model = Transformer(numpy_config(config), dtype=np.float64)
    numpy_model.load_state_dict(params)
    ours = GPT(config).double().eval()
    ours.load_state_dict(from_numpy_state(params))
    hf = to_hf(ours, "eager")
    idx = torch.from_numpy(ids)
    return {
        "numpy": numpy_stages(numpy_model, ids),
        "ours": torch_stages(ours.transformer.h, ours.transformer.drop, ours.transformer.ln_f,
                             lambda: ours(idx)),
        "hf": torch_stages(hf.transformer.h, hf.transformer.drop, hf.transformer.ln_f,
                           lambda: hf(input_ids=idx).logits),
    }


def carry_memory_bytes(config: GPTConfig, batch: int, T: int) -> int:
    """About the most memory three_outputs() holds at once, in bytes (float64 everywhere).

    Four copies of the weights (the NumPy arrays, the NumPy model, our GPT, Hugging Face's),
    and for each of the three models the stages kept for the table: a (B, T, C) stream per
    block, the (B, T, vocab) logits, and one block's (B, heads, T, T) attention weights.
    """
    C, L, V = config.n_embd, config.n_layer, config.vocab_size
    n_params = (V + config.context) * C + L * (12 * C * C + 13 * C) + 2 * C
    activations = batch * T * (C * (L + 8) + V) + batch * config.n_head * T * T
    return 8 * (4 * n_params + 3 * activations)


def differences(outputs: dict[str, list[np.ndarray | torch.Tensor]]) -> dict[str, list[float]]:
    """Max |difference| per stage, for each pair of implementations."""
    return {f"{a} vs {b}": [max_abs_diff(x, y) for x, y in zip(outputs[a], outputs[b],
                                                                strict=True)]
            for a, b in PAIRS}


def stage_sizes(outputs: dict[str, list[np.ndarray | torch.Tensor]]) -> list[float]:
    """max |value| of each stage (NumPy's): the scale that round-off is relative to."""
    return [float(np.max(np.abs(stage))) for stage in outputs["numpy"]]


def carry(params: dict[str, np.ndarray], config: GPTConfig, ids: np.ndarray
          ) -> dict[str, list[float]]:
    """Run GPT-2-named float64 weights through the three models; max |diff| per stage, per pair."""
    return differences(three_outputs(params, config, ids))


def plot_stages(diffs: dict[str, list[float]], names: list[str], out_dir: Path | None,
                sizes: list[float] | None = None) -> Figure:
    """Max |difference| at each stage, one line per pair of implementations (log scale); with
    the stages' sizes, a second panel divides each difference by its stage's max |value|."""
    panels = [("max |difference|", None)] + ([("max |difference| / max |value| of the stage",
                                               sizes)] if sizes is not None else [])
    fig = Figure(figsize=(5 * len(panels) + 1, 4.4), layout="constrained")
    x = np.arange(len(names))
    for i, (label, scale) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for (pair, values), marker in zip(diffs.items(), "osd", strict=True):
            shown = np.asarray(values) / (1.0 if scale is None else np.asarray(scale))
            ax.plot(x, np.maximum(shown, 1e-18), marker=marker, label=pair)
        if scale is None:
            ax.axhline(1e-8, color="gray", linestyle="--", linewidth=1)
            ax.text(0, 1.6e-8, "the bar: 1e-8", color="gray", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylim(1e-18, 1e-6)
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(f"{label}\n(float64; exactly 0 drawn at 1e-18)", fontsize=8)
        ax.legend(fontsize=8)
    fig.suptitle("One set of GPT-2 weights in three implementations: NumPy (phase 05), our "
                 "PyTorch GPT (phase 07)\nand Hugging Face's GPT2LMHeadModel, compared after "
                 "every stage", fontsize=10)
    save_figure(fig, out_dir, "numpy_torch_hf_stages.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    limit_cpu_threads(args.threads)
    shape_flags = flags_typed(parser, argv, SHAPE_FLAGS)
    if args.pretrained and shape_flags:
        parser.error(f"--pretrained {args.pretrained} brings its own shape: leave out "
                     f"{', '.join(shape_flags)}")

    if args.pretrained:
        try:  # float32 weights, then four float64 copies (three_outputs): 44 bytes each
            hf = load_pretrained(args.pretrained, bytes_per_param=4 + 4 * 8)
            config = our_config(hf.config)
        except PretrainedUnavailable as err:
            parser.exit(1, f"error: {err}\n")
        except ValueError as err:  # not an export, or a config our GPT does not implement
            parser.exit(2, f"error: {err}\n")
        T = args.seq_len or PRETRAINED_SEQ_LEN
    else:
        try:
            config = GPTConfig(vocab_size=args.vocab_size, context=args.context,
                               n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd)
        except ValueError as err:
            parser.error(str(err))
        T = args.seq_len or config.context
    if T > config.context:
        parser.error(f"--seq-len {T} is longer than the context, {config.context}")
    try:  # before a single array is made: a typo in a size is refused, not swapped to disk
        check_fits_in_memory(carry_memory_bytes(config, args.batch, T),
                             "this comparison (--pretrained, --batch, --seq-len)" if args.pretrained
                             else "this comparison (--n-layer, --n-embd, --context, --vocab-size, "
                                  "--batch)")
    except ValueError as err:
        parser.error(str(err))
    if args.pretrained:
        params = to_numpy_state(from_hf_state(hf.double().state_dict()))
        del hf  # one float64 copy fewer: carry() builds its own Hugging Face model
        source = (f"{args.pretrained} (a folder exported by export_hf.py)"
                  if Path(args.pretrained).expanduser().is_dir()
                  else f"{args.pretrained} (Hugging Face's copy of OpenAI's weights)")
    else:
        params = Transformer(numpy_config(config), seed=args.seed, dtype=np.float64).params
        source = f"a random phase 05 NumPy model (seed {args.seed}), GPT-2's initialisation"
    rng = np.random.default_rng(args.seed)
    ids = rng.integers(0, config.vocab_size, size=(args.batch, T))

    print(f"1. Weights: {source}")
    print(f"   {config.n_layer} blocks, {config.n_head} heads, width {config.n_embd}, "
          f"context {config.context}, vocabulary {config.vocab_size}; "
          f"{sum(p.size for p in params.values()):,} parameters in GPT-2's names, e.g.")
    for name in list(params)[2:6]:
        print(f"   {name:24s} {params[name].shape}")
    print(f"   input: {args.batch} sequences of {T} token ids, float64 everywhere")

    outputs = three_outputs(params, config, ids)
    diffs, sizes = differences(outputs), stage_sizes(outputs)
    names = stage_names(config.n_layer)
    print("\n2. Max |difference| after each stage, and the stage's size (max |value|)")
    print("| stage | size | " + " | ".join(diffs) + " | largest / size |")
    print("|---|---|" + "---|" * len(diffs) + "---|")
    for i, name in enumerate(names):
        largest = max(v[i] for v in diffs.values())
        print(f"| {name} | {sizes[i]:.3f} | " + " | ".join(f"{v[i]:.1e}" for v in diffs.values())
              + f" | {largest / sizes[i]:.1e} |")
    worst = max(max(v) for v in diffs.values())
    print(f"\n   largest difference anywhere: {worst:.1e}; under 1e-8: {worst < 1e-8}")

    print("\nFigure")
    plot_stages(diffs, names, args.out, sizes)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Carry one set of GPT-2 weights through the "
                           "NumPy transformer, our GPT and Hugging "
                           "Face's, comparing every stage.")
    add_gpt_shape_flags(parser, n_layer=4, n_head=4, n_embd=64, context=32)
    parser.add_argument("--vocab-size", type=positive_int, default=500,
                        help="tokens in the vocabulary")
    parser.add_argument("--batch", type=positive_int, default=2, help="sequences")
    parser.add_argument("--seq-len", type=positive_int, default=None,
                        help=f"tokens per sequence (default: the whole context; "
                             f"{PRETRAINED_SEQ_LEN} with --pretrained)")
    add_seed_flag(parser)
    parser.add_argument("--pretrained", default=None, metavar="NAME",
                        help="use this pretrained model's weights (e.g. gpt2; needs a network "
                             "once) instead of a random NumPy model")
    add_threads_flag(parser)
    add_out_flag(parser, __file__, "the figure")
    return parser


if __name__ == "__main__":
    main()
