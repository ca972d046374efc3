"""Derivatives you can compute without calculus: finite differences, checked against the rules.

A derivative answers "if I nudge the input a little, how much does the output move, per unit
of nudge?". You can measure that directly: nudge by h, look at the change, divide by h. That is
a finite difference. It is slow (one or two function calls per input) and slightly inexact,
but it needs no algebra, so it is the referee every hand-derived gradient in this repository
is checked against (the "gradient check").

The lesson of the error plot: the central difference is far more accurate than the forward one,
and making h ever smaller stops helping once floating-point round-off takes over.

Run:  python phase-00-foundations/code/derivatives.py --function sin --x 1.0 --h 1e-4
"""

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_out_flag, save_figure
from phase00.flags import finite_float, positive_float, script_parser

ScalarFn = Callable[[float], float]

# Past this size a value of f, or its slope times the plotted width, no longer fits in float64
# (whose largest number is about 1.8e308): the run is refused instead of printing inf and nan.
LARGEST_VALUE = 1e306


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """1/(1 + e^-x), computed so that nothing overflows: e^-x is inf for x below about -709.

    For x < 0 the same value is written e^x/(1 + e^x) (multiply top and bottom by e^x). Either
    way the exponent is -|x| <= 0, so the exponential lies in (0, 1].
    """
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))[()]


def sigmoid_slope(x: np.ndarray | float) -> np.ndarray:
    """The sigmoid's derivative e^-x/(1 + e^-x)^2, which equals f(x)(1 - f(x)).

    The slope is symmetric, the same at -x as at x, so it is computed at |x|: the exponent is
    never positive and nothing overflows. (f(x)(1 - f(x)) would not overflow either, but for
    x above about 37, f(x) rounds to exactly 1 and the product to 0.)
    """
    e = np.exp(-np.abs(np.asarray(x, dtype=float)))
    return (e / (1 + e) ** 2)[()]


# name -> (f, its derivative worked out by the rules of calculus, the formulas as text)
FUNCTIONS: dict[str, tuple[ScalarFn, ScalarFn, str]] = {
    "cube": (lambda x: x**3, lambda x: 3 * x**2, "f(x) = x^3,  f'(x) = 3x^2"),
    "sin": (np.sin, np.cos, "f(x) = sin x,  f'(x) = cos x"),
    "exp": (np.exp, np.exp, "f(x) = e^x,  f'(x) = e^x"),
    "sigmoid": (sigmoid, sigmoid_slope, "f(x) = 1/(1+e^-x),  f'(x) = f(x)(1 - f(x))"),
}


def forward_difference(f: ScalarFn, x: float, h: float = 1e-5) -> float:
    """Slope of the line through (x, f(x)) and (x+h, f(x+h)). Error shrinks like h."""
    return (f(x + h) - f(x)) / h


def central_difference(f: ScalarFn, x: float, h: float = 1e-5) -> float:
    """Slope of the line through (x-h, f(x-h)) and (x+h, f(x+h)). Error shrinks like h^2.

    Why better: in the Taylor series f(x±h) = f(x) ± h f'(x) + h^2/2 f''(x) ± ..., the h^2
    terms are equal on both sides and cancel in the difference; the forward difference keeps
    one of them.
    """
    return (f(x + h) - f(x - h)) / (2 * h)


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = 1e-5) -> np.ndarray:
    """The gradient of a scalar function of many inputs, one central difference per input.

    The gradient is the vector of partial derivatives: nudge one coordinate, hold the others
    still, measure the slope, repeat for every coordinate. The loop over coordinates IS the
    method (each needs its own two evaluations of f), which is why it is too slow to train
    with and perfect for checking.
    """
    x = np.array(x, dtype=np.float64)  # a copy in float64: we nudge it in place
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        f_plus = f(x)
        x[i] = original - h
        f_minus = f(x)
        x[i] = original  # put it back before the next coordinate
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / (|a| + |b|), elementwise: scale-free, so 1e-7 means "7 digits agree"."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    denom = np.maximum(np.abs(a) + np.abs(b), 1e-12)  # two zeros agree perfectly
    return float((np.abs(a - b) / denom).max())


def paraboloid(v: np.ndarray) -> float:
    """g(x, y) = x^2 y + 3y, the two-input example of the printout."""
    x, y = v
    return float(x**2 * y + 3 * y)


def paraboloid_gradient(v: np.ndarray) -> np.ndarray:
    """The partial derivatives of g by hand: dg/dx = 2xy (y held still), dg/dy = x^2 + 3."""
    x, y = v
    return np.array([2 * x * y, x**2 + 3])


