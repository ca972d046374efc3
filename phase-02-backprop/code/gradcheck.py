"""A gradient checker for every hand-written backward pass in this course.

A backward pass can be wrong and still train, slowly and badly, which is the worst kind of
bug: nothing crashes. The cure is to compare it with the referee from phase 00, the central
difference, which needs no derivation at all:

    dL/dp[i]  ~  (L(p[i] + h) - L(p[i] - h)) / 2h      one pair of forward passes per entry.

To check a layer, whose output is an array and not a single loss, we invent a loss: the
"random projection" L = sum(out * R) for a fixed random array R of the output's shape. Its
gradient with respect to out is exactly R, so backward(R) must return dL/dx and fill dL/dp for
that L. Random weights in R make it unlikely that two errors cancel.

The verdict, per parameter, is the worst entry's error measured against the size of that
parameter's gradient (see gradient_error). In float64 a correct backward pass scores about
1e-8 to 1e-11; a wrong one something like 1e-2 or more; the course's bar is 1e-6. Float32 has
only about 7 significant digits, so finite differences in float32 cannot tell a subtle bug
from round-off: always check in float64.

When a gradient is too small for the check to decide, the verdict says so instead of "WRONG";
but "small" is judged on the measured gradient as well as the backward pass's. A backward pass
that forgets to fill a gradient leaves zeros, and a zero that should not be there is a bug
(--bug bias-zero), not a vanished gradient.

Phases 03, 04 and 05 check their layers with these functions.

Run:  python phase-02-backprop/code/gradcheck.py --bug bias-mean
"""

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from phase00.derivatives import numerical_gradient
from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, positive_float, positive_int, script_parser
from phase01.activations import ACTIVATIONS
from phase02.layers import (
    Activation,
    Dense,
    SoftmaxCrossEntropy,
    SquaredError,
    build_mlp,
)

TOLERANCE = 1e-6  # the course's bar for a float64 gradient check
# Round-off puts noise of about 1e-16 * |L| / h ~ 1e-11 into every central difference (h = 1e-5).
# A gradient whose largest entry is below RESOLUTION cannot be checked to TOLERANCE at all.
RESOLUTION = 1e-5


def gradient_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max_i |a_i - n_i| / (max_i |a_i| + max_i |n_i|): the worst entry's error, relative to
    the size of the whole gradient array.

    Why not phase 00's relative_error, entry by entry? Every central difference carries about
    1e-11 of round-off noise. For an entry that is itself 1e-7 that is a relative error of
    1e-4, and a correct backward pass would fail the check. Measured against the largest entry
    of the same array, the noise counts at its true size, while a real bug (a wrong entry of
    ordinary size) still scores 1e-2 or worse.
    """
    analytic, numeric = np.asarray(analytic, dtype=float), np.asarray(numeric, dtype=float)
    scale = np.abs(analytic).max(initial=0.0) + np.abs(numeric).max(initial=0.0)
    return float(np.abs(analytic - numeric).max(initial=0.0) / max(scale, 1e-300))


def verdict(error: float, analytic: np.ndarray, numeric: np.ndarray) -> str:
    """"ok", "WRONG", or, for a gradient too small to measure, a note saying so.

    "Too small" must be judged on BOTH gradients. A backward pass that forgets to fill a
    gradient leaves it at zero: the analytic gradient is tiny, but the numeric one, measured
    from the loss itself, is not. That is a bug, not a vanished gradient. Only when the loss
    itself hardly moves (both gradients below RESOLUTION) is the check unable to decide.
    """
    if error < TOLERANCE:
        return "ok"
    size = max(float(np.abs(analytic).max(initial=0.0)), float(np.abs(numeric).max(initial=0.0)))
    if size < RESOLUTION:
        return f"too small to check (largest entry {size:.0e}: the gradient has vanished)"
    return "WRONG"


def _require_float64(name: str, a: np.ndarray) -> None:
    if a.dtype != np.float64:
        raise TypeError(f"{name} has dtype {a.dtype}; gradient checks need float64, because "
                        f"float32 round-off (about 1e-7 relative) swamps a finite difference")


def check_gradients(loss_fn: Callable[[], float], params: dict[str, np.ndarray],
                    grads: dict[str, np.ndarray], h: float = 1e-5,
                    numeric: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Compare `grads` with central differences of `loss_fn` for every array in `params`.

    The generic helper: loss_fn() computes the loss from the current contents of the params
    arrays, which are nudged IN PLACE one entry at a time (and restored). So params must be
    the arrays loss_fn really reads, not copies. Returns name -> worst relative error; pass a
    dict as `numeric` to also get the measured gradients (the verdict needs their size).
    """
    errors = {}
    for name, p in params.items():
        _require_float64(f"params[{name!r}]", p)
        if grads[name].shape != p.shape:
            raise ValueError(f"grads[{name!r}] has shape {grads[name].shape}, "
                             f"params[{name!r}] has {p.shape}: they must match")
        analytic = np.array(grads[name], dtype=np.float64)  # a copy: loss_fn may touch grads
        original = p.copy()

        def loss_at(values: np.ndarray, p: np.ndarray = p) -> float:
            p[...] = values  # write the nudged copy into the real array
            return float(loss_fn())

        measured = numerical_gradient(loss_at, original, h)
        p[...] = original
        errors[name] = gradient_error(analytic, measured)
        if numeric is not None:
            numeric[name] = measured
    return errors


