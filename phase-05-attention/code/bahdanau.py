"""Additive attention added to phase 04's seq2seq: the bottleneck removed, and what it looks at.

Phase 04's encoder-decoder squeezes the whole input into its final state, and reversing long
digit strings fails: the digits read first are lost. Bahdanau, Cho & Bengio (2014, "Neural
Machine Translation by Jointly Learning to Align and Translate") kept ALL the encoder's states
h_1..h_S and let the decoder, at every output step, take a weighted average of them:

    scores   e_tj = v · tanh(W_q s_t + W_k h_j)      how well encoder state j fits step t
    weights  a_tj = softmax over j of e_tj            sum to 1 over the input positions
    context  c_t  = sum_j a_tj h_j                    what step t reads from the input
    output   logits_t = Dense([s_t ; c_t])            decide from the state AND the context

The score is a small one-hidden-layer network ("additive" attention: query and key are added
before the tanh). Like a student who, to write the 7th word of a translation, glances back over
the whole source sentence and rests their eyes on the words that matter now. The weights a_tj
form an alignment: for reversal, output t should look at input S + 1 - t, an anti-diagonal.

This file scores from the decoder's current state s_t and feeds the context to the output layer
(the arrangement of Luong, Pham & Manning 2015, "Effective Approaches to Attention-based Neural
Machine Translation"); Bahdanau's original scored from s_{t-1} and fed the context into the
recurrence. The idea is the same; this way the decoder's recurrence is phase 04's unchanged,
so its BPTT is reused as it is, and only the attention layer needs a new backward pass.

Both models train with phase 04's `train` on the same random batches (same seed) and are scored
by phase 04's `accuracy_by_length` on the very same fixed test sets.

Run:  python phase-05-attention/code/bahdanau.py --max-len 20 --steps 1500
"""

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase00.probability import softmax
from phase00.threads import limit_blas_threads
from phase02.layers import Dense
from phase04.char_rnn import CELLS
from phase04.seq2seq import (
    N_SYMBOLS,
    Seq2Seq,
    accuracy_by_length,
    add_seq2seq_flags,
    bos_id,
    decoder_inputs,
    make_test_set,
    train,
)
from phase05.attention import softmax_backward


