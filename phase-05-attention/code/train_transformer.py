"""Train the NumPy transformer on characters, with the backward passes of this phase.

Everything a real training run needs, and nothing hidden: random windows of text as batches;
next-character cross-entropy; the hand-written backward pass of transformer.py; gradient
clipping by global norm (Pascanu et al. 2013); AdamW (phase 02) with weight decay on the weight
matrices only (not on biases and LayerNorm gains, as Radford et al. 2018 trained GPT-1 and as
phase 08 will; leaving the position table undecayed too is this course's choice); a learning
rate that warms up linearly and then follows a cosine down to a tenth of its peak; a
validation loss on text the model never trains on; and at the end, samples and
pictures of what the attention heads look at.

The default run (4 layers, 4 heads, width 128, context 64, batch 32, float32) has about 0.8M
parameters and reaches a Tiny Shakespeare validation loss below 2.0 nats in a few minutes on a
2-core CPU; a character bigram model (phase 03) sits near 2.5. With every operation
vectorised, NumPy trains a model of that size in minutes; the gradient checks use tiny
configurations of the same code. compare_rnn.py trains this default beside phase 04's RNN and
GRU on the same characters and scores all of them on the same validation windows.

Run:  python phase-05-attention/code/train_transformer.py
      python phase-05-attention/code/train_transformer.py --n-layers 2 --d-model 64 --steps 300
"""

import argparse
import math
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

from phase00.corpus import add_corpus_flags, load_text
from phase00.figures import add_seed_and_out_flags, save_figure, scratch_dir
from phase00.flags import (
    check_fits_in_memory,
    nonnegative_float,
    nonnegative_int,
    output_file,
    positive_float,
    positive_int,
    script_parser,
    temperature,
    unit_float,
)
from phase00.threads import limit_blas_threads
from phase02.optimizers import AdamW
from phase03.char_tokenizer import CharTokenizer, sample_start, training_tokenizer
from phase04.clipping import global_norm
from phase05.transformer import Transformer, TransformerConfig, add_shape_flags, training_bytes


