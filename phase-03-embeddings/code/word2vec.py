"""word2vec: learn a map of words from nothing but which words appear near which.

"You shall know a word by the company it keeps" (J. R. Firth, 1957, "A synopsis of linguistic
theory 1930-1955"). Zellig Harris had made the same point in "Distributional Structure" (1954):
words that occur in similar contexts tend to have similar meanings. "king" and "queen" both sit
next to "the", "crown", "my lord"; "night" and "day" both follow "this" and "good".

Tomas Mikolov, Kai Chen, Greg Corrado and Jeffrey Dean turned that idea into a fast learning
rule (2013, "Efficient Estimation of Word Representations in Vector Space"), and the same group
with Ilya Sutskever made it faster and better (2013, "Distributed Representations of Words and
Phrases and their Compositionality"). The problem they solved was scale: the neural language
models of the time (mlp_lm.py) spent almost all their time on a softmax over the whole
vocabulary, and could only be trained on small corpora. They kept just the embeddings and
replaced the softmax by a cheap yes/no question.

Skip-gram with negative sampling (SGNS). Every word has two vectors: v (as a centre word) and u
(as a context word). For each centre word c and a word o within a few positions of it,
- a positive example: push sigma(u_o . v_c) toward 1 ("o really was near c"),
- k negative examples: k words n drawn at random from the unigram distribution raised to the
  power 0.75, pushing sigma(u_n . v_c) toward 0 ("n was just a random word").
The loss of one pair is  -log sigma(u_o . v_c) - sum_k log sigma(-u_nk . v_c).  Words used in
the same company get pushed toward the same context vectors, and so end up near each other.
That is the word map: placing words on a map where similar words are near each other.

Two more tricks from the second paper: frequent words ("the", "and") are randomly dropped from
the text (subsampling: a word of frequency f is kept with probability sqrt(t / f)), and the
window shrinks at random, so near neighbours count more than distant ones.

The gradients are written by hand (three lines, see sgns_loss_and_grads) and checked against
finite differences in the tests. The map is flattened to 2-D by PCA, done with np.linalg.svd.

Run:  python phase-03-embeddings/code/word2vec.py --dim 50 --window 5 --negatives 5 --epochs 12
"""

import argparse
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

from phase00.corpus import add_corpus_flags, load_text
from phase00.figures import add_out_flag, save_figure
from phase00.flags import (
    add_seed_flag,
    check_fits_in_memory,
    nonnegative_float,
    positive_float,
    positive_int,
    script_parser,
)
from phase00.gradient_descent import check_loss
from phase00.threads import limit_blas_threads
from phase02.optimizers import SGD

WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")  # lowercase letters, with inner apostrophes: "o'er"
QUERY_WORDS = ["king", "queen", "man", "love", "father", "night", "thou", "death"]


def words_of(text: str) -> list[str]:
    """The lowercased word tokens of a text: "KING RICHARD: O'er" -> ["king", "richard", "o'er"]."""
    return WORD.findall(text.lower())


def build_vocab(words: list[str], min_count: int) -> tuple[list[str], np.ndarray]:
    """The words seen at least min_count times, most frequent first, and their counts.

    Rare words are dropped: a word seen twice gives two noisy updates, not enough to place it
    on the map, and there are thousands of them.
    """
    counter = Counter(words)
    vocab = sorted((w for w, n in counter.items() if n >= min_count),
                   key=lambda w: (-counter[w], w))  # ties in alphabetical order: repeatable
    if len(vocab) < 2:
        raise ValueError(f"only {len(vocab)} distinct words occur at least {min_count} times "
                         f"in this text ({len(words)} words): lower --min-count or use a longer "
                         f"text")
    return vocab, np.array([counter[w] for w in vocab], dtype=np.float64)


def subsample(ids: np.ndarray, counts: np.ndarray, t: float,
              rng: np.random.Generator) -> np.ndarray:
    """Drop each occurrence of a word of frequency f with probability 1 - sqrt(t / f).

    Mikolov et al. (2013b): "the" is seen so often that most of its pairs teach nothing new;
    dropping most of them speeds training up and lets rarer words pull their weight. Words
    with f <= t are always kept. t = 0 keeps everything.
    """
    if t == 0:
        return ids
    f = counts / counts.sum()
    keep = rng.random(len(ids)) < np.sqrt(t / f[ids])
    return ids[keep]