class AdditiveAttention:
    """e_tj = v · tanh(W_q s_t + W_k h_j); a = softmax_j(e); c_t = sum_j a_tj h_j.

    Layer protocol: params W_q (H, A), W_k (H, A), v (A,). forward(s, h) takes the decoder's
    states s (B, T, H) and the encoder's states h (B, S, H) and returns contexts (B, T, H);
    backward(dc) returns (dL/ds, dL/dh).
    """

    def __init__(self, n_hidden: int, n_attn: int, rng: np.random.Generator) -> None:
        self.params: dict[str, np.ndarray] = {
            "W_q": rng.normal(0, 1 / np.sqrt(n_hidden), (n_hidden, n_attn)),
            "W_k": rng.normal(0, 1 / np.sqrt(n_hidden), (n_hidden, n_attn)),
            "v": rng.normal(0, 1 / np.sqrt(n_attn), n_attn),
        }
        self.grads: dict[str, np.ndarray] = {k: np.zeros_like(p) for k, p in self.params.items()}
        self.weights: np.ndarray | None = None  # a (B, T, S) of the last forward

    def forward(self, s: np.ndarray, h: np.ndarray) -> np.ndarray:
        H = self.params["W_q"].shape[0]
        if (s.ndim != 3 or h.ndim != 3 or s.shape[0] != h.shape[0]
                or s.shape[2] != H or h.shape[2] != H):
            raise ValueError(f"expected s (B, T, {H}) and h (B, S, {H}), got {s.shape} and "
                             f"{h.shape}")
        self.s, self.h = s, h
        q = s @ self.params["W_q"]  # (B, T, A)
        k = h @ self.params["W_k"]  # (B, S, A)
        self.E = np.tanh(q[:, :, None, :] + k[:, None, :, :])  # (B, T, S, A): every pair
        e = self.E @ self.params["v"]  # (B, T, S)
        self.weights = softmax(e, axis=-1)
        return self.weights @ h  # (B, T, S) @ (B, S, H) -> (B, T, H)

    def backward(self, dc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.weights is None:
            raise RuntimeError("call forward() before backward()")
        a, s, h, E = self.weights, self.s, self.h, self.E
        da = dc @ np.swapaxes(h, 1, 2)  # (B, T, S)
        dh = np.swapaxes(a, 1, 2) @ dc  # (B, S, H): the values' share
        de = softmax_backward(a, da)  # (B, T, S)
        self.grads["v"][...] = np.einsum("bts,btsa->a", de, E)
        dpre = de[..., None] * self.params["v"] * (1.0 - E * E)  # through v and tanh
        dq, dk = dpre.sum(axis=2), dpre.sum(axis=1)  # (B, T, A), (B, S, A)
        A = dq.shape[-1]
        self.grads["W_q"][...] = s.reshape(-1, s.shape[-1]).T @ dq.reshape(-1, A)
        self.grads["W_k"][...] = h.reshape(-1, h.shape[-1]).T @ dk.reshape(-1, A)
        ds = dq @ self.params["W_q"].T
        dh = dh + dk @ self.params["W_k"].T  # the keys' share
        return ds, dh


class AttentionSeq2Seq(Seq2Seq):
    """Phase 04's Seq2Seq plus additive attention over all encoder states.

    Same embeddings, encoder and decoder as the parent (built by its __init__); the head now
    reads [decoder state ; context] (2H numbers) instead of the decoder state alone.
    """

    def __init__(self, n_symbols: int = N_SYMBOLS, embed: int = 16, hidden: int = 64,
                 cell: str = "gru", rng: np.random.Generator | None = None,
                 n_attn: int = 32) -> None:
        rng = np.random.default_rng() if rng is None else rng
        super().__init__(n_symbols, embed, hidden, cell, rng)
        self.attention = AdditiveAttention(hidden, n_attn, rng)
        self.head = Dense(2 * hidden, n_symbols, rng)
        self.layers["head"] = self.head
        self.layers["attention"] = self.attention

    def forward(self, src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
        if tgt.ndim != 2 or tgt.shape[0] != src.shape[0]:
            raise ValueError(f"tgt must have shape (B, T_tgt) with B = {src.shape[0]}, got "
                             f"{tgt.shape}")
        self.check_src(src)
        h_enc = self.encoder.forward(self.enc_embed.forward(src))  # (B, S, H): all kept
        B, T = tgt.shape
        self.shape = (B, T)
        s = self.decoder.forward(self.dec_embed.forward(decoder_inputs(tgt, self.n_symbols)),
                                 self.encoder.state)  # (B, T, H)
        c = self.attention.forward(s, h_enc)  # (B, T, H)
        both = np.concatenate([s, c], axis=-1).reshape(B * T, -1)
        return self.head.forward(both).reshape(B, T, self.n_symbols)

    def backward(self) -> None:
        B, T = self.shape
        H = self.decoder.n_hidden
        d_both = self.head.backward(self.loss_layer.backward()).reshape(B, T, 2 * H)
        ds_attn, dh_enc = self.attention.backward(d_both[..., H:])
        dx_dec, d_summary = self.decoder.backward(d_both[..., :H] + ds_attn)
        self.dec_embed.backward(dx_dec)
        # Now the encoder's outputs ARE used: every state h_j gets blame from the attention.
        dx_enc, _ = self.encoder.backward(dh_enc, d_summary)
        self.enc_embed.backward(dx_enc)

    def greedy_decode(self, src: np.ndarray, length: int | None = None) -> np.ndarray:
        self.check_src(src)
        h_enc = self.encoder.forward(self.enc_embed.forward(src))
        s = self.encoder.state
        B = src.shape[0]
        length = src.shape[1] if length is None else length
        token = np.full((B, 1), bos_id(self.n_symbols))
        out = np.empty((B, length), dtype=np.int64)
        self.alignment = np.empty((B, length, src.shape[1]))
        for t in range(length):  # one token per step: step t needs the token of step t-1
            h = self.decoder.forward(self.dec_embed.forward(token), s)  # (B, 1, H)
            s = self.decoder.state
            c = self.attention.forward(h, h_enc)  # (B, 1, H)
            self.alignment[:, t] = self.attention.weights[:, 0]
            out[:, t] = self.head.forward(np.concatenate([h[:, 0], c[:, 0]], axis=-1)).argmax(1)
            token = out[:, t:t + 1]
        return out


def plot_comparison(plain: dict[int, dict[str, Any]], attn: dict[int, dict[str, Any]],
                    alignment: np.ndarray, src: np.ndarray, pred: np.ndarray,
                    out_dir: Path | None) -> Figure:
    """Left: whole-sequence accuracy against length, both models. Right: one alignment."""
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    lengths = sorted(plain)
    ax.plot(lengths, [plain[L]["exact"] for L in lengths], "o-", color="tab:red",
            label="seq2seq (phase 04)")
    ax.plot(lengths, [attn[L]["exact"] for L in lengths], "o-", color="tab:blue",
            label="seq2seq + attention")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xticks(lengths)
    ax.set_xlabel("sequence length")
    ax.set_ylabel("whole sequence reversed correctly")
    ax.set_title("The same task, the same test sets", fontsize=10)
    ax.legend()
    ax.grid(alpha=0.3)
    ax2.imshow(alignment, cmap="viridis", vmin=0, vmax=1)
    ax2.set_xticks(range(len(src)), [str(d) for d in src], fontsize=7)
    ax2.set_yticks(range(len(pred)), [str(d) for d in pred], fontsize=7)
    ax2.set_xlabel("input digit (read left to right)")
    ax2.set_ylabel("output digit (written top to bottom)")
    ax2.set_title("Where each output step looks: the anti-diagonal", fontsize=10)
    save_figure(fig, out_dir, "bahdanau_attention.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    # the largest arrays, float64: at each of up to max_len output steps the attention keeps a
    # (batch, max_len, attn) layer for its backward pass, and the states of every step; the
    # test batches are as large as --test-size
    B, L = max(args.batch_size, args.test_size), args.max_len
    try:
        check_fits_in_memory(8 * 3 * B * L * (L * args.attn + 20 * args.hidden),
                             f"--batch-size {args.batch_size} --test-size {args.test_size} "
                             f"--max-len {L} --attn {args.attn} --hidden {args.hidden}")
    except ValueError as err:
        parser.error(str(err))
    limit_blas_threads()  # small matrices, one after another: one BLAS thread is fastest

    models = {"seq2seq": Seq2Seq(N_SYMBOLS, 16, args.hidden, args.cell,
                                 np.random.default_rng(args.seed)),
              "attention": AttentionSeq2Seq(N_SYMBOLS, 16, args.hidden, args.cell,
                                            np.random.default_rng(args.seed), args.attn)}
    print(f"1. Two models, {args.cell.upper()} cells, H = {args.hidden}:")
    for name, model in models.items():
        print(f"   {name:9s} {model.n_params():6,} parameters")
    src, tgt = make_test_set(5, 1)
    models["attention"].forward(src, tgt)
    weights = models["attention"].attention.weights
    print(f"   attention weights for a length-5 input: {weights.shape} = (batch, output steps, "
          f"input positions); each row sums to 1")

    lengths = sorted({L for L in (1, 3, 5, 8, 10, 12, 15, 20, 25, 30) if L <= args.max_len}
                     | {args.max_len})
    results = {}
    for name, model in models.items():
        print(f"\n2. Train {name}: {args.steps} steps of {args.batch_size} sequences, lengths "
              f"1 to {args.max_len}")
        history = train(model, args.steps, 1, args.max_len, args.batch_size, args.lr,
                        args.clip, np.random.default_rng(args.seed + 1), desc=f"{name} training")
        print(f"   final loss {np.mean(history['loss'][-50:]):.3f} "
              f"({history['seconds']:.0f} s, {1000 * history['seconds'] / args.steps:.0f} ms "
              f"per step)")
        results[name] = accuracy_by_length(model, lengths, args.test_size)

    print(f"\n3. Whole sequence reversed correctly ({args.test_size} test sequences per length)")
    print("   length   seq2seq   attention")
    for L in lengths:
        print(f"   {L:6d}   {results['seq2seq'][L]['exact']:7.1%}   "
              f"{results['attention'][L]['exact']:9.1%}")

    src, tgt = make_test_set(min(args.max_len, 12), 1)
    attn_model = models["attention"]
    pred = attn_model.greedy_decode(src)
    alignment = attn_model.alignment[0]  # (output steps, input positions)
    peaks = alignment.argmax(axis=1) + 1  # 1-based input position each step looks at most
    print(f"\n4. Alignment for {''.join(map(str, src[0]))} -> {''.join(map(str, pred[0]))} "
          f"(truth {''.join(map(str, tgt[0]))})")
    S = src.shape[1]
    print(f"   input position each output step weighs most: {peaks.tolist()}")
    print(f"   largest weight per step: {np.round(alignment.max(axis=1), 2).tolist()}")
    offset = peaks - (S - np.arange(S))  # step t writes input digit S + 1 - t
    print(f"   offset from the digit being written: {offset.tolist()}")
    aligned = np.isin(offset, (0, 1)).mean()  # steps looking at the digit or the slot after
    print(f"   {aligned:.0%} of the steps look at the digit they write or the slot after it")
    if aligned >= 0.75:
        print("   Reversal reads the input from its end to its start, and the peaks walk "
              "backwards.\n   An offset of 1 means looking one place later: the encoder state "
              "there still remembers\n   the digit just before it, so that slot serves as well.")
    else:
        print("   The peaks do not walk backwards yet: the model has not learned to align "
              "(train longer).")

    print("\nFigures")
    plot_comparison(results["seq2seq"], results["attention"], alignment, src[0], pred[0],
                    args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Phase 04's seq2seq with and without additive "
                           "attention, on the same digit-reversal task.")
    parser.add_argument("--cell", choices=sorted(CELLS), default="gru", help="recurrent cell")
    parser.add_argument("--hidden", type=positive_int, default=64, help="hidden units H")
    parser.add_argument("--attn", type=positive_int, default=32,
                        help="size A of the attention's hidden layer")
    add_seq2seq_flags(parser, steps=1500, lr=5e-3)
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
