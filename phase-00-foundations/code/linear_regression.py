"""Linear regression two ways: gradient descent, and the closed form. They must agree.

The smallest "model" there is: predict y from x with a straight line, y_hat = x·w + b. The
loss is the mean squared error between predictions and truth. Two roads lead to the best w, b:

- Gradient descent (the road every neural network takes): start anywhere, follow the slope
  of the loss down. Works for any model whose gradient we can compute.
- The closed form (Legendre 1805, Gauss 1809): for this one model the bottom of the loss can be
  solved for exactly, from the "normal equations" X^T X w = X^T y.

Seeing both arrive at the same numbers is evidence, not proof: one agreement, on one convex
problem (a bowl with a single bottom), shows that this descent found this minimum. The
gradient used here, dL/dw = 2/N X^T (y_hat - y), is the first hand-derived gradient of the
course, checked against finite differences in the tests.

Run:  python phase-00-foundations/code/linear_regression.py --lr 0.05 --epochs 300 --noise 2
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import (
    check_fits_in_memory,
    nonnegative_float,
    positive_float,
    positive_int,
    script_parser,
)
from phase00.gradient_descent import check_duration


def make_data(n_samples: int, w_true: np.ndarray, b_true: float, noise: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points y = x·w_true + b_true + Gaussian noise, with x uniform in [-3, 3].

    Returns X of shape (n_samples, n_features) and y of shape (n_samples,).
    """
    w_true = np.asarray(w_true, dtype=float)
    X = rng.uniform(-3, 3, size=(n_samples, len(w_true)))
    y = X @ w_true + b_true + noise * rng.normal(size=n_samples)
    return X, y


def check_shapes(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> None:
    """Raise a clear error unless X is (N, d), y is (N,) and w (if given) is (d,)."""
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n_samples, n_features), got {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), one target per row of X; "
                         f"got {y.shape}")
    if w is not None and w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},), one weight per feature; "
                         f"got {w.shape}")


