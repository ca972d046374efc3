"""Optimizers: five ways to turn a gradient into a step, from plain descent to AdamW.

Backprop tells us which way is uphill for every knob, so minus that is downhill. How far to
move each knob is a separate question, and the answer changed a lot between 1964 and 2017:

- SGD: step = -lr * gradient. The foggy-hill walk of phase 00. In a long narrow valley it
  zig-zags across the steep walls and crawls along the gentle floor.
- Momentum (Polyak 1964, "Some methods of speeding up the convergence of iteration methods"):
  a heavy ball. Keep a running velocity that adds up past gradients; the zig-zags cancel,
  the steady push along the valley floor accumulates.
- RMSProp (Hinton 2012, Coursera "Neural Networks for Machine Learning", lecture 6e):
  divide each knob's gradient by a running average of its recent size, so steep and gentle
  directions take steps of similar length.
- Adam (Kingma & Ba 2014, "Adam: A Method for Stochastic Optimization"): momentum and RMSProp
  together, with a bias correction for the first steps, when both running averages start at 0.
- AdamW (Loshchilov & Hutter 2017, "Decoupled Weight Decay Regularization"): weight decay
  (shrinking every weight a little each step) done apart from the gradient. Adding the decay to
  the gradient, as "Adam + L2" does, lets Adam's division rescale it, which is not what we want.

Every optimizer here follows the layer protocol of this course: it is given a list of layers,
each holding `params` and `grads` (name -> array, same shapes); `step()` updates the params in
place from the grads, `zero_grad()` sets the grads to 0. They compare on the Rosenbrock valley
and on the vectorised MLP of mlp_numpy.py.

Run:  python phase-02-backprop/code/optimizers.py --steps 3000 --optimizers sgd momentum adam
"""

import argparse
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import positive_float, positive_int, script_parser


class HasParams(Protocol):
    """Anything with `params` and `grads` dicts (name -> array, same names and shapes)."""

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]


class Optimizer(ABC):
    """What every optimizer shares: the layers it updates, the step count, per-array state.

    A subclass only writes `update(p, g, state)`: how one parameter array p moves, given its
    gradient g and a dict in which to keep running averages between steps.
    """

    def __init__(self, layers: Sequence[HasParams], lr: float) -> None:
        if lr <= 0:
            raise ValueError(f"the learning rate must be > 0, got {lr}")
        self.layers = list(layers)
        self.lr = lr
        self.t = 0  # steps taken so far; Adam's bias correction needs it
        self.state: dict[tuple[int, str], dict[str, np.ndarray]] = {}

    def zero_grad(self) -> None:
        """Set every gradient to 0, in place, before the next backward pass fills them."""
        for layer in self.layers:
            for g in layer.grads.values():
                g.fill(0.0)

    def step(self) -> None:
        """Move every parameter of every layer once, in place."""
        self.t += 1
        for i, layer in enumerate(self.layers):
            for name, p in layer.params.items():
                g = layer.grads[name]
                if g.shape != p.shape:
                    raise ValueError(f"layer {i} grads[{name!r}] has shape {g.shape}, but "
                                     f"params[{name!r}] has shape {p.shape}: they must match")
                self.update(p, g, self.state.setdefault((i, name), {}))

    @abstractmethod
    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """Move p (in place) given its gradient g; keep running averages in `state`."""


class SGD(Optimizer):
    """p <- p - lr * g: step straight down the local slope."""

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        p -= self.lr * g


class Momentum(Optimizer):
    """Polyak's heavy ball: v <- beta * v + g;  p <- p - lr * v.

    v is a decaying sum of past gradients: with beta = 0.9 a steady gradient builds up to 10
    times its own size, while gradients that flip sign from step to step cancel out.
    (Written the way PyTorch's SGD(momentum=...) writes it, so phase 06 can compare.)
    """

    def __init__(self, layers: Sequence[HasParams], lr: float, beta: float = 0.9) -> None:
        super().__init__(layers, lr)
        self.beta = beta

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        v = state.setdefault("v", np.zeros_like(p))
        v *= self.beta
        v += g
        p -= self.lr * v


