"""Universal approximation, built by hand: one hidden layer can trace any curve you like.

Cybenko (1989) and Hornik (1991) proved that a network with a single hidden layer can come as
close as you want to any continuous function on a closed and bounded ("compact") range, such
as [0, 1] with its end points, provided it has enough hidden neurons. Off such a range the
promise fails: far out, a finite sum of sigmoids goes flat, and cannot follow sin x for ever.
The proof is abstract; the idea is not, and this script builds it with our own layers:

- step or steep sigmoid: each hidden neuron is a switch that turns on at one x. Give the output
  neuron a weight equal to how much the target rises or falls there, and the sum of switches is
  a staircase that follows the curve. n neurons = n stairs; the error shrinks like 1/n.
- ReLU: each hidden neuron is a hinge that starts a ramp at one x. Weight each hinge by how much
  the slope changes there, and the sum is a chain of straight segments joining points on the
  curve. The error shrinks like 1/n^2, much faster.

Nothing is learned here: every weight is computed from the target. That is the theorem's
catch. It promises the weights exist, not that we can find them, nor that the number of neurons
stays reasonable (carried to d inputs, a grid like this has n^d cells to fill, one neuron
each). Finding weights is phase 02.

Run:  python phase-01-neural-networks/code/universal_approximation.py --target wiggle --neurons 5 20
"""

import argparse
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_out_flag, save_figure
from phase00.flags import check_fits_in_memory, positive_float, positive_int, script_parser
from phase01.mlp import MLP, Activation, Dense

Target = Callable[[np.ndarray], np.ndarray]

TARGETS: dict[str, tuple[Target, str]] = {
    "wiggle": (lambda x: np.sin(2 * np.pi * x) + 0.5 * np.sin(6 * np.pi * x),
               "sin(2 pi x) + 0.5 sin(6 pi x)"),
    "sin": (lambda x: np.sin(2 * np.pi * x), "sin(2 pi x)"),
    "bump": (lambda x: np.exp(-((x - 0.5) ** 2) / 0.01), "exp(-(x - 0.5)^2 / 0.01)"),
    "abs": (lambda x: np.abs(x - 1 / 3), "|x - 1/3|"),  # one kink: exact once it is a knot
}
KINDS = ("step", "sigmoid", "relu")
DEFAULT_STEEPNESS = 10.0
COLORS = ("tab:orange", "tab:green", "tab:blue", "tab:purple", "tab:brown")
ERROR_POINTS = 2001  # max_error's grid of [0, 1]
# A network of n hidden neurons run on ERROR_POINTS inputs holds about 8 arrays of
# (ERROR_POINTS, n) floats at once: the hidden scores, the activation's output and its
# temporaries (the sigmoid computes both of its branches).
ARRAYS_PER_NEURON = 8


def staircase_network(f: Target, n: int, activation: str = "sigmoid",
                      steepness: float = 10.0) -> MLP:
    """1 -> n -> 1 network whose output is a staircase through f at n + 1 points of [0, 1].

    Hidden neuron i switches on at t_i, halfway between grid points x_(i-1) and x_i, and the
    output weight of neuron i is the rise f(x_i) - f(x_(i-1)). The output bias is f(x_0), the
    height before any switch. With a sigmoid the switch takes about 1/steepness of a stair's
    width, so it is smooth but nearly a step.
    """
    if n < 1:
        raise ValueError(f"need at least one hidden neuron, got n = {n}")
    if activation not in ("step", "sigmoid"):
        raise ValueError(f"a staircase needs 'step' or 'sigmoid', got {activation!r}")
    x_grid = np.linspace(0.0, 1.0, n + 1)  # (n + 1,)
    t = (x_grid[:-1] + x_grid[1:]) / 2  # (n,) switch points
    k = steepness * n if activation == "sigmoid" else 1.0  # sharper when stairs are narrower
    if not np.isfinite(k):
        raise ValueError(f"steepness {steepness:g} times {n} neurons overflows 64-bit floats")
    rise = np.diff(f(x_grid))  # (n,)
    hidden = Dense.from_weights(np.full((1, n), k), -k * t)  # neuron i: k (x - t_i)
    output = Dense.from_weights(rise[:, None], [f(x_grid[:1])[0]])
    return MLP([hidden, Activation(activation), output])


def hinge_network(f: Target, n: int) -> MLP:
    """1 -> n -> 1 ReLU network that joins n + 1 points of f on [0, 1] with straight segments.

    Hidden neuron i is relu(x - x_i), a ramp that starts at grid point x_i. The output weight
    of neuron i is how much the slope changes at x_i (for i = 0, the first slope itself), so
    the sum bends by exactly the right amount at every grid point.
    """
    if n < 1:
        raise ValueError(f"need at least one hidden neuron, got n = {n}")
    x_grid = np.linspace(0.0, 1.0, n + 1)
    slopes = np.diff(f(x_grid)) / np.diff(x_grid)  # (n,) slope of each segment
    bends = np.diff(slopes, prepend=0.0)  # (n,) change of slope at x_0 .. x_(n-1)
    hidden = Dense.from_weights(np.ones((1, n)), -x_grid[:-1])  # neuron i: x - x_i
    output = Dense.from_weights(bends[:, None], [f(x_grid[:1])[0]])
    return MLP([hidden, Activation("relu"), output])


def approximator(f: Target, n: int, kind: str, steepness: float = 10.0) -> MLP:
    """The hand-built network of the given kind: 'step', 'sigmoid' or 'relu'."""
    if kind == "relu":
        return hinge_network(f, n)
    if kind in ("step", "sigmoid"):
        return staircase_network(f, n, kind, steepness)
    raise ValueError(f"unknown kind {kind!r}; choose one of {list(KINDS)}")


