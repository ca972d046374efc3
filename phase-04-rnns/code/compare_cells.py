"""RNN against LSTM against GRU on the same text, with the same number of parameters.

Gates cost parameters. With the same hidden size H, an LSTM has four times the recurrent
weights of an RNN (one block per gate) and a GRU three times, so comparing them at equal H
would compare a small model with two big ones. This script gives every cell the same budget
instead: the RNN's hidden size sets the number of parameters of the whole model (embedding,
recurrent layer and output head), and each gated cell gets the hidden size whose model comes
closest to that count. Then all three train on Tiny Shakespeare with the same data order, the
same optimizer, learning rate, clipping and chunk length, and we compare their validation losses
along the way.

This is the experiment of Chung, Gulcehre, Cho & Bengio ("Empirical Evaluation of Gated
Recurrent Neural Networks on Sequence Modeling", 2014) and Jozefowicz, Zaremba & Sutskever
("An Empirical Exploration of Recurrent Network Architectures", ICML 2015) in miniature: both
matched parameter counts, found the gated cells clearly better than the plain RNN, and found
no clear winner between the LSTM and the GRU. Here, with T = 64 characters of BPTT and a few
thousand steps, expect the differences to be modest: much of what a character model needs sits
within a few characters, where the plain RNN's gradient still flows.

Run:  python phase-04-rnns/code/compare_cells.py --hidden 128 --steps 2000
"""

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from phase00.corpus import add_corpus_flags, load_text
from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase00.threads import limit_blas_threads
from phase03.char_tokenizer import training_tokenizer
from phase04.char_rnn import (
    CELLS,
    VAL_FRACTION,
    CharRNN,
    add_char_rnn_flags,
    check_text_fits,
    generate,
    memory_needed,
    prompt_ids_or_exit,
    train,
    unigram_entropy,
)

DEFAULT_PROMPT = "KING"


def recurrent_params(cell: str, n_in: int, n_out: int, hidden: int) -> int:
    """Parameters of a cell reading n_in numbers a step, n_gates * (n_in*H + H*H + H), and of a
    Dense head of n_out scores on its state, H*n_out + n_out."""
    n_gates = CELLS[cell].n_gates
    return n_gates * (n_in * hidden + hidden * hidden + hidden) + hidden * n_out + n_out


