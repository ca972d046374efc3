"""Scaled dot-product attention, the causal mask and multi-head attention, forward and backward.

An RNN (phase 04) carries the past in one hidden vector, updated step by step; whatever did not
fit in it is gone. Attention drops the bottleneck: at every position, the model looks back at
ALL earlier positions at once and takes a weighted average of what they hold, with weights it
computes from the content itself. Think of a student in a classroom who, to answer a question,
decides which parts of the lecture notes to focus on: the question (a *query*) is compared with
the heading of every part of the notes (its *key*), and the student reads mostly the parts whose
headings match best (their *values*).

History. Bahdanau, Cho & Bengio (2014, "Neural Machine Translation by Jointly Learning to Align
and Translate") let a translation decoder attend over the encoder's states with a small neural
net scoring each pair (additive attention, bahdanau.py). Luong, Pham & Manning (2015, "Effective
Approaches to Attention-based Neural Machine Translation") scored pairs with a plain dot product.
Vaswani et al. (2017, "Attention Is All You Need") removed the RNN altogether: queries, keys and
values are linear maps of the same sequence (self-attention), scores are scaled by 1/sqrt(d_k),
and several heads attend in parallel. That is the attention of GPT-2 and of this file.

    scores  S = Q K^T / sqrt(d_k)          (T, T): how well query i matches key j
    masked  S_ij = -inf for j > i           a position may not look at the future (causal)
    weights P = softmax(S) along each row   each row sums to 1
    output  O = P V                         (T, d_v): a weighted average of the values

Everything here is vectorised over the batch and the heads: one batched matrix product per step,
no Python loop over heads or positions.

Run:  python phase-05-attention/code/attention.py --d-k 64 --heads 4
"""

import argparse
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase00.probability import softmax
from phase02.layers import Dense, init_weights


def softmax_backward(P: np.ndarray, dP: np.ndarray) -> np.ndarray:
    """dL/dS for P = softmax(S) along the last axis, given dL/dP.

    The Jacobian of one softmax row is dP_i/dS_j = P_i (delta_ij - P_j), so
        dS_j = sum_i dP_i P_i (delta_ij - P_j) = P_j (dP_j - sum_i dP_i P_i).
    No T x T Jacobian is ever built: one product, one row sum, one subtraction.
    """
    return P * (dP - np.sum(dP * P, axis=-1, keepdims=True))


def causal_mask(T: int) -> np.ndarray:
    """A (T, T) boolean array, True where query i would see a future key j > i (forbidden)."""
    return np.triu(np.ones((T, T), dtype=bool), k=1)