def gradcheck_layer(layer: Any, x: np.ndarray, rng: np.random.Generator | None = None,
                    h: float = 1e-5, verbose: bool = False) -> dict[str, float]:
    """Check a protocol layer's backward pass: every param and the input x.

    Uses the random projection loss L = sum(layer.forward(x) * R). Returns name -> worst
    relative error, with "x" for dL/dx.
    """
    _require_float64("x", x)
    rng = np.random.default_rng(0) if rng is None else rng
    x = x.copy()  # our own copy: the checker nudges it
    R = rng.normal(size=layer.forward(x).shape)  # dL/d(out) of L = sum(out * R) is R

    def loss() -> float:
        return float(np.sum(layer.forward(x) * R))

    loss()
    dL_dx = layer.backward(R)
    grads = {name: g.copy() for name, g in layer.grads.items()}
    numeric: dict[str, np.ndarray] = {}
    errors = check_gradients(loss, layer.params, grads, h, numeric)
    numeric["x"] = numerical_gradient(lambda x_: float(np.sum(layer.forward(x_) * R)), x, h)
    errors["x"] = gradient_error(dL_dx, numeric["x"])
    loss()  # leave the layer's cache as it was: holding x, not a nudged copy
    if verbose:
        report(f"{layer!r}", errors, {**grads, "x": dL_dx}, numeric)
    return errors


def gradcheck_model(model: Any, loss_layer: Any, x: np.ndarray, y: np.ndarray,
                    h: float = 1e-5, verbose: bool = False) -> dict[str, float]:
    """Check a whole model with its real loss: L = loss_layer.forward(model.forward(x), y).

    `model.params` must hand out the layers' own arrays (layers.MLP does). Returns
    name -> worst relative error for every parameter and for x.
    """
    _require_float64("x", x)
    x = x.copy()

    def loss() -> float:
        return float(loss_layer.forward(model.forward(x), y))

    loss()
    dL_dx = model.backward(loss_layer.backward())
    grads = {name: g.copy() for name, g in model.grads.items()}
    numeric: dict[str, np.ndarray] = {}
    errors = check_gradients(loss, model.params, grads, h, numeric)
    numeric["x"] = numerical_gradient(lambda x_: float(loss_layer.forward(model.forward(x_), y)),
                                      x, h)
    errors["x"] = gradient_error(dL_dx, numeric["x"])
    loss()
    if verbose:
        report(type(model).__name__ + " + " + type(loss_layer).__name__, errors,
               {**grads, "x": dL_dx}, numeric)
    return errors


def report(title: str, errors: dict[str, float], grads: dict[str, np.ndarray],
           numeric: dict[str, np.ndarray]) -> bool:
    """Print one line per parameter (and x) with its error and verdict; True if all pass.

    grads: the backward pass's gradients; numeric: the measured ones, same names.
    """
    print(f"   {title}")
    for name, err in errors.items():
        print(f"      {name:6s} {str(grads[name].shape):10s} error {err:.1e}  "
              f"{verdict(err, grads[name], numeric[name])}")
    return all(e < TOLERANCE for e in errors.values())