class ParamGroup:
    """Some of a model's arrays, shared by reference, so one optimizer can update just them
    (phase 02's optimizers accept anything with `params` and `grads` dicts)."""

    def __init__(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.params, self.grads = params, grads


def decay_groups(model: Transformer) -> tuple[ParamGroup, ParamGroup]:
    """(matrices that weight decay should shrink, everything else): 2-D weights other than the
    position table get decay; biases, LayerNorm gains/biases and positions do not."""
    params, grads = model.params, model.grads
    decay = [k for k, p in params.items() if p.ndim == 2 and not k.startswith("wpe")]
    rest = [k for k in params if k not in decay]
    return (ParamGroup({k: params[k] for k in decay}, {k: grads[k] for k in decay}),
            ParamGroup({k: params[k] for k in rest}, {k: grads[k] for k in rest}))


def text_problem(text: str, context: int, window_extra: int = 2,
                 smaller: str = "--context") -> str | None:
    """Why `text` is too short to train on windows of `context` characters, or None.

    Training cuts windows of context + 1 characters from the first nine tenths of the text and
    measures the validation loss on windows of the last tenth, so that tenth must hold at least
    context + window_extra characters (`smaller` names the flags that set that number). A text
    of one repeated character is refused before, by phase 03's training_tokenizer.
    """
    n_val = len(text) // 10
    if n_val < context + window_extra:
        return (f"the text is too short for --context {context}: its {len(text):,} characters "
                f"leave {n_val:,} for validation (the last tenth), fewer than the "
                f"{context + window_extra:,} its validation needs; use a longer text or a "
                f"smaller {smaller}")
    return None


def training_text(corpus: str, path: Path | None, context: int, window_extra: int = 2,
                  smaller: str = "--context") -> tuple[str, str, CharTokenizer]:
    """(text, where it came from, its character tokenizer) for a training script, or a
    FileNotFoundError / ValueError whose message is the one line the learner sees: a file that
    is not text (phase 00), a single repeated character (phase 03), a text too short to hold a
    validation window (text_problem). Every character-level training script of phases 05-07
    starts here."""
    text, source = load_text(corpus, path)
    tokenizer = training_tokenizer(text, source)  # refuses one repeated character
    problem = text_problem(text, context, window_extra, smaller)
    if problem:
        raise ValueError(f"{source}: {problem}")
    return text, source, tokenizer


def lr_at(step: int, peak: float, warmup: int, total: int) -> float:
    """Linear warmup from peak/warmup (never 0) to peak, then a cosine down to peak/10."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def clip_gradients(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients down together if their global norm exceeds max_norm; return the norm
    before clipping. One direction kept, one length capped: a bad batch cannot throw the model.

    Phase 04's clip_global_norm (clipping.py) for one dict of arrays instead of a list of
    layers, with the same norm (phase 04's global_norm) and two differences: max_norm 0 turns
    clipping off, and the scale is max_norm / (norm + 1e-6), the formula of PyTorch's
    clip_grad_norm_, which phase 06's training loop uses (the two are not run side by side)."""
    norm = global_norm([SimpleNamespace(grads=grads)])  # one "layer" holding every gradient
    if max_norm > 0 and norm > max_norm:
        for g in grads.values():
            g *= max_norm / (norm + 1e-6)
    return norm


def get_batch(data: np.ndarray, batch: int, T: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`batch` random windows of T + 1 characters: inputs x = window[:-1], targets y = [1:]."""
    starts = rng.integers(0, len(data) - T, size=batch)  # the last window ends at the end
    windows = data[starts[:, None] + np.arange(T + 1)]  # (batch, T + 1), one gather
    return windows[:, :-1], windows[:, 1:]


def evaluate(model: Transformer, data: np.ndarray, batch: int, T: int, n_batches: int,
             seed: int) -> float:
    """Mean loss on n_batches fixed windows of `data` (the same windows every time)."""
    rng = np.random.default_rng(seed)
    return float(np.mean([model.loss(*get_batch(data, batch, T, rng))
                          for _ in range(n_batches)]))


def plot_losses(history: dict[str, list], out_dir: Path | None,
                title: str = "NumPy transformer on characters", target: float = 2.0,
                filename: str = "transformer_loss.png", bottom: float = 1.0) -> Figure:
    """Training loss (one batch, noisy) and validation loss against steps, with a dotted line at
    the phase's `target` in nats. Phase 07 draws its GPT's curve with this too."""
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    ax.plot(history["step"], history["train"], color="tab:blue", alpha=0.35, lw=0.8,
            label="train (one batch)")
    ax.plot(history["eval_step"], history["val"], "o-", color="tab:red", ms=3,
            label="validation")
    ax.axhline(target, color="0.5", ls=":", label=f"{target:g} nats")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_ylim(bottom, max(4.5, min(history["train"][:1] or [4.5])))
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out_dir, filename)
    return fig


def plot_attention(model: Transformer, tokenizer: CharTokenizer, text: str,
                   out_dir: Path | None) -> Figure:
    """Every head of every block on one line of text: row = looking, column = looked at."""
    model.forward(np.array([tokenizer.encode(text)]))
    maps = [m[0] for m in model.attention_maps()]  # n_layers x (H, T, T)
    return draw_attention_maps(maps, text, out_dir, "transformer_attention.png")


def draw_attention_maps(maps: list[np.ndarray], text: str, out_dir: Path | None,
                        name: str) -> Figure:
    """A grid of heatmaps, one per head (columns) of each block (rows); maps[l] is (H, T, T).

    Phase 07 draws its PyTorch GPT's heads with this same function."""
    L, H = len(maps), maps[0].shape[0]
    fig = Figure(figsize=(2.4 * H, 2.5 * L + 0.4))
    axes = fig.subplots(L, H, squeeze=False)
    chars = [c if c != "\n" else "↵" for c in text]
    for layer in range(L):
        for head in range(H):
            ax = axes[layer][head]
            image = ax.imshow(maps[layer][head], cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(len(chars)), chars, fontsize=5)
            ax.set_yticks(range(len(chars)), chars, fontsize=5)
            ax.set_title(f"block {layer}, head {head}", fontsize=8)
    fig.suptitle(f"Attention weights on {text!r} (row: the query's position; column: the "
                 f"key's)", fontsize=10)
    fig.tight_layout()
    # one scale for every map (all share 0 to 1), in space taken from all of them
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="attention weight")
    save_figure(fig, out_dir, name)
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.warmup > args.steps:  # as phase 06 and 07: a run that ends inside its warmup
        parser.error(f"--warmup {args.warmup} is longer than the run (--steps {args.steps}): "
                     f"the learning rate would never reach its peak; choose a shorter warmup")
    save_path = args.save or scratch_dir(__file__) / "transformer.npz"
    chars_path = save_path.with_suffix(".chars.json")
    if chars_path.is_dir():
        parser.error(f"{chars_path} (where the model's characters go) is a folder: choose "
                     f"another --save")
    try:
        config = TransformerConfig(1, args.context, args.d_model, args.n_heads,
                                   args.n_layers, args.positions, not args.untied)
    except ValueError as err:
        parser.error(str(err))
    T, B = args.context, args.batch
    try:
        text, source, tokenizer = training_text(args.corpus, args.path, T)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    try:  # before any array is made: a typo such as --context 100000 is refused, not swapped
        check_fits_in_memory(training_bytes(tokenizer.vocab_size, T, args.d_model, args.n_heads,
                                            args.n_layers, B, 8 if args.float64 else 4,
                                            not args.untied),
                             f"training with --batch {B} --context {T} --d-model "
                             f"{args.d_model} --n-layers {args.n_layers}")
    except ValueError as err:
        parser.error(str(err))
    limit_blas_threads(1)  # many medium-sized products: one BLAS thread is faster and steadier

    data = np.array(tokenizer.encode(text), dtype=np.int64)
    n_val = len(data) // 10
    train, val = data[:-n_val], data[-n_val:]
    config.vocab_size = tokenizer.vocab_size
    model = Transformer(config, seed=args.seed,
                        dtype=np.float64 if args.float64 else np.float32)
    print(f"1. Data: {source}; {tokenizer.vocab_size} distinct characters; "
          f"{len(train):,} train / {len(val):,} validation")
    print(f"   model: {config.n_layers} blocks x {config.n_heads} heads, width {config.d_model}, "
          f"context {T}, {config.positions} positions, "
          f"{'tied' if config.tied_head else 'untied'} head: {model.n_params:,} parameters "
          f"({model.dtype})")
    rng = np.random.default_rng(args.seed)
    x, y = get_batch(train, B, T, rng)
    print(f"   a batch: x {x.shape}, y {y.shape}; x[0, :20] = {tokenizer.decode(x[0, :20])!r}, "
          f"y[0, :20] = {tokenizer.decode(y[0, :20])!r}")
    loss0 = model.loss(x, y)
    print(f"   loss before training {loss0:.3f} (uniform guessing: ln {tokenizer.vocab_size} = "
          f"{math.log(tokenizer.vocab_size):.3f})")

    decay, no_decay = decay_groups(model)
    optimizers = [AdamW([decay], lr=args.lr, beta2=args.beta2, weight_decay=args.weight_decay),
                  AdamW([no_decay], lr=args.lr, beta2=args.beta2, weight_decay=0.0)]
    print(f"\n2. Train {args.steps} steps of {B} x {T} characters, AdamW (decay "
          f"{args.weight_decay} on {len(decay.params)} weight matrices, none on "
          f"{len(no_decay.params)} other arrays), peak lr {args.lr}, clip {args.clip}")
    history: dict[str, list] = {"step": [], "train": [], "eval_step": [], "val": []}
    start = time.perf_counter()
    bar = tqdm(range(args.steps), desc="training", unit="step", leave=False)
    stopped_early = False
    for step in bar:
        lr = lr_at(step, args.lr, args.warmup, args.steps)
        for opt in optimizers:
            opt.lr = lr
        x, y = get_batch(train, B, T, rng)
        loss = model.loss(x, y)
        if not math.isfinite(loss):
            bar.close()
            parser.exit(1, f"error: the loss became {loss} at step {step}: the learning rate "
                           f"({lr:.2e}) is probably too high for this model; try a smaller "
                           f"--lr\n")
        model.backward_loss()
        clip_gradients(model.grads, args.clip)
        for opt in optimizers:
            opt.step()
        history["step"].append(step)
        history["train"].append(loss)
        last = step == args.steps - 1
        out_of_time = (args.max_seconds is not None
                       and time.perf_counter() - start > args.max_seconds)
        if step % args.eval_every == 0 or last or out_of_time:
            val_loss = evaluate(model, val, B, T, 10, seed=1)
            history["eval_step"].append(step)
            history["val"].append(val_loss)
            elapsed = time.perf_counter() - start
            tqdm.write(f"   step {step:5d}  train {loss:.3f}  val {val_loss:.3f}  lr {lr:.2e}  "
                       f"{elapsed:6.1f} s  {(step + 1) * B * T / elapsed:,.0f} tokens/s")
        bar.set_postfix(loss=f"{loss:.3f}")
        if out_of_time and not last:
            stopped_early = True
            break
    bar.close()
    seconds = time.perf_counter() - start
    final_val = history["val"][-1]
    print(f"   {'stopped by --max-seconds after' if stopped_early else 'finished'} "
          f"{history['step'][-1] + 1} steps in {seconds:.1f} s: validation loss {final_val:.3f} "
          f"nats ({final_val / math.log(2):.2f} bits) per character")

    print(f"\n3. Sample {args.sample_chars} characters at temperature {args.temperature}")
    prompt = tokenizer.encode(sample_start(text))
    sample = model.generate(prompt, args.sample_chars, args.temperature,
                            rng=np.random.default_rng(args.seed))
    print(tokenizer.decode(sample))

    model.save(save_path)
    tokenizer.save(chars_path)
    print(f"\n4. Saved the model to {save_path} and its characters to {chars_path}")
    print(f"   sample more with: python phase-05-attention/code/sample_transformer.py "
          f"--model {save_path}")

    print("\nFigures")
    plot_losses(history, args.out)
    plot_attention(model, tokenizer, text[:min(T, 40)], args.out)


def add_adamw_flags(parser: argparse.ArgumentParser, lr: float, beta2: bool = False) -> None:
    """Give a script the optimizer's knobs, as this phase trains a transformer: the peak `--lr`
    of the warmup-then-decay schedule, Adam's `--beta2` (only if beta2=True), the AdamW
    `--weight-decay` on weight matrices and the global-norm `--clip`."""
    parser.add_argument("--lr", type=positive_float, default=lr, help="peak learning rate")
    if beta2:
        parser.add_argument("--beta2", type=unit_float, default=0.99,
                            help="Adam's second-moment decay")
    parser.add_argument("--weight-decay", type=nonnegative_float, default=0.1,
                        help="AdamW decay on weight matrices")
    parser.add_argument("--clip", type=nonnegative_float, default=1.0,
                        help="clip the global gradient norm to this; 0 = off")


def add_loop_flags(parser: argparse.ArgumentParser, steps: int) -> None:
    """Give a script the flags of the training loop around the optimizer: how many `--steps`
    of how many sequences (`--batch`), the `--warmup` at the start, how often the validation
    loss is measured, and an optional time limit."""
    parser.add_argument("--steps", type=positive_int, default=steps, help="optimizer steps")
    parser.add_argument("--batch", type=positive_int, default=32, help="sequences per step")
    parser.add_argument("--warmup", type=nonnegative_int, default=50,
                        help="warmup steps; 0 starts at the peak")
    parser.add_argument("--eval-every", type=positive_int, default=100,
                        help="steps between validation losses")
    parser.add_argument("--max-seconds", type=positive_float, default=None,
                        help="stop training after this many seconds (default: no limit)")


def add_sampling_flags(parser: argparse.ArgumentParser, chars: int) -> None:
    """Give a script the two flags of the sample printed after training: its length in
    characters (0: none) and its temperature."""
    parser.add_argument("--sample-chars", type=nonnegative_int, default=chars,
                        help="characters to sample at the end")
    parser.add_argument("--temperature", type=temperature, default=0.8, help="sampling temperature")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Train the NumPy transformer on characters.")
    add_shape_flags(parser, context=64, d_model=128, n_heads=4, n_layers=4)
    add_loop_flags(parser, steps=600)
    add_adamw_flags(parser, lr=3e-3, beta2=True)
    add_sampling_flags(parser, chars=300)
    parser.add_argument("--float64", action="store_true",
                        help="train in float64 (slower; float32 is plenty for training)")
    add_corpus_flags(parser)
    parser.add_argument("--save", type=output_file, default=None,
                        help="where to write the model (default: "
                             "scratch/phase-05-attention/transformer.npz)")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