def hidden_for_params(cell: str, budget: int, n_in: int, n_out: int) -> int:
    """The hidden size H whose cell and head (recurrent_params) come closest to `budget`.

    The count is g H^2 + (g (n_in + 1) + n_out) H + n_out for g gate blocks: solve the
    quadratic for H, then take the closer of the two whole numbers around the root.
    """
    g = CELLS[cell].n_gates
    a, b, c = g, g * (n_in + 1) + n_out, n_out - budget
    root = (-b + math.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
    candidates = {max(1, math.floor(root)), max(1, math.ceil(root))}
    return min(sorted(candidates),
               key=lambda h: abs(recurrent_params(cell, n_in, n_out, h) - budget))


def count_params(cell: str, vocab_size: int, embed: int, hidden: int) -> int:
    """Parameters of a CharRNN: the embedding V*E, then the cell and its head."""
    return vocab_size * embed + recurrent_params(cell, embed, vocab_size, hidden)


def hidden_for_budget(cell: str, budget: int, vocab_size: int, embed: int) -> int:
    """The hidden size whose CharRNN has the parameter count closest to `budget`."""
    return hidden_for_params(cell, budget - vocab_size * embed, embed, vocab_size)


def plot_comparison(runs: dict[str, dict[str, Any]], unigram: float,
                    out_dir: Path | None = None) -> Figure:
    """Validation loss against steps, one line per cell, labelled with size and time."""
    fig = Figure(figsize=(7.5, 4.4), layout="constrained")
    ax = fig.subplots()
    for cell, run in runs.items():
        h = run["history"]
        ax.plot(h["val_step"], h["val_loss"], "o-", ms=3,
                label=f"{cell.upper()}  H = {run['hidden']}, {run['params']:,} params, "
                      f"final {h['val_loss'][-1]:.3f}")
    ax.axhline(unigram, color="0.5", ls=":", lw=1, label=f"unigram entropy {unigram:.2f}")
    lowest = min(min(r["history"]["val_loss"]) for r in runs.values())
    ax.set_ylim(lowest - 0.05, min(unigram + 0.1, max(max(r["history"]["val_loss"])
                                                      for r in runs.values()) + 0.05))
    ax.set_xlabel("training step")
    ax.set_ylabel("validation loss (nats per character)")
    ax.set_title("Character LMs with equal parameter budgets: RNN vs LSTM vs GRU", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, out_dir, "compare_cells.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    limit_blas_threads()  # small matrices, one after another: one BLAS thread is fastest
    try:
        text, source = load_text(args.corpus, args.path)
        tok = training_tokenizer(text, source)
        check_text_fits(len(text), args.batch_size, args.seq_len)
        V = tok.vocab_size
        budget = count_params("rnn", V, args.embed, args.hidden)
        sizes = {cell: hidden_for_budget(cell, budget, V, args.embed) for cell in args.cells}
        check_fits_in_memory(max(memory_needed(cell, V, args.embed, H, args.batch_size,
                                               args.seq_len) for cell, H in sizes.items()),
                             f"--hidden {args.hidden} --embed {args.embed} --batch-size "
                             f"{args.batch_size} --seq-len {args.seq_len} over V = {V:,} "
                             f"characters")
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")

    prompt, prompt_ids = prompt_ids_or_exit(parser, tok, args.prompt, DEFAULT_PROMPT, text)
    ids = np.array(tok.encode(text))
    n_train = int(len(ids) * (1 - VAL_FRACTION))
    train_ids, val_ids = ids[:n_train], ids[n_train:]
    unigram = unigram_entropy(train_ids, V)
    print(f"1. Data: {source}, V = {V}; budget = the RNN with H = {args.hidden}: "
          f"{budget:,} parameters")
    for cell, H in sizes.items():
        print(f"   {cell.upper():4s} H = {H:3d}: {count_params(cell, V, args.embed, H):,} "
              f"parameters ({CELLS[cell].n_gates} block{'s' if CELLS[cell].n_gates > 1 else ''}"
              f" of W_h, each {H} x {H})")

    print(f"\n2. Training each for {args.steps} steps (B = {args.batch_size}, T = {args.seq_len}, "
          f"Adam lr {args.lr:g}, clip {args.clip:g}), same seed")
    runs: dict[str, dict[str, Any]] = {}
    for cell, H in sizes.items():
        model = CharRNN(V, args.embed, H, cell, np.random.default_rng(args.seed))
        start = time.perf_counter()
        history = train(model, train_ids, args.steps, args.batch_size, args.seq_len, args.lr,
                        args.clip, np.random.default_rng(args.seed), val_ids=val_ids,
                        eval_every=args.eval_every)
        seconds = time.perf_counter() - start
        runs[cell] = {"hidden": H, "params": model.n_params(), "history": history,
                      "seconds": seconds, "model": model}
        every = max(1, len(history["val_loss"]) // 4)
        shown = list(zip(history["val_step"], history["val_loss"], strict=True))[::-every][::-1]
        print(f"   {cell.upper():4s} validation " + ", ".join(f"step {k}: {v:.3f}"
                                                          for k, v in shown)
              + f"   ({seconds:.0f} s, {1000 * history['seconds'] / args.steps:.1f} ms per "
                f"step, {history['clipped']} steps clipped)")

    print("\n3. Side by side")
    print(f"   {'cell':5s} {'H':>4s} {'params':>8s} {'best val':>9s} {'final val':>10s} "
          f"{'time':>7s}")
    for cell, run in runs.items():
        h = run["history"]
        print(f"   {cell.upper():5s} {run['hidden']:4d} {run['params']:8,d} "
              f"{min(h['val_loss']):9.3f} {h['val_loss'][-1]:10.3f} {run['seconds']:6.0f} s")
    best = min(runs, key=lambda c: runs[c]["history"]["val_loss"][-1])
    print(f"   lowest final validation loss: {best.upper()} (unigram entropy {unigram:.3f}, "
          f"uniform ln {V} = {np.log(V):.3f})")

    print(f"\n4. A sample from each (temperature 0.8, 120 characters after {prompt!r})")
    for cell, run in runs.items():
        out = generate(run["model"], prompt_ids, 120, 0.8, np.random.default_rng(args.seed))
        print(f"   {cell.upper():4s} | " + (prompt + tok.decode(out)).replace("\n", " / "))

    print("\nFigures")
    plot_comparison(runs, unigram, args.out)


def add_cells_flag(parser: argparse.ArgumentParser) -> None:
    """Give a script `--cells`: which of phase 04's recurrent cells it races (all three)."""
    parser.add_argument("--cells", nargs="+", choices=sorted(CELLS), default=["rnn", "lstm", "gru"],
                        help="cells to compare")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Compare RNN, LSTM and GRU character LMs at equal parameter budgets.")
    add_cells_flag(parser)
    parser.add_argument("--hidden", type=positive_int, default=128,
                        help="the RNN's hidden size; it sets the parameter budget")
    add_char_rnn_flags(parser, steps=2000, eval_every=200)
    parser.add_argument("--prompt", default=None,
                        help=f"text each model's sample starts from (default: {DEFAULT_PROMPT!r}, "
                             f"or the text's first character if it cannot spell that)")
    add_corpus_flags(parser)
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