def skipgram_pairs(ids: np.ndarray, window: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """All (centre, context) pairs within a random window, shuffled. Vectorised per offset.

    Each centre position draws its own window size b from 1..window, and pairs with the words
    up to b positions left and right of it, so a word at distance 1 is always used and one at
    distance `window` only a 1 / window of the time.
    """
    n = len(ids)
    if n < 2:  # a single word (or none, after subsampling) has no neighbour
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    b = rng.integers(1, window + 1, size=n)  # each centre's own window
    centres, contexts = [], []
    for offset in range(1, min(window, n - 1) + 1):  # a loop over offsets, not over words
        right = b[: n - offset] >= offset  # centre i, context i + offset
        centres.append(ids[: n - offset][right])
        contexts.append(ids[offset:][right])
        left = b[offset:] >= offset  # centre i + offset, context i
        centres.append(ids[offset:][left])
        contexts.append(ids[: n - offset][left])
    centre, context = np.concatenate(centres), np.concatenate(contexts)
    order = rng.permutation(len(centre))
    return centre[order], context[order]


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """P(n) proportional to count(n)^0.75: the distribution negatives are drawn from.

    The power 0.75, found by experiment in Mikolov et al. (2013b), flattens the unigram
    distribution: "the" is drawn less often than its share, rare words more often.
    """
    p = counts**power
    return p / p.sum()


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), written through tanh so that no exp overflows for large |x|."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log sigma(x) = -log(1 + e^-x), without overflow: logaddexp(0, -x) never forms e^-x."""
    return -np.logaddexp(0.0, -x)


class SkipGram:
    """The two tables of SGNS: W_in (V, d) holds v, a word as centre; W_out (V, d) holds u.

    Follows the layer protocol of phase 02 (`params`, `grads`), so phase 02's optimizers update
    it. The embeddings we keep at the end are the rows of W_in.
    """

    def __init__(self, vocab_size: int, dim: int, rng: np.random.Generator) -> None:
        # word2vec's own start: v small and random (uniform in +-0.5/d), u all zeros, so every
        # score u . v starts at 0 and every sigma at 1/2.
        self.params: dict[str, np.ndarray] = {
            "W_in": (rng.random((vocab_size, dim)) - 0.5) / dim,
            "W_out": np.zeros((vocab_size, dim)),
        }
        self.grads: dict[str, np.ndarray] = {k: np.zeros_like(v) for k, v in self.params.items()}

    def sgns_loss_and_grads(self, centre: np.ndarray, context: np.ndarray,
                            negatives: np.ndarray) -> float:
        """Mean SGNS loss of a batch; fills grads["W_in"] and grads["W_out"].

        centre (B,), context (B,), negatives (B, k): word ids.
            L = (1/B) sum_b [ -log sigma(u_o . v_c) - sum_j log sigma(-u_nj . v_c) ]
        With s = u . v, dL/ds is (sigma(s) - 1)/B for the positive pair and sigma(s)/B for
        each negative: "how wrong was the yes/no answer". Then, since s = u . v,
        dL/dv = dL/ds * u and dL/du = dL/ds * v, summed over every place a row was used.
        """
        B, k = negatives.shape
        if centre.shape != (B,) or context.shape != (B,):
            raise ValueError(f"expected centre and context of shape ({B},) to match negatives "
                             f"{negatives.shape}, got {centre.shape} and {context.shape}")
        W_in, W_out = self.params["W_in"], self.params["W_out"]
        d = W_in.shape[1]
        v = W_in[centre]  # (B, d)     centre vectors
        u_pos = W_out[context]  # (B, d)     true context vectors
        u_neg = W_out[negatives]  # (B, k, d)  random "noise" context vectors
        s_pos = np.sum(u_pos * v, axis=1)  # (B,)     one score per pair
        s_neg = np.einsum("bkd,bd->bk", u_neg, v)  # (B, k)   k scores per pair
        loss = -(log_sigmoid(s_pos).sum() + log_sigmoid(-s_neg).sum()) / B

        g_pos = (sigmoid(s_pos) - 1.0) / B  # (B,)     dL/ds_pos
        g_neg = sigmoid(s_neg) / B  # (B, k)   dL/ds_neg
        dv = g_pos[:, None] * u_pos + np.einsum("bk,bkd->bd", g_neg, u_neg)  # (B, d)
        du_pos = g_pos[:, None] * v  # (B, d)
        du_neg = g_neg[:, :, None] * v[:, None, :]  # (B, k, d)
        self.grads["W_in"][...] = 0.0
        self.grads["W_out"][...] = 0.0
        np.add.at(self.grads["W_in"], centre, dv)  # a word used twice collects both
        np.add.at(self.grads["W_out"], context, du_pos)
        np.add.at(self.grads["W_out"], negatives.reshape(-1), du_neg.reshape(-1, d))
        return float(loss)


