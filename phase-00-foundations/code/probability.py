"""Probability for language models: softmax, temperature, cross-entropy, entropy, sampling.

A language model ends every step the same way: it produces one score (a "logit") per word in
its vocabulary, turns the scores into probabilities with softmax, and is graded by how much
probability it gave the word that actually came next (cross-entropy). To write text it samples
from those probabilities, and a temperature makes it bolder or more careful.

Everything here is a few lines of NumPy. The two tricks worth remembering are numerical:
subtract the maximum before exponentiating (softmax never overflows), and work in log space
with log-sum-exp (cross-entropy never takes log(0)).

Run:  python phase-00-foundations/code/probability.py --logits 2 1 0.1 --temperature 0.5
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import (
    check_fits_in_memory,
    finite_float,
    positive_int,
    script_parser,
    temperature,
)
from phase00.gradient_descent import check_duration


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Turn scores into probabilities that sum to 1 along `axis`.

    Why subtract the max: exp(1000) overflows to inf, but softmax(z) == softmax(z - c) for any
    constant c, so shifting the largest score to 0 changes nothing except that it now fits.
    Floating-point input keeps its precision (float32 stays float32, which phase 05's training
    relies on for speed); anything else (ints, lists) becomes float64.
    """
    z = np.asarray(z)
    z = z if np.issubdtype(z.dtype, np.floating) else z.astype(np.float64)
    z_shifted = z - z.max(axis=axis, keepdims=True)  # largest entry becomes 0
    exp_z = np.exp(z_shifted)  # all values now in (0, 1]
    return exp_z / exp_z.sum(axis=axis, keepdims=True)


def softmax_naive(z: np.ndarray) -> np.ndarray:
    """Softmax straight from the formula, without the max trick: overflows for large scores.

    Kept only to show what goes wrong: softmax_naive([1000, 1001]) is [nan, nan].
    """
    exp_z = np.exp(np.asarray(z, dtype=float))
    return exp_z / exp_z.sum(axis=-1, keepdims=True)


def softmax_with_temperature(z: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of z / temperature.

    Dividing every score by T < 1 stretches the gaps between them (the winner wins bigger);
    T > 1 squeezes them together (choices become more even). T -> 0 is argmax, T -> inf is
    uniform.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return softmax(np.asarray(z, dtype=float) / temperature)


def logsumexp(z: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(z))) computed without overflow, by the same shift as softmax.

    log(sum(exp(z))) = m + log(sum(exp(z - m))) for m = max(z): the sum now has a term
    exp(0) = 1, so it is never 0 and never inf.
    """
    z = np.asarray(z, dtype=float)
    m = z.max(axis=axis, keepdims=True)
    out = m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(softmax(z)) = z - logsumexp(z): exact even when a probability underflows to 0."""
    z = np.asarray(z, dtype=float)
    return z - logsumexp(z, axis=axis, keepdims=True)


def _check_targets(n_classes: int, target: np.ndarray, batch_shape: tuple[int, ...]) -> None:
    """Raise a clear error if `target` does not hold one valid class index per row."""
    if target.shape != batch_shape:
        raise ValueError(
            f"target must have shape {batch_shape} (one class index per row of scores), "
            f"got {target.shape}"
        )
    if not np.issubdtype(target.dtype, np.integer):
        raise ValueError(f"target must hold integer class indices, got dtype {target.dtype}")
    if target.size and (target.min() < 0 or target.max() >= n_classes):
        raise ValueError(f"target indices must lie in [0, {n_classes - 1}], got {target}")


def cross_entropy(p: np.ndarray, target: np.ndarray | int) -> float:
    """How surprised we are, on average, by the true classes: mean of -log p[target].

    p: probabilities, shape (C,) for one example or (N, C) for N examples.
    target: the true class index (an int) or N of them, shape (N,).
    """
    p = np.asarray(p, dtype=float)
    target = np.asarray(target)
    p2 = p.reshape(1, -1) if p.ndim == 1 else p
    _check_targets(p2.shape[-1], target.reshape(-1) if p.ndim == 1 else target, p2.shape[:1])
    picked = p2[np.arange(p2.shape[0]), target.reshape(-1)]  # probability of the true class
    return float(-np.log(picked).mean())