def attention_forward(Q: np.ndarray, K: np.ndarray, V: np.ndarray,
                      causal: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Scaled dot-product attention for any leading dims: (..., T, d_k) -> (..., T, d_v).

    Returns the output and the attention weights P (..., T, T), each row summing to 1.
    """
    if Q.shape != K.shape or Q.shape[:-1] != V.shape[:-1]:
        raise ValueError(f"expected Q and K of one shape (..., T, d_k) and V of shape "
                         f"(..., T, d_v); got Q {Q.shape}, K {K.shape}, V {V.shape}")
    T, d_k = Q.shape[-2], Q.shape[-1]
    S = Q @ np.swapaxes(K, -1, -2) * (1.0 / math.sqrt(d_k))  # (..., T, T); a Python float
    # keeps float32 arrays float32 (a NumPy float64 scalar would promote them)
    if causal:
        S = np.where(causal_mask(T), -np.inf, S)  # exp(-inf) = 0: no weight on the future
    P = softmax(S, axis=-1)
    return P @ V, P


def attention_backward(dO: np.ndarray, Q: np.ndarray, K: np.ndarray, V: np.ndarray,
                       P: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dL/dQ, dL/dK, dL/dV given dL/dO, following the forward pass backwards.

    O = P V          ->  dP = dO V^T,         dV = P^T dO
    P = softmax(S)   ->  dS = softmax_backward(P, dP)    (0 wherever P was masked to 0)
    S = Q K^T / s    ->  dQ = dS K / s,       dK = dS^T Q / s,     with s = sqrt(d_k)
    """
    scale = 1.0 / math.sqrt(Q.shape[-1])
    dP = dO @ np.swapaxes(V, -1, -2)
    dV = np.swapaxes(P, -1, -2) @ dO
    dS = softmax_backward(P, dP)
    dQ = (dS @ K) * scale
    dK = (np.swapaxes(dS, -1, -2) @ Q) * scale
    return dQ, dK, dV


class Linear(Dense):
    """Phase 02's Dense (x @ W + b, W of shape (n_in, n_out)) for inputs of any leading shape.

    A transformer applies the same weights at every position of every sequence: (B, T, n_in)
    becomes (B*T, n_in) rows, one matrix product, and the result is folded back to (B, T, n_out).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.shape[-1] != self.n_in:
            raise ValueError(f"{self!r} expects inputs whose last axis is {self.n_in}, "
                             f"got shape {x.shape}")
        self.lead = x.shape[:-1]
        return super().forward(x.reshape(-1, self.n_in)).reshape(*self.lead, self.n_out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = super().backward(dout.reshape(-1, self.n_out))
        return dx.reshape(*self.lead, self.n_in)

    def __repr__(self) -> str:
        return f"Linear({self.n_in} -> {self.n_out})"


class MultiHeadAttention:
    """Causal (or not) multi-head self-attention with GPT-2's layout, in the layer protocol.

    c_attn: one Linear d -> 3d making Q, K and V for all heads at once (GPT-2's "c_attn").
    c_proj: a Linear d -> d mixing the heads' outputs back together (GPT-2's "c_proj").
    Each of the n_heads heads works in its own slice of d_head = d / n_heads dimensions, so many
    heads cost no more than one wide head, but each can look for something different.
    """

    def __init__(self, d_model: int, n_heads: int, rng: np.random.Generator | None = None,
                 causal: bool = True) -> None:
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads}): "
                             f"each head gets d_model / n_heads dimensions")
        rng = np.random.default_rng() if rng is None else rng
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.causal = causal
        self.c_attn = Linear(d_model, 3 * d_model, rng)
        self.c_proj = Linear(d_model, d_model, rng)
        self.P: np.ndarray | None = None  # attention weights of the last forward, (B, H, T, T)

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {f"c_attn.{k}": v for k, v in self.c_attn.params.items()} | {
            f"c_proj.{k}": v for k, v in self.c_proj.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"c_attn.{k}": v for k, v in self.c_attn.grads.items()} | {
            f"c_proj.{k}": v for k, v in self.c_proj.grads.items()}

    def split_heads(self, x: np.ndarray) -> np.ndarray:
        """(B, T, d) -> (B, H, T, d_head): each head's slice of the features, heads as a batch."""
        B, T, _ = x.shape
        return x.reshape(B, T, self.n_heads, self.d_head).transpose(0, 2, 1, 3)

    def merge_heads(self, x: np.ndarray) -> np.ndarray:
        """(B, H, T, d_head) -> (B, T, d): the heads' outputs side by side again."""
        B, H, T, dh = x.shape
        return x.transpose(0, 2, 1, 3).reshape(B, T, H * dh)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"expected x of shape (B, T, {self.d_model}), got {x.shape}")
        qkv = self.c_attn.forward(x)  # (B, T, 3d)
        q, k, v = np.split(qkv, 3, axis=-1)  # each (B, T, d)
        self.Q, self.K, self.V = (self.split_heads(a) for a in (q, k, v))  # (B, H, T, d_head)
        O, self.P = attention_forward(self.Q, self.K, self.V, self.causal)
        out = self.c_proj.forward(self.merge_heads(O))
        assert out.shape == x.shape
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.P is None:
            raise RuntimeError("call forward() before backward()")
        dO = self.split_heads(self.c_proj.backward(dout))  # (B, H, T, d_head)
        dQ, dK, dV = attention_backward(dO, self.Q, self.K, self.V, self.P)
        dqkv = np.concatenate([self.merge_heads(d) for d in (dQ, dK, dV)], axis=-1)
        return self.c_attn.backward(dqkv)

    def __repr__(self) -> str:
        return f"MultiHeadAttention(d_model={self.d_model}, n_heads={self.n_heads})"


def dot_product_spread(d_ks: list[int], n: int, rng: np.random.Generator) -> dict[int, dict]:
    """For each d_k: the std of q.k for random unit-variance q, k, with and without the
    1/sqrt(d_k) scaling, and the average largest softmax weight over rows of 16 keys."""
    results = {}
    for d_k in d_ks:
        Q = rng.normal(size=(n, 16, d_k))
        K = rng.normal(size=(n, 16, d_k))
        raw = Q @ np.swapaxes(K, -1, -2)  # (n, 16, 16) dot products
        results[d_k] = {
            "std_raw": float(raw.std()), "std_scaled": float((raw / np.sqrt(d_k)).std()),
            "max_p_raw": float(softmax(raw, axis=-1).max(axis=-1).mean()),
            "max_p_scaled": float(softmax(raw / np.sqrt(d_k), axis=-1).max(axis=-1).mean()),
        }
    return results


