"""The bigram language model, twice: once by counting, once by gradient descent. They meet.

A language model answers one question: given the text so far, how likely is each possible next
token? The bigram model looks back exactly one character. After "q" it has learned that "u"
almost always follows; after a space, that "t" is common and "x" is rare.

Counting is enough to build it. Walk through the text, tally every pair (previous, next) in a
V x V table, and divide each row by its total: row "q" becomes the probabilities of what follows
a "q". Add-k smoothing adds k to every cell first, so that a pair never seen in training gets a
small probability instead of 0 (Laplace's "add one", k = 1; with k = 0 a single unseen pair in
the validation text makes its loss infinite). Claude Shannon generated text from the statistics
of letter pairs in "A Mathematical Theory of Communication" (1948), and such "n-gram" models
(n - 1 previous tokens predict the next) were the workhorse of language modelling for decades.

Then the neural version: a single table W of shape (V, V) of scores ("logits"). Row W[prev]
is looked up (an Embedding layer of embeddings.py, whose "embedding" is V numbers wide),
softmax turns it into probabilities of the next character, and cross-entropy measures the
surprise at the true one. Gradient descent (Adam from phase 02) turns the V*V knobs.

The point of doing both: with no hidden layer, the neural bigram IS the counting model. The loss
is lowest when softmax(W[prev]) equals the observed frequencies of row prev, which is exactly
what counting computes in one pass. Descent walks to the same table, so the two losses meet.
And smoothing has a neural twin: weight decay pulls every W toward 0, i.e. every row toward
the uniform distribution, as adding k to every count does.

Evaluation uses the average negative log-likelihood (NLL, in nats) per predicted character on a
training and a validation split. Uniform guessing among 65 characters costs ln 65 = 4.17.

Run:  python phase-03-embeddings/code/bigram.py --smoothing 0 --steps 3000
"""

import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.corpus import add_corpus_flags, load_text
from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import (
    check_fits_in_memory,
    fraction,
    nonnegative_float,
    positive_float,
    positive_int,
    script_parser,
)
from phase00.gradient_descent import check_loss
from phase00.probability import log_softmax, sample, softmax
from phase00.threads import limit_blas_threads
from phase02.layers import SoftmaxCrossEntropy
from phase02.optimizers import OPTIMIZERS, make_optimizer
from phase03.char_tokenizer import CharTokenizer, sample_start, training_tokenizer
from phase03.embeddings import Embedding, char_label