# The rules of calculus this course uses, each with one example worked out by that rule.
# rule name -> (the rule, an example f, its derivative by the rule, the example as text)
RULES: dict[str, tuple[str, ScalarFn, ScalarFn, str]] = {
    "power": ("(x^n)' = n x^(n-1)",
              lambda x: x**3, lambda x: 3 * x**2, "x^3 -> 3x^2"),
    "sum, constant": ("(a f + b g)' = a f' + b g'",
                      lambda x: 4 * x**2 + 5 * x, lambda x: 8 * x + 5, "4x^2 + 5x -> 8x + 5"),
    "exponential": ("(e^x)' = e^x",
                    np.exp, np.exp, "e^x -> e^x"),
    "logarithm": ("(ln x)' = 1/x",
                  np.log, lambda x: 1 / x, "ln x -> 1/x"),
    "sine": ("(sin x)' = cos x",
             np.sin, np.cos, "sin x -> cos x"),
    "product": ("(f g)' = f' g + f g'",
                lambda x: x**2 * np.sin(x),
                lambda x: 2 * x * np.sin(x) + x**2 * np.cos(x),
                "x^2 sin x -> 2x sin x + x^2 cos x"),
    "reciprocal": ("(1/g)' = -g'/g^2",
                   lambda x: 1 / (1 + x**2), lambda x: -2 * x / (1 + x**2) ** 2,
                   "1/(1 + x^2) -> -2x/(1 + x^2)^2"),
    "chain": ("(f(g(x)))' = f'(g(x)) g'(x)",
              lambda x: np.sin(x**2), lambda x: np.cos(x**2) * 2 * x,
              "sin(x^2) -> cos(x^2) 2x"),
}


X_RULES = 1.5  # the point the script checks the rules at: every example is defined there


def check_rule(name: str, x: float, h: float = 1e-5) -> tuple[float, float, float]:
    """(the rule's answer, the central difference, their relative error) for RULES[name] at x.

    A rule of calculus is a claim about slopes; the central difference measures the slope with
    no rule at all. When the two agree to many digits, the rule (and our use of it) is right.
    """
    _, f, df, _ = RULES[name]
    by_rule = float(df(x))
    measured = central_difference(f, x, h)
    return by_rule, measured, relative_error(np.array(by_rule), np.array(measured))


def plot_error_vs_h(f: ScalarFn, df: ScalarFn, x: float, name: str,
                    out_dir: Path | None = None) -> Figure:
    """Log-log plot of |estimate - truth| against h for both difference formulas."""
    hs = np.logspace(-14, -1, 60)
    exact = df(x)
    fwd = np.array([abs(forward_difference(f, x, h) - exact) for h in hs])
    ctr = np.array([abs(central_difference(f, x, h) - exact) for h in hs])
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    tiny = 1e-17  # an error of exactly 0 cannot be drawn on a log axis
    ax.loglog(hs, np.maximum(fwd, tiny), label="forward  (f(x+h) - f(x)) / h")
    ax.loglog(hs, np.maximum(ctr, tiny), label="central  (f(x+h) - f(x-h)) / 2h")
    ax.set_xlabel("step size h")
    ax.set_ylabel("|estimate - true derivative|")
    ax.set_title(f"Finite-difference error for {name} at x = {x:g}")
    # in_layout=False: far from x = 1 the errors may never come near 1e-11, and a label outside
    # the axes must not squeeze them (clip_on hides it there)
    ax.text(1e-13, 1e-11, "small h:\nround-off wins", ha="left", in_layout=False, clip_on=True)
    ax.text(3e-5, 1e-11, "large h:\ntruncation wins", ha="left", in_layout=False, clip_on=True)
    ax.legend(loc="upper center")
    save_figure(fig, out_dir, "finite_difference_error.png")
    return fig


def three_decimals(value: float) -> str:
    """0.540 for a slope of everyday size; 7.494e+304, not 305 digits, for a huge one."""
    return f"{value:.3f}" if abs(value) < 1e6 else f"{value:.3e}"


def ten_decimals(value: float) -> str:
    """0.8414709848 for a value of everyday size; scientific notation for a huge or tiny one,
    which ten decimals would print as 300 digits or as 0.0000000000."""
    return f"{value:.10f}" if 1e-3 <= abs(value) < 1e6 or value == 0 else f"{value:.10e}"


def plot_tangent(f: ScalarFn, df: ScalarFn, x: float, name: str,
                 out_dir: Path | None = None) -> Figure:
    """The function, its tangent at x (slope f'(x)), and a secant through x and x + 0.5."""
    xs = np.linspace(x - 2, x + 2, 200)
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(xs, [f(v) for v in xs], label=name, color="black")
    ax.plot(xs, f(x) + df(x) * (xs - x), "--",
            label=f"tangent, slope f'(x) = {three_decimals(df(x))}")
    h = 0.5
    slope = forward_difference(f, x, h)
    ax.plot(xs, f(x) + slope * (xs - x), ":",
            label=f"secant with h = {h}, slope {three_decimals(slope)}")
    ax.plot([x, x + h], [f(x), f(x + h)], "o", color="tab:green")
    low, high = min(f(v) for v in xs), max(f(v) for v in xs)
    margin = max(0.5, 1e-6 * max(abs(low), abs(high)))  # huge values need a margin that shows
    ax.set_ylim(low - margin, high + margin)
    ax.legend()
    ax.set_title("A derivative is the slope of the tangent; a secant approximates it")
    save_figure(fig, out_dir, "tangent_and_secant.png")
    return fig


