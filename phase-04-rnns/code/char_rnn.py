"""A character-level language model with a recurrent layer: it reads Shakespeare and writes.

Phase 03's bigram model predicted the next character from the previous one only. A recurrent
layer can use everything it has read so far, squeezed into its hidden state. The model:

    ids (B, T) -> Embedding (phase 03) -> x (B, T, E) -> RNN / LSTM / GRU -> hs (B, T, H)
               -> Dense (phase 02), the same at every step -> logits (B, T, V)
               -> softmax cross-entropy (phase 02) against the next character

Every position predicts the character after it, so one chunk of T characters gives T training
examples at once. This is the model of Andrej Karpathy's "The Unreasonable Effectiveness of
Recurrent Neural Networks" (2015, and his char-rnn code) and, before it, of Sutskever, Martens
& Hinton ("Generating Text with Recurrent Neural Networks", ICML 2011); the text it trains on by
default, Tiny Shakespeare, is the one Karpathy collected for it.

Training uses truncated backprop through time. The text is cut into B long streams (one row of
the batch each), read chunk by chunk, T characters at a time. The hidden state at the end of a
chunk is carried into the next chunk as its initial state, so the model can use context older
than T; but backward() stops at the chunk's start, so the gradient never travels more than T
steps. (Williams & Peng, "An Efficient Gradient-Based Algorithm for On-Line Training of
Recurrent Network Trajectories", Neural Computation, 1990, studied this truncation.) The memory
is long, the blame is short. Gradients are clipped by global norm (clipping.py) before each
Adam step (phase 02).

Sampling runs the model one character at a time: feed a character, turn the logits into
probabilities (softmax with a temperature), draw the next character, feed it back in.

Run:  python phase-04-rnns/code/char_rnn.py --cell lstm --hidden 128 --steps 1500
"""

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

from phase00.corpus import add_corpus_flags, load_text
from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import (
    check_fits_in_memory,
    nonnegative_float,
    positive_float,
    positive_int,
    script_parser,
    temperature,
)
from phase00.probability import entropy, sample, softmax_with_temperature
from phase00.threads import limit_blas_threads
from phase02.layers import Dense, SoftmaxCrossEntropy
from phase02.optimizers import Adam
from phase03.char_tokenizer import CharTokenizer, sample_start, training_tokenizer
from phase03.embeddings import Embedding
from phase04.clipping import clip_global_norm
from phase04.gru import GRU
from phase04.lstm import LSTM
from phase04.rnn import RNN, RecurrentLayer

CELLS: dict[str, type[RecurrentLayer]] = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
DEFAULT_PROMPT = "ROMEO:"
VAL_FRACTION = 0.1  # the last 10% of the text is held out for validation


def make_cell(name: str, n_in: int, n_hidden: int, rng: np.random.Generator,
              spectral_radius: float | None = None) -> RecurrentLayer:
    """A recurrent layer by name, with an error that lists the valid names."""
    if name not in CELLS:
        raise ValueError(f"unknown cell {name!r}; choose one of {sorted(CELLS)}")
    return CELLS[name](n_in, n_hidden, rng, spectral_radius)


