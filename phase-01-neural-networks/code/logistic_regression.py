"""Logistic regression: the perceptron with a smooth step, trained by gradient descent.

The perceptron's step has slope 0 everywhere, so it cannot say how far a wrong answer is from
being right, and its learning rule had to be invented rather than derived. Swap the step for
the sigmoid and everything becomes smooth:

    p = sigmoid(w . x + b)       "the probability that x belongs to class 1"

Now we can score the model with binary cross-entropy (how surprised it is by the true label),
take the derivative of that score by hand, and walk downhill with phase 00's gradient descent.
The derivative comes out beautifully simple, dL/dz = p - y, so the gradient for the weights is

    dL/dw = (1/N) X^T (p - y)        dL/db = mean(p - y)

which looks just like the perceptron rule with the hard 0/1 output replaced by a probability.
The model (Cox 1958) still draws one straight line, so it inherits the perceptron's limit, but
its training recipe is the one every network in this course uses.

Run:  python phase-01-neural-networks/code/logistic_regression.py --separation 3 --lr 0.5
"""

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.derivatives import numerical_gradient, relative_error
from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, nonnegative_float, positive_int, script_parser
from phase00.gradient_descent import check_duration, check_loss, gradient_descent
from phase00.linear_regression import (
    add_descent_flags,
    check_shapes,  # same (N, d), (N,), (d,) contract
)
from phase00.probability import cross_entropy_from_logits
from phase01.activations import sigmoid
from phase01.perceptron import GATES, X_GATE

# The blobs sit either side of this point, along this direction (not through the origin, so
# that --no-bias has something to break).
BLOB_MIDPOINT = np.array([1.5, 1.0])
BLOB_DIRECTION = np.array([np.cos(np.pi / 6), np.sin(np.pi / 6)])  # 30 degrees

# ln 2 is the loss of p = 0.5 for every point, where training starts. A loss 100 times that
# means scores confidently wrong by about 70 on average: a run that gets there is not descending
# but thrown about by too long a step, and is stopped with one line (check_loss).
LOSS_CEILING = 100 * np.log(2)

# Rough costs, measured on a 2-core laptop: an epoch (one gradient step, then the loss, the
# accuracy and |w| at the new point) costs a fixed 1e-4 s plus about 1.5e-7 s per point, and a
# point takes about 100 bytes at the peak (the blobs, their shuffled copy, the scores).
EPOCH_SECONDS, POINT_SECONDS = 1.2e-4, 1.5e-7
POINT_BYTES, EPOCH_BYTES = 100, 250  # an epoch keeps its (w, b), loss, accuracy and |w|
MAX_SECONDS = 300  # a run estimated longer than this is refused, with the estimate