def bigram_counts(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """N[a, b] = how many times id b directly follows id a in `ids`. Shape (V, V)."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"need a 1-D sequence of at least 2 ids, got shape {ids.shape}")
    pair_index = ids[:-1] * vocab_size + ids[1:]  # the pair (a, b) numbered a*V + b
    N = np.bincount(pair_index, minlength=vocab_size * vocab_size).reshape(vocab_size, vocab_size)
    assert N.shape == (vocab_size, vocab_size) and N.sum() == len(ids) - 1
    return N


def bigram_probs(N: np.ndarray, k: float = 1.0) -> np.ndarray:
    """P[a, b] = (N[a, b] + k) / sum_b' (N[a, b'] + k): each row a distribution over the next id.

    A row that never occurs (a character seen only at the very end) with k = 0 has no counts at
    all; it is given the uniform distribution, the only honest guess.
    """
    if k < 0:
        raise ValueError(f"the smoothing k must be >= 0, got {k}")
    counts = N + k
    totals = counts.sum(axis=1, keepdims=True)
    P = np.divide(counts, totals, out=np.full(N.shape, 1.0 / N.shape[1]), where=totals > 0)
    assert np.allclose(P.sum(axis=1), 1.0)
    return P


def mean_nll(log_P: np.ndarray, ids: np.ndarray) -> float:
    """-(1/n) sum_t log P(ids[t+1] | ids[t]): the average surprise per predicted character.

    log_P is a (V, V) table of log-probabilities (log of the counting model's P, or
    log_softmax of the neural model's logits). A pair of probability 0 gives inf.
    """
    return float(-log_P[ids[:-1], ids[1:]].mean())


def log_of(P: np.ndarray) -> np.ndarray:
    """log P, with log 0 = -inf and no warning: an impossible pair is infinitely surprising."""
    with np.errstate(divide="ignore"):
        return np.log(P)


def sample_text(P: np.ndarray, tok: CharTokenizer, n_chars: int, rng: np.random.Generator,
                start: str = "\n") -> str:
    """Generate n_chars characters, each drawn from row P[previous character]."""
    current = tok.encode(start)[-1]
    out = []
    for _ in range(n_chars):  # one draw per character: each depends on the one before
        current = int(sample(P[current], 1, rng)[0])
        out.append(current)
    return tok.decode(out)


def train_neural_bigram(train_ids: np.ndarray, vocab_size: int, steps: int, batch: int,
                        lr: float, rng: np.random.Generator, optimizer: str = "adam",
                        weight_decay: float = 0.0,
                        n_evals: int = 40) -> tuple[Embedding, dict[str, list[float]]]:
    """Fit W (V, V) by mini-batch gradient descent on the mean cross-entropy of the next id.

    W starts at 0 (every row uniform: loss ln V). Each step draws `batch` random positions t,
    predicts ids[t+1] from softmax(W[ids[t]]), and steps the optimizer. The learning rate falls
    linearly from lr to 0 over the run: random batches make every gradient a little noisy, and
    ever smaller steps let W settle at the minimum instead of jittering around it.
    weight_decay adds (weight_decay / 2) * sum(W^2) to the loss, i.e. weight_decay * W to the
    gradient: a pull of every logit toward 0, every row toward uniform.
    Returns the layer and the history: the batch losses, and the NLL over the whole training
    split before training and at about `n_evals` steps (on a log scale) plus n_evals / 2
    evenly spaced ones.
    """
    W_layer = Embedding(vocab_size, vocab_size, rng, std=0.0)  # W = 0: uniform predictions
    loss_fn = SoftmaxCrossEntropy()
    opt = make_optimizer(optimizer, [W_layer], lr)
    W = W_layer.params["W"]
    history: dict[str, list[float]] = {"step": [], "batch_loss": [], "eval_step": [0],
                                       "train_nll": [mean_nll(log_softmax(W), train_ids)]}
    eval_after = set(np.geomspace(1, steps, n_evals).round().astype(int).tolist())
    eval_after |= set(np.linspace(0, steps, n_evals // 2 + 1).round().astype(int)[1:].tolist())
    for step in range(steps):
        opt.lr = lr * (1 - step / steps)  # linear decay to 0
        t = rng.integers(0, len(train_ids) - 1, size=batch)  # random positions
        x, y = train_ids[t], train_ids[t + 1]
        logits = W_layer.forward(x)  # (B, V): row W[x_b] for every example
        assert logits.shape == (batch, vocab_size)
        loss = loss_fn.forward(logits, y)
        check_loss(loss, f"at step {step + 1}", lr, ceiling=100 * (1 + np.log(vocab_size)))
        W_layer.backward(loss_fn.backward())  # fills grads["W"] (V, V)
        if weight_decay:
            W_layer.grads["W"] += weight_decay * W
        opt.step()
        history["step"].append(step + 1)  # steps taken so far
        history["batch_loss"].append(loss)
        if step + 1 in eval_after:
            history["eval_step"].append(step + 1)
            history["train_nll"].append(mean_nll(log_softmax(W), train_ids))
    return W_layer, history


def memory_needed(vocab_size: int, batch: int) -> int:
    """Bytes the run needs at its peak, about: a dozen (V, V) tables of 8-byte numbers (counts,
    probabilities and their logs, W with its gradient and Adam's two moments, the softmax of W)
    and a few (batch, V) arrays per step. V^2 grows fast: 70,000 distinct characters (a text in
    Chinese) make one table of 39 GB."""
    return 8 * (12 * vocab_size**2 + 4 * batch * vocab_size + 4 * batch)


def top_characters(N: np.ndarray, n: int) -> np.ndarray:
    """Ids of the n characters that most often come first in a pair, most common first."""
    return np.argsort(-N.sum(axis=1), kind="stable")[:n]


def plot_counts(N: np.ndarray, P: np.ndarray, tok: CharTokenizer, top: int,
                out_dir: Path | None = None) -> Figure:
    """The count table among the `top` most common characters, coloured by probability."""
    keep = top_characters(N, top)
    sub_N, sub_P = N[np.ix_(keep, keep)], P[np.ix_(keep, keep)]
    labels = [char_label(tok.chars[i]) for i in keep]
    fig = Figure(figsize=(11, 9.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(sub_P, cmap="Blues")
    for (i, j), n in np.ndenumerate(sub_N):
        ax.text(j, i, f"{n / 1000:.1f}k" if n >= 1000 else str(n), ha="center", va="center",
                fontsize=6.5, color="white" if sub_P[i, j] > 0.6 * sub_P.max() else "black")
    ax.set_xticks(range(len(keep)), labels)
    ax.set_yticks(range(len(keep)), labels)
    ax.set_xlabel("next character")
    ax.set_ylabel("previous character")
    fig.colorbar(image, ax=ax, shrink=0.8, label="P(next | previous), one row = one distribution")
    ax.set_title(f"Bigram counts among the {len(keep)} most common characters "
                 f"(number = count, colour = row probability)", fontsize=11)
    save_figure(fig, out_dir, "bigram_counts.png")
    return fig


def plot_training(history: dict[str, list[float]], counting_train: float, counting_k: float,
                  floor: float, out_dir: Path | None = None) -> Figure:
    """Left: the neural bigram's loss falling onto the counting model's. Right: the last steps,
    magnified, with the band of 0.01 nats around the counting loss."""
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    ax, zoom = fig.subplots(1, 2)
    steps, evals = np.array(history["step"]), np.array(history["eval_step"])
    final = history["train_nll"][-1]
    ax.plot(steps, history["batch_loss"], color="tab:blue", alpha=0.25, lw=0.8,
            label="neural: loss on each random batch")
    for axis in (ax, zoom):
        axis.plot(evals, history["train_nll"], color="tab:blue", lw=2, marker="o", ms=3,
                  label=f"neural: NLL on the whole training split, final {final:.4f}")
        axis.axhline(counting_train, color="tab:red", ls="--", lw=1.5,
                     label=f"counting model (k = {counting_k:g}): {counting_train:.4f}")
        axis.set_xlabel("training step")
        axis.set_ylabel("mean negative log-likelihood (nats per character)")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(0, steps[-1])
    ax.set_title("From a uniform guess (step 0) to the counting model's loss", fontsize=10)
    ax.legend(fontsize=8)
    zoom.axhline(floor, color="0.3", ls=":", lw=1.5,
                 label=f"raw frequencies (k = 0), the lowest possible: {floor:.4f}")
    zoom.axhspan(counting_train - 0.01, counting_train + 0.01, color="tab:red", alpha=0.1,
                 label="within 0.01 nats")
    zoom.set_xlim(steps[-1] / 10, steps[-1])
    zoom.set_ylim(counting_train - 0.02, counting_train + 0.06)
    zoom.set_title("After the first 10% of the steps, magnified (linear step axis)",
                   fontsize=10)
    zoom.legend(fontsize=8, loc="upper right")
    fig.suptitle("A V x V table of logits trained by gradient descent reaches the loss of "
                 "counting", fontsize=11)
    save_figure(fig, out_dir, "bigram_training.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        text, source = load_text(args.corpus, args.path)
        tok = training_tokenizer(text, source)
        check_fits_in_memory(memory_needed(tok.vocab_size, args.batch),
                             f"a bigram model of the text's V = {tok.vocab_size:,} distinct "
                             f"characters (tables of V x V) with --batch {args.batch}")
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    limit_blas_threads(1)  # small matrix products: one thread is faster and steadier
    rng = np.random.default_rng(args.seed)

    ids = np.array(tok.encode(text))
    V = tok.vocab_size
    n_train = int(len(ids) * (1 - args.val_fraction))
    train_ids, val_ids = ids[:n_train], ids[n_train:]
    if len(train_ids) < 2 or len(val_ids) < 2:
        parser.error(f"the text ({len(ids)} characters) is too short to split with "
                     f"--val-fraction {args.val_fraction}")
    print(f"1. Data: {source}")
    print(f"   {len(ids):,} characters, V = {V}; train {len(train_ids):,}, validation "
          f"{len(val_ids):,} (the last {args.val_fraction:.0%})")

    print("\n2. The counting model")
    N = bigram_counts(train_ids, V)
    P = bigram_probs(N, args.smoothing)
    print(f"   N = counts of (previous, next): shape {N.shape}, {N.sum():,} pairs, "
          f"{int((N == 0).sum()):,} of {V * V:,} cells never seen ({(N == 0).mean():.0%})")
    a = tok.stoi.get("q", int(top_characters(N, 1)[0]))
    row = np.argsort(-P[a])[:3]
    print(f"   row {tok.chars[a]!r}: {N[a].sum():,} pairs; most likely next "
          + ", ".join(f"{tok.chars[b]!r} {P[a, b]:.3f} ({N[a, b]:,})" for b in row))
    print(f"   every row sums to 1: {np.allclose(P.sum(axis=1), 1.0)}")
    count_train = mean_nll(log_of(P), train_ids)
    count_val = mean_nll(log_of(P), val_ids)
    print(f"   add-{args.smoothing:g} smoothing: NLL train {count_train:.4f}, validation "
          f"{count_val:.4f} nats (uniform guess ln {V} = {np.log(V):.4f})")
    print(f"   perplexity e^NLL on validation: {np.exp(count_val):.2f}, as unsure as a fair pick "
          f"among that many characters (the uniform guess: {V})")
    P_raw = bigram_probs(N, 0.0)  # the raw frequencies: the lowest training loss a table can get
    floor = mean_nll(log_of(P_raw), train_ids)
    print(f"   raw frequencies (k = 0) give NLL train {floor:.4f}: no (V, V) table does better "
          f"on the training split")
    if np.isinf(count_val):
        unseen = int((P[val_ids[:-1], val_ids[1:]] == 0).sum())
        print(f"   validation is infinite: {unseen} validation pairs never occur in training, "
              f"and without smoothing they get probability 0")
    print(f"   sample ({args.sample_chars} characters):")
    start_char = sample_start(text)  # a newline, or the first character of a text without one
    print("   | " + sample_text(P, tok, args.sample_chars, rng, start_char)
          .replace("\n", "\n   | "))

    print(f"\n3. The neural bigram: W ({V}, {V}) of logits, {args.optimizer}, lr {args.lr:g} "
          f"decayed to 0, {args.steps} steps of {args.batch} pairs")
    start = time.perf_counter()
    try:
        W_layer, history = train_neural_bigram(train_ids, V, args.steps, args.batch, args.lr,
                                               rng, args.optimizer, args.weight_decay)
    except FloatingPointError as err:
        parser.exit(1, f"error: {err}\n")
    seconds = time.perf_counter() - start
    W = W_layer.params["W"]
    n_evals = len(history["eval_step"])
    for i in sorted({0, n_evals // 4, n_evals // 2, 3 * n_evals // 4, n_evals - 1}):
        print(f"   after {history['eval_step'][i]:5d} steps: NLL on the training split "
              f"{history['train_nll'][i]:.4f}")
    neural_train = mean_nll(log_softmax(W, axis=-1), train_ids)
    neural_val = mean_nll(log_softmax(W, axis=-1), val_ids)
    print(f"   trained in {seconds:.1f} s")

    print("\n4. Side by side (nats per character)")
    print(f"   {'':22s}{'train':>9s}{'validation':>12s}")
    print(f"   {f'counting, add-{args.smoothing:g}':22s}{count_train:9.4f}{count_val:12.4f}")
    print(f"   {'neural, by descent':22s}{neural_train:9.4f}{neural_val:12.4f}")
    gap = neural_train - count_train
    print(f"   gap on the training split: {gap:+.4f} nats "
          f"({'within' if abs(gap) <= 0.01 else 'NOT within'} 0.01)")
    P_neural = softmax(W, axis=-1)
    b = int(row[0])
    print(f"   P({tok.chars[b]!r} | {tok.chars[a]!r}): raw frequency {P_raw[a, b]:.3f}, "
          f"add-{args.smoothing:g} {P[a, b]:.3f}, neural {P_neural[a, b]:.3f}")
    print(f"   gap to the raw frequencies (k = 0), the lowest possible: "
          f"{neural_train - floor:+.4f} nats")
    common = N.sum(axis=1) >= 1000
    if common.any():
        print(f"   against the raw frequencies, in the {int(common.sum())} rows seen at least "
              f"1000 times: largest difference {np.abs(P_neural - P_raw)[common].max():.4f}")
    print(f"   sample from the neural model ({args.sample_chars} characters):")
    print("   | " + sample_text(P_neural, tok, args.sample_chars, rng, start_char)
          .replace("\n", "\n   | "))

    print("\nFigures")
    plot_counts(N, P, tok, args.top, args.out)
    plot_training(history, count_train, args.smoothing, floor, args.out)


def add_step_flags(parser: argparse.ArgumentParser, steps: int, batch: int, lr: float,
                   batch_of: str = "examples", lr_note: str = "") -> None:
    """Give a script the three knobs of training by random mini-batches, with these defaults:
    `--steps`, `--batch` (how many `batch_of` each step draws) and `--lr`, the starting learning
    rate, which decays linearly to 0 over the steps. lr_note ends the help of --lr."""
    parser.add_argument("--steps", type=positive_int, default=steps, help="training steps")
    parser.add_argument("--batch", type=positive_int, default=batch, help=f'{batch_of} per step')
    parser.add_argument("--lr", type=positive_float, default=lr,
                        help=f"starting learning rate, decayed linearly to 0 (default: {lr:g}"
                             f"{lr_note})")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("A character bigram LM by counting and by gradient descent.")
    add_corpus_flags(parser)
    parser.add_argument("--smoothing", type=nonnegative_float, default=1.0,
                        help="add-k smoothing of the counting model (default: 1; try 0)")
    parser.add_argument("--val-fraction", type=fraction, default=0.1,
                        help="the last fraction of the text held out for validation")
    add_step_flags(parser, steps=2000, batch=1024, lr=0.1, batch_of="character pairs",
                   lr_note=", for Adam; plain SGD needs about 50")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                        help="optimizer from phase 02")
    parser.add_argument("--weight-decay", type=nonnegative_float, default=0.0,
                        help="L2 pull of every logit toward 0, the neural twin of smoothing")
    parser.add_argument("--sample-chars", type=positive_int, default=200,
                        help="characters to generate from each model")
    parser.add_argument("--top", type=positive_int, default=20,
                        help="characters shown in the count heatmap")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