def max_error(net: MLP, f: Target, n_points: int = ERROR_POINTS) -> float:
    """Largest |network(x) - f(x)| over a fine grid of [0, 1]."""
    x = np.linspace(0.0, 1.0, n_points)[:, None]  # (n_points, 1): a batch of 1-D inputs
    return float(np.abs(net.forward(x)[:, 0] - f(x[:, 0])).max())


def plot_approximations(target: str, neurons: list[int], steepness: float,
                        out_dir: Path | None = None) -> Figure:
    """One panel per kind of network: the target and the hand-built approximations."""
    f, formula = TARGETS[target]
    fig = Figure(figsize=(4.6 * len(KINDS), 4.0), layout="constrained")
    axes = fig.subplots(1, len(KINDS), sharey=True)
    x = np.linspace(0.0, 1.0, 1001)
    # Five fixed colours; more sizes than that get evenly spaced colours of a colour map.
    cmap = matplotlib.colormaps["viridis"]
    colors = (COLORS[:len(neurons)] if len(neurons) <= len(COLORS)
              else [cmap(i / (len(neurons) - 1)) for i in range(len(neurons))])
    for ax, kind in zip(axes, KINDS, strict=True):
        ax.plot(x, f(x), color="black", lw=3, alpha=0.3, label="target")
        for n, color in zip(neurons, colors, strict=True):
            net = approximator(f, n, kind, steepness)
            ax.plot(x, net.forward(x[:, None])[:, 0], color=color, lw=1.3,
                    label=f"{n} neurons: max error {max_error(net, f):.3f}")
        ax.set_title(f"{kind} hidden layer", fontsize=10)
        ax.set_xlabel("x")
        ax.legend(fontsize=8, loc="lower left")
    axes[0].set_ylabel("y")
    fig.suptitle(f"One hidden layer, weights set by hand, tracing f(x) = {formula}")
    save_figure(fig, out_dir, "universal_approximation.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    f, formula = TARGETS[args.target]
    kinds = list(KINDS) if args.activation == "all" else [args.activation]
    n_max = max(args.neurons)
    try:
        check_fits_in_memory(8 * ARRAYS_PER_NEURON * ERROR_POINTS * n_max,
                             f"--neurons {n_max}")
    except ValueError as err:
        parser.error(str(err))
    steepness = DEFAULT_STEEPNESS if args.steepness is None else args.steepness
    if not np.isfinite(steepness * n_max):
        parser.error(f"--steepness {steepness:g} with --neurons {n_max} overflows: each sigmoid "
                     f"weight is steepness x neurons, here inf, and inf x 0 is nan. Beyond "
                     f"about 1000 a sigmoid stair is a step already: choose a smaller "
                     f"--steepness")

    print(f"Target f(x) = {formula} on [0, 1], a closed and bounded interval: the setting "
          "of the theorem")
    n0 = min(args.neurons)
    demo = approximator(f, n0, kinds[0], steepness)
    print(f"\nThe {kinds[0]} network with {n0} hidden neurons, layer by layer:")
    x = np.linspace(0.0, 1.0, 5)[:, None]  # (5, 1): five inputs as a batch
    y_hat = demo.forward(x, verbose=True)
    W1, b1 = demo.layers[0].params["W"], demo.layers[0].params["b"]
    W2, b2 = demo.layers[2].params["W"], demo.layers[2].params["b"]
    print(f"   hidden W {np.round(W1[0], 3).tolist()}, b {np.round(b1, 3).tolist()}")
    print(f"   output W {np.round(W2[:, 0], 3).tolist()}, b {np.round(b2, 3).tolist()}")
    for xi, yi in zip(x[:, 0], y_hat[:, 0], strict=True):
        target = float(f(np.array(xi)))
        # round(..., 4) + 0.0 prints a tiny negative number as 0.0000, not -0.0000
        print(f"   x = {xi:.2f}:  network {round(yi, 4) + 0.0:+.4f}   "
              f"target {round(target, 4) + 0.0:+.4f}")

    print("\nLargest error on 2001 points of [0, 1] (each row: more neurons)")
    print(f"   {'neurons':>8s}  {'params':>7s}  " + "  ".join(f"{k:>9s}" for k in kinds))
    for n in sorted(args.neurons):
        errors = [max_error(approximator(f, n, k, steepness), f) for k in kinds]
        n_params = approximator(f, n, kinds[0], steepness).n_params
        print(f"   {n:8d}  {n_params:7d}  " + "  ".join(f"{e:9.5f}" for e in errors))
    print("   Errors shrink like 1/n for staircases (step, sigmoid), like 1/n^2 for hinges (relu).")
    if args.steepness is not None and "sigmoid" not in kinds:
        print("   (--steepness shapes only the sigmoid network, which is not in this table;")
        print("   it changes the figure's sigmoid panel and nothing else)")

    print("\nFigures")
    plot_approximations(args.target, sorted(args.neurons), steepness, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Hand-built one-hidden-layer networks that approximate a curve.")
    parser.add_argument("--target", choices=sorted(TARGETS), default="wiggle",
                        help="the function to approximate on [0, 1]")
    parser.add_argument("--activation", choices=["all", *KINDS], default="all",
                        help="which hidden layer to tabulate")
    parser.add_argument("--neurons", type=positive_int, nargs="+", default=[4, 12, 40],
                        help="hidden-layer sizes to try")
    parser.add_argument("--steepness", type=positive_float, default=None,
                        help="how sharply each sigmoid switches, per stair; only the sigmoid "
                             f"network has it (default: {DEFAULT_STEEPNESS:g})")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