class BiasMeanDense(Dense):
    """A deliberately wrong Dense: dL/db averaged over the batch instead of summed."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dL_dx = super().backward(dout)
        self.grads["b"][...] = dout.mean(axis=0)  # the bug: b is added to every row
        return dL_dx


class TanhSlopeFromInputActivation(Activation):
    """A deliberately wrong tanh: its slope computed from the input, 1 - x^2, instead of from
    the output, 1 - tanh(x)^2."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1.0 - self.x**2)  # the bug: the formula wants the OUTPUT squared


class ExtraTransposeDense(Dense):
    """A deliberately wrong Dense: dL/dW transposed once too often (the shapes only allow it
    when W is square)."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dL_dx = super().backward(dout)
        self.grads["W"][...] = (self.x.T @ dout).T  # the bug: an extra .T
        return dL_dx


class ForgottenBiasDense(Dense):
    """A deliberately wrong Dense: dL/db never filled in, so it stays all zeros."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dL_dx = super().backward(dout)
        self.grads["b"][...] = 0.0  # the bug: as if the line that fills dL/db were missing
        return dL_dx


BUGS = {"bias-mean": BiasMeanDense, "tanh-grad": TanhSlopeFromInputActivation,
        "transpose": ExtraTransposeDense, "bias-zero": ForgottenBiasDense}


MAX_STEP = 0.1  # the largest finite-difference step the script accepts


def finite_difference_step(text: str) -> float:
    """A step h for the central difference, above 0 and at most MAX_STEP.

    A wider step measures the slope of a whole stretch of the curve, not its slope at a point:
    a tanh bends within about 1 unit, so with h = 1e10 even a correct layer fails the check.
    """
    value = positive_float(text)
    if value > MAX_STEP:
        raise argparse.ArgumentTypeError(
            f"expected a step above 0 and at most {MAX_STEP:g}, got {text!r} (a wider step "
            f"measures the slope over a stretch of the curve, so correct layers would fail)")
    return value