class LayerGroup:
    """A model made of named layers, `self.layers`. Its params and grads are the layers' own
    arrays under names like "rnn.W_h", so the gradient checker and the optimizer see one model."""

    layers: dict[str, Any]

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {f"{n}.{k}": v for n, layer in self.layers.items() for k, v in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{n}.{k}": v for n, layer in self.layers.items() for k, v in layer.grads.items()}

    def n_params(self) -> int:
        return sum(p.size for p in self.params.values())


class CharRNN(LayerGroup):
    """Embedding -> recurrent layer -> Dense head at every step. A layer made of layers."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden: int, cell: str = "rnn",
                 rng: np.random.Generator | None = None,
                 spectral_radius: float | None = None) -> None:
        rng = np.random.default_rng() if rng is None else rng
        self.cell_name = cell
        self.embed = Embedding(vocab_size, embed_dim, rng)
        self.rnn = make_cell(cell, embed_dim, hidden, rng, spectral_radius)
        self.head = Dense(hidden, vocab_size, rng)
        self.loss_layer = SoftmaxCrossEntropy()
        self.layers = {"embed": self.embed, "rnn": self.rnn, "head": self.head}
        self.shape: tuple[int, int] | None = None  # (B, T) of the last forward pass

    @property
    def vocab_size(self) -> int:
        return self.embed.vocab_size

    def forward(self, ids: np.ndarray, s0: np.ndarray | None = None) -> np.ndarray:
        """Logits (B, T, V) for ids (B, T): position t scores the character after ids[:, t]."""
        if ids.ndim != 2:
            raise ValueError(f"CharRNN expects ids of shape (B, T), got {ids.shape}")
        B, T = ids.shape
        self.shape = (B, T)
        x = self.embed.forward(ids)  # (B, T, E)
        hs = self.rnn.forward(x, s0)  # (B, T, H)
        logits = self.head.forward(hs.reshape(B * T, -1))  # the same Dense at every step
        logits = logits.reshape(B, T, self.vocab_size)
        assert x.shape == (B, T, self.embed.dim) and hs.shape == (B, T, self.rnn.n_hidden)
        return logits

    def loss(self, ids: np.ndarray, targets: np.ndarray, s0: np.ndarray | None = None) -> float:
        """Mean cross-entropy (nats per character) of predicting targets (B, T) from ids."""
        if targets.shape != ids.shape:
            raise ValueError(f"targets must have the shape of ids, {ids.shape}, got "
                             f"{targets.shape}")
        logits = self.forward(ids, s0)
        return self.loss_layer.forward(logits.reshape(-1, self.vocab_size), targets.reshape(-1))

    def backward(self) -> np.ndarray | None:
        """Backprop the last loss through head, BPTT and embedding; fill every grad.

        Returns dL/ds0 when the forward pass started from a given state, else None.
        """
        B, T = self.shape
        dlogits = self.loss_layer.backward()  # (B*T, V)
        dhs = self.head.backward(dlogits).reshape(B, T, -1)
        dx, ds0 = self.rnn.backward(dhs)
        self.embed.backward(dx)
        return ds0 if self.rnn.had_initial_state else None


def make_streams(ids: np.ndarray, batch: int) -> np.ndarray:
    """Cut a text of ids into `batch` contiguous streams, one per row: shape (B, len // B).

    Row b is the b-th piece of the text, so row b of chunk k+1 continues row b of chunk k:
    that is what lets the hidden state be carried from one chunk to the next.
    """
    L = len(ids) // batch
    if L < 2:
        raise ValueError(f"a text of {len(ids)} characters is too short for {batch} streams: "
                         f"each needs at least 2 characters (use a smaller --batch-size)")
    return np.asarray(ids[:batch * L]).reshape(batch, L)


def check_text_fits(n_chars: int, batch: int, seq_len: int) -> None:
    """Refuse, with the numbers, a text too short for `batch` streams of chunks of seq_len.

    Training reads chunks of seq_len + 1 characters (inputs and the targets one step on) from
    each of the `batch` streams of the training split; validation needs 2 characters per stream
    of the last VAL_FRACTION of the text. Raises ValueError.
    """
    n_train = int(n_chars * (1 - VAL_FRACTION))
    n_val = n_chars - n_train
    if n_train < batch * (seq_len + 1) or n_val < 2 * batch:
        raise ValueError(f"the text is too short: {n_chars:,} characters give a training split "
                         f"of {n_train:,} and a validation split of {n_val:,}, but "
                         f"--batch-size {batch} streams need {batch * (seq_len + 1):,} for one "
                         f"chunk of --seq-len {seq_len} (+1) and {2 * batch:,} for validation: "
                         f"use a smaller --batch-size or --seq-len, or a longer text")


def memory_needed(cell: str, vocab_size: int, embed: int, hidden: int, batch: int,
                  seq_len: int) -> int:
    """Bytes a run needs at its peak, about, in 8-byte numbers: the parameters four times
    (values, gradients, Adam's two moments), and what backprop through time keeps for a chunk
    of (batch, seq_len) positions: the embedded input, every step's state and gate values, and
    the logits, probabilities and their gradient over the vocabulary."""
    gates = CELLS[cell].n_gates
    params = vocab_size * embed + gates * (embed * hidden + hidden * hidden + hidden) + \
        hidden * vocab_size + vocab_size
    per_position = 2 * embed + (4 + 4 * gates) * hidden + 4 * vocab_size
    return 8 * (4 * params + batch * seq_len * per_position)


def prompt_ids_or_exit(parser: argparse.ArgumentParser, tok: CharTokenizer, prompt: str | None,
                       default: str, text: str) -> tuple[str, list[int]]:
    """The prompt a sample starts from and its ids, checked before any training.

    No --prompt: `default` when the text can spell it, else a newline or the text's first
    character (sample_start). A --prompt that is empty or has characters the text lacks is a
    usage error, told now rather than after minutes of training.
    """
    if prompt is None:
        prompt = default if set(default) <= set(tok.stoi) else sample_start(text)
    if not prompt:
        parser.error("--prompt is empty: a sample starts from at least one character")
    try:
        return prompt, tok.encode(prompt)
    except ValueError as err:
        parser.exit(2, f"error: --prompt: {err}\n")


def evaluate(model: CharRNN, ids: np.ndarray, batch: int, seq_len: int) -> float:
    """Mean loss per character over `ids`, read in streams with the state carried across."""
    streams = make_streams(ids, batch)
    total, count, s = 0.0, 0, None
    for k in range(0, streams.shape[1] - 1, seq_len):
        x = streams[:, k:k + seq_len]
        y = streams[:, k + 1:k + 1 + seq_len]
        x = x[:, :y.shape[1]]
        total += model.loss(x, y, s) * y.size
        count += y.size
        s = model.rnn.state
    return total / count


def unigram_entropy(ids: np.ndarray, vocab_size: int) -> float:
    """The loss of the best model that ignores context: the entropy of character frequencies."""
    counts = np.bincount(ids, minlength=vocab_size)
    return entropy(counts / counts.sum())


def train(model: CharRNN, train_ids: np.ndarray, steps: int, batch: int, seq_len: int,
          lr: float, clip: float, rng: np.random.Generator, carry: bool = True,
          val_ids: np.ndarray | None = None, eval_every: int = 100,
          progress: bool = True) -> dict[str, Any]:
    """Truncated BPTT with Adam; the learning rate decays linearly to 0 over the run.

    clip: the largest global gradient norm (0: no clipping). carry: pass each chunk's final
    state to the next chunk (False: every chunk starts from zeros).
    Returns the history: train losses per step, gradient norms, validation losses.
    """
    streams = make_streams(train_ids, batch)
    n_chunks = (streams.shape[1] - 1) // seq_len
    if n_chunks < 1:
        raise ValueError(f"streams of {streams.shape[1]} characters hold no chunk of "
                         f"{seq_len + 1}: lower --seq-len or --batch-size")
    slack = streams.shape[1] - 1 - n_chunks * seq_len  # characters left over at the end
    offset = int(rng.integers(0, min(slack, seq_len) + 1))  # a random start: new chunk edges
    opt = Adam(list(model.layers.values()), lr=lr)
    history: dict[str, Any] = {"loss": [], "grad_norm": [], "val_step": [], "val_loss": [],
                               "clipped": 0}
    s = None
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=f"{model.cell_name} training", unit="step", leave=False,
               disable=not progress)
    for step in bar:
        k = step % n_chunks
        if k == 0:
            s = None  # back at the start of the streams: the memory has nothing to carry
        pos = offset + k * seq_len
        x, y = streams[:, pos:pos + seq_len], streams[:, pos + 1:pos + seq_len + 1]
        loss = model.loss(x, y, s if carry else None)
        model.backward()
        s = model.rnn.state.copy()  # values carried on; the gradient stops at the chunk edge
        norm = clip_global_norm(opt.layers, clip) if clip > 0 else \
            float(np.sqrt(sum(np.sum(g * g) for g in model.grads.values())))
        history["clipped"] += int(clip > 0 and norm > clip)
        opt.lr = lr * (1.0 - step / steps)  # linear decay to 0
        opt.step()
        history["loss"].append(loss)
        history["grad_norm"].append(norm)
        if val_ids is not None and ((step + 1) % eval_every == 0 or step + 1 == steps):
            history["val_step"].append(step + 1)
            history["val_loss"].append(evaluate(model, val_ids, batch, seq_len))
            bar.set_postfix(loss=f"{loss:.3f}", val=f"{history['val_loss'][-1]:.3f}")
    history["seconds"] = time.perf_counter() - start
    return history


def generate(model: CharRNN, start_ids: list[int], n: int, temperature: float,
             rng: np.random.Generator) -> list[int]:
    """Feed start_ids, then draw n characters one at a time, each fed back in."""
    if not start_ids:
        raise ValueError("generation needs at least one starting character")
    logits = model.forward(np.array([start_ids]))  # read the prompt: (1, len, V)
    s = model.rnn.state
    out = []
    for _ in range(n):  # one character per step: each needs the one before
        p = softmax_with_temperature(logits[0, -1], temperature)
        nxt = int(sample(p, 1, rng)[0])
        out.append(nxt)
        logits = model.forward(np.array([[nxt]]), s)
        s = model.rnn.state
    return out


def smooth(values: list[float], width: int = 50) -> np.ndarray:
    """Running mean over `width` steps, to see the trend of a noisy per-step loss."""
    v = np.asarray(values, dtype=float)
    width = max(1, min(width, len(v)))
    return np.convolve(v, np.ones(width) / width, mode="valid")


def plot_training(history: dict[str, Any], unigram: float, title: str,
                  out_dir: Path | None = None) -> Figure:
    """Training loss (smoothed), validation loss, and the gradient norm with the clip level."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax, ax_norm = fig.subplots(1, 2)
    width = 50
    ax.plot(np.arange(len(history["loss"])), history["loss"], color="0.8", lw=0.5,
            label="train (per step)")
    trend = smooth(history["loss"], width)
    ax.plot(np.arange(len(trend)) + len(history["loss"]) - len(trend), trend, color="tab:blue",
            label=f"train ({width}-step mean)")
    if history["val_loss"]:
        ax.plot(history["val_step"], history["val_loss"], "o-", color="tab:orange", ms=3,
                label="validation")
    ax.axhline(unigram, color="0.4", ls=":", label=f"unigram entropy {unigram:.2f}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per character)")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    ax_norm.semilogy(history["grad_norm"], lw=0.6, color="tab:red")
    if history.get("clip"):
        ax_norm.axhline(history["clip"], color="black", ls="--", lw=1,
                        label=f"clip at {history['clip']:g}")
        ax_norm.legend(fontsize=8)
    ax_norm.set_xlabel("step")
    ax_norm.set_ylabel("global gradient norm (before clipping)")
    ax_norm.set_title(f"{history['clipped']} of {len(history['loss'])} steps clipped",
                      fontsize=10)
    save_figure(fig, out_dir, "char_rnn_training.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    limit_blas_threads()  # small matrices, one after another: one BLAS thread is fastest
    try:
        text, source = load_text(args.corpus, args.path)
        tok = training_tokenizer(text, source)
        check_text_fits(len(text), args.batch_size, args.seq_len)
        check_fits_in_memory(memory_needed(args.cell, tok.vocab_size, args.embed, args.hidden,
                                           args.batch_size, args.seq_len),
                             f"--hidden {args.hidden} --embed {args.embed} --batch-size "
                             f"{args.batch_size} --seq-len {args.seq_len} over V = "
                             f"{tok.vocab_size:,} characters")
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    rng = np.random.default_rng(args.seed)

    prompt, prompt_ids = prompt_ids_or_exit(parser, tok, args.prompt, DEFAULT_PROMPT, text)
    ids = np.array(tok.encode(text))
    n_train = int(len(ids) * (1 - VAL_FRACTION))
    train_ids, val_ids = ids[:n_train], ids[n_train:]
    V = tok.vocab_size
    print(f"1. Data: {source}")
    print(f"   {len(ids):,} characters, V = {V}; train {len(train_ids):,}, validation "
          f"{len(val_ids):,} (the last 10%)")
    unigram = unigram_entropy(train_ids, V)
    print(f"   baselines: uniform guess ln {V} = {np.log(V):.3f} nats; unigram entropy "
          f"(character frequencies, no context) {unigram:.3f} nats")
    streams = make_streams(train_ids, args.batch_size)
    print(f"   {args.batch_size} streams of {streams.shape[1]:,} characters: chunk k of every "
          f"stream is read at step k, {args.seq_len} characters at a time")

    print(f"\n2. The model: {args.cell.upper()}, E = {args.embed}, H = {args.hidden}")
    model = CharRNN(V, args.embed, args.hidden, args.cell, rng, args.spectral_radius)
    for name, p in model.params.items():
        print(f"   {name:10s} {str(p.shape):12s} {p.size:7,d}")
    print(f"   total {model.n_params():,} parameters")
    x0, y0 = streams[:, :args.seq_len], streams[:, 1:args.seq_len + 1]
    logits = model.forward(x0)
    print(f"   ids {x0.shape} -> embed {(*x0.shape, args.embed)} -> hs "
          f"{(*x0.shape, args.hidden)} -> logits {logits.shape}")
    L0 = model.loss(x0, y0)
    print(f"   loss before training {L0:.3f} on this first batch (a uniform guess would score "
          f"ln {V} = {np.log(V):.3f}; random weights are a little more sure, and wrong)")

    clip_text = f"clip {args.clip:g}" if args.clip > 0 else "no clipping"
    print(f"\n3. Training: {args.steps} steps of Adam, lr {args.lr:g} decayed to 0, {clip_text}, "
          f"state {'not ' if args.no_carry else ''}carried between chunks")
    history = train(model, train_ids, args.steps, args.batch_size, args.seq_len, args.lr,
                    args.clip, rng, carry=not args.no_carry, val_ids=val_ids,
                    eval_every=args.eval_every)
    history["clip"] = args.clip
    for step, val in zip(history["val_step"], history["val_loss"], strict=True):
        recent = float(np.mean(history["loss"][max(0, step - 50):step]))
        print(f"   step {step:5d}: train {recent:.3f} (mean of the last 50 steps), "
              f"validation {val:.3f}")
    print(f"   trained in {history['seconds']:.1f} s ({1000 * history['seconds'] / args.steps:.1f}"
          f" ms per step); {history['clipped']} of {args.steps} steps clipped; largest gradient "
          f"norm {max(history['grad_norm']):.2f}")
    print(f"   final validation loss {history['val_loss'][-1]:.3f} nats per character")

    print(f"\n4. Samples (temperature {args.temperature:g}), starting from {prompt!r}")
    out = generate(model, prompt_ids, args.sample_chars, args.temperature, rng)
    print("   | " + (prompt + tok.decode(out)).replace("\n", "\n   | "))

    print("\nFigures")
    plot_training(history, unigram, f"{args.cell.upper()} char LM, H = {args.hidden}, "
                  f"T = {args.seq_len}, {model.n_params():,} parameters", args.out)


def add_adam_flags(parser: argparse.ArgumentParser, lr: float, decayed: bool = True) -> None:
    """Give a script the two knobs of how this phase trains a recurrent net: Adam's `--lr`
    (decayed linearly to 0 over the steps, unless decayed=False) and `--clip`, the largest
    global gradient norm (phase04.clipping; 0 turns clipping off)."""
    parser.add_argument("--lr", type=positive_float, default=lr,
                        help=f"Adam's {'starting ' if decayed else ''}learning rate"
                             f"{', decayed linearly to 0' if decayed else ''}")
    parser.add_argument("--clip", type=nonnegative_float, default=1.0,
                        help="clip the global gradient norm to this; 0 = off")


def add_char_rnn_flags(parser: argparse.ArgumentParser, steps: int, eval_every: int) -> None:
    """Give a script the flags of a character RNN trained on parallel streams, as train() takes
    them: the embedding size, the chunk length and the number of streams, then the training
    (`--steps`, `--lr`, `--clip`) and how often the validation loss is measured."""
    parser.add_argument("--embed", type=positive_int, default=32, help="embedding size E")
    parser.add_argument("--seq-len", type=positive_int, default=64,
                        help="characters per chunk: how far back BPTT reaches")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="parallel streams B")
    parser.add_argument("--steps", type=positive_int, default=steps, help="training steps")
    add_adam_flags(parser, lr=3e-3)
    parser.add_argument("--eval-every", type=positive_int, default=eval_every,
                        help="steps between validation losses")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Train a character-level RNN/LSTM/GRU "
                           "language model and sample from it.")
    parser.add_argument("--cell", choices=sorted(CELLS), default="rnn", help="recurrent cell")
    parser.add_argument("--hidden", type=positive_int, default=128, help="hidden units H")
    add_char_rnn_flags(parser, steps=2000, eval_every=250)
    parser.add_argument("--spectral-radius", type=nonnegative_float, default=None,
                        help="rescale W_h to this spectral radius at the start (default: leave "
                             "the N(0, 1/H) draw, about 1)")
    parser.add_argument("--no-carry", action="store_true",
                        help="start every chunk from a zero state instead of the last one")
    parser.add_argument("--temperature", type=temperature, default=0.8, help="sampling temperature")
    parser.add_argument("--sample-chars", type=positive_int, default=300,
                        help="characters to generate")
    parser.add_argument("--prompt", default=None,
                        help=f"text the sample starts from (default: {DEFAULT_PROMPT!r}, or the "
                             f"text's first character if it cannot spell that)")
    add_corpus_flags(parser)
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
