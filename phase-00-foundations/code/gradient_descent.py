"""Gradient descent: roll downhill in the fog, one small step at a time.

Training a network means finding the knob settings (weights) that make a loss small. We cannot
see the whole landscape of the loss, only the slope where we stand (the gradient). So we step
against the slope, by a fraction of it called the learning rate, and repeat:

    x_new = x - lr * gradient(x)

Too small a learning rate crawls; too large overshoots the bottom, and past a threshold every
step lands further up the other side than the last: the run diverges. For the bowl
f(x) = (x - 3)^2 the threshold is exactly lr = 1 (the notes derive it).

Run:  python phase-00-foundations/code/gradient_descent.py --lr 0.9 --steps 15
"""

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_out_flag, save_figure
from phase00.flags import finite_float, positive_float, positive_int, script_parser

GradFn = Callable[[np.ndarray], np.ndarray]

MINIMUM_1D = 3.0  # the bottom of the 1-D bowl
CURVATURE_2D = np.array([1.0, 10.0])  # the 2-D bowl is 10 times steeper along y than along x


def bowl_1d(x: np.ndarray) -> np.ndarray:
    """f(x) = (x - 3)^2: lowest (0) at x = 3."""
    return (x - MINIMUM_1D) ** 2


def bowl_1d_gradient(x: np.ndarray) -> np.ndarray:
    """f'(x) = 2 (x - 3): points uphill, and is larger the further we are from the bottom."""
    return 2 * (x - MINIMUM_1D)


def bowl_2d(p: np.ndarray) -> np.ndarray:
    """f(x, y) = x^2 + 10 y^2 for points of shape (..., 2): a long, narrow valley."""
    return (CURVATURE_2D * np.asarray(p) ** 2).sum(axis=-1)


def bowl_2d_gradient(p: np.ndarray) -> np.ndarray:
    """(df/dx, df/dy) = (2x, 20y)."""
    return 2 * CURVATURE_2D * np.asarray(p)


def gradient_descent(grad: GradFn, x0: np.ndarray | float, lr: float,
                     steps: int) -> np.ndarray:
    """Take `steps` steps of x <- x - lr * grad(x); return every position, start included.

    The returned trajectory has shape (steps + 1, *x0.shape). The loop is the algorithm: each
    step needs the gradient at the point the previous step reached.
    """
    if lr <= 0:
        raise ValueError(f"learning rate must be > 0, got {lr}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    x = np.array(x0, dtype=float)
    trajectory = [x.copy()]
    for _ in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run may overflow
            x = x - lr * grad(x)
        trajectory.append(x.copy())
    return np.array(trajectory)


def check_loss(loss: float, where: str, lr: float, ceiling: float = np.inf) -> None:
    """Stop a run whose loss is no longer a number, or has blown far past `ceiling` (a loss a
    working model never reaches, such as 100 times a uniform guess's), with one sentence that
    names the likely cause instead of training on, or printing numbers 200 digits long."""
    if not np.isfinite(loss) or loss > ceiling:
        raise FloatingPointError(f"the loss became {loss:.4g} {where}: the learning rate "
                                 f"({lr:g}) is too high for this model; try a smaller --lr")


def check_duration(seconds: float, what: str, limit: float = 60.0, why: str = "") -> None:
    """Refuse, before it starts, a run estimated to take more than `limit` seconds: a typo such
    as `--steps 100000000` would otherwise print nothing for hours. `what` names the flags that
    set the size, `why` (optional) what the time goes to. Raises ValueError with the estimate,
    like phase00.flags.check_fits_in_memory."""
    if seconds > limit:
        took = f"{seconds:,.0f} seconds" if seconds < 120 else f"{seconds / 60:,.0f} minutes"
        because = f" ({why})" if why else ""
        raise ValueError(f"{what} would take about {took}{because} on a small machine, over the "
                         f"{limit:g} seconds these lessons allow: choose smaller values")


def plot_1d(lrs: list[float], start: float, steps: int,
            out_dir: Path | None = None) -> Figure:
    """One panel per learning rate: the bowl and the points each step visits."""
    fig = Figure(figsize=(3.3 * len(lrs), 3.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(lrs), sharey=True))
    xs = np.linspace(-5, 11, 300)
    for ax, lr in zip(axes, lrs, strict=True):
        traj = gradient_descent(bowl_1d_gradient, start, lr, steps)
        ax.plot(xs, bowl_1d(xs), color="0.6")
        shown = traj[np.abs(traj) < 1e3]  # drop points that flew off the chart
        ax.plot(shown, bowl_1d(shown), "o-", ms=3, color="tab:red", lw=0.8)
        final = traj[-1]
        # not <=: a run that overflowed ends at nan, and every comparison with nan is False
        verdict = f"x = {final:.3f}" if abs(final - MINIMUM_1D) <= abs(start - MINIMUM_1D) else (
            "diverges")
        ax.set_title(f"lr = {lr:g}: {verdict}")
        ax.set_xlim(-5, 11)
        ax.set_ylim(-2, 70)
        ax.set_xlabel("x")
    axes[0].set_ylabel("f(x) = (x - 3)^2")
    fig.suptitle(f"{steps} steps of gradient descent from x = {start:g}")
    save_figure(fig, out_dir, "descent_1d.png")
    return fig


def plot_2d(lrs: list[float], start: np.ndarray, steps: int,
            out_dir: Path | None = None) -> Figure:
    """Contours of the narrow valley and the zig-zag paths that different lrs take."""
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    gx, gy = np.meshgrid(np.linspace(-5.5, 5.5, 200), np.linspace(-2.5, 2.5, 200))
    levels = np.array([0.5, 2, 5, 10, 20, 35, 50])
    ax.contour(gx, gy, bowl_2d(np.stack([gx, gy], axis=-1)), levels=levels, colors="0.7")
    for lr, color in zip(lrs, ("tab:blue", "tab:orange", "tab:red"), strict=False):
        traj = gradient_descent(bowl_2d_gradient, start, lr, steps)
        ax.plot(traj[:, 0], traj[:, 1], "o-", ms=3, lw=1, color=color,
                label=f"lr = {lr:g}, final loss {bowl_2d(traj[-1]):.2g}")
    ax.plot([0], [0], "*", color="black", ms=12)
    ax.set_xlim(-5.5, 5.5)
    ax.set_ylim(-2.5, 2.5)
    ax.set_aspect("equal")
    ax.set_title("f(x, y) = x^2 + 10 y^2: steep in y, shallow in x")
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, out_dir, "descent_2d.png")
    return fig


