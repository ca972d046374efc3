"""One-hot vectors and the embedding lookup: two ways to write the same numbers.

A tokenizer turns text into ids (char_tokenizer.py: "to" -> [58, 53]). An id is a name, not a
quantity: id 58 is not "more" than id 53. The honest way to feed a name to a network is a
one-hot vector, V numbers that are all 0 except a 1 at the id's position. Multiply it by a
weight matrix W of shape (V, d) and every row but one is multiplied by 0: the product is row
`id` of W. So the first layer of every language model is, in effect, a table with one row of d
numbers per token, and "multiply by a one-hot vector" is a slow way to say "look up a row".

    one_hot(ids) @ W == W[ids]      exactly, for any W

The embedding layer skips the multiplication. Its backward pass follows: each row of W
receives the sum of the gradients of the positions that looked it up (np.add.at), which is
what one_hot(ids).T @ dout computes with far more arithmetic.

The rows of W are coordinates. Think of placing words on a map where similar words are near
each other: with d = 2 each token literally gets an (x, y) position, and training moves the
positions until tokens that behave alike sit close together. Real models use maps of tens to
thousands of dimensions (GPT-2 small: d = 768). That learned table is an "embedding".

History: the idea that a symbol should be a pattern over many units, learned from data, is
Hinton's "distributed representation" (Hinton 1986, "Learning distributed representations of
concepts"). Bengio, Ducharme, Vincent & Jauvin (2003, "A Neural Probabilistic Language Model")
made the shared table of word vectors the first layer of a language model (mlp_lm.py), and
Mikolov et al. (2013) showed how cheaply good tables can be learned (word2vec.py).

Run:  python phase-03-embeddings/code/embeddings.py --text "to be or not to be" --dim 3
"""

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.corpus import add_corpus_flags, load_text
from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase00.threads import limit_blas_threads
from phase03.char_tokenizer import CharTokenizer


def one_hot(ids: np.ndarray | list[int], vocab_size: int) -> np.ndarray:
    """For ids of any shape S, the float array of shape S + (vocab_size,) with a single 1 per
    vector, at the id's position."""
    ids = np.asarray(ids)
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"one_hot needs integer ids, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"ids must lie in 0..{vocab_size - 1} for vocab_size {vocab_size}, "
                         f"got values from {ids.min()} to {ids.max()}")
    out = np.zeros((*ids.shape, vocab_size))
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)  # one 1 per vector, at its id
    return out


