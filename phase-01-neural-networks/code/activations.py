"""Activation functions: the bend that lets a stack of layers be more than one straight line.

A neuron adds up its weighted inputs and then passes the sum through an activation function.
Without that function, two layers in a row are still one matrix multiplication, and any number
of them still draw a single straight boundary. The activation is where the bending happens.

Five activations, in the order the field met them:

- step     fires 1 or 0, like a switch. The neuron of McCulloch & Pitts (1943) and of the
           perceptron (Rosenblatt 1958). Its slope is 0 everywhere except at 0, where it is
           undefined, so it tells a learning rule nothing about which way to move.
- sigmoid  a smooth step squeezed into (0, 1). Its slope exists everywhere, which is what made
           gradient-based training possible; but it is at most 0.25 and nearly 0 far from 0.
- tanh     sigmoid stretched to (-1, 1) and centred on 0: tanh(x) = 2 sigmoid(2x) - 1.
- ReLU     max(0, x): a hinge. Slope 1 for positive inputs, so signals do not fade
           (Nair & Hinton 2010; Glorot, Bordes & Bengio 2011).
- GELU     a smooth ReLU that lets small negative values through (Hendrycks & Gimpel 2016);
           GPT-2 uses it, in the tanh approximation implemented here.

Each comes with its derivative, worked out by hand and checked here against central
differences from phase 00. Phase 02 uses these derivatives to train networks.

Run:  python phase-01-neural-networks/code/activations.py --activation gelu --x -3 -1 0 0.5 2
"""

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.derivatives import central_difference
from phase00.figures import add_out_flag, save_figure
from phase00.flags import finite_float, positive_float, script_parser

ActivationFn = Callable[[np.ndarray], np.ndarray]  # array in, same-shaped array out

# sqrt(2 / pi) and the cubic coefficient of the GELU tanh approximation (Hendrycks & Gimpel 2016)
GELU_C = math.sqrt(2.0 / math.pi)
GELU_A = 0.044715
# Beyond |x| = 100, u is above 30000 and tanh(u) is exactly +-1 in float64 and float32, so
# GELU is x or 0 and its slope 1 or 0. Clipping x there for u keeps x^3 (overflow past 5.6e102)
# and x^2 (past 1.3e154, then 0 * inf = nan) finite without changing a single result.
GELU_SATURATED = 100.0

# The central-difference step h the script accepts. Longer steps measure the average slope over
# a stretch as wide as the activations' bends (they bend within about 1 of 0). Shorter ones
# divide round-off by 2h: f is only stored to about 1e-16, so at h = 1e-10 the check is already
# off by about 1e-6, and below 1e-16 x + h is x again, for every x of size 1.
H_MIN, H_MAX = 1e-10, 1.0


def _as_float(x: np.ndarray) -> np.ndarray:
    """x as a floating-point array (ints and Python numbers become float64, floats keep dtype)."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def step(x: np.ndarray) -> np.ndarray:
    """Heaviside step: 1 where x > 0, else 0. The neuron either fires or it does not.

    At exactly 0 we output 0 ("fire only when the evidence is strictly positive"). Any fixed
    choice works; it only matters for points that sit exactly on a decision boundary.
    """
    x = _as_float(x)
    return (x > 0).astype(x.dtype)


def step_grad(x: np.ndarray) -> np.ndarray:
    """0 everywhere. (At x = 0 the step jumps, so its true slope there is undefined.)

    This is why the perceptron learning rule is not gradient descent through the step: the
    gradient of a step is 0 almost everywhere, so "follow the slope" would never move a single
    weight. Rosenblatt's rule instead uses the error (target - output) directly. Sigmoid exists
    to fix this.
    """
    x = _as_float(x)
    return np.zeros_like(x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """sigma(x) = 1 / (1 + e^(-x)): a smooth step from 0 to 1, with sigma(0) = 0.5.

    Why two branches: for x = -1000 the textbook formula computes e^1000, which overflows. Using
    z = e^(-|x|), which is always in (0, 1], we write sigma(x) = 1 / (1 + z) for x >= 0 and the
    equal z / (1 + z) for x < 0 (multiply top and bottom by e^x). Nothing can overflow.
    """
    x = _as_float(x)
    z = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def sigmoid_grad(x: np.ndarray) -> np.ndarray:
    """sigma'(x) = sigma(x) (1 - sigma(x)): largest (0.25) at x = 0, nearly 0 for large |x|."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x: np.ndarray) -> np.ndarray:
    """tanh(x) = (e^x - e^(-x)) / (e^x + e^(-x)): a smooth step from -1 to 1, tanh(0) = 0.

    NumPy's np.tanh is already stable for large |x| (it saturates to +-1 without overflow).
    """
    return np.tanh(_as_float(x))


