"""torch.optim is phase 02's optimizers.py: the same five update rules, step for step.

Phase 02 wrote SGD, momentum (Polyak 1964), RMSProp (Hinton 2012), Adam (Kingma & Ba 2014) and
AdamW (Loshchilov & Hutter 2017) as classes that read each layer's `grads` and update its
`params` in place. torch.optim does the same job with the same formulas: an optimizer is built
from a list of parameter tensors, `step()` reads each one's `.grad` and moves it, `zero_grad()`
clears the `.grad`s (autograd adds into them, see autograd_torch.py).

The names of the knobs differ a little, so `torch_twin` translates one of our optimizers into
PyTorch's with the same settings:

    ours                                  torch.optim
    SGD(lr)                               SGD(lr)
    Momentum(lr, beta)                    SGD(lr, momentum=beta)       v <- beta v + g, p -= lr v
    RMSProp(lr, decay, eps)               RMSprop(lr, alpha=decay, eps) (PyTorch's default alpha
                                                                        is 0.99, Hinton's 0.9)
    Adam(lr, beta1, beta2, eps, wd)       Adam(lr, betas=(beta1, beta2), eps, weight_decay=wd)
    AdamW(lr, beta1, beta2, eps, wd)      AdamW(lr, betas, eps, weight_decay=wd)

Then both race on phase 02's Rosenbrock valley from the same start. Our side uses the gradient
derived by hand; PyTorch's side gets its gradient from autograd. If the formulas match, the two
paths coincide to round-off, and main() prints by how much they differ.

Run:  python phase-06-pytorch/code/optimizers_torch.py --steps 3000 --optimizers adam adamw
"""

import argparse
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from phase00.figures import add_out_flag, save_figure
from phase00.flags import check_fits_in_memory, script_parser
from phase02.optimizers import (
    DEFAULT_LRS,
    OPTIMIZERS,
    SGD,
    Adam,
    AdamW,
    Momentum,
    Optimizer,
    RMSProp,
    Rosenbrock,
    add_race_flags,
    make_optimizer,
)
from phase06.device import limit_cpu_threads

MAX_MINUTES = 30  # a race that would take longer is refused, with the estimate


def torch_twin(ours: Optimizer, params: Iterable[torch.Tensor]) -> torch.optim.Optimizer:
    """The torch.optim optimizer that follows the same rule as `ours`, with the same settings.

    AdamW is tested before Adam: it is a subclass of our Adam, and the order of the checks
    must go from the most specific class to the most general.
    """
    if isinstance(ours, AdamW):
        return torch.optim.AdamW(params, lr=ours.lr, betas=(ours.beta1, ours.beta2),
                                 eps=ours.eps, weight_decay=ours.decoupled_decay)
    if isinstance(ours, Adam):
        return torch.optim.Adam(params, lr=ours.lr, betas=(ours.beta1, ours.beta2),
                                eps=ours.eps, weight_decay=ours.weight_decay)
    if isinstance(ours, RMSProp):
        return torch.optim.RMSprop(params, lr=ours.lr, alpha=ours.decay, eps=ours.eps)
    if isinstance(ours, Momentum):
        return torch.optim.SGD(params, lr=ours.lr, momentum=ours.beta)
    if isinstance(ours, SGD):
        return torch.optim.SGD(params, lr=ours.lr)
    raise TypeError(f"no PyTorch twin known for {type(ours).__name__}; known: "
                    f"{sorted(OPTIMIZERS)}")


def rosenbrock_torch(p: torch.Tensor) -> torch.Tensor:
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, for autograd to differentiate."""
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def race_both(name: str, start: tuple[float, float], steps: int,
              lr: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run our optimizer `name` and its PyTorch twin on Rosenbrock from `start`, float64.

    Returns both paths, each of shape (steps + 1, 2): ours (hand gradient, phase 02's class),
    PyTorch's (autograd gradient, torch.optim).
    """
    problem = Rosenbrock(start)
    ours = make_optimizer(name, [problem], lr or DEFAULT_LRS["rosenbrock"][name])
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    theirs = torch_twin(ours, [p])
    path_ours, path_torch = [problem.params["p"].copy()], [p.detach().numpy().copy()]
    with np.errstate(over="ignore", invalid="ignore"):  # a too-large --lr diverges to nan
        for _ in range(steps):
            problem.loss_and_grad()  # fills grads["p"] by the hand-derived formula
            ours.step()
            theirs.zero_grad()  # .grad would otherwise pile up step after step
            rosenbrock_torch(p).backward()
            theirs.step()
            path_ours.append(problem.params["p"].copy())
            path_torch.append(p.detach().numpy().copy())
    return np.array(path_ours), np.array(path_torch)