# main() runs the 1-D descent up to 11 times (one table, six learning rates, four panels), each
# step about 4 microseconds on a 2-core machine: the estimate check_duration is given
SECONDS_PER_STEP = 11 * 4e-6


def column(value: float, width: int) -> str:
    """Five decimals, or scientific notation for a number too large to show that way."""
    return f"{value:{width}.5f}" if not abs(value) >= 1e6 else f"{value:{width}.4e}"


def overflow_step(trajectory: np.ndarray) -> int | None:
    """The first step at which x is no longer a number (inf or nan), or None if none is."""
    bad = np.flatnonzero(~np.isfinite(trajectory))
    return int(bad[0]) if bad.size else None


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not abs(args.start - MINIMUM_1D) < 1e154:
        parser.error(f"--start {args.start:g} is too far out: f(x) = (x - 3)^2 there overflows "
                     f"float64 (largest number about 1.8e308); choose |start| below 1e154")
    try:
        check_duration(SECONDS_PER_STEP * args.steps, f"--steps {args.steps:,}")
    except ValueError as err:
        parser.error(str(err))

    print(f"1. f(x) = (x - 3)^2 from x = {args.start:g} with lr = {args.lr:g}")
    traj = gradient_descent(bowl_1d_gradient, args.start, args.lr, args.steps)
    print("   step        x          f'(x)        f(x)")
    for k, x in enumerate(traj):
        if k < 6 or k == len(traj) - 1:
            with np.errstate(over="ignore", invalid="ignore"):  # a diverged x overflows f
                row = (column(x, 10), column(bowl_1d_gradient(x), 11), column(bowl_1d(x), 11))
            print(f"   {k:4d}  {'  '.join(row)}")
        elif k == 6:
            print("    ...")
    if (k := overflow_step(traj)) is not None:
        print(f"   x overflowed float64 at step {k} (inf, and then inf - inf = nan): diverged")
    factor = 1 - 2 * args.lr
    print(f"   each step multiplies the distance to the bottom by (1 - 2 lr) = {factor:g}:")
    if abs(factor) < 1:
        print("   |factor| < 1, so the distance shrinks every step: it converges.")
    else:
        print("   |factor| >= 1, so the distance never shrinks: lr >= 1 diverges (or bounces).")

    print("\n2. The same start, different learning rates")
    for lr in (0.01, 0.1, 0.5, 0.9, 1.0, 1.1):
        end = gradient_descent(bowl_1d_gradient, args.start, lr, args.steps)[-1]
        if not np.isfinite(end):
            print(f"   lr = {lr:4g}: x overflowed to {end} before step {args.steps}: diverged")
            continue
        print(f"   lr = {lr:4g}: after {args.steps} steps x = {end:12.5g}, "
              f"distance to bottom {abs(end - MINIMUM_1D):10.3g}")

    print("\n3. A narrow valley, f(x, y) = x^2 + 10 y^2, from (-5, 2)")
    start_2d = np.array([-5.0, 2.0])
    for lr in (0.02, 0.09, 0.11):
        end = gradient_descent(bowl_2d_gradient, start_2d, lr, 40)[-1]
        print(f"   lr = {lr:4g}: after 40 steps at ({end[0]:9.3g}, {end[1]:9.3g}), "
              f"loss {bowl_2d(end):.3g}")
    print("   Each step multiplies x by (1 - 2 lr) and y by (1 - 20 lr). The steep y caps the")
    print("   rate at lr < 2/20 = 0.1; there x still keeps 0.8 of its distance per step, where")
    print("   alone it could arrive in one (lr = 0.5). Giving every direction its own step size")
    print("   is the idea behind RMSProp and Adam (phase 02).")

    print("\nFigures")
    plot_1d(sorted({0.1, 0.9, 1.05, args.lr}), args.start, args.steps, args.out)
    plot_2d([0.02, 0.09], start_2d, 40, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Gradient descent on 1-D and 2-D bowls.")
    parser.add_argument("--lr", type=positive_float, default=0.1, help="learning rate")
    parser.add_argument("--steps", type=positive_int, default=20, help="number of steps")
    parser.add_argument("--start", type=finite_float, default=-4.0,
                        help="starting x for the 1-D bowl")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
