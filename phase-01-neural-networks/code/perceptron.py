"""The perceptron: one neuron that learns logic gates from its mistakes, and the gate it cannot.

Frank Rosenblatt's perceptron (1958) is a neuron in the style of McCulloch & Pitts (1943): it
weighs its inputs, adds a bias, and fires (1) if the total is above zero, else stays silent (0):

    y_hat = step(w . x + b)

What Rosenblatt added is a learning rule. Show the neuron one example at a time; whenever it is
wrong, nudge every weight by (target - output) * input:

    w <- w + lr * (y - y_hat) * x        b <- b + lr * (y - y_hat)

A missed 1 pulls the weights towards that input; a false alarm pushes them away; a correct
answer changes nothing. On AND and OR this stops after a few passes, with a line that separates
the 1s from the 0s. On XOR it never stops: no straight line puts (0,1) and (1,0) on one side and
(0,0) and (1,1) on the other (Minsky & Papert 1969 made this limit famous). From a zero start the
script stops XOR as soon as its weights repeat (a proven endless loop), prints the epochs,
proves the XOR case with four inequalities, and draws the learned boundaries.

Run:  python phase-01-neural-networks/code/perceptron.py --gate xor --epochs 10
"""

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from phase00.figures import add_out_flag, save_figure
from phase00.flags import nonnegative_int, positive_float, positive_int, script_parser
from phase01.activations import step

# The four corners of the unit square: every input a two-input logic gate can see.
X_GATE = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
GATES: dict[str, np.ndarray] = {
    "and": np.array([0.0, 0.0, 0.0, 1.0]),
    "or": np.array([0.0, 1.0, 1.0, 1.0]),
    "xor": np.array([0.0, 1.0, 1.0, 0.0]),
}
# A separating line for each gate that has one, found by hand: w . x + b = 0 with w = (1, 1).
# The convergence theorem below turns any separating line into a bound on the number of mistakes.
SEPARATORS: dict[str, tuple[np.ndarray, float]] = {
    "and": (np.array([1.0, 1.0]), -1.5),
    "or": (np.array([1.0, 1.0]), -0.5),
}

PRINTED_EPOCHS = 10  # a verbose run prints its first epochs and its last, not a million lines
DRAWN_BOUNDARIES = 20  # the figure draws the boundary after each of the last 20 epochs
LOOP_SHOWN = 10  # epochs of a proven loop drawn (dashed) after the run stopped
# A rough cost of one epoch on the four corners, measured (about 8e-5 s on a 2-core laptop):
# from a random start nothing proves a loop, so XOR runs every epoch it is given.
SECONDS_PER_EPOCH = 1e-4
MAX_SECONDS = 300  # a run estimated longer than this is refused, with the estimate


@dataclass
class PerceptronRun:
    """Everything a training run did: the final weights and the story of how it got there."""

    w: np.ndarray
    b: float
    mistakes: list[int] = field(default_factory=list)  # updates made during each epoch
    wrong_after: list[int] = field(default_factory=list)  # examples still wrong after each epoch
    history: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (w, b) after each
    converged: bool = False
    cycle: tuple[int, int] | None = None  # (epoch, earlier epoch with the very same weights)
    max_epochs: int = 0  # the most epochs it was allowed; a proven loop stops it sooner

    @property
    def epochs(self) -> int:
        """How many passes over the data the run made."""
        return len(self.mistakes)


