"""Sequence to sequence: an encoder RNN reads, a decoder RNN writes, one vector in between.

A language model continues a text. Many tasks instead turn one sequence into another: a French
sentence into an English one, a question into an answer, here a string of digits into the same
digits reversed ("3 1 4 1 5" -> "5 1 4 1 3"). The input and the output have their own lengths,
and each output depends on the whole input.

Sutskever, Vinyals & Le ("Sequence to Sequence Learning with Neural Networks", NeurIPS 2014) and,
in the same year, Cho et al. ("Learning Phrase Representations using RNN Encoder-Decoder for
Statistical Machine Translation", EMNLP 2014) used two recurrent networks:

- the ENCODER reads the input one token at a time; its final state is a fixed-size summary of
  the whole input (the "thought vector");
- the DECODER starts from that state and writes the output one token at a time, each step
  reading the token it wrote before (a language model conditioned on the summary).

Training uses teacher forcing: the decoder is fed the TRUE previous token, not its own guess, so
every position is trained at once from a correct history. At test time there is no truth to
feed: greedy decoding feeds back its own most likely token, step by step.

The catch is in the middle. However long the input, everything the decoder will ever know about
it must fit in one state of H numbers. Short inputs fit; long ones do not. Accuracy falls as the
sequences grow, and within a long one it falls along the output: every digit not yet written
must still be carried in the decoder's state, step after step. That is the bottleneck.
Bahdanau, Cho & Bengio's attention (2014, phase 05) lets the decoder look back at every encoder
state instead, and phase 05 imports this file's task, data and evaluation to compare the two on
exactly the same test sets.

To keep the lesson on memory, the decoder is told the output length (it writes exactly as many
digits as it read), so no end-of-sequence token is needed; token 10 is the start token BOS.

Run:  python phase-04-rnns/code/seq2seq.py --hidden 64 --max-len 20 --steps 3000
"""

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase00.threads import limit_blas_threads
from phase02.layers import Dense, SoftmaxCrossEntropy
from phase02.optimizers import Adam
from phase03.embeddings import Embedding
from phase04.char_rnn import CELLS, LayerGroup, add_adam_flags, make_cell
from phase04.clipping import clip_global_norm
from phase04.rnn import bptt_bytes

N_SYMBOLS = 10  # the digits 0..9
TASKS = ("reverse", "copy")
TEST_SEED = 2014  # the seed of every test set: phase 05 evaluates on the very same sequences


def make_batch(batch: int, length: int, rng: np.random.Generator, task: str = "reverse",
               n_symbols: int = N_SYMBOLS) -> tuple[np.ndarray, np.ndarray]:
    """`batch` random digit strings of `length` (src) and what the task makes of them (tgt)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {list(TASKS)}")
    if length < 1 or batch < 1:
        raise ValueError(f"need batch >= 1 and length >= 1, got {batch} and {length}")
    src = rng.integers(0, n_symbols, size=(batch, length))
    tgt = src[:, ::-1].copy() if task == "reverse" else src.copy()
    return src, tgt


def make_test_set(length: int, n: int = 500, task: str = "reverse",
                  seed: int = TEST_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A fixed test set: the same n sequences of this length for every caller, every run."""
    return make_batch(n, length, np.random.default_rng([seed, length]), task)


def bos_id(n_symbols: int = N_SYMBOLS) -> int:
    """The start token's id: the first id after the symbols."""
    return n_symbols


def decoder_inputs(tgt: np.ndarray, n_symbols: int = N_SYMBOLS) -> np.ndarray:
    """Teacher forcing: at step t the decoder reads the TRUE token t-1 (BOS at step 0)."""
    return np.concatenate([np.full((tgt.shape[0], 1), bos_id(n_symbols)), tgt[:, :-1]], axis=1)