class Embedding:
    """A table W of shape (vocab_size, dim): token id i is represented by row W[i].

    Follows the layer protocol of phase 02: `params` {"W": (V, d)}, `grads` {"W": (V, d)},
    forward(ids) returns W[ids] and keeps ids, backward(dout) fills grads["W"].

    The input is a set of integer ids, not a float array, so there is no gradient to pass
    further down: backward returns None. The embedding is always the first layer.
    """

    def __init__(self, vocab_size: int, dim: int, rng: np.random.Generator | None = None,
                 std: float = 1.0) -> None:
        if vocab_size < 1 or dim < 1:
            raise ValueError(f"Embedding needs vocab_size >= 1 and dim >= 1, got {vocab_size} "
                             f"and {dim}")
        rng = np.random.default_rng() if rng is None else rng
        # N(0, std^2) entries; std = 1 is also what PyTorch's nn.Embedding draws (phase 06).
        self.params: dict[str, np.ndarray] = {"W": rng.normal(0.0, std, size=(vocab_size, dim))}
        self.grads: dict[str, np.ndarray] = {"W": np.zeros((vocab_size, dim))}
        self.ids: np.ndarray | None = None  # the last input, kept for the backward pass

    @classmethod
    def from_weights(cls, W: np.ndarray) -> "Embedding":
        """An embedding whose table is exactly W (copied to float64)."""
        W = np.array(W, dtype=np.float64)
        if W.ndim != 2:
            raise ValueError(f"an embedding table has shape (vocab_size, dim), got {W.shape}")
        layer = cls(*W.shape, rng=np.random.default_rng(0))
        layer.params["W"] = W
        return layer

    @property
    def vocab_size(self) -> int:
        return self.params["W"].shape[0]

    @property
    def dim(self) -> int:
        return self.params["W"].shape[1]

    def forward(self, ids: np.ndarray) -> np.ndarray:
        """W[ids]: ids of any shape S (integers in 0..V-1) -> vectors of shape S + (dim,)."""
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"{self!r} looks up integer token ids, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"{self!r}: ids must lie in 0..{self.vocab_size - 1}, got values "
                             f"from {ids.min()} to {ids.max()}")
        self.ids = ids
        out = self.params["W"][ids]  # fancy indexing: one row copied per id
        assert out.shape == (*ids.shape, self.dim)
        return out

    def backward(self, dout: np.ndarray) -> None:
        """Fill grads["W"]: row i gets the sum of dout over every position whose id is i.

        Rows that were not looked up get 0. An id that appears twice (the two t's of "to be
        or not to be") collects both gradients: np.add.at adds at repeated indices, where
        plain `grads[ids] += dout` would keep only one of them.
        """
        if self.ids is None:
            raise RuntimeError("call forward() before backward(): backward needs the ids")
        if dout.shape != (*self.ids.shape, self.dim):
            raise ValueError(f"{self!r}.backward expects dout of shape "
                             f"{(*self.ids.shape, self.dim)} (the shape of its output), got "
                             f"{dout.shape}")
        self.grads["W"][...] = 0.0  # overwrite, like every layer of phase 02
        np.add.at(self.grads["W"], self.ids.reshape(-1), dout.reshape(-1, self.dim))
        return None  # ids are integers: nothing below to send blame to

    def __repr__(self) -> str:
        return f"Embedding({self.vocab_size} x {self.dim})"


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of a few runs of fn(), in seconds (the least disturbed by other programs)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cost_of_both(ids: np.ndarray, vocab_size: int, dim: int,
                 rng: np.random.Generator) -> dict[str, float]:
    """Time one_hot(ids) @ W against W[ids] for a table of shape (vocab_size, dim)."""
    W = rng.normal(size=(vocab_size, dim))
    X = one_hot(ids, vocab_size)
    assert np.array_equal(X @ W, W[ids])
    return {"onehot_bytes": float(X.nbytes), "lookup_bytes": float(W[ids].nbytes),
            "matmul_s": best_time(lambda: one_hot(ids, vocab_size) @ W),
            "lookup_s": best_time(lambda: W[ids])}


# The figure writes every number of one_hot(ids), W and W[ids]: one row per character of the
# example text, one column per dimension. Past these sizes it is unreadable and slow to draw.
MAX_EXAMPLE_CHARS, MAX_EXAMPLE_DIM = 100, 64
TIMING_VOCAB = 4096  # the larger vocabulary of the timing, a small BPE vocabulary's size


def timing_memory(n_ids: int, vocab_size: int, dim: int) -> int:
    """Bytes the timing of part 3 needs at its peak: two one-hot matrices (N, V) of 8-byte
    numbers (one kept for the check, one made inside the timed call), the table (V, d) and a
    few (N, d) results."""
    return 8 * (2 * n_ids * vocab_size + vocab_size * dim + 4 * n_ids * dim)


def char_label(ch: str) -> str:
    """A visible label for a character: the space becomes a small open box, newline \\n."""
    return {" ": "\u2423", "\n": "\\n"}.get(ch, ch)