def predict(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """step(X w + b) for every row of X at once: shape (n,) of 0s and 1s."""
    if X.ndim != 2 or X.shape[1] != w.shape[0]:
        raise ValueError(f"X must have shape (n, {w.shape[0]}) to match w, got {X.shape}")
    return step(X @ w + b)


def perceptron_update(w: np.ndarray, b: float, x: np.ndarray, y: float, lr: float,
                      use_bias: bool = True) -> tuple[np.ndarray, float, float]:
    """Rosenblatt's rule on one example: (new w, new b, error), with error = y - y_hat.

    x has shape (d,) like w, and y is 0 or 1. A right answer (error 0) changes nothing; a
    missed 1 adds lr * x to w, a false alarm subtracts it. The bias moves like a weight whose
    input is always 1, unless use_bias is False (then b stays where it is).
    """
    y_hat = float(step(x @ w + b))
    error = y - y_hat  # +1: missed a 1, -1: false alarm, 0: right
    if error != 0:
        w = w + lr * error * x
        if use_bias:
            b = b + lr * error
    return w, b, error


def weights_text(w: np.ndarray, b: float) -> str:
    """"w = [2. 1.], b = -2.000": 3 decimals, or 3 significant digits for huge or tiny values
    (a learning rate of 1e307 or 1e-12 is legal, and the weights are lr times whole numbers)."""
    bias = f"{b:+.3f}" if b == 0 or 1e-3 <= abs(b) < 1e6 else f"{b:+.3g}"
    return f"w = {np.array2string(w, precision=3)}, b = {bias}"


def epoch_line(epoch: int, mistakes: int, w: np.ndarray, b: float, wrong: int, n: int) -> str:
    """One line of a verbose run's printout."""
    return (f"   epoch {epoch:3d}: updates {mistakes}   {weights_text(w, b)}   "
            f"still wrong afterwards: {wrong}/{n}")


def train_perceptron(X: np.ndarray, y: np.ndarray, lr: float = 1.0, epochs: int = 20,
                     use_bias: bool = True, rng: np.random.Generator | None = None,
                     verbose: bool = False) -> PerceptronRun:
    """Rosenblatt's rule, one example at a time, until an epoch makes no mistake.

    With rng=None the weights start at zero and the examples come in table order, so the run is
    deterministic: once the weights repeat those of an earlier epoch, every later epoch repeats
    the loop between them exactly, so the run stops there, with `cycle` set, instead of playing
    the loop out to `epochs`. With an rng the weights start small and random and the order is
    shuffled each epoch; nothing then proves a loop, and a run that never converges uses every
    epoch. Weights that overflow to inf or nan (a learning rate near 1e308) raise
    FloatingPointError. With verbose, prints the first PRINTED_EPOCHS epochs and the last.
    """
    n, d = X.shape
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), one target per row of X; got {y.shape}")
    if lr <= 0:
        raise ValueError(f"learning rate must be > 0, got {lr}")
    w = np.zeros(d) if rng is None else rng.normal(0.0, 0.5, size=d)
    b = 0.0 if (rng is None or not use_bias) else float(rng.normal(0.0, 0.5))
    run = PerceptronRun(w=w, b=b, max_epochs=epochs)
    seen: dict[tuple[float, ...], int] = {}
    for epoch in range(1, epochs + 1):
        order = np.arange(n) if rng is None else rng.permutation(n)
        mistakes = 0
        # The loop over examples IS the algorithm: Rosenblatt's rule updates after each one, so
        # example i + 1 is judged by weights that example i may just have changed.
        with np.errstate(over="ignore", invalid="ignore"):  # checked below, once per epoch
            for i in order:
                w, b, error = perceptron_update(w, b, X[i], y[i], lr, use_bias)
                if error != 0:
                    mistakes += 1
            z = X @ w + b
        if not (np.isfinite(z).all() and np.isfinite(w).all() and np.isfinite(b)):
            raise FloatingPointError(
                f"in epoch {epoch} the weights reached w = {w}, b = {b:g}, and the scores "
                f"w . x + b overflow 64-bit floats: the learning rate ({lr:g}) is too high; "
                f"try a smaller --lr")
        wrong = int((step(z) != y).sum())
        run.mistakes.append(mistakes)
        run.wrong_after.append(wrong)
        run.history.append((w.copy(), b))
        if verbose and epoch <= PRINTED_EPOCHS:
            print(epoch_line(epoch, mistakes, w, b, wrong, n))
        if mistakes == 0:
            run.converged = True
            break
        if rng is not None:
            continue  # a shuffled order never provably repeats: no states to remember
        # From a zero start every weight is lr times a whole number: compare those whole numbers
        # (rounding w itself would call 1e-12 and 2e-12 the same state).
        state = tuple(np.round(np.append(w, b) / lr, 6))
        if state in seen:
            run.cycle = (epoch, seen[state])
            if verbose:
                if epoch > PRINTED_EPOCHS:
                    print(epoch_line(epoch, mistakes, w, b, wrong, n))
                print(f"   -> the weights after epoch {epoch} equal those after epoch "
                      f"{seen[state]}: the rule is in a loop.")
                if epoch < epochs:
                    print(f"   (epochs {epoch + 1} to {epochs} would only repeat it, so the run "
                          "stops here)")
            break
        seen[state] = epoch
    if verbose and run.cycle is None and run.epochs > PRINTED_EPOCHS:
        if run.epochs > PRINTED_EPOCHS + 1:
            print(f"   (epochs {PRINTED_EPOCHS + 1} to {run.epochs - 1} not printed)")
        print(epoch_line(run.epochs, run.mistakes[-1], w, b, run.wrong_after[-1], n))
    run.w, run.b = w, b
    return run


