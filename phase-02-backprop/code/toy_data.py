"""Two small 2-D classification sets, moons and spirals, generated with NumPy alone.

A network that learns must be shown something it cannot solve with a straight line, or we
learn nothing about hidden layers. Both sets here are curved on purpose:

- moons: two interleaving half circles. One bend; a small MLP separates them in seconds.
- spirals: arms that wind around each other (Lang & Witbrock 1988, "Learning to tell two
  spirals apart", made it a benchmark). Many bends; it needs more units and more steps.

Each point is two numbers (x_1, x_2), which is why we can draw the whole problem, and the
decision boundary a network learns, on one page. The plotting helper for that boundary lives
here too, since the Value MLP and the vectorised MLP both use it.

Run:  python phase-02-backprop/code/toy_data.py --dataset spirals --noise 0.2
"""

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import nonnegative_float, positive_int, script_parser

CLASS_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]


def make_moons(n_samples: int, noise: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two half circles that hook into each other, centred on the origin.

    Class 0 is the upper arc (cos t, sin t); class 1 is the lower arc (1 - cos t, 1/2 - sin t),
    for t in [0, pi]. Gaussian noise of std `noise` blurs both. Returns X (n_samples, 2) and
    integer labels y (n_samples,), shuffled.
    """
    if n_samples < 2:
        raise ValueError(f"need at least 2 samples (one per class), got {n_samples}")
    n0 = n_samples // 2
    n1 = n_samples - n0
    t0 = rng.uniform(0, np.pi, n0)
    t1 = rng.uniform(0, np.pi, n1)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)])
    X = np.concatenate([upper, lower]) - np.array([0.5, 0.25])  # centre the pair on 0
    X += noise * rng.normal(size=X.shape)
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n1, dtype=np.int64)])
    order = rng.permutation(n_samples)  # shuffled, so any slice holds both classes
    return X[order], y[order]


def make_spirals(n_samples: int, noise: float, rng: np.random.Generator,
                 n_classes: int = 2, turns: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """`n_classes` spiral arms, each `turns` full turns long, rotated evenly around the centre.

    A point at radius r in [0.05, 1] of arm k sits at angle 2*pi*(k / n_classes + turns * r);
    noise jitters that angle (std `noise`, in radians), which moves a point by about
    noise * r, so the arms blur more at their outer ends, where they are further apart.
    Returns X (n_samples, 2) and y (n_samples,), shuffled.
    """
    if n_classes < 2:
        raise ValueError(f"spirals need at least 2 classes, got {n_classes}")
    if n_samples < n_classes:
        raise ValueError(f"need at least one sample per class ({n_classes}), got {n_samples}")
    y = np.arange(n_samples) % n_classes  # as even a split as the count allows
    r = rng.uniform(0.05, 1.0, n_samples)
    angle = 2 * np.pi * (y / n_classes + turns * r) + noise * rng.normal(size=n_samples)
    X = np.column_stack([r * np.cos(angle), r * np.sin(angle)])
    order = rng.permutation(n_samples)
    return X[order], y[order].astype(np.int64)


DATASETS: dict[str, Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "moons": make_moons,
    "spirals": make_spirals,
}


def make_dataset(name: str, n_samples: int, noise: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Look a generator up by name, with an error that lists the valid names."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    X, y = DATASETS[name](n_samples, noise, rng)
    assert X.shape == (n_samples, 2) and y.shape == (n_samples,)
    return X, y


def plot_datasets(data: dict[str, tuple[np.ndarray, np.ndarray]],
                  out_dir: Path | None = None) -> Figure:
    """One scatter panel per dataset, coloured by class."""
    fig = Figure(figsize=(4.2 * len(data), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(data)))
    for ax, (name, (X, y)) in zip(axes, data.items(), strict=True):
        for k in np.unique(y):
            ax.scatter(*X[y == k].T, s=14, color=CLASS_COLORS[k], label=f"class {k}")
        ax.set_title(f"{name}: {len(y)} points")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.set_aspect("equal")
        ax.legend(loc="best", fontsize=8)
    fig.suptitle("Toy sets no straight line can separate")
    save_figure(fig, out_dir, "toy_datasets.png")
    return fig


def plot_decision_boundary(predict_proba: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
                           y: np.ndarray, title: str, name: str,
                           out_dir: Path | None = None, resolution: int = 200) -> Figure:
    """Colour the plane by the class a model predicts, with the data on top.

    predict_proba maps points (M, 2) to class probabilities (M, K). With two classes the shade
    is p(class 1), so the boundary p = 0.5 is drawn as a black line and the fog around it shows
    how sure the model is; with more classes each region takes its class's colour.
    """
    pad = 0.3
    x1 = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    x2 = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    g1, g2 = np.meshgrid(x1, x2)
    grid = np.column_stack([g1.ravel(), g2.ravel()])  # (resolution^2, 2)
    proba = predict_proba(grid)
    assert proba.shape[0] == grid.shape[0], f"expected {grid.shape[0]} rows, got {proba.shape}"
    fig = Figure(figsize=(5.4, 4.8), layout="constrained")
    ax = fig.subplots()
    if proba.shape[1] == 2:
        p1 = proba[:, 1].reshape(g1.shape)
        ax.contourf(g1, g2, p1, levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.4)
        ax.contour(g1, g2, p1, levels=[0.5], colors="black", linewidths=1.5)
    else:
        from matplotlib.colors import ListedColormap

        k = proba.shape[1]
        labels = proba.argmax(axis=1).reshape(g1.shape)
        ax.contourf(g1, g2, labels, levels=np.arange(k + 1) - 0.5,
                    cmap=ListedColormap(CLASS_COLORS[:k]), alpha=0.3)
    for k in np.unique(y):
        ax.scatter(*X[y == k].T, s=16, color=CLASS_COLORS[k], edgecolor="black", linewidth=0.4,
                   label=f"class {k}")
    accuracy = float((predict_proba(X).argmax(axis=1) == y).mean())
    ax.set_title(f"{title}\ntraining accuracy {accuracy:.1%}", fontsize=9)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    save_figure(fig, out_dir, name)
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.n_samples < 2:
        parser.error(f"--n-samples must be >= 2, got {args.n_samples}")

    names = [args.dataset] if args.dataset else sorted(DATASETS)
    data = {}
    for name in names:
        rng = np.random.default_rng(args.seed)
        X, y = make_dataset(name, args.n_samples, args.noise, rng)
        data[name] = (X, y)
        print(f"{name}: X {X.shape} (float64), y {y.shape} (int64), "
              f"class counts {np.bincount(y).tolist()}")
        for i in range(3):
            print(f"   x = ({X[i, 0]:+.3f}, {X[i, 1]:+.3f})  ->  class {y[i]}")
        print(f"   x_1 in [{X[:, 0].min():.2f}, {X[:, 0].max():.2f}], "
              f"x_2 in [{X[:, 1].min():.2f}, {X[:, 1].max():.2f}]")

    print("\nFigures")
    plot_datasets(data, args.out)


MAX_NOISE = 10.0  # ten times the size of the moons: every point is noise long before this


def noise_level(text: str) -> float:
    """A noise std between 0 and MAX_NOISE.

    The moons are about 2 units across (the spirals' noise is an angle in radians), so at a
    noise of 10 the classes are buried completely; far larger values only make the inputs so
    large that every tanh unit saturates and the whole run means nothing (--noise 1e300).
    """
    value = nonnegative_float(text)
    if value > MAX_NOISE:
        raise argparse.ArgumentTypeError(
            f"expected a noise between 0 and {MAX_NOISE:g}, got {text!r} (the moons are about "
            f"2 units across: at 10 the classes are already pure noise)")
    return value


def add_toy_data_flags(parser: argparse.ArgumentParser, n_samples: int,
                       dataset: str | None = "moons") -> None:
    """Give a script the three flags that make its toy set: `--dataset`, `--n-samples` and
    `--noise`, as make_dataset takes them. dataset=None: no set is chosen unless asked (both)."""
    parser.add_argument("--dataset", choices=sorted(DATASETS), default=dataset,
                        help=f"toy set (default: {dataset or 'both'})")
    parser.add_argument("--n-samples", type=positive_int, default=n_samples, help="points")
    parser.add_argument("--noise", type=noise_level, default=0.1,
                        help=f"std of the noise that blurs the points, at most {MAX_NOISE:g} "
                             f"(default: 0.1)")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Generate and draw the 2-D toy sets.")
    add_toy_data_flags(parser, n_samples=200, dataset=None)
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