class Seq2Seq(LayerGroup):
    """Encoder RNN -> final state -> decoder RNN -> Dense head at every output step.

    The decoder's initial state is the encoder's final state: the only bridge between them.
    Follows the layer protocol through `layers`, `params` and `grads` (names like
    "encoder.W_h"), so phase 02's optimizers and gradient checker work on it.
    """

    def __init__(self, n_symbols: int = N_SYMBOLS, embed: int = 16, hidden: int = 64,
                 cell: str = "gru", rng: np.random.Generator | None = None) -> None:
        rng = np.random.default_rng() if rng is None else rng
        self.n_symbols, self.cell_name = n_symbols, cell
        self.enc_embed = Embedding(n_symbols, embed, rng)
        self.encoder = make_cell(cell, embed, hidden, rng)
        self.dec_embed = Embedding(n_symbols + 1, embed, rng)  # + the start token
        self.decoder = make_cell(cell, embed, hidden, rng)
        self.head = Dense(hidden, n_symbols, rng)
        self.loss_layer = SoftmaxCrossEntropy()
        self.layers = {"enc_embed": self.enc_embed, "encoder": self.encoder,
                       "dec_embed": self.dec_embed, "decoder": self.decoder, "head": self.head}
        self.shape: tuple[int, int] | None = None
        self.enc_hs: np.ndarray | None = None  # the encoder's outputs, kept by encode()

    def check_src(self, src: np.ndarray) -> None:
        """A clear error for a source batch of the wrong shape or with unknown symbols."""
        if src.ndim != 2 or not np.issubdtype(src.dtype, np.integer):
            raise ValueError(f"src must be integer ids of shape (B, T_src), got {src.shape} "
                             f"{src.dtype}")
        if src.size and (src.min() < 0 or src.max() >= self.n_symbols):
            raise ValueError(f"src ids must lie in 0..{self.n_symbols - 1}")

    def encode(self, src: np.ndarray) -> np.ndarray:
        """Read src (B, T_src); return the encoder's final state (B, S): the whole summary.

        Every step's encoder output is kept in self.enc_hs (B, T_src, H): unused here, it is
        what attention (phase 05) looks back at.
        """
        self.check_src(src)
        self.enc_hs = self.encoder.forward(self.enc_embed.forward(src))
        assert self.enc_hs.shape == (*src.shape, self.encoder.n_hidden)
        return self.encoder.state

    def forward(self, src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
        """Teacher-forced logits (B, T_tgt, n_symbols) for the targets tgt (B, T_tgt)."""
        if tgt.ndim != 2 or tgt.shape[0] != src.shape[0]:
            raise ValueError(f"tgt must have shape (B, T_tgt) with B = {src.shape[0]}, got "
                             f"{tgt.shape}")
        summary = self.encode(src)
        B, T = tgt.shape
        self.shape = (B, T)
        hs = self.decoder.forward(self.dec_embed.forward(decoder_inputs(tgt, self.n_symbols)),
                                  summary)  # (B, T, H), starting from the summary
        logits = self.head.forward(hs.reshape(B * T, -1)).reshape(B, T, self.n_symbols)
        assert logits.shape == (B, T, self.n_symbols)
        return logits

    def loss(self, src: np.ndarray, tgt: np.ndarray) -> float:
        """Mean cross-entropy per output token, teacher forced."""
        logits = self.forward(src, tgt)
        return self.loss_layer.forward(logits.reshape(-1, self.n_symbols), tgt.reshape(-1))

    def backward(self) -> None:
        """Backprop the last loss: head, decoder (BPTT), across the bridge, encoder (BPTT)."""
        B, T = self.shape
        dhs = self.head.backward(self.loss_layer.backward()).reshape(B, T, -1)
        dx_dec, d_summary = self.decoder.backward(dhs)  # it started from a given state
        self.dec_embed.backward(dx_dec)
        T_src = self.encoder.x.shape[1]
        # The encoder's outputs were not used; only its final state was, through the bridge.
        dx_enc, _ = self.encoder.backward(np.zeros((B, T_src, self.encoder.n_hidden)), d_summary)
        self.enc_embed.backward(dx_enc)

    def greedy_decode(self, src: np.ndarray, length: int | None = None) -> np.ndarray:
        """Write `length` tokens (default: as many as src has), each step feeding back its own
        most likely token. Returns (B, length) ids."""
        s = self.encode(src)
        B = src.shape[0]
        length = src.shape[1] if length is None else length
        token = np.full((B, 1), bos_id(self.n_symbols))
        out = np.empty((B, length), dtype=np.int64)
        for t in range(length):  # one token per step: step t needs the token of step t-1
            h = self.decoder.forward(self.dec_embed.forward(token), s)  # (B, 1, H)
            s = self.decoder.state
            out[:, t] = self.head.forward(h[:, 0]).argmax(axis=1)
            token = out[:, t:t + 1]
        return out


class Decoder(Protocol):
    """What evaluate() needs of a model: phase 05's attention model offers the same method."""

    def greedy_decode(self, src: np.ndarray, length: int | None = None) -> np.ndarray: ...


def evaluate(model: Decoder, src: np.ndarray, tgt: np.ndarray,
             batch: int = 250) -> dict[str, Any]:
    """Greedy-decode src and score against tgt: the share of sequences entirely right
    ("exact"), of tokens right ("token"), and of tokens right at each output position."""
    preds = np.concatenate([model.greedy_decode(src[i:i + batch], tgt.shape[1])
                            for i in range(0, len(src), batch)])
    correct = preds == tgt  # (n, T)
    return {"exact": float(correct.all(axis=1).mean()), "token": float(correct.mean()),
            "by_position": correct.mean(axis=0)}


def accuracy_by_length(model: Decoder, lengths: Sequence[int], n: int = 500,
                       task: str = "reverse") -> dict[int, dict[str, Any]]:
    """evaluate() on the fixed test set of every length: the accuracy-vs-length curve."""
    return {L: evaluate(model, *make_test_set(L, n, task)) for L in lengths}


class Trainable(Protocol):
    """What train() needs: loss + backward, and layers holding params and grads."""

    layers: dict[str, Any]

    def loss(self, src: np.ndarray, tgt: np.ndarray) -> float: ...

    def backward(self) -> None: ...


def train(model: Trainable, steps: int, min_len: int, max_len: int, batch: int, lr: float,
          clip: float, rng: np.random.Generator, task: str = "reverse",
          progress: bool = True, desc: str = "seq2seq training") -> dict[str, Any]:
    """Teacher-forced training on fresh random batches; each batch has one length drawn
    uniformly from min_len..max_len. Adam, learning rate decayed linearly to 0, global-norm
    clipping (clip 0: none). Returns the losses per step and the time taken."""
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len} and {max_len}")
    opt = Adam(list(model.layers.values()), lr=lr)
    history: dict[str, Any] = {"loss": [], "length": [], "clipped": 0}
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=desc, unit="step", leave=False,
               disable=not progress)
    for step in bar:
        length = int(rng.integers(min_len, max_len + 1))
        src, tgt = make_batch(batch, length, rng, task)
        loss = model.loss(src, tgt)
        model.backward()
        if clip > 0:
            history["clipped"] += int(clip_global_norm(opt.layers, clip) > clip)
        opt.lr = lr * (1.0 - step / steps)
        opt.step()
        history["loss"].append(loss)
        history["length"].append(length)
        if step % 100 == 0:
            bar.set_postfix(loss=f"{loss:.3f}")
    history["seconds"] = time.perf_counter() - start
    return history