def error_vs_step_size(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Worst relative error of each parameter of a small model, for h from 1e-1 to 1e-10."""
    model = build_mlp([3, 4, 4, 2], "tanh", rng)
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 2, size=6)
    hs = np.logspace(-1, -10, 19)
    curves: dict[str, list[float]] = {}
    for h in hs:
        for name, err in gradcheck_model(model, SoftmaxCrossEntropy(), x, y, h).items():
            curves.setdefault(name, []).append(err)
    return hs, {k: np.array(v) for k, v in curves.items()}


def plot_error_vs_step_size(hs: np.ndarray, curves: dict[str, np.ndarray],
                            out_dir: Path | None = None) -> Figure:
    """The V of phase 00's finite-difference plot, for every parameter of a real model."""
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for name, errs in curves.items():
        ax.loglog(hs, np.maximum(errs, 1e-16), marker="o", ms=3, lw=1, label=name)
    ax.axhline(TOLERANCE, color="black", ls="--", lw=1)
    ax.text(1e-5, TOLERANCE * 1.6, "pass bar 1e-6", ha="center", fontsize=8)
    ax.invert_xaxis()
    ax.set_xlabel("finite-difference step h (smaller to the right)")
    ax.set_ylabel("gradient_error (float64)")
    ax.set_title("Gradient check of an MLP 3-4-4-2: truncation error falls as h^2,\n"
                 "then round-off takes over", fontsize=10)
    ax.legend(fontsize=7, ncols=2)
    save_figure(fig, out_dir, "gradcheck_step_size.png")
    return fig


def check_seconds(batch: int) -> float:
    """Roughly how long main's checks take for this batch, timed on this machine.

    Every entry of x (3 per example) is nudged twice, and each nudge runs a forward pass over
    the whole batch, in each of the eight checks: about 50 * batch forward passes of `batch`
    rows, so the cost grows with the square of the batch. One pass is timed on up to 10,000 rows.
    """
    model = build_mlp([3, 5, 5, 3], "tanh", np.random.default_rng(0))
    x = np.zeros((min(batch, 10_000), 3))
    start = time.perf_counter()
    model.forward(x)
    per_row = (time.perf_counter() - start) / x.shape[0]
    return 50 * batch * batch * per_row


MAX_SECONDS = 600.0  # refuse a batch whose checks would take longer than ten minutes


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_fits_in_memory(8 * args.batch * 3 * 40, "--batch")  # x and ~40 arrays like it
    except ValueError as err:
        parser.error(str(err))
    seconds = check_seconds(args.batch)
    if seconds > MAX_SECONDS:
        parser.error(f"--batch {args.batch} would take about {seconds / 60:,.0f} minutes here: "
                     f"every entry of x is nudged and each nudge reruns the whole batch, so the "
                     f"cost grows with the square of the batch; a few examples are enough")
    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(args.batch, 3))

    print(f"1. Every layer on its own, loss = sum(out * R), batch {args.batch}, h = {args.h:g}")
    layers = [Dense(3, 3, rng)] + [Activation(name) for name in ACTIVATIONS if name != "step"]
    for layer in layers:
        gradcheck_layer(layer, x, rng, args.h, verbose=True)
    print("   (step is left out: its slope is 0 except at a jump, where no difference works)")

    print("\n2. The losses, as functions of their input")
    y_cls = rng.integers(0, 3, size=args.batch)
    for loss_layer, target in ((SoftmaxCrossEntropy(), y_cls),
                               (SquaredError(), rng.normal(size=(args.batch, 3)))):
        z = rng.normal(size=(args.batch, 3))

        def loss_of(z_: np.ndarray, loss_layer: Any = loss_layer,
                    target: np.ndarray = target) -> float:
            return float(loss_layer.forward(z_, target))

        loss_layer.forward(z, target)
        dL_dz = loss_layer.backward()
        numeric_dz = numerical_gradient(loss_of, z, args.h)
        err = gradient_error(dL_dz, numeric_dz)
        print(f"   {type(loss_layer).__name__:20s} dL/dz error {err:.1e}  "
              f"{verdict(err, dL_dz, numeric_dz)}")

    print("\n3. A whole model: MLP 3-5-5-3 (tanh) + softmax cross-entropy")
    model = build_mlp([3, 5, 5, 3], "tanh", rng)
    if args.bug != "none":
        bug = BUGS[args.bug]
        for i, layer in enumerate(model.layers):
            if isinstance(layer, Activation) and issubclass(bug, Activation):
                model.layers[i] = bug(layer.name)
            elif isinstance(layer, Dense) and issubclass(bug, Dense) and i == 2:
                model.layers[i] = bug.from_weights(layer.params["W"], layer.params["b"])
        print(f"   with a planted bug ({args.bug}): {' '.join((bug.__doc__ or '').split())}")
    errors = gradcheck_model(model, SoftmaxCrossEntropy(), x, y_cls, args.h, verbose=True)
    ok = max(errors.values()) < TOLERANCE
    print(f"   verdict: {'every gradient agrees' if ok else 'a backward pass is WRONG'}"
          + ("\n   the WRONG rows point at the bug: the gradient it corrupts and, if it "
             "corrupts the blame\n   it sends down, every parameter below it"
             if args.bug != "none" and not ok else ""))
    if args.bug == "none" and not ok:
        print(f"   No bug is planted: it is the finite differences that are off. With h = "
              f"{args.h:g}, round-off\n   swamps them; section 4 shows where h works.")

    print("\n4. How the check depends on h")
    hs, curves = error_vs_step_size(np.random.default_rng(args.seed))
    best = hs[np.argmin(np.max(np.stack(list(curves.values())), axis=0))]
    print(f"   the worst parameter's error is smallest near h = {best:.0e}; "
          f"at h = 1e-1 it is {max(c[0] for c in curves.values()):.0e}, "
          f"at h = 1e-10 {max(c[-1] for c in curves.values()):.0e}")

    print("\nFigures")
    plot_error_vs_step_size(hs, curves, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Check backward passes against finite differences.")
    parser.add_argument("--bug", choices=["none", *BUGS], default="none",
                        help="plant a classic backprop bug to watch the check catch it")
    parser.add_argument("--batch", type=positive_int, default=4, help="examples per batch")
    parser.add_argument("--h", type=finite_difference_step, default=1e-5,
                        help=f"finite-difference step, at most {MAX_STEP:g} (default: 1e-5)")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
