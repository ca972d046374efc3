"""Phase 04's RNN and GRU against this phase's transformer, like for like.

Is the transformer a better model than the recurrent networks of phase 04? Their numbers cannot
say: phase 04's character RNN read about 4.1 million training characters and was scored with its
hidden state carried across the whole validation text, while train_transformer.py reads about
1.2 million and scores windows of 64 characters. This script removes the differences of data,
budget and exam (the precision stays each phase's own: phase 04's recurrent layers compute in
float64, the transformers in float32; and the recipe was tuned for the transformer):

- the same text, split the same way (the last tenth for validation);
- the same training characters, in the same order: every model draws its batches from a
  generator with the same seed, so all of them see exactly the same windows of text;
- the same recipe: train_transformer.py's AdamW (decay on weight matrices only), warmup and
  cosine schedule, peak learning rate and clipping;
- the same evaluation: the whole validation text cut into windows of `--context` characters,
  each read from scratch (the recurrent models start every window from a zero state, so nobody
  carries context from before the window), the loss averaged over every position of every
  window, and also kept position by position.

Four models: phase 04's RNN and GRU (char_rnn.py's default sizes), the transformer of
train_transformer.py (809,856 parameters), and a transformer cut to the RNN's size (2 blocks of
width 32: about 30 thousand parameters). It prints one table (parameters, training characters,
validation loss, wall time per 1,000 training tokens) and the loss at a few positions of the
window, and draws the loss against the position and against the training time.

Run:  python phase-05-attention/code/compare_rnn.py
      python phase-05-attention/code/compare_rnn.py --quick
"""

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from tqdm import tqdm

from phase00.corpus import add_corpus_flags
from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, nonnegative_int, positive_int, script_parser
from phase00.gradient_descent import check_loss
from phase00.probability import log_softmax
from phase00.threads import limit_blas_threads
from phase02.optimizers import AdamW
from phase04.char_rnn import CharRNN, memory_needed
from phase05.train_transformer import (
    add_adamw_flags,
    clip_gradients,
    decay_groups,
    get_batch,
    lr_at,
    training_text,
)
from phase05.transformer import Transformer, TransformerConfig, training_bytes

# name -> what it is. The shapes: phase 04's char_rnn.py defaults (embedding 32, hidden 128);
# train_transformer.py's default; and a transformer with about the RNN's parameter count.
MODELS = {
    "rnn": "phase 04's RNN, hidden 128",
    "gru": "phase 04's GRU, hidden 128",
    "small-transformer": "transformer, 2 blocks x 4 heads, width 32",
    "transformer": "transformer, 4 blocks x 4 heads, width 128",
}
EMBED, HIDDEN = 32, 128  # phase 04's character models
SHAPES = {"small-transformer": (2, 32), "transformer": (4, 128)}  # (blocks, width)
N_HEADS = 4
# --quick: a run of seconds for the tests; any flag given explicitly still wins.
DEFAULTS = {"steps": 600, "batch": 32, "context": 64, "warmup": 50, "eval_every": 100,
            "val_windows": None}
QUICK = {"steps": 30, "batch": 8, "context": 16, "warmup": 5, "eval_every": 15, "val_windows": 64}
CURVE_WINDOWS = 256  # the validation windows scored during training, for the time curve
SHOWN_POSITIONS = (0, 1, 3, 7, 15, 31, 63)  # positions of the window printed in the table


def build_model(name: str, vocab_size: int, context: int, seed: int) -> CharRNN | Transformer:
    """One of MODELS, freshly initialised from `seed`."""
    if name in ("rnn", "gru"):
        return CharRNN(vocab_size, EMBED, HIDDEN, name, np.random.default_rng(seed))
    n_layers, d_model = SHAPES[name]
    config = TransformerConfig(vocab_size, context, d_model, N_HEADS, n_layers)
    return Transformer(config, seed=seed, dtype=np.float32)


def n_params(model: CharRNN | Transformer) -> int:
    return model.n_params if isinstance(model, Transformer) else model.n_params()


def model_vocab(model: CharRNN | Transformer) -> int:
    return model.config.vocab_size if isinstance(model, Transformer) else model.vocab_size


def backward(model: CharRNN | Transformer) -> None:
    """Fill the gradients of the last loss() call (the two phases name this differently)."""
    if isinstance(model, Transformer):
        model.backward_loss()
    else:
        model.backward()