class RMSProp(Optimizer):
    """s <- decay * s + (1 - decay) g^2;  p <- p - lr * g / (sqrt(s) + eps).

    sqrt(s) is the recent typical size of this parameter's gradient, so the step is about lr
    in every direction, steep or gentle. decay = 0.9 as in Hinton's lecture (PyTorch's
    default is 0.99). eps only prevents a division by 0.
    """

    def __init__(self, layers: Sequence[HasParams], lr: float, decay: float = 0.9,
                 eps: float = 1e-8) -> None:
        super().__init__(layers, lr)
        self.decay, self.eps = decay, eps

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        s = state.setdefault("s", np.zeros_like(p))
        s *= self.decay
        s += (1 - self.decay) * g * g
        p -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    """Momentum (m) and RMSProp (v) together, with bias correction (Kingma & Ba 2014, Alg. 1).

        m <- beta1 m + (1 - beta1) g          running mean of the gradient
        v <- beta2 v + (1 - beta2) g^2        running mean of its square
        m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)

    Why the correction: m and v start at 0, so after one step m = 0.1 g, far too small. Dividing
    by 1 - beta1^t (= 0.1 at t = 1) undoes exactly that. At t = 1, m_hat = g and
    v_hat = g^2, so the first step is lr * g / |g|: lr times the sign of g, for every parameter.

    weight_decay > 0 adds the L2 penalty's gradient wd * p to g ("Adam + L2"), the classic way,
    which AdamW replaces.
    """

    def __init__(self, layers: Sequence[HasParams], lr: float = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(layers, lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.weight_decay = weight_decay

    def adam_direction(self, g: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
        """Update the running averages with g and return m_hat / (sqrt(v_hat) + eps)."""
        m = state.setdefault("m", np.zeros_like(g))
        v = state.setdefault("v", np.zeros_like(g))
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        m_hat = m / (1 - self.beta1**self.t)
        v_hat = v / (1 - self.beta2**self.t)
        return m_hat / (np.sqrt(v_hat) + self.eps)

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p  # L2: the decay goes INTO the adaptive machinery
        p -= self.lr * self.adam_direction(g, state)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2017):

        p <- p - lr * wd * p  -  lr * m_hat / (sqrt(v_hat) + eps)

    The decay is applied to the weight directly, outside Adam's division by sqrt(v_hat), so
    every weight shrinks by the same fraction lr * wd per step, whatever its gradient history.
    (The paper multiplies the decay by a schedule factor instead of lr; PyTorch, and we, use
    lr * wd. The default wd = 0.01 is PyTorch's.)
    """

    def __init__(self, layers: Sequence[HasParams], lr: float = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.01) -> None:
        super().__init__(layers, lr, beta1, beta2, eps, weight_decay=0.0)
        self.decoupled_decay = weight_decay

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        p -= self.lr * self.decoupled_decay * p  # decay first, from the old p, as PyTorch does
        p -= self.lr * self.adam_direction(g, state)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD, "momentum": Momentum, "rmsprop": RMSProp, "adam": Adam, "adamw": AdamW,
}


def make_optimizer(name: str, layers: Sequence[HasParams], lr: float) -> Optimizer:
    """Build an optimizer by name, with an error that lists the valid names."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](layers, lr=lr)


class Rosenbrock:
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 as a "layer" with one parameter, p = (x, y).

    Rosenbrock (1960) built this valley to test optimizers: its floor is a curved, nearly flat
    banana (the parabola y = x^2) between walls about 100 times steeper, with the minimum
    f = 0 at (1, 1). Finding the valley is easy; walking along it is hard.
    """

    def __init__(self, start: Sequence[float]) -> None:
        self.params = {"p": np.array(start, dtype=np.float64)}
        self.grads = {"p": np.zeros(2)}

    @staticmethod
    def value(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    def loss_and_grad(self) -> float:
        """f at the current p; fills grads["p"] with (df/dx, df/dy)."""
        x, y = self.params["p"]
        self.grads["p"][:] = (-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2))
        return float(self.value(x, y))


# Learning rates that suit each optimizer on each problem (SGD needs a far smaller one on
# Rosenbrock: its walls are steep). Momentum gets SGD's rate on Rosenbrock, and a tenth of it on
# the MLP (with beta = 0.9 its velocity grows to 10 gradients, so the long-run step is the same).
# --lr overrides them all at once.
DEFAULT_LRS = {
    "rosenbrock": {"sgd": 1e-3, "momentum": 1e-3, "rmsprop": 3e-3, "adam": 2e-2,
                   "adamw": 2e-2},
    "mlp": {"sgd": 0.5, "momentum": 0.05, "rmsprop": 0.01, "adam": 0.02, "adamw": 0.02},
}


def race_rosenbrock(names: Sequence[str], start: Sequence[float], steps: int,
                    lr: float | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Run each optimizer from `start`; return name -> (path (steps+1, 2), losses (steps+1,))."""
    runs = {}
    for name in names:
        problem = Rosenbrock(start)
        opt = make_optimizer(name, [problem], lr or DEFAULT_LRS["rosenbrock"][name])
        path, losses = [problem.params["p"].copy()], [problem.loss_and_grad()]
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run ends in nan,
            for _ in range(steps):                          # reported as "diverged" below
                opt.step()
                losses.append(problem.loss_and_grad())
                path.append(problem.params["p"].copy())
        runs[name] = (np.array(path), np.array(losses))
    return runs


# A loss the moons MLP never reaches while it works: 100 times (1 + ln 2), as mlp_numpy.py's
# check uses. A curve above it has blown up (its learning rate is far too large).
MLP_LOSS_CEILING = 100 * (1 + float(np.log(2)))
# Rosenbrock's loss from the start (-1.5, 2) is 1.3; far above that a run has diverged.
ROSENBROCK_SHOWN_MAX = 1e30


def race_mlp(names: Sequence[str], epochs: int, seed: int,
             lr: float | None = None) -> dict[str, np.ndarray]:
    """Train the same MLP (same initial weights) on moons with each optimizer; return losses.

    A run whose learning rate is far too large goes on in inf and nan (no warnings printed):
    first_blow_up() finds where, and the plot leaves out what lies above MLP_LOSS_CEILING.
    """
    from phase02.mlp_numpy import train  # imported here: mlp_numpy itself imports this file

    curves = {}
    for name in names:
        with np.errstate(over="ignore", invalid="ignore"):
            result = train(dataset="moons", n_samples=200, noise=0.1, hidden=16, depth=2,
                           activation="tanh", init="xavier", optimizer=name,
                           lr=lr or DEFAULT_LRS["mlp"][name], epochs=epochs, seed=seed,
                           verbose=False)
        curves[name] = np.array(result["losses"])
    return curves


def first_blow_up(losses: np.ndarray, ceiling: float = MLP_LOSS_CEILING) -> int | None:
    """The first epoch whose loss is not a number or above `ceiling`, or None if there is none."""
    bad = np.flatnonzero(~np.isfinite(losses) | (losses > ceiling))
    return int(bad[0]) if bad.size else None


def move_text(move: float, width: int = 13) -> str:
    """A number of the ramp table: six decimals, or powers of ten when the learning rate makes
    it huge (--lr 1e300 would otherwise print 300 digits)."""
    return f"{move:{width}.6f}" if abs(move) < 1e6 else f"{move:{width}.4g}"


def plot_race(rosenbrock: dict[str, tuple[np.ndarray, np.ndarray]],
              mlp: dict[str, np.ndarray], out_dir: Path | None = None) -> Figure:
    """Left: paths on the Rosenbrock valley. Middle: its loss curves. Right: MLP loss curves."""
    colors = dict(zip(OPTIMIZERS, ("0.3", "tab:blue", "tab:green", "tab:red", "tab:purple"),
                      strict=True))
    fig = Figure(figsize=(15, 4.4), layout="constrained")
    ax_path, ax_loss, ax_mlp = fig.subplots(1, 3)
    gx, gy = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
    ax_path.contour(gx, gy, Rosenbrock.value(gx, gy), levels=np.logspace(-1, 3, 9),
                    colors="0.8")
    for name, (path, losses) in rosenbrock.items():
        every = max(1, (len(path) - 1) // 6)  # a dot every sixth of the run shows the speed
        ax_path.plot(path[:, 0], path[:, 1], lw=1.2, color=colors[name], label=name)
        ax_path.plot(path[::every, 0], path[::every, 1], "o", ms=4, color=colors[name])
        shown = np.where(losses < ROSENBROCK_SHOWN_MAX, losses, np.nan)  # a diverged run
        ax_loss.semilogy(shown + 1e-16, color=colors[name],
                         label=f"{name}: final {losses[-1]:.1e}")
    ax_path.plot([1], [1], "*", ms=14, color="black")
    ax_path.set_xlim(-1.8, 1.6)
    ax_path.set_ylim(-0.5, 2.5)
    ax_path.set_title("Rosenbrock valley: paths from (-1.5, 2) to the minimum *\n"
                      "(a dot every sixth of the run)", fontsize=10)
    ax_path.legend(fontsize=8, loc="lower right")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("f(x, y)")
    ax_loss.set_title("Rosenbrock: loss per step", fontsize=10)
    ax_loss.legend(fontsize=8)
    for name, losses in mlp.items():
        shown = np.where(losses <= MLP_LOSS_CEILING, losses, np.nan)  # a run that blew up
        ax_mlp.semilogy(shown, color=colors[name], label=f"{name}: final {losses[-1]:.3f}"
                        if first_blow_up(losses) is None else f"{name}: blew up")
    ax_mlp.set_xlabel("epoch (one full-batch step each)")
    ax_mlp.set_ylabel("cross-entropy loss")
    ax_mlp.set_title("MLP 2-16-16-2 on moons: same start, each optimizer", fontsize=10)
    ax_mlp.legend(fontsize=8)
    save_figure(fig, out_dir, "optimizers_race.png")
    return fig


class _Vector:
    """A bare parameter holder for the printed one-step examples."""

    def __init__(self, p: np.ndarray, g: np.ndarray) -> None:
        self.params = {"p": np.array(p, dtype=np.float64)}
        self.grads = {"p": np.array(g, dtype=np.float64)}


def steps_on_a_ramp(name: str, lr: float, g: float = 2.0, p0: float = 1.0,
                    steps: int = 3) -> list[float]:
    """How far optimizer `name` moves one knob at each step when its gradient is always g.

    The loss is a straight ramp, L(p) = g * p, so the gradient never changes: everything the
    steps do differently comes from the optimizer's own memory (momentum's velocity, RMSProp's
    and Adam's running averages). Small enough to redo by hand.
    """
    holder = _Vector(np.array([p0]), np.array([g]))
    opt = make_optimizer(name, [holder], lr)
    moves = []
    for _ in range(steps):
        before = float(holder.params["p"][0])
        opt.step()  # the gradient stays g: the ramp has the same slope everywhere
        moves.append(float(holder.params["p"][0]) - before)
    return moves


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)

    p0, g0 = np.array([1.0, 1.0, 1.0]), np.array([0.5, -2.0, 1e-3])
    lr = args.lr or 0.1
    print(f"0. By hand first: one knob p = 1 on a straight ramp whose gradient is 2 at every "
          f"step, lr = {lr:g}")
    print(f"   {'optimizer':10s} {'step 1 moves':>13s} {'step 2 moves':>13s} "
          f"{'step 3 moves':>13s} {'p after 3':>10s}")
    for name in OPTIMIZERS:
        with np.errstate(over="ignore", invalid="ignore"):  # --lr 1e300: AdamW overflows
            moves = steps_on_a_ramp(name, lr)
        print(f"   {name:10s} " + " ".join(move_text(m) for m in moves)
              + f" {move_text(1 + sum(moves), 10)}")
    print("   sgd: lr * 2 every time. momentum: its velocity v = 2, 3.8, 5.42 keeps growing.")
    print("   rmsprop: a first step too big, then shrinking as s fills up. adam: exactly lr, "
          "thanks to")
    print("   both bias corrections. adamw: adam, plus a pull of p towards 0.\n")
    print(f"1. One step of {args.optimizer}, lr = {lr:g}, from p = {p0.tolist()} with "
          f"gradient g = {g0.tolist()}")
    holder = _Vector(p0, g0)
    opt = make_optimizer(args.optimizer, [holder], lr)
    with np.errstate(over="ignore", invalid="ignore"):
        opt.step()
    moved = holder.params["p"] - p0
    shown = [m if abs(m) < 1e6 else float(f"{m:.6g}") for m in np.round(moved, 6).tolist()]
    print(f"   p moved by {shown}")
    if args.optimizer in ("adam", "adamw"):
        print("   every entry moved by about lr, whatever the size of its gradient: adaptive "
              "methods")
        print("   normalise the step (Adam's first step is exactly lr * g / (|g| + eps)).")
        share_v = 1 - opt.beta2  # after one step v = (1 - beta2) g^2 = 0.001 g^2
        print(f"   Both corrections matter: without dividing v by 1 - beta2^1 = {share_v:g}, "
              f"sqrt(v) = {np.sqrt(share_v):.4f} |g| and")
        print(f"   the first step would be {1 / np.sqrt(share_v):.1f} lr, RMSProp's oversized "
              f"first step ({1 / np.sqrt(0.1):.2f} lr) ten times over.")
        if isinstance(opt, AdamW):
            print(f"   AdamW also shrinks p by lr * wd * p = {lr * opt.decoupled_decay:g} "
                  f"(its default wd is {opt.decoupled_decay:g}).")
    elif isinstance(opt, RMSProp):
        share = 1 - opt.decay  # after one step s = (1 - decay) g^2: no bias correction
        print("   every entry moved by the same distance, whatever the size of its gradient, "
              f"but {1 / np.sqrt(share):.2f} lr,")
        print(f"   not lr: RMSProp has no bias correction, so after one step s = {share:g} g^2 "
              "and the step is")
        print(f"   lr * g / sqrt({share:g} g^2). As s fills up, a steady gradient's steps "
              "shrink to about lr.")
    else:
        print("   each entry moved by lr * g: a 2000x larger gradient, a 2000x larger step.")

    print("\n2. Weight decay 0.1 on a weight whose loss gradient is 0 (p = 1, lr = 0.01)")
    for label, opt_cls, kwargs in (("Adam + L2", Adam, {"weight_decay": 0.1}),
                                   ("AdamW    ", AdamW, {"weight_decay": 0.1})):
        holder = _Vector([1.0], [0.0])
        opt = opt_cls([holder], lr=0.01, **kwargs)
        for _ in range(10):
            opt.step()
        print(f"   {label}: after 10 steps p = {holder.params['p'][0]:.6f}")
    print("   Adam + L2 divides the decay gradient 0.1*p by its own size, so every step is ~lr")
    print("   (10x the intended decay here, and the same for ANY wd > 0). AdamW shrinks p by")
    print("   lr*wd*p = 0.1% per step, whatever Adam's denominator says.")

    print(f"\n3. Rosenbrock race from (-1.5, 2), {args.steps} steps (minimum 0 at (1, 1))")
    t0 = time.perf_counter()
    rosen = race_rosenbrock(args.optimizers, (-1.5, 2.0), args.steps, args.lr)
    print(f"   {'optimizer':10s} {'lr':>8s} {'final f':>10s} {'distance to (1,1)':>18s} "
          f"{'first step with f < 1e-3':>26s}")
    for name, (path, losses) in rosen.items():
        below = np.flatnonzero(losses < 1e-3)
        first = str(below[0]) if below.size else "never"
        if not np.isfinite(losses[-1]):
            first = f"diverged at step {np.flatnonzero(~np.isfinite(losses))[0]}"
        print(f"   {name:10s} {args.lr or DEFAULT_LRS['rosenbrock'][name]:8.0e} "
              f"{losses[-1]:10.2e} {np.linalg.norm(path[-1] - 1):18.4f} {first:>26s}")
    print(f"   ({time.perf_counter() - t0:.2f} s)")

    print(f"\n4. The MLP of mlp_numpy.py on moons, {args.epochs} full-batch epochs each")
    t0 = time.perf_counter()
    mlp = race_mlp(args.optimizers, args.epochs, args.seed, args.lr)
    for name, losses in mlp.items():
        blow_up = first_blow_up(losses)
        print(f"   {name:10s} lr {args.lr or DEFAULT_LRS['mlp'][name]:6g}: loss "
              f"{losses[0]:.4f} -> " + (
                  f"{losses[len(losses) // 10]:.4f} (epoch {len(losses) // 10}) -> "
                  f"{losses[-1]:.4f}" if blow_up is None else
                  f"{losses[blow_up]:.3g} at epoch {blow_up}: blown up, the learning rate is "
                  f"far too large"))
    print(f"   ({time.perf_counter() - t0:.2f} s)")

    print("\nFigures")
    plot_race(rosen, mlp, args.out)


def add_race_flags(parser: argparse.ArgumentParser) -> None:
    """Give a script the flags of an optimizer race on the Rosenbrock valley: which optimizers
    run, for how many steps, and one learning rate for all of them instead of each one's tuned
    rate (DEFAULT_LRS)."""
    parser.add_argument("--optimizers", nargs="+", choices=sorted(OPTIMIZERS),
                        default=list(OPTIMIZERS), help="which to race (default: all five)")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="one learning rate for every optimizer (default: a tuned one each)")
    parser.add_argument("--steps", type=positive_int, default=3000, help="Rosenbrock steps")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("SGD, momentum, RMSProp, Adam and AdamW compared.")
    add_race_flags(parser)
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                        help="the one whose first step is printed in part 1")
    parser.add_argument("--epochs", type=positive_int, default=300, help="MLP epochs per optimizer")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