def tanh_grad(x: np.ndarray) -> np.ndarray:
    """tanh'(x) = 1 - tanh(x)^2: equal to 1 at x = 0, four times sigmoid's best slope."""
    t = tanh(x)
    return 1.0 - t * t


def relu(x: np.ndarray) -> np.ndarray:
    """ReLU(x) = max(0, x): pass positive values unchanged, silence negative ones."""
    x = _as_float(x)
    return np.maximum(x, 0.0)


def relu_grad(x: np.ndarray) -> np.ndarray:
    """1 where x > 0, 0 where x < 0, and 0 at the kink x = 0 by convention.

    At 0 the left slope is 0 and the right slope is 1, so no single derivative exists. We pick
    0 (as PyTorch does); an input landing exactly on 0.0 is rare, and either choice trains.
    """
    x = _as_float(x)
    return (x > 0).astype(x.dtype)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU in the tanh approximation GPT-2 uses.

    The exact GELU is x * Phi(x), where Phi is the standard normal CDF: "keep x in proportion to
    how likely a standard normal value falls below x". Hendrycks & Gimpel (2016) give the cheap
    approximation  0.5 x (1 + tanh( sqrt(2/pi) (x + 0.044715 x^3) )),  which matches x Phi(x)
    to within 5e-4 everywhere (the script measures the largest gap).
    """
    x = _as_float(x)
    xc = np.clip(x, -GELU_SATURATED, GELU_SATURATED)  # same tanh(u), but x^3 cannot overflow
    u = GELU_C * (xc + GELU_A * xc * xc * xc)  # x*x*x, not x**3: NumPy's pow is ~50x slower
    return 0.5 * x * (1.0 + np.tanh(u))


def gelu_grad(x: np.ndarray) -> np.ndarray:
    """Derivative of the tanh approximation (not of the exact x Phi(x)).

    With u = c (x + a x^3) and t = tanh(u), gelu = 0.5 x (1 + t). The product rule gives
        gelu' = 0.5 (1 + t)  +  0.5 x (1 - t^2) c (1 + 3 a x^2),
    the first term from differentiating x, the second from differentiating tanh(u) through u.
    Far out (|x| > GELU_SATURATED) t is exactly +-1 and the slope exactly 1 or 0; x is clipped
    there, because x * x overflows past |x| = 1.3e154 and 0 * inf would give nan.
    """
    x = _as_float(x)
    x = np.clip(x, -GELU_SATURATED, GELU_SATURATED)  # changes no result: see GELU_SATURATED
    u = GELU_C * (x + GELU_A * x * x * x)
    t = np.tanh(u)
    du_dx = GELU_C * (1.0 + 3.0 * GELU_A * x * x)
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du_dx


def gelu_exact(x: np.ndarray) -> np.ndarray:
    """x Phi(x) with the true normal CDF, Phi(x) = (1 + erf(x / sqrt 2)) / 2, for comparison.

    NumPy has no erf, so this calls the standard library's math.erf once per element: fine for
    the few hundred points we compare on, too slow to use inside a network.
    """
    x = _as_float(x)
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return x * 0.5 * (1.0 + erf(x / math.sqrt(2.0)))


# name -> (function, derivative). Phase 02 looks activations up here by name.
ACTIVATIONS: dict[str, tuple[ActivationFn, ActivationFn]] = {
    "step": (step, step_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "gelu": (gelu, gelu_grad),
}

# Points where a derivative does not exist: a finite difference straddling one is meaningless.
KINKS: dict[str, tuple[float, ...]] = {"step": (0.0,), "relu": (0.0,)}

FORMULAS = {
    "step": ("1 if x > 0 else 0", "0 (undefined at x = 0)"),
    "sigmoid": ("1 / (1 + e^-x)", "sigma(x) (1 - sigma(x))"),
    "tanh": ("(e^x - e^-x) / (e^x + e^-x)", "1 - tanh(x)^2"),
    "relu": ("max(0, x)", "1 if x > 0 else 0"),
    "gelu": ("0.5 x (1 + tanh(c (x + 0.044715 x^3)))", "see gelu_grad"),
}


def get_activation(name: str) -> tuple[ActivationFn, ActivationFn]:
    """(function, derivative) for `name`, or a ValueError that lists the valid names."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def plot_activations(out_dir: Path | None = None) -> Figure:
    """One panel per activation (function solid, derivative dashed), plus all slopes together."""
    x = np.linspace(-4, 4, 801)
    fig = Figure(figsize=(12, 6.6), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    colors = dict(zip(ACTIVATIONS, ("0.3", "tab:blue", "tab:green", "tab:red", "tab:purple"),
                      strict=True))
    for ax, (name, (f, df)) in zip(axes, ACTIVATIONS.items(), strict=False):
        y, dy = f(x), df(x)
        if name == "step":  # draw the jump as a jump, not as a steep line through x = 0
            y = np.where(x == 0, np.nan, y)
            ax.plot([0, 0], [0, 1], "o", color=colors[name], mfc="white")  # open ends
            ax.plot([0], [0], "o", color=colors[name])  # step(0) = 0 by our convention
            ax.annotate("slope undefined\nat the jump", (0, 0.5), xytext=(0.6, 0.35),
                        arrowprops={"arrowstyle": "->"})
        if name in KINKS:
            dy = np.where(x == 0, np.nan, dy)
        ax.plot(x, y, color=colors[name], lw=2.2, label=f"{name}(x)")
        ax.plot(x, dy, "--", color=colors[name], lw=1.6, label=f"{name}'(x)")
        ax.axhline(0, color="0.85", lw=0.8, zorder=0)
        ax.axvline(0, color="0.85", lw=0.8, zorder=0)
        ax.set_title(f"{name}:  {FORMULAS[name][0]}", fontsize=10)
        ax.set_ylim(-1.25, 2.0)
        ax.legend(loc="upper left", fontsize=9)
        ax.set_xlabel("x")
    ax = axes[-1]
    for name, (_, df) in ACTIVATIONS.items():
        if name != "step":
            dy = np.where(x == 0, np.nan, df(x)) if name in KINKS else df(x)
            ax.plot(x, dy, color=colors[name], lw=1.8, label=f"{name}'")
    ax.axhline(0.25, color="tab:blue", ls=":", lw=1)
    ax.text(3.9, 0.28, "sigmoid' never\nexceeds 0.25", color="tab:blue", fontsize=9,
            ha="right", va="bottom")
    ax.set_title("All slopes together (step's is 0)", fontsize=10)
    ax.set_ylim(-0.2, 1.25)
    ax.legend(loc="upper left", fontsize=9)
    ax.set_xlabel("x")
    fig.suptitle("Activation functions (solid) and their derivatives (dashed)")
    save_figure(fig, out_dir, "activations.png")
    return fig


def number(v: float, width: int) -> str:
    """v with 6 decimals, or in 6 significant digits once it is too large for a table column."""
    v = v + 0.0  # -0.0 (gelu far left) prints as 0
    return f"{v:{width}.6f}" if abs(v) < 1e6 else f"{v:{width}.6g}"


def difference_step(text: str) -> float:
    """--h: a central-difference step between H_MIN and H_MAX (see there for why)."""
    h = positive_float(text)
    if not H_MIN <= h <= H_MAX:
        raise argparse.ArgumentTypeError(
            f"expected a step h from {H_MIN:g} to {H_MAX:g}, got {text!r} (a longer step "
            f"averages the slope across the curve's bend; a shorter one measures round-off)")
    return h


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    names = list(ACTIVATIONS) if args.activation == "all" else [args.activation]
    x = np.array(args.x, dtype=np.float64)

    print("1. Values and slopes (the slope checked against a central difference, phase 00)")
    for name in names:
        f, df = ACTIVATIONS[name]
        print(f"\n   {name}(x) = {FORMULAS[name][0]},   {name}'(x) = {FORMULAS[name][1]}")
        print("          x        f(x)       f'(x)   central diff")
        numeric = central_difference(f, x, args.h)  # works elementwise on the whole array
        for xi, fi, dfi, ni in zip(x, f(x), df(x), numeric, strict=True):
            on_kink = any(abs(xi - k) < args.h for k in KINKS.get(name, ()))
            # x +- h are stored to within np.spacing(x): if that is not tiny beside h, the
            # difference measures rounding, not slope (at x = 1e200, x + h is x itself).
            rounded = np.spacing(abs(xi)) > 1e-6 * args.h
            check = ("  (kink: no slope)" if on_kink
                     else "  (h too small beside x: round-off, no check)" if rounded else "")
            print(f"   {xi:8.4g}  {number(fi, 10)}  {number(dfi, 10)}  {number(ni, 13)}{check}")

    print("\n2. Why sigmoid needs two branches")
    big = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(over="ignore", invalid="ignore"):
        naive_neg = 1.0 / (1.0 + np.exp(-big))  # e^1000 overflows at x = -1000
        naive_pos = np.exp(big) / (1.0 + np.exp(big))  # inf / inf = nan at x = +1000
    def row(v: np.ndarray) -> str:
        return " ".join(f"{vi:9.3g}" for vi in v)

    print(f"   x                 {row(big)}")
    print(f"   1 / (1 + e^-x)    {row(naive_neg)}   e^1000 overflows to inf; 1 / inf = 0, "
          "right by luck")
    print(f"   e^x / (1 + e^x)   {row(naive_pos)}   inf / inf = nan")
    print(f"   sigmoid(x)        {row(sigmoid(big))}   each branch only where it is safe")

    print("\n3. Facts worth remembering, measured on a grid of 8001 points in [-8, 8]")
    grid = np.linspace(-8, 8, 8001)
    print(f"   largest sigmoid'(x) = {sigmoid_grad(grid).max():.6f}  (at x = 0)")
    print(f"   largest tanh'(x)    = {tanh_grad(grid).max():.6f}  (at x = 0)")
    gap = np.abs(tanh(grid) - (2 * sigmoid(2 * grid) - 1)).max()
    print(f"   max |tanh(x) - (2 sigmoid(2x) - 1)| = {gap:.1e}  (the same curve, rescaled)")
    print(f"   sigmoid'(5) = {sigmoid_grad(np.array(5.0)):.6f}: a saturated neuron barely learns")
    gelu_gap = np.abs(gelu(grid) - gelu_exact(grid))
    print(f"   max |gelu_tanh(x) - x Phi(x)| = {gelu_gap.max():.2e} at x = "
          f"{grid[gelu_gap.argmax()]:+.2f}  (the approximation GPT-2 uses)")
    print(f"   min gelu(x) = {gelu(grid).min():.4f} at x = {grid[gelu(grid).argmin()]:+.3f}"
          "  (GELU dips below 0; ReLU never does)")

    print("\nFigures")
    plot_activations(args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Activation functions and their derivatives.")
    parser.add_argument("--activation", choices=["all", *ACTIVATIONS], default="all",
                        help="which activation to tabulate")
    parser.add_argument("--x", type=finite_float, nargs="+", default=[-3.0, -1.0, 0.0, 0.5, 2.0],
                        help="inputs to evaluate at")
    parser.add_argument("--h", type=difference_step, default=1e-5,
                        help=f"step of the central difference check, {H_MIN:g} to {H_MAX:g} "
                             "(default: 1e-5)")
    add_out_flag(parser, __file__)
    return parser  # --x -1e-3 is a number, not a flag


if __name__ == "__main__":
    main()