def train(ids: np.ndarray, counts: np.ndarray, dim: int, window: int, negatives: int,
          epochs: int, lr: float, batch: int, subsample_t: float, rng: np.random.Generator,
          progress: bool = True) -> tuple[SkipGram, list[float]]:
    """SGD over shuffled mini-batches of pairs, the learning rate falling linearly to 0.

    Returns the model and the mean loss of each epoch.
    """
    V = len(counts)
    model = SkipGram(V, dim, rng)
    noise_cdf = np.cumsum(noise_distribution(counts))
    opt = SGD([model], lr)
    epoch_losses: list[float] = []

    def epoch_pairs(draw: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One epoch's pairs: a fresh subsample of the text and fresh random windows."""
        return skipgram_pairs(subsample(ids, counts, subsample_t, draw), window, draw)

    # The learning rate falls over the total number of steps, so every epoch's pairs are
    # counted first. Keeping them all would hold (epochs x pairs) ids, hundreds of MB; instead
    # each epoch remembers the generator's state it started from and is drawn again from it,
    # the same pairs, when its turn comes: one epoch in memory at a time.
    starts, total = [], 0
    for _ in range(epochs):
        starts.append(rng.bit_generator.state)
        total += len(epoch_pairs(rng)[0]) // batch
    # rng now stands where it would after drawing every epoch: the negatives come from here on
    if total == 0:
        raise ValueError(f"every epoch has fewer (centre, context) pairs than one batch of "
                         f"{batch}: nothing would be trained; use a smaller --batch or a longer "
                         f"text")
    bar = tqdm(total=total, desc="word2vec", unit="batch", disable=not progress, leave=False)
    done = 0
    for epoch, state in enumerate(starts):
        replay = np.random.Generator(type(rng.bit_generator)())
        replay.bit_generator.state = state
        centre, context = epoch_pairs(replay)
        losses = []
        for start in range(0, len(centre) - batch + 1, batch):
            opt.lr = lr * max(1.0 - done / total, 1e-4)
            c, o = centre[start: start + batch], context[start: start + batch]
            # Inverse-CDF sampling of (B, k) negatives, all at once (phase 00's sample()).
            n = np.minimum(np.searchsorted(noise_cdf, rng.random((batch, negatives))), V - 1)
            losses.append(model.sgns_loss_and_grads(c, o, n))
            check_loss(losses[-1], f"in epoch {epoch + 1}", lr,
                       ceiling=100 * (1 + negatives) * np.log(2))
            opt.step()
            done += 1
            bar.update()
        epoch_losses.append(float(np.mean(losses)) if losses else float("nan"))
        bar.set_postfix(epoch=epoch + 1, loss=f"{epoch_losses[-1]:.3f}")
    bar.close()
    return model, epoch_losses


def memory_needed(n_words: int, vocab_size: int, dim: int, window: int, negatives: int,
                  epochs: int, batch: int) -> int:
    """Bytes a run needs at its peak, about, in 8-byte numbers. One epoch's pairs are held at
    a time: about n_words * (window + 1) pairs (each word pairs with (window + 1) / 2 words on
    average on each side), two ids each, plus about three epochs' worth of temporaries while
    they are made and shuffled. The tables W_in and W_out and their gradients, and the
    (batch, negatives, dim) arrays of one step. `epochs` does not change the peak."""
    pairs = n_words * (min(window, max(n_words - 1, 0)) + 1)
    tables = 4 * vocab_size * dim
    step = 4 * batch * negatives * dim + 8 * batch * dim
    return 8 * (2 * pairs * 4 + tables + step)


def unit_rows(E: np.ndarray) -> np.ndarray:
    """Every row divided by its length, so that a dot product of two rows is their cosine."""
    return E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)