def run_seconds(epochs: int, gates: list[str], use_bias: bool, random_start: bool) -> float:
    """A rough worst-case time for the training runs: the gates that cannot converge (XOR, and
    AND without a bias) run every epoch when a random start leaves no loop to prove."""
    if not random_start:
        return 0.0  # from zero the weights repeat within a few epochs, proven, and the run stops
    endless = [g for g in gates if g == "xor" or (g == "and" and not use_bias)]
    return len(endless) * epochs * SECONDS_PER_EPOCH


def margin(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    """The margin the convergence theorem uses: the smallest (2y - 1)(w . x + b) over the
    examples, divided by the length of (w, b).

    Bias and weights are treated as one vector v = (w, b) acting on (x, 1), the form in which
    the theorem is stated; the result is the distance from the closest (x, 1) to the plane
    v . (x, 1) = 0 in that space (a little less than its distance to the line in the plane of
    inputs, which divides by |w| alone). Negative if some example is on the wrong side.
    """
    X1 = np.column_stack([X, np.ones(len(X))])  # (n, d + 1): a constant input for the bias
    v = np.append(w, b)
    signs = 2 * y - 1  # labels 0/1 -> -1/+1
    return float((signs * (X1 @ v)).min() / np.linalg.norm(v))


def mistake_bound(X: np.ndarray, y: np.ndarray, w_star: np.ndarray, b_star: float) -> float:
    """The perceptron convergence theorem (Block 1962; Novikoff 1962): (R / gamma)^2.

    If some line separates the data with margin gamma, and every (x, 1) has length at most R,
    the rule started from zero makes at most (R / gamma)^2 updates in total, whatever lr is.
    """
    gamma = margin(X, y, w_star, b_star)
    if gamma <= 0:
        raise ValueError("the given line does not separate the data, so there is no bound")
    R = float(np.linalg.norm(np.column_stack([X, np.ones(len(X))]), axis=1).max())
    return (R / gamma) ** 2


def explain_xor() -> list[str]:
    """The four inequalities a single step neuron would need for XOR, and their contradiction."""
    return [
        "XOR needs, with step(z) = 1 exactly when z > 0:",
        "  (0,0) -> 0:   b <= 0",
        "  (0,1) -> 1:   w2 + b > 0",
        "  (1,0) -> 1:   w1 + b > 0",
        "  (1,1) -> 0:   w1 + w2 + b <= 0",
        "Add the middle two: w1 + w2 + 2b > 0, so w1 + w2 + b > -b >= 0 (using b <= 0).",
        "That contradicts the last line. No w1, w2, b exist: XOR is not linearly separable,",
        "so the rule keeps correcting one corner by breaking another, forever.",
    ]


def plot_boundaries(runs: dict[str, PerceptronRun], out_dir: Path | None = None) -> Figure:
    """One panel per gate: the four points, the regions the final weights predict, and the line
    after each of the last DRAWN_BOUNDARIES epochs (faint early, dark late)."""
    fig = Figure(figsize=(4.4 * len(runs), 4.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(runs)))
    g = np.linspace(-0.5, 1.5, 201)
    G1, G2 = np.meshgrid(g, g)
    grid = np.column_stack([G1.ravel(), G2.ravel()])  # (201 * 201, 2)
    for ax, (gate, run) in zip(axes, runs.items(), strict=True):
        y = GATES[gate]
        Z = (grid @ run.w + run.b).reshape(G1.shape)
        ax.contourf(G1, G2, step(Z), levels=[-0.5, 0.5, 1.5], colors=["#f3d9d9", "#d9e6f3"])
        drawn = run.history[-DRAWN_BOUNDARIES:]  # a long run's early lines would be a smudge
        for k, (w, b) in enumerate(drawn):
            Zk = (grid @ w + b).reshape(G1.shape)
            if Zk.min() < 0 < Zk.max():  # the line w.x + b = 0 crosses the picture
                last = k == len(drawn) - 1
                ax.contour(G1, G2, Zk, levels=[0.0], colors="black",
                           alpha=1.0 if last else 0.15 + 0.5 * k / len(drawn),
                           linewidths=2.5 if last else 1.0)
        for target, color, marker in ((0, "tab:red", "o"), (1, "tab:blue", "s")):
            pts = X_GATE[y == target]
            ax.scatter(pts[:, 0], pts[:, 1], s=160, c=color, marker=marker, edgecolors="black",
                       zorder=3)
        on_line = X_GATE[X_GATE @ run.w + run.b == 0]  # the tie rule step(0) = 0 decides these
        if len(on_line):
            ax.scatter(on_line[:, 0], on_line[:, 1], s=520, facecolors="none",
                       edgecolors="black", linestyles="--", zorder=4)
        if run.converged:
            status = f"learned in {run.epochs - 1} epochs (+1 to check)"
        elif run.cycle is not None:
            status = (f"{run.wrong_after[-1]} of 4 wrong, in a loop from epoch "
                      f"{run.cycle[1]}")
        else:
            status = f"{run.wrong_after[-1]} of 4 still wrong after {run.epochs} epochs"
        ax.set_title(f"{gate.upper()}: {status}", fontsize=10)
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.set_aspect("equal")
        ax.set_xticks([-0.5, 0, 0.5, 1, 1.5])
        ax.set_yticks([-0.5, 0, 0.5, 1, 1.5])
    legend = [Line2D([], [], ls="", marker="o", ms=11, mfc="tab:red", mec="black"),
              Line2D([], [], ls="", marker="s", ms=11, mfc="tab:blue", mec="black"),
              Line2D([], [], ls="", marker="o", ms=20, mfc="none", mec="black"),
              Line2D([], [], color="black", lw=2.5)]
    fig.legend(legend, ["target 0", "target 1", "exactly on the line: z = 0 counts as 0",
                        "final boundary w . x + b = 0"], loc="outside lower center", ncols=4,
               fontsize=9)
    fig.suptitle("Perceptron boundaries: shading = final prediction (blue 1, red 0), "
                 "lines = the boundary after each epoch"
                 + (f" (the last {DRAWN_BOUNDARIES})"
                    if max(r.epochs for r in runs.values()) > DRAWN_BOUNDARIES else ""),
                 fontsize=10)
    save_figure(fig, out_dir, "perceptron_boundaries.png")
    return fig


def plot_mistakes(runs: dict[str, PerceptronRun], out_dir: Path | None = None) -> Figure:
    """Updates made in each epoch, per gate: AND and OR fall to 0, XOR never does. A run that
    stopped in a proven loop is continued, dashed, for up to LOOP_SHOWN of the epochs it was
    allowed: those epochs would repeat the loop exactly."""
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    styles = {"and": ("tab:green", "o"), "or": ("tab:orange", "s"), "xor": ("tab:red", "^")}
    for gate, run in runs.items():
        color, marker = styles[gate]
        epochs = np.arange(1, run.epochs + 1)
        ax.plot(epochs, run.mistakes, marker=marker, color=color, label=gate.upper())
        if run.cycle is not None and run.max_epochs > run.epochs:
            period = run.cycle[0] - run.cycle[1]
            loop = run.mistakes[-period:]  # the epochs after the repeated state
            more = np.arange(run.epochs, min(run.max_epochs, run.epochs + LOOP_SHOWN) + 1)
            ax.plot(more, [run.mistakes[-1], *(loop[k % period] for k in range(len(more) - 1))],
                    ls="--", marker=marker, mfc="none", color=color,
                    label=f"{gate.upper()}: the loop, repeated (not run)")
    ax.set_xlabel("epoch (one pass over the 4 examples)")
    ax.set_ylabel("mistakes (= updates) in the epoch")
    ax.set_ylim(-0.2, 4.4)
    ax.set_title("The perceptron stops at an epoch with no mistake, or at a proven loop",
                 fontsize=10)
    ax.legend(loc="center right")
    save_figure(fig, out_dir, "perceptron_mistakes.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    rng = None if args.seed is None else np.random.default_rng(args.seed)
    gates = list(GATES) if args.gate == "all" else [args.gate]
    seconds = run_seconds(args.epochs, gates, not args.no_bias, rng is not None)
    if seconds > MAX_SECONDS:
        parser.error(f"--epochs {args.epochs} with --seed would take about "
                     f"{seconds / 60:,.0f} minutes (from a random start nothing proves the "
                     f"endless loop, so a gate that cannot be learned runs every epoch): "
                     f"choose at most {int(MAX_SECONDS / (seconds / args.epochs)):,} epochs")

    print(f"Inputs X {X_GATE.shape}: {X_GATE.tolist()}")
    bias = "frozen at 0" if args.no_bias else "learned"
    start = ("zero start, table order" if rng is None
             else f"random start and order (seed {args.seed})")
    print(f"lr = {args.lr}, at most {args.epochs} epochs, bias {bias}, {start}")
    runs: dict[str, PerceptronRun] = {}
    for gate in gates:
        y = GATES[gate]
        print(f"\n{gate.upper()}: targets {y.astype(int).tolist()}")
        try:
            run = train_perceptron(X_GATE, y, args.lr, args.epochs, not args.no_bias, rng,
                                   verbose=True)
        except FloatingPointError as err:
            parser.exit(1, f"error: {err}\n")
        runs[gate] = run
        outputs = predict(X_GATE, run.w, run.b).astype(int).tolist()
        if run.converged:
            print(f"   converged: epoch {run.epochs} made no mistake. "
                  f"Final {weights_text(run.w, run.b)}, outputs {outputs}")
        elif run.cycle is not None:
            print(f"   did not converge, and never will: outputs {outputs}, "
                  f"{run.wrong_after[-1]} of 4 wrong")
        else:
            print(f"   did not converge in {run.epochs} epochs: outputs {outputs}, "
                  f"{run.wrong_after[-1]} of 4 wrong")
        if args.no_bias and not run.converged:
            print("   without a bias the boundary w . x = 0 must pass through (0,0), and no line")
            print("   through the origin separates this gate's targets.")
        if gate in SEPARATORS and rng is None and not args.no_bias:
            w_star, b_star = SEPARATORS[gate]
            print(f"   convergence theorem: the line w = {w_star}, b = {b_star} separates "
                  f"{gate.upper()} with margin {margin(X_GATE, y, w_star, b_star):.4f},\n"
                  f"   so the rule makes at most "
                  f"{mistake_bound(X_GATE, y, w_star, b_star):.1f} updates; "
                  f"this run made {sum(run.mistakes)}.")
        if gate == "xor":
            print()
            for line in explain_xor():
                print(f"   {line}")

    print("\nFigures")
    plot_boundaries(runs, args.out)
    plot_mistakes(runs, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Rosenblatt's perceptron on AND, OR and XOR.")
    parser.add_argument("--gate", choices=["all", *GATES], default="all",
                        help="which logic gate to learn (default: all three)")
    parser.add_argument("--lr", type=positive_float, default=1.0, help="learning rate")
    parser.add_argument("--epochs", type=positive_int, default=12,
                        help="most passes over the four examples")
    parser.add_argument("--no-bias", action="store_true",
                        help="freeze b at 0: the boundary must pass through the origin")
    parser.add_argument("--seed", type=nonnegative_int, default=None,
                        help="start from random weights and shuffle the order each epoch "
                             "(default: zero weights, table order)")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