def plot_one_hot_lookup(tok: CharTokenizer, text: str, W: np.ndarray,
                        out_dir: Path | None = None) -> Figure:
    """one_hot(ids) @ W = W[ids], drawn as three grids on one scale, characters as labels."""
    ids = tok.encode(text)
    X = one_hot(ids, tok.vocab_size)
    T, V, d = len(ids), tok.vocab_size, W.shape[1]
    limit = float(np.abs(W).max())
    fig = Figure(figsize=(10, 0.32 * T + 1.6), layout="constrained")
    ax = fig.subplots()
    left = 0.0
    panels = ((X, "one_hot(ids)", "Greys", 0.0, 1.0, [char_label(c) for c in tok.chars]),
              (W, "W, the table", "RdBu_r", -limit, limit, None),
              (X @ W, "= W[ids]", "RdBu_r", -limit, limit, None))
    for k, (M, title, cmap, lo, hi, xlabels) in enumerate(panels):
        n_r, n_c = M.shape
        top = 0.0 if n_r == T else -(T - n_r) / 2  # centre the table on the rows
        ax.imshow(M, cmap=cmap, vmin=lo, vmax=hi, extent=(left, left + n_c, top - n_r, top))
        for (i, j), v in np.ndenumerate(M):
            ax.text(left + j + 0.5, top - i - 0.5, f"{v:.0f}" if k == 0 else f"{v:.1f}",
                    ha="center", va="center", fontsize=7,
                    color="white" if abs(v) > 0.6 * hi else "black")
        ax.text(left + n_c / 2, top + 0.4, f"{title}  {M.shape}", ha="center", fontsize=9)
        row_labels = tok.chars if M is W else [text[i] for i in range(T)]
        for i, ch in enumerate(row_labels):
            ax.text(left - 0.3, top - i - 0.5, char_label(ch), ha="right", va="center",
                    fontsize=8, color="tab:blue")
        if xlabels:
            for j, lab in enumerate(xlabels):
                ax.text(left + j + 0.5, top - n_r - 0.4, lab, ha="center", va="top", fontsize=8,
                        color="tab:blue")
        if k < 2:
            ax.text(left + n_c + 1.25, -T / 2, "@" if k == 0 else "=", ha="center",
                    va="center", fontsize=16)
        left += n_c + 2.5
    ax.set_xlim(-1.2, left - 2.0)
    ax.set_ylim(-T - 1.3, 1.2)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.suptitle(f"Multiplying by one-hot vectors picks rows of W: {text!r} becomes {T} rows "
                 f"of a {V} x {d} table", fontsize=10)
    save_figure(fig, out_dir, "one_hot_lookup.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.text:
        parser.error("--text is empty: the example needs at least one character")
    if len(args.text) > MAX_EXAMPLE_CHARS:
        parser.error(f"--text has {len(args.text):,} characters: the figure draws one row per "
                     f"character, so keep it to {MAX_EXAMPLE_CHARS} at most")
    if args.dim > MAX_EXAMPLE_DIM:
        parser.error(f"--dim {args.dim}: the figure writes every number of the example's "
                     f"table, so keep it to {MAX_EXAMPLE_DIM} at most (--timing-dim sets the "
                     f"size of the timing)")
    try:
        text, source = load_text(args.corpus, args.path)
        corpus_tok = CharTokenizer(text, source)
        n_ids = min(args.tokens, len(text))
        check_fits_in_memory(timing_memory(n_ids, max(corpus_tok.vocab_size, TIMING_VOCAB),
                                           args.timing_dim),
                             f"the timing of --tokens {args.tokens} --timing-dim "
                             f"{args.timing_dim} with V = "
                             f"{max(corpus_tok.vocab_size, TIMING_VOCAB):,}")
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    limit_blas_threads(1)  # one thread: timings that a busy machine disturbs less
    rng = np.random.default_rng(args.seed)

    tok = CharTokenizer(args.text, "the example text")
    ids = np.array(tok.encode(args.text))
    T, V, d = len(ids), tok.vocab_size, args.dim
    print(f"1. {args.text!r}: T = {T} characters, a vocabulary of V = {V}: {tok.chars}")
    print(f"   ids = {ids.tolist()}")
    X = one_hot(ids, V)
    print(f"   one_hot(ids): shape {X.shape}, row 0 = {X[0].astype(int).tolist()} "
          f"(a 1 at position {ids[0]}, {args.text[0]!r})")
    emb = Embedding(V, d, rng)
    W = emb.params["W"]
    print(f"   W: shape {W.shape}, one row of {d} numbers per character (the map's coordinates)")
    via_matmul = X @ W  # (T, V) @ (V, d) -> (T, d)
    via_lookup = emb.forward(ids)  # W[ids] -> (T, d)
    assert via_matmul.shape == via_lookup.shape == (T, d)
    print(f"   one_hot(ids) @ W: shape {via_matmul.shape}, first row "
          f"{np.round(via_matmul[0], 4).tolist()}")
    print(f"   W[ids]:           shape {via_lookup.shape}, first row "
          f"{np.round(via_lookup[0], 4).tolist()}")
    print(f"   identical, bit for bit: {np.array_equal(via_matmul, via_lookup)}")

    print("\n2. Backward: the gradient of the table")
    dout = rng.normal(size=(T, d))  # pretend dL/d(output) arrived from the layers above
    emb.backward(dout)
    reference = X.T @ dout  # (V, T) @ (T, d): what the matmul layer's dL/dW would be
    counts = np.bincount(ids, minlength=V)
    print(f"   np.add.at scatter: grads['W'] shape {emb.grads['W'].shape}; one_hot.T @ dout "
          f"shape {reference.shape}; largest difference "
          f"{np.abs(emb.grads['W'] - reference).max():.1e}")
    most = int(np.argmax(counts))
    print(f"   {tok.chars[most]!r} appears {counts[most]} times, so its row is the sum of "
          f"{counts[most]} rows of dout: {np.round(emb.grads['W'][most], 4).tolist()}")

    corpus_ids = np.array(corpus_tok.encode(text[: args.tokens]))
    N, D = len(corpus_ids), args.timing_dim
    print(f"\n3. The cost, for N = {N} ids of {source}, d = {D} (best of 3 runs)")
    print(f"   {'V':>6s} {'one-hot matrix':>15s} {'multiply-adds':>14s} {'one_hot @ W':>12s} "
          f"{'W[ids]':>9s} {'ratio':>6s}")
    for V_big in (corpus_tok.vocab_size, TIMING_VOCAB):
        cost = cost_of_both(corpus_ids, V_big, D, rng)
        print(f"   {V_big:6d} {cost['onehot_bytes'] / 1e6:12.1f} MB {N * V_big * D:14,d} "
              f"{cost['matmul_s'] * 1e3:9.2f} ms {cost['lookup_s'] * 1e3:6.2f} ms "
              f"{cost['matmul_s'] / cost['lookup_s']:5.0f}x")
    V_gpt2, d_gpt2 = 50257, 768
    print(f"   GPT-2 small (V = {V_gpt2:,}, d = {d_gpt2}), not run: each one-hot row is "
          f"{V_gpt2 * 8 / 1e3:.0f} kB and costs {V_gpt2 * d_gpt2:,} multiply-adds,\n"
          f"   to fetch {d_gpt2} numbers ({d_gpt2 * 8 / 1e3:.1f} kB) that a lookup copies "
          f"directly")

    print("\nFigures")
    plot_one_hot_lookup(tok, args.text, W, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("One-hot times a matrix versus an embedding "
                           "lookup: the same numbers, far cheaper.")
    parser.add_argument("--text", default="to be or not to be",
                        help="the example text; its own characters form the small vocabulary of "
                             "parts 1-2 (default: 'to be or not to be')")
    parser.add_argument("--dim", type=positive_int, default=3, help="embedding size of the example")
    parser.add_argument("--tokens", type=positive_int, default=2000,
                        help="ids looked up in the timing of part 3")
    parser.add_argument("--timing-dim", type=positive_int, default=256,
                        help="embedding size in the timing of part 3")
    add_corpus_flags(parser, " whose ids part 3 looks up")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