def path_gap(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """max |ours - theirs| over (x, y) at every step; inf where either path has overflowed."""
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.abs(ours - theirs).max(axis=1)
    return np.where(np.isfinite(gap), gap, np.inf)


def plot_race(paths: dict[str, tuple[np.ndarray, np.ndarray]],
              out_dir: Path | None = None) -> Figure:
    """Left: every path, ours as a line and PyTorch's as dots on it. Right: their distance."""
    colors = dict(zip(OPTIMIZERS, ("0.3", "tab:blue", "tab:green", "tab:red", "tab:purple"),
                      strict=True))
    fig = Figure(figsize=(12, 4.4), layout="constrained")
    ax_path, ax_diff = fig.subplots(1, 2)
    gx, gy = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
    ax_path.contour(gx, gy, Rosenbrock.value(gx, gy), levels=np.logspace(-1, 3, 9), colors="0.8")
    for name, (ours, theirs) in paths.items():
        every = max(1, (len(ours) - 1) // 25)
        ax_path.plot(ours[:, 0], ours[:, 1], lw=1.2, color=colors[name], label=f"{name} (ours)")
        ax_path.plot(theirs[::every, 0], theirs[::every, 1], "o", ms=3.5, mfc="none",
                     color=colors[name])
        gap = path_gap(ours, theirs)
        ax_diff.semilogy(np.maximum(gap, 1e-18), color=colors[name], lw=1, label=name)
    ax_path.plot([1], [1], "*", ms=14, color="black")
    ax_path.set_xlim(-1.8, 1.6)
    ax_path.set_ylim(-0.5, 2.5)
    ax_path.set_title("Rosenbrock: phase 02's optimizers (lines) and torch.optim (circles)",
                      fontsize=10)
    ax_path.legend(fontsize=8, loc="lower right")
    ax_diff.axhline(1e-16, color="0.5", lw=0.8, ls=":")
    ax_diff.set_ylim(1e-18, 1e-1)
    ax_diff.set_xlabel("step")
    ax_diff.set_ylabel("max |ours - torch| over (x, y)  (0 drawn at 1e-18)")
    ax_diff.set_title("distance between the two paths, step by step", fontsize=10)
    ax_diff.legend(fontsize=8)
    save_figure(fig, out_dir, "optimizers_torch.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # every step's (x, y), ours and torch's, for each optimizer: kept for the figure
        check_fits_in_memory(64 * 2 * args.steps * len(args.optimizers),
                             f"--steps {args.steps} with {len(args.optimizers)} optimizers")
    except ValueError as err:
        parser.error(str(err))
    minutes = 2e-3 * args.steps * len(args.optimizers) / 5 / 60  # ~2 ms a step for all five
    if minutes > MAX_MINUTES:
        parser.error(f"--steps {args.steps:,} would take about {minutes:,.0f} minutes (both "
                     f"paths step every optimizer once per step): at most {MAX_MINUTES} minutes")
    limit_cpu_threads(1)  # tiny tensors: one thread is faster (device.py explains)

    print("1. The same settings, translated (torch_twin)")
    holder = Rosenbrock((0.0, 0.0))
    for name in args.optimizers:
        ours = make_optimizer(name, [holder], args.lr or DEFAULT_LRS["rosenbrock"][name])
        theirs = torch_twin(ours, [torch.zeros(2, requires_grad=True)])
        settings = {k: v for k, v in theirs.defaults.items()
                    if k in ("lr", "momentum", "alpha", "betas", "eps", "weight_decay")}
        print(f"   {name:9s} -> torch.optim.{type(theirs).__name__:8s} {settings}")

    print(f"\n2. Rosenbrock from (-1.5, 2), {args.steps} steps, float64: ours with the hand "
          f"gradient, PyTorch's with autograd")
    print(f"   {'optimizer':10s} {'ours: final (x, y)':>26s} {'torch: final (x, y)':>26s} "
          f"{'gap at step 10':>15s} {'largest gap':>12s}")
    paths = {}
    for name in args.optimizers:
        ours, theirs = race_both(name, (-1.5, 2.0), args.steps, args.lr)
        paths[name] = (ours, theirs)
        gap = path_gap(ours, theirs)
        bad = ~np.isfinite(ours).all(axis=1) | ~np.isfinite(theirs).all(axis=1)
        if bad.any():  # a learning rate too large for this optimizer: both blow up
            print(f"   {name:10s} diverged at step {int(np.argmax(bad))}, ours and torch's "
                  f"alike: this learning rate is too large for it here")
            continue
        print(f"   {name:10s} ({ours[-1, 0]:+.8f}, {ours[-1, 1]:+.8f}) "
              f"({theirs[-1, 0]:+.8f}, {theirs[-1, 1]:+.8f}) "
              f"{gap[min(10, args.steps)]:15.1e} {gap.max():12.1e}")
    # Gaps relative to the size of the coordinates: 1e-6 apart on numbers of size 1e10 is
    # round-off too.
    relative = {name: path_gap(o, t).max() / max(1.0, float(np.abs(o).max()))
                for name, (o, t) in paths.items() if np.isfinite(o).all() and np.isfinite(t).all()}
    agree = [name for name, r in relative.items() if r < 1e-12]
    if agree:
        print(f"   {', '.join(agree)}: the update rules are the same, and the two paths agree to "
              f"round-off\n   (the largest gap is {max(relative[n] for n in agree):.0e} of the "
              f"coordinates' size).")
    for name, (ours, theirs) in paths.items():
        gap = path_gap(ours, theirs)
        if name in relative and relative[name] >= 1e-12 and gap.max() > 1e-9:
            start, peak = int(np.argmax(gap > 1e-12)), int(np.argmax(gap))
            rate = (gap[peak] / gap[start]) ** (1 / max(1, peak - start))
            after = (f"then shrank to {gap[-1]:.1e}" if gap[-1] < 0.5 * gap[peak]
                     else "and stayed there")
            print(f"   {name}: the gap grew from {gap[start]:.1e} at step {start} to "
                  f"{gap[peak]:.1e} at step {peak}, about x{rate:.1f} per step, {after}.")
            print("   Not a different rule: for those steps the run itself was unstable, and an "
                  "unstable run\n   amplifies any difference, even the last bit of a float64.")
            if name == "rmsprop":
                print("   (RMSProp divides by a running average of the gradient's size; as the "
                      "gradient across the\n   valley shrank, so did the average, and the "
                      "steps grew too long for the valley's steep wall.)")

    print("\nFigures")
    plot_race(paths, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("phase 02's optimizers against torch.optim.")
    add_race_flags(parser)
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