def cross_entropy_from_logits(logits: np.ndarray, target: np.ndarray | int) -> float:
    """Cross-entropy computed from raw scores, in log space.

    Same number as cross_entropy(softmax(logits), target), but it never takes log(0): a
    hopeless prediction gives a large finite loss instead of inf. This is how every training
    loop in this repository computes its loss.
    """
    logits = np.asarray(logits, dtype=float)
    target = np.asarray(target)
    z = logits.reshape(1, -1) if logits.ndim == 1 else logits
    t = target.reshape(-1) if logits.ndim == 1 else target
    _check_targets(z.shape[-1], t, z.shape[:1])
    log_p = log_softmax(z, axis=-1)
    return float(-log_p[np.arange(z.shape[0]), t].mean())


def entropy(p: np.ndarray) -> float:
    """Average surprise of a distribution with itself: -sum p log p, in nats.

    0 for a certain outcome, log(C) for C equally likely outcomes. Terms with p = 0 count as 0
    (the limit of p log p as p -> 0).
    """
    p = np.asarray(p, dtype=float)
    nonzero = p[p > 0]
    return float(-(nonzero * np.log(nonzero)).sum()) + 0.0  # + 0.0: never print -0.000


def sample(p: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw n class indices from the distribution p by inverting its cumulative sum.

    Picture the probabilities laid end to end on the interval [0, 1): class 0 takes the first
    p[0] of it, class 1 the next p[1], and so on. A uniform random number lands in exactly one
    piece, and lands in piece k with probability p[k].
    """
    p = np.asarray(p, dtype=float)
    if p.ndim != 1 or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"p must be a 1-D probability vector summing to 1, got {p}")
    cdf = np.cumsum(p)  # right edge of each piece
    u = rng.random(n)  # n uniform numbers in [0, 1)
    # side="right": u exactly on an edge belongs to the next piece, so a class with p = 0
    # (a piece of zero width) can never be drawn.
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(p) - 1)


def mean(x: np.ndarray) -> float:
    """The average: the sum of the numbers divided by how many there are."""
    x = np.asarray(x, dtype=float)
    return float(x.sum() / x.size)


def variance(x: np.ndarray) -> float:
    """How spread out the numbers are: the mean of the squared distances from the mean.

    Divides by N, like np.var: the spread of these very numbers. Statistics books often divide
    by N - 1 instead, to estimate the spread of a larger population from a small sample; for
    the thousands of numbers this course measures the two barely differ.
    """
    x = np.asarray(x, dtype=float)
    deviations = x - mean(x)  # signed distances from the centre; they sum to 0
    return float(np.sum(deviations**2) / x.size)


def std(x: np.ndarray) -> float:
    """Standard deviation: the square root of the variance, back in the units of x."""
    return float(np.sqrt(variance(x)))


def normal_pdf(x: np.ndarray, mu: float = 0.0, sigma: float = 1.0) -> np.ndarray:
    """The bell curve of the normal (Gaussian) distribution with mean mu and std sigma.

    A density, not a probability: the chance of a draw landing between a and b is the area
    under the curve from a to b, and the whole area is 1. The factor 1 / (sigma sqrt(2 pi))
    is what makes that area 1.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    x = np.asarray(x, dtype=float)
    return np.exp(-((x - mu) ** 2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))


def normal_within(k: float) -> float:
    """The chance that a normal draw lands within k standard deviations of its mean.

    It is the area under the standard bell curve from -k to k, measured here the plain way:
    cut the interval into thin strips and add up their areas (the trapezoid rule).
    """
    xs = np.linspace(-k, k, 100_001)
    return float(np.trapezoid(normal_pdf(xs), xs))


def show_array(a: np.ndarray) -> str:
    """An array to six significant digits: 4.53958e-05 stays itself, where rounding to six
    decimals first would print 4.5e-05."""
    return np.array2string(np.asarray(a), precision=6)


def naive_softmax_note(z: np.ndarray) -> str:
    """What happened to softmax_naive(z): exp overflowed, underflowed, or nothing went wrong."""
    with np.errstate(over="ignore", under="ignore"):
        exp_z = np.exp(np.asarray(z, dtype=float))
    if np.isinf(exp_z).any():
        return "exp overflowed to inf, and inf / inf is nan"
    if not exp_z.sum() > 0:
        return "every exp underflowed to 0, and 0 / 0 is nan"
    if not np.allclose(exp_z / exp_z.sum(), softmax(z), rtol=1e-9, atol=0):
        return "the smallest exps underflowed to 0: those classes lost their share"
    return "no exp overflowed or underflowed here: the same as the stable one"


def show_probability(p: float) -> str:
    """Four decimals, or scientific notation for a probability too small to show that way."""
    return f"{p:.4f}" if p >= 1e-3 or p == 0 else f"{p:.2e}"


def plot_temperature(logits: np.ndarray, temperatures: list[float],
                     out_dir: Path | None = None) -> Figure:
    """Bar chart of softmax(logits / T) for several temperatures."""
    fig = Figure(figsize=(3.2 * len(temperatures), 3.2), layout="constrained")
    axes = fig.subplots(1, len(temperatures), sharey=True)
    for ax, T in zip(np.atleast_1d(axes), temperatures, strict=True):
        p = softmax_with_temperature(logits, T)
        ax.bar(range(len(p)), p, color="tab:blue")
        ax.set_title(f"T = {T:g}   entropy {entropy(p):.2f} nats")
        ax.set_xticks(range(len(p)), [f"{z:g}" for z in logits])
        ax.set_xlabel("logit of each class")
    np.atleast_1d(axes)[0].set_ylabel("probability")
    fig.suptitle("Temperature reshapes the same scores")
    save_figure(fig, out_dir, "softmax_temperature.png")
    return fig


def plot_surprise(out_dir: Path | None = None) -> Figure:
    """The curve -log p: cross-entropy's penalty for the probability given to the truth."""
    p = np.linspace(0.005, 1.0, 400)
    fig = Figure(figsize=(5, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.plot(p, -np.log(p), color="tab:red")
    for q in (0.9, 0.5, 0.1):
        ax.plot([q], [-np.log(q)], "o", color="black")
        ax.annotate(f"p={q}: {-np.log(q):.2f}", (q, -np.log(q)), textcoords="offset points",
                    xytext=(8, 6))
    ax.set_xlabel("probability the model gave the true class")
    ax.set_ylabel("loss = -log p  (nats)")
    ax.set_title("Cross-entropy: surprise at the truth")
    save_figure(fig, out_dir, "cross_entropy_surprise.png")
    return fig


# Sections 6 and 8 each draw --samples numbers: about 0.13 microseconds and 33 bytes per sample
# in all, measured on a 2-core machine; the estimates below round up.
SECONDS_PER_SAMPLE = 2.5e-7
BYTES_PER_SAMPLE = 40


def check_settings(logits: np.ndarray, temperature: float, samples: int) -> None:
    """Raise ValueError, before any work, for settings that would overflow or take minutes."""
    coldest = min(0.1, temperature)  # the temperature table always shows T = 0.1
    limit = coldest * np.finfo(float).max / 2  # z / T, then minus the largest: both must fit
    if np.abs(logits).max() > limit:
        raise ValueError(f"--logits must lie within +-{limit:.3g} here: they are divided by the "
                         f"temperature {coldest:g} and the largest is subtracted, and beyond "
                         f"that float64 overflows (its largest number is about 1.8e308)")
    check_duration(SECONDS_PER_SAMPLE * samples,
                   f"--samples {samples:,} (sections 6 and 8 each draw that many numbers)")
    check_fits_in_memory(BYTES_PER_SAMPLE * samples, f"--samples {samples:,}")


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    z = np.array(args.logits)
    try:
        check_settings(z, args.temperature, args.samples)
    except ValueError as err:
        parser.error(str(err))

    print("1. Softmax, step by step")
    print(f"   logits z            = {z}")
    print(f"   z - max(z)          = {z - z.max()}")
    print(f"   exp(z - max)        = {show_array(np.exp(z - z.max()))}")
    print(f"   sum of those        = {np.exp(z - z.max()).sum():.6f}")
    p = softmax(z)
    print(f"   softmax(z)          = {show_array(p)}   (sums to {p.sum():.6f})")
    print(f"   known value: softmax([1,2,3]) = {np.round(softmax(np.array([1.0, 2, 3])), 8)}")

    print("\n2. Why subtract the max")
    big = z + 1000.0
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        naive = softmax_naive(big)
    print(f"   naive softmax(z + 1000)  = {show_array(naive)}   <- {naive_softmax_note(big)}")
    print(f"   stable softmax(z + 1000) = {show_array(softmax(big))}   <- same as softmax(z)")

    print("\n3. Temperature")
    for T in sorted({0.1, args.temperature, 1.0, 2.0, 10.0}):
        pT = softmax_with_temperature(z, T)
        shown = " ".join(show_probability(q) for q in pT)  # a tiny share stays visible, not 0
        print(f"   T = {T:5g}: [{shown}]   entropy {entropy(pT):.3f} nats")
    print(f"   (uniform over {len(z)} classes has entropy log({len(z)}) = {np.log(len(z)):.3f})")

    print("\n4. Cross-entropy: surprise at the true class")
    for t in range(len(z)):
        with np.errstate(divide="ignore"):  # p = 0 gives -log p = inf: what the logits avoid
            surprise = cross_entropy(p, t) + 0.0  # + 0.0: -log 1 is 0, not -0.0000
        print(f"   true class {t}: p = {show_probability(p[t])}  ->  "
              f"-log p = {surprise:.4f} nats"
              f"  (from logits: {cross_entropy_from_logits(z, t) + 0.0:.4f})")
    print("   known value: p = [0.7, 0.2, 0.1], class 0 -> "
          f"{cross_entropy(np.array([0.7, 0.2, 0.1]), 0):.8f}")
    print(f"   a hopeless guess from logits [0, 800], class 0 -> "
          f"{cross_entropy_from_logits(np.array([0.0, 800.0]), 0):.1f} (finite, not inf)")

    print("\n5. Log-sum-exp")
    print(f"   logsumexp([1000, 1000]) = {logsumexp(np.array([1000.0, 1000.0])):.6f}"
          f"  (= 1000 + log 2; the naive formula gives inf)")

    print(f"\n6. Sampling {args.samples} times from softmax(z)")
    rng = np.random.default_rng(args.seed)
    draws = sample(p, args.samples, rng)
    freq = np.bincount(draws, minlength=len(p)) / args.samples
    for k in range(len(p)):
        print(f"   class {k}: probability {show_probability(p[k])}, "
              f"drawn {show_probability(freq[k])} of the time")

    print("\n7. Mean, variance, standard deviation, on eight numbers")
    x = np.array([2.0, 4, 4, 4, 5, 5, 7, 9])
    deviations = x - mean(x)
    print(f"   x                   = {x}")
    print(f"   mean                = {x.sum():g} / {x.size} = {mean(x):g}")
    print(f"   x - mean            = {deviations}")
    print(f"   (x - mean)^2        = {deviations**2}")
    print(f"   variance            = {np.sum(deviations**2):g} / {x.size} = {variance(x):g}")
    print(f"   standard deviation  = sqrt({variance(x):g}) = {std(x):g}")
    y = 2 * x + 1
    print(f"   2x + 1: mean {mean(y):g}, std {std(y):g}  (adding 1 moves the centre, "
          f"doubling doubles the spread)")

    mu, sigma = 1.5, 2.0
    print(f"\n8. The normal distribution: {args.samples} draws with mean {mu} and std {sigma}")
    print(f"   height of the bell curve at its centre: 1 / (sigma sqrt(2 pi)) = "
          f"{normal_pdf(np.array(mu), mu, sigma):.6f}")
    draws_normal = rng.normal(mu, sigma, size=args.samples)
    print(f"   measured: mean {mean(draws_normal):.4f}, std {std(draws_normal):.4f}")
    for k in (1, 2, 3):
        inside = np.mean(np.abs(draws_normal - mu) < k * sigma)
        print(f"   within {k} std of the mean: {inside:.4f} of the draws "
              f"(the area under the curve: {normal_within(k):.4f})")
    n_terms = 256
    sums = rng.normal(size=(10_000, n_terms)).sum(axis=1)  # 10,000 sums of 256 numbers of std 1
    print(f"   a sum of {n_terms} independent numbers of std 1 (10000 such sums): "
          f"std {std(sums):.2f}, about sqrt({n_terms}) = {np.sqrt(n_terms):g}")
    print(f"   divided by sqrt({n_terms}): std {std(sums / np.sqrt(n_terms)):.3f}  "
          f"(variances of independent terms add, so spreads grow like sqrt(n))")

    print("\nFigures")
    plot_temperature(z, sorted({args.temperature, 1.0, 2.0}), args.out)
    plot_surprise(args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Softmax, temperature, cross-entropy, sampling.")
    parser.add_argument("--logits", type=finite_float, nargs="+", default=[2.0, 1.0, 0.1],
                        help="scores of each class")
    parser.add_argument("--temperature", type=temperature, default=0.5,
                        help="temperature to compare against T=1")
    parser.add_argument("--samples", type=positive_int, default=10_000,
                        help="how many draws to check sampling against")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