def plot_accuracy(results: dict[int, dict[str, Any]], title: str, task: str = "reverse",
                  n_test: int = 500, out_dir: Path | None = None) -> Figure:
    """Left: exact and per-token accuracy against length. Right: per-position accuracy at the
    longest length (which output digits are lost)."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax, ax_pos = fig.subplots(1, 2)
    lengths = sorted(results)
    ax.plot(lengths, [results[L]["exact"] for L in lengths], "o-", label="whole sequence right")
    ax.plot(lengths, [results[L]["token"] for L in lengths], "s--", label="digits right")
    ax.axhline(0.1, color="0.6", ls=":", lw=1, label="chance per digit (0.1)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("sequence length")
    ax.set_xticks(lengths)
    ax.set_ylabel(f"accuracy on {n_test} test sequences per length")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    longest = lengths[-1]
    by_pos = results[longest]["by_position"]
    ax_pos.bar(np.arange(1, longest + 1), by_pos, color="tab:purple")
    ax_pos.set_ylim(0, 1.03)
    ax_pos.set_xlabel(f"output position (1 = the LAST digit read, {longest} = the first)"
                      if task == "reverse" else
                      f"output position (1 = the first digit read, {longest} = the last)")
    ax_pos.set_ylabel("accuracy at this position")
    ax_pos.set_title(f"Length {longest}: which output digits are right", fontsize=10)
    save_figure(fig, out_dir, "seq2seq_accuracy.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.min_len > args.max_len:
        parser.error(f"--min-len {args.min_len} is above --max-len {args.max_len}")
    # At the peak: an encoder and a decoder through the longest sequences, at the training batch
    # or the test chunk of 250 (evaluate's), and the test sequences themselves.
    rows = max(args.batch_size, 250)
    needed = 2 * bptt_bytes(args.embed, args.hidden, CELLS[args.cell].n_gates, rows,
                            args.max_len) + 8 * 4 * args.test_size * args.max_len
    try:
        check_fits_in_memory(needed, f"--hidden {args.hidden} --embed {args.embed} "
                                     f"--batch-size {args.batch_size} --max-len {args.max_len} "
                                     f"--test-size {args.test_size}")
    except ValueError as err:
        parser.error(str(err))
    limit_blas_threads()  # small matrices, one after another: one BLAS thread is fastest
    rng = np.random.default_rng(args.seed)

    print(f"1. The task: {args.task} a string of digits")
    src, tgt = make_batch(2, 6, rng, args.task)
    for s, t in zip(src, tgt, strict=True):
        print(f"   {' '.join(map(str, s))}  ->  {' '.join(map(str, t))}")
    print(f"   teacher forcing: the decoder reads BOS(={bos_id()}) then the true digits: "
          f"{decoder_inputs(tgt[:1])[0].tolist()}")

    model = Seq2Seq(N_SYMBOLS, args.embed, args.hidden, args.cell, rng)
    print(f"\n2. The model: {args.cell.upper()} encoder and decoder, H = {args.hidden}, "
          f"{model.n_params():,} parameters")
    logits = model.forward(src, tgt)
    print(f"   src {src.shape} -> encoder -> summary {model.encoder.state.shape} -> decoder "
          f"-> logits {logits.shape}")
    print(f"   everything the decoder knows about the input: {model.encoder.state.shape[1]} "
          f"numbers, for 1 digit or {args.max_len}")

    print(f"\n3. Training: {args.steps} steps of {args.batch_size} sequences, lengths "
          f"{args.min_len} to {args.max_len}, Adam lr {args.lr:g}, clip {args.clip:g}")
    history = train(model, args.steps, args.min_len, args.max_len, args.batch_size, args.lr,
                    args.clip, rng, args.task)
    for i in sorted({0, args.steps // 4, args.steps // 2, 3 * args.steps // 4, args.steps - 1}):
        recent = history["loss"][max(0, i - 49):i + 1]
        print(f"   step {i + 1:5d}: loss {np.mean(recent):.3f} (mean of the last {len(recent)})")
    print(f"   trained in {history['seconds']:.0f} s "
          f"({1000 * history['seconds'] / args.steps:.1f} ms per step), "
          f"{history['clipped']} steps clipped")

    print(f"\n4. Greedy decoding on fixed test sets ({args.test_size} sequences per length)")
    lengths = sorted({L for L in (1, 2, 3, 5, 8, 10, 12, 15, 17, 20, 25, 30)
                      if args.min_len <= L <= args.max_len} | {args.max_len})
    results = accuracy_by_length(model, lengths, args.test_size, args.task)
    for L, r in results.items():
        print(f"   length {L:3d}: whole sequence right {r['exact']:6.1%}   digits right "
              f"{r['token']:6.1%}")
    src, tgt = make_test_set(args.max_len, 1, args.task)
    pred = model.greedy_decode(src)
    print(f"   e.g. {''.join(map(str, src[0]))} -> {''.join(map(str, pred[0]))} (truth "
          f"{''.join(map(str, tgt[0]))})")
    by_pos = results[args.max_len]["by_position"]
    print(f"   at length {args.max_len}, by output position: first 3 {np.round(by_pos[:3], 2)}"
          f", last 3 {np.round(by_pos[-3:], 2)}")

    print("\nFigures")
    plot_accuracy(results, f"{args.cell.upper()} seq2seq, H = {args.hidden}: accuracy falls "
                           f"with length", args.task, args.test_size, args.out)


def add_seq2seq_flags(parser: argparse.ArgumentParser, steps: int, lr: float) -> None:
    """Give a script the flags of the digit-string task and of its training, as train() and
    the test take them: the longest string, the steps, the batch, Adam with clipping, and how
    many test strings of each length are scored."""
    parser.add_argument("--max-len", type=positive_int, default=20,
                        help="longest training and test sequence")
    parser.add_argument("--steps", type=positive_int, default=steps, help="training steps")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="sequences per step")
    add_adam_flags(parser, lr=lr)
    parser.add_argument("--test-size", type=positive_int, default=500,
                        help="test sequences per length")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("An RNN encoder-decoder that reverses digit "
                           "strings, and its fixed-vector bottleneck.")
    parser.add_argument("--cell", choices=sorted(CELLS), default="gru",
                        help="recurrent cell of encoder and decoder")
    parser.add_argument("--hidden", type=positive_int, default=64,
                        help="hidden units H: the size of the bottleneck")
    parser.add_argument("--embed", type=positive_int, default=16, help="embedding size")
    parser.add_argument("--task", choices=TASKS, default="reverse",
                        help="reverse or copy the input")
    parser.add_argument("--min-len", type=positive_int, default=1,
                        help="shortest training sequence")
    add_seq2seq_flags(parser, steps=3000, lr=1e-2)
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