def plot_scaling(spread: dict[int, dict], P_example: np.ndarray,
                 out_dir: Path | None) -> Figure:
    """Left: how peaked softmax gets with and without the scaling. Right: causal weights."""
    fig = Figure(figsize=(10, 4))
    ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    d_ks = sorted(spread)
    ax.plot(d_ks, [spread[d]["max_p_raw"] for d in d_ks], "o-", color="tab:red",
            label="q·k (unscaled)")
    ax.plot(d_ks, [spread[d]["max_p_scaled"] for d in d_ks], "o-", color="tab:blue",
            label="q·k / sqrt(d_k)")
    ax.axhline(1 / 16, color="0.5", ls=":", label="uniform over 16 keys")
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("d_k (dimensions of queries and keys)")
    ax.set_ylabel("average largest attention weight")
    ax.set_title("Without the scaling, softmax drifts toward one-hot")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    T = P_example.shape[-1]
    im = ax2.imshow(P_example, cmap="viridis", vmin=0, vmax=1)
    ax2.set_xticks(range(T))
    ax2.set_yticks(range(T))
    ax2.set_xlabel("key position j (looked at)")
    ax2.set_ylabel("query position i (looking)")
    ax2.set_title("Causal attention weights: no look ahead")
    fig.colorbar(im, ax=ax2, fraction=0.046)
    fig.tight_layout()
    save_figure(fig, out_dir, "attention_scaling.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.d_model % args.heads:
        parser.error(f"--d-model ({args.d_model}) must be divisible by --heads ({args.heads})")
    # float64 arrays: the scaling demo's 200 x 16 queries and keys of d_k numbers (a few
    # copies), and the (1, H, T, T) scores and weights of self-attention, computed twice
    T, d, H = args.seq_len, args.d_model, args.heads
    try:
        check_fits_in_memory(8 * (4 * 200 * 16 * args.d_k + 12 * T * d + 6 * H * T * T),
                             f"--d-k {args.d_k} --seq-len {T} --d-model {d} --heads {H}")
    except ValueError as err:
        parser.error(str(err))
    rng = np.random.default_rng(args.seed)
    causal = not args.no_mask

    print("1. One query, three keys: scores, weights, output")
    q = np.array([3.0, 0.0])
    K = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    V = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0]])
    s = K @ q / np.sqrt(2)
    p = softmax(s)
    print(f"   q = {q}, keys K = {K.tolist()}, values V = {V.tolist()}")
    print(f"   scores q·k_j / sqrt(2) = {np.round(s, 4)}")
    print(f"   weights softmax(scores) = {np.round(p, 4)}  (sum {p.sum():.1f})")
    print(f"   output = weights @ V = {np.round(p @ V, 4)}: mostly the value of the best match")

    print(f"\n2. Why divide by sqrt(d_k): dot products of random vectors, d_k = {args.d_k}")
    spread = dot_product_spread(sorted({4, 16, 64, 256, args.d_k}), 200, rng)
    print("   d_k   std(q·k)   std(q·k/sqrt(d_k))   largest weight: unscaled  scaled")
    for d_k, r in spread.items():
        print(f"   {d_k:4d}   {r['std_raw']:8.2f}   {r['std_scaled']:18.2f}   "
              f"{r['max_p_raw']:24.3f}  {r['max_p_scaled']:6.3f}")
    print("   The std of q·k grows like sqrt(d_k); unscaled, softmax puts most of the weight on "
          "one key\n   and its gradient fades. Scaled, the spread stays near 1 for any d_k.")

    print(f"\n3. Self-attention on a sequence of {T} positions, "
          + ("with the causal mask" if causal else "without a mask: every position sees all"))
    x = rng.normal(size=(1, T, d))
    mha = MultiHeadAttention(d, H, rng, causal=causal)
    for layer in (mha.c_attn, mha.c_proj):
        layer.params["W"] = init_weights("xavier", layer.n_in, layer.n_out, rng)
    out = mha.forward(x)
    P_head0 = mha.P[0, 0].copy()  # kept for the figure (section 4 runs forward again)
    print(f"   x {x.shape} -> c_attn -> q, k, v each {(1, T, d)} -> split into {H} "
          f"head{'s' if H > 1 else ''}: {mha.Q.shape}")
    print(f"   weights P {mha.P.shape}: head 0 =")
    for row in mha.P[0, 0]:
        print("   " + " ".join(f"{w:5.2f}" for w in row))
    print(f"   every row sums to 1: {np.allclose(mha.P.sum(-1), 1)}; "
          f"weight on the future: {mha.P[0, 0][causal_mask(T)].sum():.1f}")
    print(f"   heads merged and projected: out {out.shape}")

    print("\n4. Change the last position's input: do earlier outputs move?")
    x2 = x.copy()
    x2[0, -1] += 1.0
    moved = np.abs(mha.forward(x2) - out).max(axis=-1)[0]
    print("   largest change per position: " + " ".join(f"{m:.1e}" for m in moved))
    print("   " + ("only the last position changed: the mask keeps the past blind to the future"
                   if causal else "every position changed: without the mask they see ahead"))

    print("\nFigures")
    plot_scaling(spread, P_head0, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Scaled dot-product attention, the causal "
                           "mask and multi-head attention.")
    parser.add_argument("--d-k", type=positive_int, default=64,
                        help="dimensions per query/key in the scaling demo")
    parser.add_argument("--heads", type=positive_int, default=4,
                        help="heads in the multi-head demo")
    parser.add_argument("--d-model", type=positive_int, default=16,
                        help="model width in the multi-head demo")
    parser.add_argument("--seq-len", type=positive_int, default=6, help="positions in the demos")
    parser.add_argument("--no-mask", action="store_true", help="let positions see the future")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