def flops_per_token(name: str, vocab_size: int, context: int) -> int:
    """Floating-point operations of one training token, counting the matrix products only.

    A product with an (n_in, n_out) weight costs n_in * n_out multiply-adds per token, 2 FLOPs
    each, and training does it three times (forward, and two products backward): 6 per weight.
    The RNN/GRU: x @ W_x, h @ W_h (n_gates blocks of H) and the head. The transformer: phase 07's
    6 N + 12 L T d, N the weights of the blocks and of the (tied) head, 12 L T d the attention
    scores and their weighted sums (every key of the window is scored; the mask zeroes half).
    """
    if name in ("rnn", "gru"):
        gates = 1 if name == "rnn" else 3
        return 6 * (EMBED * gates * HIDDEN + HIDDEN * gates * HIDDEN + HIDDEN * vocab_size)
    n_layers, d = SHAPES[name]
    return 6 * (n_layers * 12 * d * d + d * vocab_size) + 12 * n_layers * context * d


def memory_bytes(name: str, vocab_size: int, context: int, batch: int) -> int:
    """About the most memory training `name` needs (phase 04's and this phase's estimates)."""
    if name in ("rnn", "gru"):
        return memory_needed(name, vocab_size, EMBED, HIDDEN, batch, context)
    n_layers, d_model = SHAPES[name]
    return training_bytes(vocab_size, context, d_model, N_HEADS, n_layers, batch)