def make_blobs(n_per_class: int, separation: float, rng: np.random.Generator,
               spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Two round Gaussian clouds of 2-D points, class 0 and class 1, `separation` apart.

    Returns X of shape (2 n_per_class, 2) and y of shape (2 n_per_class,) holding 0.0 or 1.0,
    with the rows shuffled. With separation well above 2 * spread the clouds barely overlap.
    """
    centres = BLOB_MIDPOINT + np.outer([-0.5, 0.5], BLOB_DIRECTION) * separation  # (2, 2)
    X = np.concatenate([c + spread * rng.normal(size=(n_per_class, 2)) for c in centres])
    y = np.repeat([0.0, 1.0], n_per_class)
    order = rng.permutation(len(y))
    return X[order], y[order]


def predict_proba(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """p = sigmoid(X w + b): for each row, the model's probability of class 1. Shape (N,)."""
    return sigmoid(X @ w + b)


def accuracy(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    """Fraction of rows where "class 1 if p > 0.5" (the same as z > 0) matches the label."""
    return float(np.mean((predict_proba(X, w, b) > 0.5) == (y == 1)))


def bce_loss(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    """Binary cross-entropy, mean over rows: -[y log p + (1 - y) log(1 - p)].

    Computed from z = X w + b without forming p: the formula simplifies to
    log(1 + e^z) - y z, and np.logaddexp(0, z) evaluates log(1 + e^z) without overflow. (Taking
    log p directly would give log(0) = -inf once a prediction saturates.)
    """
    check_shapes(X, y, w)
    z = X @ w + b  # (N,)
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def bce_gradients(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                  b: float) -> tuple[np.ndarray, float]:
    """dL/dw = X^T (p - y) / N and dL/db = mean(p - y), derived by hand (see the notes).

    Chain rule per example: dL/dp = -y/p + (1-y)/(1-p), dp/dz = p (1 - p); their product
    collapses to p - y. Then z = w . x + b gives dz/dw = x and dz/db = 1.
    """
    check_shapes(X, y, w)
    N = X.shape[0]
    p = predict_proba(X, w, b)  # (N,)
    dL_dz = (p - y) / N  # (N,): how much each example's score should move, and which way
    dL_dw = X.T @ dL_dz  # (d,): each example's blame, shared out in proportion to its inputs
    dL_db = float(dL_dz.sum())
    return dL_dw, dL_db


def score_gradients(z: np.ndarray, y: float) -> tuple[np.ndarray, np.ndarray]:
    """dL/dz for one example with score z and label y, under two losses on p = sigmoid(z).

    Cross-entropy: dL/dz = p - y, because the sigmoid's slope p (1 - p) cancels.
    Squared error L = (p - y)^2: dL/dz = 2 (p - y) p (1 - p). Here the slope stays, and it is
    nearly 0 when the sigmoid is saturated, so a neuron that is confidently WRONG (p near 0 when
    y = 1) gets almost no push to change. That is why a sigmoid is trained with cross-entropy.
    """
    p = sigmoid(np.asarray(z, dtype=float))
    return p - y, 2 * (p - y) * p * (1 - p)


@dataclass
class LogisticFit:
    """A trained model and its history, one entry per step (the start included)."""

    w: np.ndarray
    b: float
    losses: list[float]
    accuracies: list[float]
    weight_norms: list[float]  # |w|: keeps growing on separable data (see the notes)


def fit(X: np.ndarray, y: np.ndarray, lr: float, epochs: int,
        use_bias: bool = True) -> LogisticFit:
    """Full-batch gradient descent from w = 0, b = 0, with phase 00's `gradient_descent`.

    The weights and bias travel as one vector theta = (w1, ..., wd, b), because that is the
    shape phase 00's loop expects: one array in, one gradient of the same shape out. A loss that
    is not a number or passes LOSS_CEILING raises FloatingPointError (phase 00's check_loss),
    naming the epoch and the learning rate.
    """
    d = X.shape[1]

    def grad(theta: np.ndarray) -> np.ndarray:
        dL_dw, dL_db = bce_gradients(X, y, theta[:d], float(theta[d]))
        return np.append(dL_dw, dL_db if use_bias else 0.0)  # a frozen bias gets no push

    trajectory = gradient_descent(grad, np.zeros(d + 1), lr, epochs)  # (epochs + 1, d + 1)
    losses = []
    for epoch, t in enumerate(trajectory):
        with np.errstate(over="ignore", invalid="ignore"):  # check_loss names what went wrong
            losses.append(bce_loss(X, y, t[:d], float(t[d])))
        check_loss(losses[-1], f"at epoch {epoch}", lr, LOSS_CEILING)
    return LogisticFit(
        w=trajectory[-1, :d], b=float(trajectory[-1, d]),
        losses=losses,
        accuracies=[accuracy(X, y, t[:d], float(t[d])) for t in trajectory],
        weight_norms=[float(np.linalg.norm(t[:d])) for t in trajectory],
    )


def two_step_cycle(losses: list[float], tol: float = 1e-4) -> int | None:
    """The epoch from which the loss alternates between two values (within tol) to the end of
    the run, or None if the run does not end that way.

    Descent with too long a step on this loss does not blow up: far from the valley the loss
    grows only in proportion to the scores, so its slope is bounded, and the run ends up
    jumping between two points on opposite sides of the valley, each step undoing the last.
    """
    L = np.asarray(losses)
    if len(L) < 12 or abs(L[-1] - L[-2]) < 10 * tol:  # too short, or it settled
        return None
    repeats = np.abs(L[2:] - L[:-2]) <= tol  # repeats[k]: loss at k + 2 equals loss at k
    if not repeats[-10:].all():
        return None
    start = len(repeats)
    while start > 0 and repeats[start - 1]:
        start -= 1
    return start  # losses[start:] alternate: each equals the one two epochs later


def first_epoch_all_right(accuracies: list[float]) -> int | None:
    """The epoch from which every point stays on its correct side, or None if they never do."""
    if accuracies[-1] < 1.0:
        return None
    k = len(accuracies) - 1
    while k > 0 and accuracies[k - 1] == 1.0:
        k -= 1
    return k


def run_cost(n_points: int, epochs: int) -> tuple[float, float]:
    """(bytes, seconds): a rough estimate of a run's peak memory and of its training time."""
    nbytes = POINT_BYTES * n_points + EPOCH_BYTES * (epochs + 1)
    return nbytes, epochs * (EPOCH_SECONDS + POINT_SECONDS * n_points)


def plot_logistic_regression(X: np.ndarray, y: np.ndarray, model: LogisticFit,
                             out_dir: Path | None = None) -> Figure:
    """Left: the data over the model's probability map, with the p = 0.5 line.
    Right: loss and accuracy during training."""
    w, b, losses, accuracies = model.w, model.b, model.losses, model.accuracies
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax, ax_loss = fig.subplots(1, 2, width_ratios=[1.1, 1])
    pad = 1.0
    g1 = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 250)
    g2 = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 250)
    G1, G2 = np.meshgrid(g1, g2)
    P = predict_proba(np.column_stack([G1.ravel(), G2.ravel()]), w, b).reshape(G1.shape)
    shade = ax.contourf(G1, G2, P, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.55)
    fig.colorbar(shade, ax=ax, label="p = sigmoid(w . x + b)")
    styles = {0.1: (0.8, "--"), 0.5: (2.2, "-"), 0.9: (0.8, "--")}
    levels = [v for v in styles if P.min() < v < P.max()]  # a flat map (w = 0) has none
    if levels:
        lines = ax.contour(G1, G2, P, levels=levels, colors="black",
                           linewidths=[styles[v][0] for v in levels],
                           linestyles=[styles[v][1] for v in levels])
        ax.clabel(lines, fmt=lambda v: f"p = {v:.1f}", fontsize=8)
    for label, color, marker in ((0, "tab:red", "o"), (1, "tab:blue", "s")):
        pts = X[y == label]
        ax.scatter(pts[:, 0], pts[:, 1], s=18, c=color, marker=marker, edgecolors="black",
                   linewidths=0.4, label=f"class {label}")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"Accuracy {accuracies[-1]:.1%}: one straight line, soft edges", fontsize=10)
    ax_loss.plot(losses, color="black", label="loss (binary cross-entropy)")
    ax_loss.axhline(np.log(2), color="0.6", ls=":", lw=1)
    ax_loss.text(len(losses) - 1, np.log(2), "ln 2: the loss of p = 0.5 for all", ha="right",
                 va="bottom", fontsize=8, color="0.4")
    ax_loss.set_xlabel("epoch (one gradient step on all the data)")
    ax_loss.set_ylabel("loss (nats)")
    ax_acc = ax_loss.twinx()
    ax_acc.plot(accuracies, color="tab:green", label="accuracy")
    ax_acc.set_ylabel("accuracy", color="tab:green")
    ax_acc.set_ylim(0.0, 1.05)
    ax_loss.set_ylim(0.0, max(losses) * 1.1)
    ax_loss.legend(loc="center right", fontsize=8)
    ax_loss.set_title("Training: loss falls, accuracy rises", fontsize=10)
    save_figure(fig, out_dir, "logistic_regression.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n_points = 4 if args.data == "xor" else 2 * args.n_samples
    nbytes, seconds = run_cost(n_points, args.epochs)
    sizes = f"--n-samples {args.n_samples} with --epochs {args.epochs}"
    try:
        check_fits_in_memory(nbytes, sizes)
        check_duration(seconds, sizes, MAX_SECONDS,
                       f"{n_points:,} points, every epoch a step over all of them")
    except ValueError as err:
        parser.error(str(err))

    if args.data == "xor":
        X, y = X_GATE.copy(), GATES["xor"].copy()
        print(f"1. Data: the four XOR corners, X {X.shape}, y {y.shape}")
    else:
        X, y = make_blobs(args.n_samples, args.separation, rng)
        print(f"1. Data: X {X.shape}, y {y.shape}; {int(y.sum())} of class 1, "
              f"{int((1 - y).sum())} of class 0; blob centres {args.separation} apart")
    print(f"   first rows: X[:3] = {np.round(X[:3], 3).tolist()}, y[:3] = {y[:3].tolist()}")

    print("\n2. The gradient by hand, on one example")
    x0, y0 = X[0], y[0]
    w_try, b_try = np.array([0.5, -0.3]), 0.1  # any values will do: we only check the formula
    z0 = x0 @ w_try + b_try
    p0 = float(sigmoid(np.array(z0)))
    loss0 = -(y0 * np.log(p0) + (1 - y0) * np.log(1 - p0))
    dL_dp = -y0 / p0 + (1 - y0) / (1 - p0)
    dp_dz = p0 * (1 - p0)
    print(f"   x = {np.round(x0, 4)}, y = {y0:g}; try w = {w_try}, b = {b_try}")
    print(f"   z = w . x + b         = {z0:.6f}")
    print(f"   p = sigmoid(z)        = {p0:.6f}")
    print(f"   loss = -[y log p + (1-y) log(1-p)] = {loss0:.6f}")
    print(f"   dL/dp = -y/p + (1-y)/(1-p)         = {dL_dp:.6f}")
    print(f"   dp/dz = p (1 - p)                  = {dp_dz:.6f}")
    print(f"   dL/dz = dL/dp * dp/dz = {dL_dp * dp_dz:.6f}   and p - y = {p0 - y0:.6f}: equal")
    print(f"   dL/dw = (p - y) x     = {np.round((p0 - y0) * x0, 6)}")
    two_class = cross_entropy_from_logits(np.array([0.0, z0]), int(y0))
    print(f"   the same loss as phase 00's softmax cross-entropy over scores [0, z]: "
          f"{two_class:.6f}")
    print("   Why cross-entropy and not squared error (p - y)^2? dL/dz when the truth is y = 1:")
    print("        z          p    cross-entropy: p - y    squared error: 2(p - y) p(1 - p)")
    for z_try in (2.0, 0.0, -2.0, -5.0, -10.0):
        g_ce, g_se = score_gradients(np.array(z_try), 1.0)
        print(f"   {z_try:6.1f}   {float(sigmoid(np.array(z_try))):8.6f}   {g_ce:20.6f}   "
              f"{g_se:30.6f}")
    print("   The more confidently wrong (z = -10), the harder cross-entropy pushes and the less "
          "squared error does.")

    print("\n3. Checking the formula on all the data against central differences (phase 00)")
    dL_dw, dL_db = bce_gradients(X, y, w_try, b_try)
    num_w = numerical_gradient(lambda w_: bce_loss(X, y, w_, b_try), w_try)
    num_b = numerical_gradient(lambda b_: bce_loss(X, y, w_try, float(b_[0])), np.array([b_try]))
    print(f"   analytic dL/dw = {dL_dw},  dL/db = {dL_db:.10f}")
    print(f"   numerical      = {num_w},  dL/db = {num_b[0]:.10f}")
    err = relative_error(np.append(dL_dw, dL_db), np.append(num_w, num_b))
    print(f"   relative error = {err:.1e}")

    bias = "frozen at 0" if args.no_bias else "learned"
    print(f"\n4. Gradient descent: lr = {args.lr}, {args.epochs} epochs, from w = 0, b = 0, "
          f"bias {bias}")
    try:
        model = fit(X, y, args.lr, args.epochs, use_bias=not args.no_bias)
    except FloatingPointError as err:
        parser.exit(1, f"error: {err}\n")
    last = args.epochs
    for epoch in sorted({0, 1, 5, 20, 50, 100, last - 1, last} & set(range(last + 1))):
        print(f"   epoch {epoch:5d}: loss {model.losses[epoch]:.4f}   "
              f"accuracy {model.accuracies[epoch]:6.1%}   |w| {model.weight_norms[epoch]:.3f}")
    bounce = two_step_cycle(model.losses)
    if bounce is not None:
        print(f"   the loss alternates {model.losses[-2]:.4f}, {model.losses[-1]:.4f}, "
              f"{model.losses[-2]:.4f}, ... from about epoch {bounce} to the end:")
        print("   each step jumps across the valley and the next jumps back; it never settles")
    all_right = first_epoch_all_right(model.accuracies)
    if all_right is not None:
        print(f"   every point on its correct side from epoch {all_right} on; the loss "
              f"still falls, because |w| still grows")
    w, b = model.w, model.b
    print(f"   final w = {np.round(w, 4)}, b = {b:.4g}")
    if w[1] != 0:
        print(f"   boundary (p = 0.5): x2 = {-w[0] / w[1]:.4g} x1 + {-b / w[1]:.4g}")
    n_right = int(round(model.accuracies[-1] * len(y)))
    print(f"   accuracy {model.accuracies[-1]:.1%} ({n_right}/{len(y)})")
    if args.data == "xor":
        g_w, g_b = bce_gradients(X, y, np.zeros(2), 0.0)
        print(f"   XOR: the gradient at the start w = 0, b = 0 is dL/dw = {g_w}, dL/db = {g_b}.")
        print("   Every prediction is 0.5 and the four corners' pushes cancel exactly, so descent")
        print("   never moves: p = 0.5 everywhere (loss ln 2) is the best one line can do here.")

    print("\nFigures")
    plot_logistic_regression(X, y, model, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Logistic regression with a hand-derived "
                           "gradient on two Gaussian blobs.")
    parser.add_argument("--data", choices=["blobs", "xor"], default="blobs",
                        help="two Gaussian blobs, or the four XOR corners")
    parser.add_argument("--n-samples", type=positive_int, default=100, help="points per class")
    parser.add_argument("--separation", type=nonnegative_float, default=3.0,
                        help="distance between the blob centres; each blob has std 1")
    add_descent_flags(parser, lr=0.5, epochs=300)
    parser.add_argument("--no-bias", action="store_true",
                        help="freeze b at 0: the boundary must pass through the origin")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
