"""The neural probabilistic language model of Bengio et al. (2003), on characters, by hand.

The bigram model (bigram.py) sees one character. To see more we could count longer n-grams,
but the table explodes: with 65 characters there are 65^8, about 3 * 10^14, possible contexts
of 8 characters, and almost all of them never occur in a million characters of text. Counting
cannot say anything about a context it has never seen.

Yoshua Bengio, Rejean Ducharme, Pascal Vincent and Christian Jauvin (2003, "A Neural
Probabilistic Language Model") proposed to fight this "curse of dimensionality" with
embeddings. Every token gets a learned vector (a row of a shared table C); the vectors of the
previous n tokens are laid side by side, a tanh hidden layer mixes them, and a softmax gives
the probability of every possible next token. Because similar tokens get similar vectors, what
the model learns about one context carries over to similar contexts it has never seen. The
paper used words; we use characters, so the whole model trains in well under a minute on a CPU.

    ids (B, n) -> C[ids] (B, n, d) -> concatenate (B, n*d) -> tanh(x W1 + b1) (B, H)
               -> logits = h W2 + b2 (B, V) -> softmax cross-entropy with the next id

The layers after the lookup are phase 02's Dense, Activation and SoftmaxCrossEntropy, and
phase 02's backward passes carry the blame down to the concatenated vectors; the only new step
is the last one, the Embedding layer (embeddings.py) scattering that blame back into the rows
of C that were looked up. The gradients are checked against finite differences in the tests.

Its weakness is built in: the window is fixed. The model sees exactly n characters and nothing
before them, however much it would help. That is the question of phase 04: a network with
memory.

Run:  python phase-03-embeddings/code/mlp_lm.py --context 8 --dim 16 --hidden 256 --steps 10000
"""

import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from numpy.lib.stride_tricks import sliding_window_view
from tqdm import tqdm

from phase00.corpus import add_corpus_flags, load_text
from phase00.figures import add_out_flag, save_figure
from phase00.flags import (
    add_seed_flag,
    check_fits_in_memory,
    fraction,
    positive_int,
    script_parser,
    temperature,
)
from phase00.gradient_descent import check_loss
from phase00.probability import sample, softmax
from phase00.threads import limit_blas_threads
from phase02.layers import Dense, SoftmaxCrossEntropy, build_mlp
from phase02.optimizers import OPTIMIZERS, make_optimizer
from phase03.bigram import add_step_flags, bigram_counts, bigram_probs, log_of, mean_nll
from phase03.char_tokenizer import CharTokenizer, sample_start, training_tokenizer
from phase03.embeddings import Embedding, char_label
from phase03.word2vec import pca_2d