def validation_windows(val: np.ndarray, context: int,
                       limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The validation text cut into consecutive windows: x (n, context) and y, x shifted by one.

    Window k reads characters k*context .. k*context + context - 1 and predicts the character
    after each, so every validation character after the first is predicted exactly once, from
    the characters before it in its own window, except the last few (fewer than `context`)
    that do not fill a window. `limit`: keep only the first `limit` windows.
    """
    n = (len(val) - 1) // context
    if limit is not None:
        n = min(n, limit)
    starts = np.arange(n) * context
    windows = val[starts[:, None] + np.arange(context + 1)]  # (n, context + 1), one gather
    return windows[:, :-1], windows[:, 1:]


def loss_by_position(model: Any, x: np.ndarray, y: np.ndarray, batch: int) -> np.ndarray:
    """Mean cross-entropy at each position of the window, over all windows: shape (context,).

    `model` needs only forward(ids (B, T)) -> logits (B, T, V), with no state carried in: a
    CharRNN starts from zeros, a Transformer sees only the window. Position t predicts the
    character after x[:, t] from t + 1 characters of context. The mean of the result is the
    validation loss, every position weighing the same.
    """
    total = np.zeros(x.shape[1])
    for i in range(0, len(x), batch):
        logp = log_softmax(model.forward(x[i:i + batch]))  # (b, T, V), float64
        picked = np.take_along_axis(logp, y[i:i + batch, :, None], axis=-1)[..., 0]  # (b, T)
        total -= picked.sum(axis=0)
    return total / len(x)


def train(model: CharRNN | Transformer, name: str, train_ids: np.ndarray, steps: int,
          batch: int, context: int, lr: float, warmup: int, weight_decay: float, clip: float,
          seed: int, curve: tuple[np.ndarray, np.ndarray], eval_every: int) -> dict[str, Any]:
    """train_transformer.py's recipe for any of the models; the batches depend on `seed` only.

    Returns the training seconds (evaluations not counted) and the validation curve: the loss
    on the `curve` windows every `eval_every` steps, against the training seconds so far.
    """
    rng = np.random.default_rng(seed)  # the same seed for every model: the same windows
    decay, rest = decay_groups(model)
    optimizers = [AdamW([decay], lr=lr, beta2=0.99, weight_decay=weight_decay),
                  AdamW([rest], lr=lr, beta2=0.99, weight_decay=0.0)]
    history: dict[str, Any] = {"seconds": 0.0, "curve_s": [], "curve_loss": []}
    bar = tqdm(range(steps), desc=f"{name} training", unit="step", leave=False)
    for step in bar:
        start = time.perf_counter()
        for opt in optimizers:
            opt.lr = lr_at(step, lr, warmup, steps)
        x, y = get_batch(train_ids, batch, context, rng)
        # A diverging run overflows on its way to inf or nan, in the forward pass or the
        # backward one: no warnings then, the check of the loss says so in one line.
        with np.errstate(over="ignore", invalid="ignore"):
            loss = model.loss(x, y)
            try:  # no longer a number, or far past a uniform guess's ln V: a run that blew up
                check_loss(loss, f"for {name} at step {step}", lr,
                           ceiling=100 * (1 + math.log(model_vocab(model))))
            except FloatingPointError:
                bar.close()
                raise
            backward(model)
            clip_gradients(model.grads, clip)
            for opt in optimizers:
                opt.step()
        history["seconds"] += time.perf_counter() - start  # training time only
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            history["curve_s"].append(history["seconds"])
            history["curve_loss"].append(float(loss_by_position(model, *curve, batch).mean()))
            bar.set_postfix(loss=f"{loss:.3f}", val=f"{history['curve_loss'][-1]:.3f}")
    bar.close()
    return history


def plot_comparison(runs: dict[str, dict[str, Any]], context: int,
                    out_dir: Path | None) -> Figure:
    """Left: validation loss at each position of the window. Right: against training time."""
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    ax_pos, ax_time = fig.subplots(1, 2)
    positions = np.arange(1, context + 1)  # characters of context seen
    for name, run in runs.items():
        label = f"{name} ({run['params']:,} params): {run['val']:.3f}"
        line, = ax_pos.plot(positions, run["by_position"], lw=1.5, label=label)
        ax_time.plot(run["history"]["curve_s"], run["history"]["curve_loss"], "o-", ms=3,
                     color=line.get_color(), label=name)
    ax_pos.set_xscale("log", base=2)
    ticks = [2**k for k in range(int(math.log2(context)) + 1)]
    ax_pos.set_xticks(ticks, [str(t) for t in ticks])
    ax_pos.set_xlabel("characters of context seen (position in the window + 1)")
    ax_pos.set_ylabel("validation loss (nats per character)")
    ax_pos.set_title("The same validation windows, each read from scratch", fontsize=10)
    ax_pos.legend(fontsize=8, title="model: mean over the window", title_fontsize=8)
    ax_pos.grid(alpha=0.3)
    ax_time.set_xscale("log")
    ax_time.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax_time.set_xlabel("training time on this CPU (s, log scale)")
    ax_time.set_ylabel(f"validation loss ({CURVE_WINDOWS} windows at most)")
    ax_time.set_title("The same training characters: how long each model took", fontsize=10)
    ax_time.legend(fontsize=8)
    ax_time.grid(alpha=0.3)
    save_figure(fig, out_dir, "rnn_vs_transformer.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else DEFAULTS
    for key, value in settings.items():  # explicit flags win over --quick
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.warmup > args.steps:
        parser.error(f"--warmup {args.warmup} is longer than the run (--steps {args.steps}): "
                     f"the learning rate would never reach its peak; choose a shorter warmup")
    models = list(dict.fromkeys(args.models))  # a name given twice is trained once
    T, B = args.context, args.batch
    try:
        text, source, tokenizer = training_text(args.corpus, args.path, T)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    V = tokenizer.vocab_size
    try:  # before any array is made: a typo such as --context 100000 is refused
        check_fits_in_memory(max(memory_bytes(m, V, T, B) for m in models),
                             f"--batch {B} --context {T}")
    except ValueError as err:
        parser.error(str(err))
    limit_blas_threads(1)  # many small and medium products: one BLAS thread is fastest

    data = np.array(tokenizer.encode(text), dtype=np.int64)
    n_val = len(data) // 10  # train_transformer.py's split
    train_ids, val_ids = data[:-n_val], data[-n_val:]
    x_val, y_val = validation_windows(val_ids, T, args.val_windows)
    curve = (x_val[:CURVE_WINDOWS], y_val[:CURVE_WINDOWS])
    chars = args.steps * B * T
    print(f"1. Data: {source}; {V} distinct characters; {len(train_ids):,} train / "
          f"{len(val_ids):,} validation")
    print(f"   every model: {args.steps} steps of {B} windows of {T} characters = {chars:,} "
          f"training characters, the same windows in the same order (seed {args.seed})")
    print(f"   every model is scored on the same {len(x_val):,} validation windows of {T} "
          f"characters ({x_val.size:,} predictions), each read from scratch")
    print(f"   a model that knows nothing scores ln {V} = {math.log(V):.3f} at every position")

    print(f"\n2. Training, train_transformer.py's recipe for all: AdamW (decay "
          f"{args.weight_decay} on weight matrices), peak lr {args.lr}, warmup {args.warmup}, "
          f"cosine, clip {args.clip}")
    runs: dict[str, dict[str, Any]] = {}
    for name in models:
        model = build_model(name, V, T, args.seed)
        try:
            history = train(model, name, train_ids, args.steps, B, T, args.lr, args.warmup,
                            args.weight_decay, args.clip, args.seed, curve, args.eval_every)
        except FloatingPointError as err:
            parser.exit(1, f"error: {err}\n")
        by_position = loss_by_position(model, x_val, y_val, B)
        runs[name] = {"params": n_params(model), "history": history, "by_position": by_position,
                      "val": float(by_position.mean()),
                      "ms_per_1k": 1000 * history["seconds"] / chars * 1000}
        print(f"   {name:17s} {MODELS[name]}: {runs[name]['params']:,} parameters, trained in "
              f"{history['seconds']:.1f} s, validation {runs[name]['val']:.3f}")

    print(f"\n3. Side by side: the same {chars:,} training characters, the same validation "
          f"windows")
    print(f"   {'model':17s} {'parameters':>10s} {'train chars':>11s} {'val loss':>8s} "
          f"{'ms per 1k train tokens':>22s}")
    for name, run in runs.items():
        print(f"   {name:17s} {run['params']:10,d} {chars:11,d} {run['val']:8.3f} "
              f"{run['ms_per_1k']:22.1f}")
    best = min(runs, key=lambda m: runs[m]["val"])
    print(f"   lowest validation loss: {best}")

    shown = [p for p in SHOWN_POSITIONS if p < T]
    print("\n4. Loss by position: the character predicted after seeing 1, 2, 4, ... characters "
          "of its window")
    print(f"   {'model':17s} " + " ".join(f"{p + 1:>6d}" for p in shown))
    for name, run in runs.items():
        print(f"   {name:17s} " + " ".join(f"{run['by_position'][p]:6.3f}" for p in shown))
    first_last = ", ".join(f"{name} {run['by_position'][0] - run['by_position'][-1]:.3f}"
                           for name, run in runs.items())
    print(f"   fall from the first position to the last (nats): {first_last}")

    print(f"\n5. What one matrix product can hold, and how busy that keeps this CPU (windows of "
          f"{T}, batch {B})")
    print(f"   {'model':17s} {'rows per product':>16s} {'steps in a row':>14s} "
          f"{'MFLOP per token':>15s} {'GFLOP/s':>8s}")
    for name, run in runs.items():
        recurrent = name in ("rnn", "gru")
        flops = flops_per_token(name, V, T)
        rate = flops / (run["ms_per_1k"] / 1e6)  # FLOPs per second: ms per 1k = us per token
        print(f"   {name:17s} {B if recurrent else B * T:16,d} "
              f"{T if recurrent else SHAPES[name][0]:14d} {flops / 1e6:15.3f} {rate / 1e9:8.1f}")
    print(f"   rows per product: positions computed together. The recurrent models take one "
          f"character of each window per step,\n   {T} steps in a row (step t needs the state of "
          f"step t - 1); the transformers take every position at once, block after block")

    print("\nFigures")
    plot_comparison(runs, T, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Phase 04's RNN and GRU against the "
                           "transformer: the same characters, the same "
                           "evaluation.")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS),
                        help="models to compare (default: all four)")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="training steps of every model (default: 600; 30 with --quick)")
    parser.add_argument("--batch", type=positive_int, default=None,
                        help="windows per step (default: 32; 8 with --quick)")
    parser.add_argument("--context", type=positive_int, default=None,
                        help="characters per window, in training and validation (default: 64; 16 "
                             "with --quick)")
    add_adamw_flags(parser, lr=3e-3)
    parser.add_argument("--warmup", type=nonnegative_int, default=None,
                        help="warmup steps (default: 50; 5 with --quick)")
    parser.add_argument("--eval-every", type=positive_int, default=None,
                        help="steps between points of the time curve (default: 100; 15 with "
                             "--quick)")
    parser.add_argument("--val-windows", type=positive_int, default=None,
                        help="score only the first N validation windows (default: all of them; 64 "
                             "with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a run of seconds: small defaults for the flags above")
    add_corpus_flags(parser)
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