def predict(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """y_hat = X w + b: one dot product per row, the bias broadcast to every row."""
    return X @ w + b


def mse_loss(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    """L = mean((y_hat - y)^2): the average squared miss."""
    check_shapes(X, y, w)
    residual = predict(X, w, b) - y
    return float(np.mean(residual**2))


def mse_gradients(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                  b: float) -> tuple[np.ndarray, float]:
    """dL/dw = 2/N X^T (y_hat - y) and dL/db = 2/N sum(y_hat - y).

    Each residual (how much a prediction overshoots) is blamed on the weights in proportion
    to the input that fed them: X^T does that for every sample at once.
    """
    check_shapes(X, y, w)
    N = X.shape[0]
    residual = predict(X, w, b) - y  # (N,)
    dL_dw = 2.0 / N * (X.T @ residual)  # (d,)
    dL_db = 2.0 / N * residual.sum()
    return dL_dw, float(dL_db)


def fit_gradient_descent(X: np.ndarray, y: np.ndarray, lr: float, epochs: int,
                         use_bias: bool = True) -> tuple[np.ndarray, float, list[float]]:
    """Start at w = 0, b = 0 and take `epochs` full-batch descent steps.

    Returns the final w, b and the loss before every step (and after the last).
    """
    check_shapes(X, y)
    w, b = np.zeros(X.shape[1]), 0.0
    losses = [mse_loss(X, y, w, b)]
    for _ in range(epochs):
        with np.errstate(over="ignore", invalid="ignore"):  # a too-large lr may overflow
            dL_dw, dL_db = mse_gradients(X, y, w, b)
            w = w - lr * dL_dw
            if use_bias:
                b = b - lr * dL_db
            losses.append(mse_loss(X, y, w, b))
    return w, b, losses


def fit_closed_form(X: np.ndarray, y: np.ndarray,
                    use_bias: bool = True) -> tuple[np.ndarray, float]:
    """Solve for the exact minimum of the squared error.

    Append a column of ones to X so the bias is just one more weight, then solve the least-
    squares problem. np.linalg.lstsq solves X^T X w = X^T y stably (it never forms the inverse).
    """
    check_shapes(X, y)
    A = np.column_stack([X, np.ones(len(X))]) if use_bias else X
    solution, *_ = np.linalg.lstsq(A, y, rcond=None)
    return (solution[:-1], float(solution[-1])) if use_bias else (solution, 0.0)


def plot_fit(X: np.ndarray, y: np.ndarray, fits: dict[str, tuple[np.ndarray, float]],
             losses: list[float], out_dir: Path | None = None) -> Figure:
    """Left: the data and each fitted line (first feature). Right: the loss curve of descent."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_fit, ax_loss = fig.subplots(1, 2)
    ax_fit.scatter(X[:, 0], y, s=12, color="0.5", label="data")
    xs = np.linspace(X[:, 0].min(), X[:, 0].max(), 2)
    for (name, (w, b)), style in zip(fits.items(), ("-", "--"), strict=False):
        ax_fit.plot(xs, w[0] * xs + b, style, lw=2, label=f"{name}: y = {w[0]:.4g}x + {b:.4g}")
    margin = 0.2 * (y.max() - y.min())
    ax_fit.set_ylim(y.min() - margin, y.max() + margin)  # a diverged line must not hide the data
    ax_fit.set_xlabel("x")
    ax_fit.set_ylabel("y")
    ax_fit.legend()
    ax_fit.set_title("Two roads to the same line")
    losses_arr = np.asarray(losses)
    shown = np.flatnonzero(np.isfinite(losses_arr) & (losses_arr < 1e12))  # a blow-up leaves
    ax_loss.semilogy(shown, losses_arr[shown])  # the chart once the loss passes 1e12
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("mean squared error")
    diverged = not losses_arr[-1] <= losses_arr[0]
    ax_loss.set_title("Gradient descent's loss" + (" (diverged)" if diverged else ""))
    save_figure(fig, out_dir, "linear_regression.png")
    return fig


# Measured on a 2-core machine: an epoch costs about 23 microseconds plus 3 nanoseconds per
# number of X, and the closed form about 3 nanoseconds per N d min(N, d). Rounded up below.
SECONDS_PER_EPOCH = 25e-6
SECONDS_PER_NUMBER = 4e-9


def run_seconds(n_samples: int, features: int, epochs: int) -> float:
    """About how long main() takes: the descent's epochs, then the closed form."""
    numbers = n_samples * (features + 1)  # X, with the column of ones the closed form adds
    return (epochs * (SECONDS_PER_EPOCH + SECONDS_PER_NUMBER * numbers)
            + SECONDS_PER_NUMBER * numbers * min(n_samples, features + 1))


def check_settings(n_samples: int, features: int, epochs: int) -> None:
    """Raise ValueError, before any work, for a dataset too big for memory or a run of minutes.

    The closed form holds X, X with its column of ones, and the solver's own copies: about four
    copies of an (N, d + 1) float64 array at once.
    """
    size = f"--n-samples {n_samples:,} with --features {features:,}"
    check_fits_in_memory(4 * 8 * n_samples * (features + 1), size)
    check_duration(run_seconds(n_samples, features, epochs), f"{size} and --epochs {epochs:,}")


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.n_samples < 2 or args.features < 1:
        parser.error("need --n-samples >= 2 and --features >= 1")
    try:
        check_settings(args.n_samples, args.features, args.epochs)
    except ValueError as err:
        parser.error(str(err))
    rng = np.random.default_rng(args.seed)

    w_true = np.array([2.0]) if args.features == 1 else rng.normal(size=args.features)
    b_true = 1.5
    with np.errstate(over="ignore"):  # checked just below
        X, y = make_data(args.n_samples, w_true, b_true, args.noise, rng)
        too_large = not np.isfinite(np.mean(y**2))
    if too_large:  # the loss of w = 0, b = 0 would already be inf
        parser.error(f"--noise {args.noise:g} makes targets so large that their squares, and so "
                     f"the loss, overflow float64 (largest number about 1.8e308): choose a "
                     f"noise below about 1e150")
    print(f"1. Data: X {X.shape}, y {y.shape}, made with w = {np.round(w_true, 3)}, "
          f"b = {b_true}, noise std {args.noise}")
    print(f"   first rows: X[:3] = {np.round(X[:3], 3).tolist()}, y[:3] = {np.round(y[:3], 3)}")

    print(f"\n2. Gradient descent, lr = {args.lr}, {args.epochs} epochs, from w = 0, b = 0")
    print(f"   one epoch: one pass over the data, one step on all {args.n_samples} points; "
          f"epoch 0: before any step")
    w_gd, b_gd, losses = fit_gradient_descent(X, y, args.lr, args.epochs, not args.no_bias)
    for epoch in sorted({0, 1, 2, 5, 10, 50, args.epochs} & set(range(args.epochs + 1))):
        loss = losses[epoch]  # a diverging run's loss is shown as 1.234568e+10, not 11 digits
        print(f"   epoch {epoch:5d}: loss " + (f"{loss:.6f}" if loss < 1e6 else f"{loss:.6e}"))

    print("\n3. Closed form (normal equations)")
    w_cf, b_cf = fit_closed_form(X, y, not args.no_bias)
    print(f"   descent:     w = {np.round(w_gd, 6)}, b = {b_gd:.7g}, "
          f"loss {losses[-1]:.7g}")  # recomputing it could overflow outside the errstate
    print(f"   closed form: w = {np.round(w_cf, 6)}, b = {b_cf:.7g}, "
          f"loss {mse_loss(X, y, w_cf, b_cf):.7g}")
    gap = max(np.abs(w_gd - w_cf).max(), abs(b_gd - b_cf))
    if not losses[-1] <= losses[0]:  # also catches inf and nan
        verdict = "descent diverged: the learning rate is too large for this data"
    elif gap < 1e-4:
        verdict = "they agree"
    else:
        verdict = "descent has not arrived yet: more epochs or a larger lr"
    print(f"   largest difference: {gap:.2e}   ({verdict})")

    print("\nFigures")
    plot_fit(X, y, {"descent": (w_gd, b_gd), "closed form": (w_cf, b_cf)}, losses, args.out)


def add_descent_flags(parser: argparse.ArgumentParser, lr: float, epochs: int) -> None:
    """Give a script the two knobs of gradient descent on a whole dataset: the step size `--lr`
    and `--epochs`, how many passes over the data (each pass one step, unless mini-batched)."""
    parser.add_argument("--lr", type=positive_float, default=lr, help="learning rate")
    parser.add_argument("--epochs", type=positive_int, default=epochs,
                        help="passes over the training data")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Least squares by gradient descent and by the closed form.")
    parser.add_argument("--n-samples", type=positive_int, default=100, help="data points")
    parser.add_argument("--features", type=positive_int, default=1,
                        help="input features; >1 uses random true weights")
    parser.add_argument("--noise", type=nonnegative_float, default=1.0,
                        help="std of the noise added to y")
    add_descent_flags(parser, lr=0.05, epochs=200)
    parser.add_argument("--no-bias", action="store_true",
                        help="fit a line through the origin (the data still has b = 1.5)")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