def nearest(E: np.ndarray, query: int, k: int) -> list[tuple[int, float]]:
    """The k rows with the highest cosine similarity to row `query` (itself excluded)."""
    E_unit = unit_rows(E)
    cos = E_unit @ E_unit[query]  # (V,): one matrix-vector product scores every word
    cos[query] = -np.inf
    best = np.argsort(-cos)[:k]
    return [(int(i), float(cos[i])) for i in best]


def analogy(E: np.ndarray, a: int, b: int, c: int, k: int = 3) -> list[tuple[int, float]]:
    """Words w closest to v_b - v_a + v_c ("a is to b as c is to w"), a, b, c excluded."""
    E_unit = unit_rows(E)
    target = E_unit[b] - E_unit[a] + E_unit[c]
    cos = E_unit @ (target / np.linalg.norm(target))
    cos[[a, b, c]] = -np.inf
    best = np.argsort(-cos)[:k]
    return [(int(i), float(cos[i])) for i in best]


def pca_2d(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project the rows of X (n, d) onto their two directions of largest spread.

    Centre the cloud (subtract the mean row), then X_c = U S Vt (the singular value
    decomposition): the rows of Vt are orthogonal directions, sorted by how much of the spread
    S^2 lies along each. Returns the 2-D coordinates X_c @ Vt[:2].T (n, 2) and the fraction of
    the total spread that every direction carries.
    """
    X_c = X - X.mean(axis=0)
    _, S, Vt = np.linalg.svd(X_c, full_matrices=False)
    coords = X_c @ Vt[:2].T
    if coords.shape[1] < 2:  # d = 1, or a single row: one direction only, the second is all 0
        coords = np.column_stack([coords, np.zeros(len(X))])
    spread = np.zeros(max(2, len(S)))
    spread[:len(S)] = S**2
    total = spread.sum()  # 0 when every row is the same point
    return coords, spread / total if total > 0 else spread


def plot_word_map(E: np.ndarray, vocab: list[str], n_frequent: int, groups: dict[str, list[int]],
                  out_dir: Path | None = None) -> Figure:
    """Two PCA maps of the rows of E. Left: the n_frequent most frequent words. Right: each
    query word with its nearest neighbours, one colour per group. Each map has its own PCA."""
    fig = Figure(figsize=(16, 7.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    coords, explained = pca_2d(E[:n_frequent])
    left.scatter(coords[:, 0], coords[:, 1], s=8, color="0.6")
    for (x, y), w in zip(coords, vocab[:n_frequent], strict=True):
        left.annotate(w, (x, y), fontsize=7.5, xytext=(2, 2), textcoords="offset points")
    left.set_title(f"The {n_frequent} most frequent words (first two directions: "
                   f"{explained[0]:.1%} and {explained[1]:.1%} of the spread)", fontsize=10)
    members = [i for ids in groups.values() for i in ids]
    coords, explained = pca_2d(E[members])
    colors = [f"C{k % 10}" for k in range(len(groups))]
    at = 0
    for (word, ids), color in zip(groups.items(), colors, strict=True):
        xy = coords[at: at + len(ids)]
        at += len(ids)
        right.scatter(xy[:, 0], xy[:, 1], s=14, color=color, label=word)
        for (x, y), i in zip(xy, ids, strict=True):
            right.annotate(vocab[i], (x, y), fontsize=10 if vocab[i] == word else 8,
                           fontweight="bold" if vocab[i] == word else "normal", color=color,
                           xytext=(3, 2), textcoords="offset points")
    right.set_title(f"Query words and their nearest neighbours (first two directions: "
                    f"{explained[0]:.1%} and {explained[1]:.1%} of the spread)", fontsize=10)
    right.legend(fontsize=8, loc="best")
    for ax in (left, right):
        ax.set_xlabel("first principal direction")
        ax.set_ylabel("second principal direction")
    fig.suptitle(f"word2vec on a map: {E.shape[1]}-dimensional embeddings flattened to 2-D by "
                 f"PCA (np.linalg.svd)", fontsize=11)
    save_figure(fig, out_dir, "word2vec_map.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        text, source = load_text(args.corpus, args.path)
        words = words_of(text)
        vocab, counts = build_vocab(words, args.min_count)
        check_fits_in_memory(memory_needed(int(counts.sum()), len(vocab), args.dim, args.window,
                                           args.negatives, args.epochs, args.batch),
                             f"--dim {args.dim} --window {args.window} --epochs {args.epochs} "
                             f"--batch {args.batch} --negatives {args.negatives} over "
                             f"{int(counts.sum()):,} words")
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    limit_blas_threads(1)  # small matrix products: one thread is faster and steadier
    rng = np.random.default_rng(args.seed)
    word_id = {w: i for i, w in enumerate(vocab)}
    ids = np.array([word_id[w] for w in words if w in word_id])
    V = len(vocab)

    print(f"1. Words of {source}")
    print(f"   {len(words):,} word tokens, {len(set(words)):,} distinct; {V:,} occur at least "
          f"{args.min_count} times (they make {len(ids) / len(words):.0%} of the text)")
    print("   most frequent: " + ", ".join(f"{w} {int(n)}" for w, n in
                                              zip(vocab[:8], counts[:8], strict=False)))
    kept = subsample(ids, counts, args.subsample, np.random.default_rng(args.seed))
    f_top = counts[0] / counts.sum()
    print(f"   subsampling (t = {args.subsample:g}) keeps about {len(kept):,} of {len(ids):,}: "
          f"{vocab[0]!r} (frequency {f_top:.3f}) is kept with probability "
          f"{min(1.0, np.sqrt(args.subsample / f_top)) if args.subsample else 1.0:.2f}")
    centre, context = skipgram_pairs(kept, args.window, np.random.default_rng(args.seed))
    if len(centre) < args.batch:
        parser.exit(2, f"error: one epoch gives {len(centre):,} (centre, context) pairs, fewer "
                       f"than one --batch of {args.batch}: nothing would be trained; use a "
                       f"smaller --batch, a longer text, or --subsample 0 to keep every word\n")
    print(f"   one epoch: {len(centre):,} (centre, context) pairs; for example "
          + ", ".join(f"({vocab[c]}, {vocab[o]})" for c, o in zip(centre[:4], context[:4],
                                                                  strict=True)))
    noise = noise_distribution(counts)
    print(f"   negatives come from count^0.75: P({vocab[0]!r}) = {noise[0]:.4f} instead of "
          f"{counts[0] / counts.sum():.4f}, P({vocab[-1]!r}) = {noise[-1]:.6f} instead of "
          f"{counts[-1] / counts.sum():.6f}")

    print(f"\n2. Training: W_in and W_out of shape ({V}, {args.dim}), {args.negatives} "
          f"negatives, window {args.window}, batch {args.batch}, {args.epochs} epochs, "
          f"SGD lr {args.lr:g} -> 0")
    start = time.perf_counter()
    try:
        model, epoch_losses = train(ids, counts, args.dim, args.window, args.negatives,
                                    args.epochs, args.lr, args.batch, args.subsample, rng,
                                    not args.no_progress)
    except FloatingPointError as err:
        parser.exit(1, f"error: {err}\n")
    seconds = time.perf_counter() - start
    print("   loss per pair, epoch by epoch: "
          + ", ".join(f"{loss:.3f}" for loss in epoch_losses))
    print(f"   (at the start every sigma is 1/2: (1 + {args.negatives}) * ln 2 = "
          f"{(1 + args.negatives) * np.log(2):.3f}); trained in {seconds:.0f} s")

    E = model.params["W_in"]
    print("\n3. Nearest neighbours by cosine similarity")
    groups: dict[str, list[int]] = {}
    for word in dict.fromkeys(w.lower() for w in args.query):  # the vocabulary is lowercase
        if word not in word_id:
            print(f"   {word!r}: not in the vocabulary (fewer than {args.min_count} times)")
            continue
        near = nearest(E, word_id[word], 6)
        groups[word] = [word_id[word]] + [i for i, _ in near[:4]]
        print(f"   {word:>8s}: " + ", ".join(f"{vocab[i]} {cos:.2f}" for i, cos in near))
    if all(w in word_id for w in ("man", "king", "woman")):
        guess = analogy(E, word_id["man"], word_id["king"], word_id["woman"])
        print("   analogy man : king = woman : ?  -> "
              + ", ".join(f"{vocab[i]} {cos:.2f}" for i, cos in guess))

    print("\n4. A 2-D map by PCA")
    toy = np.array([[3.0, 1.0], [1.0, 1.0], [-1.0, -1.0], [-3.0, -1.0]])  # mean (0, 0)
    toy_coords, toy_share = pca_2d(toy)
    direction = np.linalg.svd(toy, full_matrices=False)[2][0]
    sign = np.sign(direction[0])  # SVD may return -direction: turn it to point along +x
    total = np.var(toy, axis=0).sum()
    print(f"   first, four points in a plane, {toy.astype(int).tolist()}: their variance (mean "
          f"squared distance from the mean) is {np.var(toy[:, 0]):g} along x and "
          f"{np.var(toy[:, 1]):g} along y, {total:g} in all")
    print(f"   the first direction {(sign * direction).round(3).tolist()} carries "
          f"{toy_share[0] * total:.2f} of the {total:g} ({toy_share[0]:.1%}): along it the points "
          f"sit at {(sign * toy_coords[:, 0]).round(2).tolist()}")
    n_map = min(args.map_words, V)
    coords, explained = pca_2d(E[:n_map])
    print(f"   the {n_map} most frequent words: ({n_map}, {args.dim}) -> centred -> SVD -> "
          f"coordinates {coords.shape}")
    print(f"   the first two directions carry {explained[0]:.1%} and {explained[1]:.1%} of the "
          f"spread: the map is a shadow of the real {args.dim}-dimensional space")

    print("\nFigures")
    if groups:
        plot_word_map(E, vocab, n_map, groups, args.out)
    else:
        print("   no query word is in the vocabulary: no map drawn")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("word2vec skip-gram with negative sampling, by hand.")
    add_corpus_flags(parser)
    parser.add_argument("--dim", type=positive_int, default=50, help="embedding size d")
    parser.add_argument("--window", type=positive_int, default=5,
                        help="largest distance between centre and context")
    parser.add_argument("--negatives", type=positive_int, default=5,
                        help="negative samples k per pair")
    parser.add_argument("--epochs", type=positive_int, default=12, help="passes over the text")
    parser.add_argument("--lr", type=positive_float, default=5.0,
                        help="starting learning rate of SGD on the batch-MEAN loss, decayed "
                             "linearly to 0 (default: 5; per pair that is 5/256, about "
                             "word2vec's 0.025)")
    parser.add_argument("--batch", type=positive_int, default=256, help="pairs per step")
    parser.add_argument("--min-count", type=positive_int, default=10,
                        help="drop words seen fewer times")
    parser.add_argument("--subsample", type=nonnegative_float, default=1e-3,
                        help="subsampling threshold t; 0 keeps every word")
    parser.add_argument("--query", nargs="+", default=QUERY_WORDS,
                        help=f"words whose neighbours are printed, lowercased like the text "
                             f"(default: {' '.join(QUERY_WORDS)})")
    parser.add_argument("--map-words", type=positive_int, default=100,
                        help="how many of the most frequent words to draw")
    add_seed_flag(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