def make_examples(ids: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window of `context` ids and the id that follows it: X (N, context), Y (N,).

    sliding_window_view makes X without copying: row t is ids[t : t + context], a view into
    the same memory, so a million windows cost no extra memory.
    """
    if len(ids) <= context:
        raise ValueError(f"need more than {context} ids to make one example of context "
                         f"{context}, got {len(ids)}")
    X = sliding_window_view(ids[:-1], context)
    Y = ids[context:]
    assert X.shape == (len(ids) - context, context) and Y.shape == (len(ids) - context,)
    return X, Y


class MLPLanguageModel:
    """Embedding C (V, d) -> concatenation -> Dense (n*d, H) -> tanh -> Dense (H, V) = logits.

    A model made of layers, as in phase 02: `layers` is what the optimizer updates; `params`
    and `grads` hand out the layers' own arrays under the names "C", "mlp.0.W", "mlp.0.b",
    "mlp.2.W", "mlp.2.b" (the phase 02 MLP numbers its layers 0, 1 = tanh, 2).
    """

    def __init__(self, vocab_size: int, context: int, dim: int, hidden: int,
                 rng: np.random.Generator) -> None:
        if min(vocab_size, context, dim, hidden) < 1:
            raise ValueError(f"need vocab_size, context, dim and hidden >= 1, got {vocab_size}, "
                             f"{context}, {dim}, {hidden}")
        self.vocab_size, self.context, self.dim = vocab_size, context, dim
        self.embedding = Embedding(vocab_size, dim, rng)  # C: one row of d numbers per token
        self.mlp = build_mlp([context * dim, hidden, vocab_size], "tanh", rng)
        # Start the output layer small, so the first predictions are close to uniform and the
        # first loss is close to ln V instead of confidently wrong.
        self.mlp.layers[-1].params["W"] *= 0.1

    @property
    def layers(self) -> list[Embedding | Dense]:
        return [self.embedding, *self.mlp.layers]

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {"C": self.embedding.params["W"],
                **{f"mlp.{k}": v for k, v in self.mlp.params.items()}}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {"C": self.embedding.grads["W"],
                **{f"mlp.{k}": v for k, v in self.mlp.grads.items()}}

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def forward(self, X: np.ndarray, verbose: bool = False) -> np.ndarray:
        """Logits (B, V) of the next token, for a batch of contexts X (B, n) of ids."""
        B = X.shape[0]
        if X.ndim != 2 or X.shape[1] != self.context:
            raise ValueError(f"expected contexts of shape (B, {self.context}), got {X.shape}")
        E = self.embedding.forward(X)  # (B, n, d): the vector of every context token
        x = E.reshape(B, self.context * self.dim)  # (B, n*d): laid side by side
        logits = self.mlp.forward(x)  # (B, V)
        assert logits.shape == (B, self.vocab_size)
        if verbose:  # the shapes only: running a layer again would overwrite its backward cache
            hidden = (B, self.mlp.layers[0].n_out)
            for name, shape in (("X, ids", X.shape), ("C[X]", E.shape), ("concatenated", x.shape),
                                ("h = tanh(x W1 + b1)", hidden), ("logits = h W2 + b2",
                                                                  logits.shape)):
                print(f"   {name:22s}{shape}")
        return logits

    def backward(self, dlogits: np.ndarray) -> None:
        """Backprop dL/dlogits (B, V) to every parameter, the embedding table last."""
        dx = self.mlp.backward(dlogits)  # phase 02's layers: (B, V) -> (B, n*d)
        B = dx.shape[0]
        self.embedding.backward(dx.reshape(B, self.context, self.dim))  # undo the concatenation


def memory_needed(vocab_size: int, context: int, dim: int, hidden: int, batch: int,
                  chunk: int = 8192) -> int:
    """Bytes a run needs at its peak, about, in 8-byte numbers: the parameters four times
    (values, gradients, Adam's two moments), the activations of the largest batch, i.e. the
    evaluation chunk (looked-up vectors n*d, hidden layer H, logits V, a few copies each), and
    the counting bigram's (V, V) tables that the model is compared with."""
    params = vocab_size * dim + context * dim * hidden + hidden + hidden * vocab_size + vocab_size
    rows = max(batch, chunk)
    activations = rows * (2 * context * dim + 3 * hidden + 3 * vocab_size)
    return 8 * (4 * params + activations + 4 * vocab_size**2)


def count_of_contexts(V: int, n: int) -> str:
    """V^n, written out while it is short, as a power of ten past 30 digits (Python refuses
    to print an integer of more than 4,300 digits, and nobody reads one)."""
    digits = n * np.log10(V) if V > 1 else 0.0
    return f"{V**n:,}" if digits < 30 else f"about 10^{digits:,.0f}"


def evaluate(model: MLPLanguageModel, X: np.ndarray, Y: np.ndarray,
             chunk: int = 8192) -> float:
    """Mean cross-entropy over all of (X, Y), in chunks so the logits never fill the memory."""
    loss_fn = SoftmaxCrossEntropy()
    total = 0.0
    for start in range(0, len(X), chunk):
        x, y = X[start: start + chunk], Y[start: start + chunk]
        total += loss_fn.forward(model.forward(x), y) * len(x)
    return total / len(X)


def train(model: MLPLanguageModel, X_train: np.ndarray, Y_train: np.ndarray, X_val: np.ndarray,
          Y_val: np.ndarray, steps: int, batch: int, lr: float, optimizer: str,
          rng: np.random.Generator, n_evals: int = 40, eval_size: int = 8192,
          progress: bool = True) -> dict[str, list[float]]:
    """Mini-batch training with the learning rate falling linearly from lr to 0.

    At about n_evals evenly spaced steps (and a few early ones, where the loss falls fastest)
    the loss is measured on eval_size random examples of each split: an estimate, to keep
    training fast; the final numbers in main() use every example.
    """
    loss_fn = SoftmaxCrossEntropy()
    opt = make_optimizer(optimizer, model.layers, lr)
    history: dict[str, list[float]] = {"step": [], "batch_loss": [], "eval_step": [],
                                       "train": [], "val": []}
    pick_train = rng.integers(0, len(X_train), size=min(eval_size, len(X_train)))
    pick_val = rng.integers(0, len(X_val), size=min(eval_size, len(X_val)))
    eval_at = set(np.linspace(0, steps, n_evals + 1).astype(int).tolist())
    eval_at |= {s for s in (10, 25, 50, 100) if s < steps}

    def measure(step: int) -> None:
        history["eval_step"].append(step)
        history["train"].append(evaluate(model, X_train[pick_train], Y_train[pick_train]))
        history["val"].append(evaluate(model, X_val[pick_val], Y_val[pick_val]))

    bar = tqdm(range(steps), desc="mlp_lm", unit="step", disable=not progress, leave=False)
    for step in bar:
        if step in eval_at:
            measure(step)
            bar.set_postfix(train=f"{history['train'][-1]:.3f}", val=f"{history['val'][-1]:.3f}")
        opt.lr = lr * (1 - step / steps)
        rows = rng.integers(0, len(X_train), size=batch)
        loss = loss_fn.forward(model.forward(X_train[rows]), Y_train[rows])
        check_loss(loss, f"at step {step + 1}", lr, ceiling=100 * (1 + np.log(model.vocab_size)))
        model.backward(loss_fn.backward())
        opt.step()
        history["step"].append(step + 1)
        history["batch_loss"].append(loss)
    measure(steps)  # after the last step
    return history


def generate(model: MLPLanguageModel, tok: CharTokenizer, n_chars: int,
             rng: np.random.Generator, temperature: float = 1.0, start: str = "\n") -> str:
    """Sample n_chars characters, each from softmax(logits / temperature) of the last n."""
    window = ([tok.encode(start)[-1]] * model.context + tok.encode(start))[-model.context:]
    out = []
    for _ in range(n_chars):
        logits = model.forward(np.array([window]))[0]
        next_id = int(sample(softmax(logits / temperature), 1, rng)[0])
        out.append(next_id)
        window = window[1:] + [next_id]  # slide the window one character on
    return tok.decode(out)


def plot_losses(history: dict[str, list[float]], bigram_val: float, title: str,
                out_dir: Path | None = None) -> Figure:
    """Training and validation loss against steps, with the bigram's validation loss."""
    fig = Figure(figsize=(8.5, 4.8), layout="constrained")
    ax = fig.subplots()
    ax.plot(history["step"], history["batch_loss"], color="tab:blue", alpha=0.2, lw=0.6,
            label="loss on each training batch")
    ax.plot(history["eval_step"], history["train"], color="tab:blue", lw=2,
            label=f"train (8k random examples), last {history['train'][-1]:.3f}")
    ax.plot(history["eval_step"], history["val"], color="tab:orange", lw=2,
            label=f"validation (8k random examples), last {history['val'][-1]:.3f}")
    ax.axhline(bigram_val, color="tab:red", ls="--", lw=1.5,
               label=f"counting bigram, validation: {bigram_val:.3f}")
    ax.set_ylim(min(history["train"]) - 0.3, history["val"][0] + 0.2)
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, out_dir, "mlp_lm_training.png")
    return fig


def mean_distance(C: np.ndarray, rows: list[int]) -> float:
    """The average Euclidean distance between two different rows among `rows` of C."""
    diff = C[rows][:, None, :] - C[rows][None, :, :]  # (r, r, d): every pair of rows
    return float(np.linalg.norm(diff, axis=-1).sum() / (len(rows) * (len(rows) - 1)))


def plot_character_map(C: np.ndarray, tok: CharTokenizer, out_dir: Path | None = None) -> Figure:
    """The learned table C, one point per character, flattened to 2-D by PCA (word2vec.py's)."""
    coords, explained = pca_2d(C)
    groups = {"lowercase": str.islower, "uppercase": str.isupper,
              "space and newline": str.isspace, "punctuation and digits": lambda ch: True}
    fig = Figure(figsize=(8.5, 7), layout="constrained")
    ax = fig.subplots()
    placed: set[int] = set()
    for k, (name, test) in enumerate(groups.items()):
        members = [i for i, ch in enumerate(tok.chars) if i not in placed and test(ch)]
        placed |= set(members)
        ax.scatter(coords[members, 0], coords[members, 1], s=12, color=f"C{k}", label=name)
        for i in members:
            ax.annotate(char_label(tok.chars[i]), coords[i], fontsize=10, color=f"C{k}",
                        xytext=(3, 2), textcoords="offset points")
    ax.set_xlabel(f"first principal direction ({explained[0]:.0%} of the spread)")
    ax.set_ylabel(f"second principal direction ({explained[1]:.0%} of the spread)")
    ax.set_title(f"The {C.shape[0]} learned character vectors (d = {C.shape[1]}), flattened to "
                 f"2-D by PCA", fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, out_dir, "mlp_lm_map.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    n = args.context
    try:
        text, source = load_text(args.corpus, args.path)
        tok = training_tokenizer(text, source)
        split = int(len(text) * (1 - args.val_fraction))
        for part, size in (("training split", split), ("validation split", len(text) - split)):
            if size <= n:  # one example is n characters and the one after them
                raise ValueError(f"the {part} has {size:,} characters (the text has "
                                 f"{len(text):,}, --val-fraction {args.val_fraction:g}), and one "
                                 f"example of --context {n} needs {n + 1}: use a smaller "
                                 f"--context or a longer text")
        check_fits_in_memory(memory_needed(tok.vocab_size, n, args.dim, args.hidden, args.batch),
                             f"--context {n} --dim {args.dim} --hidden {args.hidden} --batch "
                             f"{args.batch} over V = {tok.vocab_size:,} characters (and "
                             f"the V x V counting bigram it is compared with)")
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    limit_blas_threads(1)  # small matrix products: one thread is faster and steadier
    rng = np.random.default_rng(args.seed)

    ids = np.array(tok.encode(text))
    V = tok.vocab_size
    X_train, Y_train = make_examples(ids[:split], n)
    X_val, Y_val = make_examples(ids[split:], n)
    print(f"1. Data: {source}, V = {V}")
    print(f"   examples: train X {X_train.shape}, Y {Y_train.shape}; validation X "
          f"{X_val.shape}, Y {Y_val.shape}")
    shown = min(100, len(X_train) - 1)  # example 100, or the last one of a short text
    print(f"   example: {tok.decode(X_train[shown])!r} -> {tok.decode([Y_train[shown]])!r}")
    print(f"   a count table of every {n}-character context would need {V}^{n} = "
          f"{count_of_contexts(V, n)} rows, for {len(X_train):,} training windows")

    model = MLPLanguageModel(V, n, args.dim, args.hidden, rng)
    print(f"\n2. The model: {model.n_params:,} parameters")
    for name, p in model.params.items():
        print(f"   {name:10s}{str(p.shape):12s}{p.size:8,d}")
    print(f"   a batch of {args.batch} on its way through:")
    logits = model.forward(X_train[: args.batch], verbose=True)
    first = SoftmaxCrossEntropy().forward(logits, Y_train[: args.batch])
    print(f"   loss before training {first:.4f} (a uniform guess: ln {V} = {np.log(V):.4f})")

    bigram_P = bigram_probs(bigram_counts(ids[:split], V), 1.0)
    bigram_val = mean_nll(log_of(bigram_P), ids[split:])
    print(f"\n3. Training: {args.steps} steps of {args.batch}, {args.optimizer}, lr {args.lr:g} "
          f"-> 0 (the counting bigram's validation loss is {bigram_val:.4f})")
    start = time.perf_counter()
    try:
        history = train(model, X_train, Y_train, X_val, Y_val, args.steps, args.batch, args.lr,
                        args.optimizer, rng, progress=not args.no_progress)
    except FloatingPointError as err:
        parser.exit(1, f"error: {err}\n")
    seconds = time.perf_counter() - start
    evals = np.array(history["eval_step"])
    for i in sorted({int(np.abs(evals - s).argmin()) for s in
                     (0, 100, args.steps // 4, args.steps // 2, args.steps)}):
        print(f"   step {history['eval_step'][i]:6d}: train {history['train'][i]:.4f}, "
              f"validation {history['val'][i]:.4f}  (on 8192 random examples each)")
    print(f"   trained in {seconds:.0f} s")

    train_loss = evaluate(model, X_train, Y_train)
    val_loss = evaluate(model, X_val, Y_val)
    print(f"\n4. Final loss on every example: train {train_loss:.4f}, validation {val_loss:.4f} "
          f"nats per character")
    print(f"   the counting bigram: validation {bigram_val:.4f}; the MLP with {n} characters of "
          f"context is {bigram_val - val_loss:.4f} nats better")
    print(f"   on average the true next character gets probability exp(-loss): "
          f"{np.exp(-val_loss):.1%} from the MLP, {np.exp(-bigram_val):.1%} from the bigram")
    print(f"   sample ({args.sample_chars} characters, temperature {args.temperature:g}):")
    story = generate(model, tok, args.sample_chars, rng, args.temperature, sample_start(text))
    print("   | " + story.replace("\n", "\n   | "))

    C = model.params["C"]
    vowels = [tok.stoi[ch] for ch in "aeiou" if ch in tok.stoi]
    if len(vowels) > 1:
        print(f"\n5. The learned map C {C.shape}: the vowels "
              f"{''.join(tok.chars[i] for i in vowels)} sit {mean_distance(C, vowels):.2f} apart "
              f"on average, any two characters {mean_distance(C, list(range(V))):.2f}")

    print("\nFigures")
    title = (f"MLP language model, context {n}, d = {args.dim}, H = {args.hidden}: "
             f"{args.steps} steps of {args.batch}")
    plot_losses(history, bigram_val, title, args.out)
    if args.map:
        plot_character_map(C, tok, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Bengio et al. 2003's neural language model on "
                           "characters, with manual backprop.")
    add_corpus_flags(parser)
    parser.add_argument("--context", type=positive_int, default=8,
                        help="characters the model sees, n")
    parser.add_argument("--dim", type=positive_int, default=16, help="embedding size d")
    parser.add_argument("--hidden", type=positive_int, default=256, help="tanh hidden units H")
    add_step_flags(parser, steps=10_000, batch=128, lr=3e-3)
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adamw",
                        help="optimizer from phase 02 (default: adamw, weight decay 0.01)")
    parser.add_argument("--val-fraction", type=fraction, default=0.1,
                        help="the last fraction of the text held out")
    parser.add_argument("--sample-chars", type=positive_int, default=300,
                        help="characters to generate at the end")
    parser.add_argument("--temperature", type=temperature, default=1.0,
                        help="sampling temperature (default: 1; lower is safer and duller)")
    parser.add_argument("--map", action="store_true",
                        help="also draw the learned character vectors as a 2-D map (PCA); "
                             "clearest with --dim 2, where the map is the table itself")
    add_seed_flag(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