def check_in_range(f: ScalarFn, df: ScalarFn, x: float, h: float, name: str) -> None:
    """Raise ValueError if f or its slope leaves float64's range where this script looks: at
    x - h and x + h, and from x - 2 to x + 2, the width the tangent figure draws."""
    points = np.append(np.linspace(x - 2, x + 2, 201), [x - h, x + h])
    with np.errstate(all="ignore"):  # inf and nan are what we are looking for
        sizes = np.abs(np.concatenate([f(points), df(points)]))
    if not np.all(sizes <= LARGEST_VALUE):  # also catches nan
        how = (f"reaches {sizes.max():.3g}, too near" if np.all(np.isfinite(sizes))
               else "overflows")
        raise ValueError(f"{name} or its slope {how} float64's largest number (about 1.8e308) "
                         f"within 2 of x = {x:g}, the width the figure draws: choose an --x "
                         f"nearer 0")


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.h >= X_RULES:
        parser.error(f"--h {args.h:g} is too large: the table of rules measures ln x at "
                     f"x = {X_RULES}, which needs x - h > 0 (and a step that long measures a "
                     f"secant, not a slope); choose --h below {X_RULES}, usually 1e-3 to 1e-6")
    f, df, formula = FUNCTIONS[args.function]
    try:
        check_in_range(f, df, args.x, args.h, formula.split(",")[0])
    except ValueError as err:
        parser.error(str(err))
    if args.x + args.h == args.x or args.x - args.h == args.x:
        parser.error(f"at --x {args.x:g}, x + h rounds back to x (float64 keeps about 16 "
                     f"significant digits), so every difference would be 0: choose a larger "
                     f"--h or an --x nearer 0")

    print(f"1. One input: {formula}, at x = {args.x}")
    exact = df(args.x)
    print(f"   f(x)        = {ten_decimals(f(args.x))}")
    print(f"   f(x + h)    = {ten_decimals(f(args.x + args.h))}    (h = {args.h:g})")
    fwd = forward_difference(f, args.x, args.h)
    ctr = central_difference(f, args.x, args.h)
    print(f"   forward difference  = {ten_decimals(fwd)}   error {abs(fwd - exact):.2e}")
    print(f"   central difference  = {ten_decimals(ctr)}   error {abs(ctr - exact):.2e}")
    print(f"   analytic f'(x)      = {ten_decimals(exact)}")

    print("\n2. How the error depends on h")
    print("        h      forward err    central err")
    for h in (1e-1, 1e-3, 1e-5, 1e-7, 1e-9, 1e-11):
        print(f"   {h:8.0e}   {abs(forward_difference(f, args.x, h) - exact):12.2e}"
              f"   {abs(central_difference(f, args.x, h) - exact):12.2e}")
    print("   forward: error ~ h. central: error ~ h^2, until round-off (~1e-16 / h) wins.")

    print("\n3. Many inputs: the gradient of g(x, y) = x^2 y + 3y at (2, -1)")
    v = np.array([2.0, -1.0])
    numeric = numerical_gradient(paraboloid, v)
    analytic = paraboloid_gradient(v)
    print(f"   numerical gradient = {numeric}")
    print(f"   analytic gradient  = {analytic}   (dg/dx = 2xy, dg/dy = x^2 + 3)")
    err = relative_error(numeric, analytic)
    verdict = "< 1e-7: the hand derivation is right" if err < 1e-7 else "too large: recheck"
    print(f"   relative error     = {err:.2e}   ({verdict})")

    x_rules = X_RULES
    print(f"\n4. The rules of calculus this course uses, each checked at x = {x_rules} "
          f"(h = {args.h:g})")
    print(f"   {'rule':14s} {'the rule':28s} {'example':34s} {'by the rule':>12s} "
          f"{'measured':>12s} {'rel. error':>10s}")
    for name, (rule, _, _, example) in RULES.items():
        by_rule, measured, rule_err = check_rule(name, x_rules, args.h)
        print(f"   {name:14s} {rule:28s} {example:34s} {by_rule:12.6f} {measured:12.6f} "
              f"{rule_err:10.1e}")
    wrong = 2 * x_rules * np.cos(x_rules)  # f' g' for f = x^2, g = sin x: not the product rule
    print(f"   a misremembered rule fails: (f g)' = f' g' gives {wrong:.6f} for x^2 sin x, "
          f"but the slope measures {central_difference(RULES['product'][1], x_rules, args.h):.6f}")
    print("   sigmoid, tanh and every later derivative are these rules combined.")

    print("\nFigures")
    plot_tangent(f, df, args.x, formula.split(",")[0], args.out)
    plot_error_vs_h(f, df, args.x, formula.split(",")[0], args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Finite differences against analytic derivatives.")
    parser.add_argument("--function", choices=sorted(FUNCTIONS), default="sin",
                        help="which function to differentiate")
    parser.add_argument("--x", type=finite_float, default=1.0, help="point to differentiate at")
    parser.add_argument("--h", type=positive_float, default=1e-5, help="step size")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
