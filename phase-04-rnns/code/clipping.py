"""Gradient clipping: when the blame explodes, keep its direction and cap its length.

gradient_flow.py showed that the gradient of an RNN can grow exponentially with the number of
steps it travels back. Where does that bite? Pascanu, Mikolov & Bengio ("On the difficulty of
training recurrent neural networks", ICML 2013) drew the loss surface of a one-unit RNN and
found "cliffs": the loss is flat almost everywhere and then, across a thin wall, it jumps. On
the wall the gradient is enormous. A gradient-descent step taken there is the learning rate
times an enormous number, and throws the weights far away from everything learned so far, often
to where the units saturate and nothing trains again.

Their remedy is one line: if the gradient's length (its norm) is above a threshold, scale it
down to the threshold.

    g <- g * max_norm / ||g||     when ||g|| > max_norm

The direction is kept, only the step length is capped. The norm is the "global" one: all the
model's gradients counted as one long vector, so clipping never changes the balance between
layers. Small gradients pass unchanged, so clipping costs nothing when training goes well.
(Mikolov had clipped gradients in his RNN language models before; the 2013 paper explained why
it works.) It does nothing for VANISHING gradients: you cannot scale up a signal that is not
there. That takes a different cell (lstm.py).

This script clips a vector of numbers, then builds the cliff: a one-unit RNN
h_t = tanh(w * h_{t-1} + b) run for T steps from h_0 = 0.5, loss (h_T - y)^2 / 2. With w = 2 it
has two stable states, near +1 and near -1; which one h_T ends in depends on b, and the switch
is sudden. We scan b, find the wall, and take one step from it with and without clipping.

Run:  python phase-04-rnns/code/clipping.py --clip 0.5 --seq-len 100
"""

import argparse
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_out_flag, save_figure
from phase00.flags import finite_float, positive_float, positive_int, script_parser
from phase02.optimizers import HasParams
from phase04.rnn import RNN

MAX_SECONDS = 300  # a run estimated longer than this is refused, not started


def run_seconds(T: int, steps: int) -> float:
    """A rough time for main() on this machine class, which is all loops over the T steps of
    a one-unit RNN: about 100 runs of final_state (the bisection and the table, 5 microseconds
    a step), the 300 x 300 loss surface of the figure (90,000 units at once, about 1 ms a
    step), and 2 * steps + 20 passes of BPTT through the RNN layer (about 30 microseconds a
    step). Only the order of magnitude matters."""
    return T * (100 * 5e-6 + 1e-3 + (2 * steps + 20) * 30e-6)


def global_norm(layers: Iterable[HasParams]) -> float:
    """sqrt of the sum of squares of every gradient entry of every layer: one length for all."""
    return float(np.sqrt(sum(float(np.sum(g * g)) for layer in layers
                             for g in layer.grads.values())))


def clip_global_norm(layers: Iterable[HasParams], max_norm: float) -> float:
    """Scale every layer's grads in place so that their global norm is at most max_norm.

    Returns the norm BEFORE clipping (worth logging: spikes are the explosions). Gradients
    already shorter than max_norm are left exactly as they are.
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    layers = list(layers)
    norm = global_norm(layers)
    if norm > max_norm:
        scale = max_norm / norm  # < 1: same direction, shorter
        for layer in layers:
            for g in layer.grads.values():
                g *= scale
    return norm


class Vector:
    """A bare "layer" holding one gradient vector, to show clipping on plain numbers."""

    def __init__(self, g: list[float]) -> None:
        self.params = {"v": np.zeros(len(g))}
        self.grads = {"v": np.array(g, dtype=float)}


def final_state(w: np.ndarray | float, b: np.ndarray | float, T: int,
                h0: float = 0.5) -> np.ndarray:
    """h_T of the one-unit RNN for every (w, b) pair at once (broadcast over a grid)."""
    h = np.full(np.broadcast(np.asarray(w), np.asarray(b)).shape, h0)
    for _ in range(T):
        h = np.tanh(w * h + b)
    return h


def loss_and_grad(w: float, b: float, y: float, T: int,
                  h0: float = 0.5) -> tuple[float, np.ndarray]:
    """L = (h_T - y)^2 / 2 and (dL/dw, dL/db), by BPTT through rnn.py's RNN layer.

    The layer has one unit and a zero input, so W_h is w and its bias is b.
    """
    layer = RNN(1, 1, np.random.default_rng(0))
    layer.params["W_x"][...], layer.params["W_h"][...], layer.params["b"][...] = 0.0, w, b
    hs = layer.forward(np.zeros((1, T, 1)), np.array([[h0]]))
    dhs = np.zeros_like(hs)
    dhs[0, -1, 0] = hs[0, -1, 0] - y
    layer.backward(dhs)
    grad = np.array([layer.grads["W_h"].item(), layer.grads["b"].item()])
    return 0.5 * float(hs[0, -1, 0] - y) ** 2, grad


def find_wall(w: float, T: int, lo: float = -1.5, hi: float = 1.0) -> float:
    """The bias b at which h_T switches sign, by bisection (h_T < 0 at lo, > 0 at hi).

    Only for w > 1: then h = tanh(w h + b) has two stable states and h_T jumps between them.
    With w <= 1 there is one stable state, which moves smoothly with b: no wall.
    """
    if w <= 1:
        raise ValueError(f"with w = {w} <= 1 the unit has a single stable state and h_T moves "
                         f"smoothly with b: there is no cliff (try w > 1)")
    if not final_state(w, lo, T) < 0 < final_state(w, hi, T):
        raise ValueError(f"no cliff between b = {lo} and {hi} at w = {w}: h_T does not change "
                         f"sign there (try w > 1, where the unit has two stable states)")
    for _ in range(80):  # each halving gains one bit; 80 reach float64's limit
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if final_state(w, mid, T) > 0 else (mid, hi)
    return hi


def plot_cliff(distances: np.ndarray, losses: np.ndarray, grad_norms: np.ndarray,
               start: tuple[float, float], steps: dict[str, np.ndarray], y: float, T: int,
               out_dir: Path | None = None) -> Figure:
    """Left: the loss over (w, b), with descent from the foot of the wall with and without
    clipping (steps: label -> path of (w, b)); right: the gradient norm against the distance
    from the wall."""
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    ax_map, ax_dist = fig.subplots(1, 2)
    W, B = np.meshgrid(np.linspace(0.5, 3.0, 300), np.linspace(-1.5, 1.0, 300))
    L = 0.5 * (final_state(W, B, T) - y) ** 2
    im = ax_map.imshow(L, origin="lower", extent=(0.5, 3.0, -1.5, 1.0), aspect="auto",
                       cmap="viridis")
    fig.colorbar(im, ax=ax_map, label="loss")
    unclipped, clipped = steps["without clipping"], steps["with clipping"]
    ax_map.annotate("", xy=np.clip(unclipped[1], [0.5, -1.5], [3.0, 1.0]), xytext=start,
                    arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 2})
    ax_map.plot([], [], color="tab:red", lw=2,
                label=f"without clipping: first step to ({unclipped[1][0]:.0f}, "
                      f"{unclipped[1][1]:.0f}), off the map")
    ax_map.plot(clipped[:, 0], clipped[:, 1], ".-", color="white", lw=1, ms=4,
                label=f"with clipping: {len(clipped) - 1} steps")
    ax_map.plot(*start, "o", color="white", ms=6)
    ax_map.set_xlim(0.5, 3.0)
    ax_map.set_ylim(-1.5, 1.0)
    ax_map.set_xlabel("w (recurrent weight)")
    ax_map.set_ylabel("b (bias)")
    ax_map.legend(fontsize=8, loc="lower right", facecolor="0.6")
    ax_map.set_title(f"Loss (h_{T} - {y:g})^2 / 2 over (w, b): plateaus and a cliff",
                     fontsize=10)
    ax_dist.loglog(distances, grad_norms, "o-", color="tab:red", label="||gradient||")
    ax_dist.invert_xaxis()
    ax_dist.set_xlabel(f"distance of b from the wall, at w = {start[0]:g} (closer to the right)")
    ax_dist.set_ylabel("||(dL/dw, dL/db)||", color="tab:red")
    twin = ax_dist.twinx()
    twin.semilogx(distances, losses, "s--", color="tab:blue", ms=4)
    twin.set_ylabel("loss", color="tab:blue")
    ax_dist.set_title("Walking down the plateau leads to the wall, where the gradient explodes",
                      fontsize=10)
    save_figure(fig, out_dir, "clipping_cliff.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    T, y, w = args.seq_len, args.target, args.w
    seconds = run_seconds(T, args.steps)
    if seconds > MAX_SECONDS:
        parser.error(f"--seq-len {T} with --steps {args.steps} would take about "
                     f"{seconds / 60:,.0f} minutes (every part loops over all {T:,} steps): "
                     f"choose smaller values")

    print(f"1. Clipping plain vectors to a global norm of {args.clip:g}")
    for g in ([3.0, 4.0], [0.3, 0.4], [30.0, -40.0, 0.5]):
        v = Vector(g)
        before = clip_global_norm([v], args.clip)
        print(f"   g = {g}: norm {before:g} -> {np.round(v.grads['v'], 4).tolist()}, norm "
              f"{global_norm([v]):.4g}" + ("   (short enough: unchanged)"
                                           if before <= args.clip else ""))

    print(f"\n2. The cliff: h_t = tanh(w * h_(t-1) + b), h_0 = 0.5, T = {T}, loss "
          f"(h_T - {y:g})^2 / 2, at w = {w:g}")
    try:
        b_wall = find_wall(w, T)
    except ValueError as err:
        parser.exit(2, f"error: {err}\n")
    for b in (-1.0, 0.5):
        L, g = loss_and_grad(w, b, y, T)
        print(f"   b = {b:+.2f}: h_T = {final_state(w, b, T):+.4f}, loss {L:.4f}, "
              f"||gradient|| {np.linalg.norm(g):.1e}")
    print(f"   h_T switches from about -1 to about +1 at the wall, b = {b_wall:+.10f}. "
          f"Approaching it from above:")
    distances = np.logspace(-1, -12, 12)
    losses, grad_norms = [], []
    for d in distances:
        L, g = loss_and_grad(w, b_wall + d, y, T)
        losses.append(L)
        grad_norms.append(float(np.linalg.norm(g)))
        print(f"   b = wall + {d:.0e}: h_T = {final_state(w, b_wall + d, T):+.4f}, loss {L:.4f}, "
              f"||gradient|| {grad_norms[-1]:.1e}")
    lowest = int(np.argmin(losses))  # what this run's numbers say, not what the default's say
    if lowest == 0:
        where = "the loss is lowest 0.1 away and rises toward the wall: descent walks away from it"
    elif lowest == len(losses) - 1:
        where = "the loss falls all the way to the wall, so descent walks there"
    else:
        where = (f"the loss falls toward the wall, to its lowest {distances[lowest]:.0e} away "
                 f"(loss {losses[lowest]:.4f}), then climbs the wall itself: descent walks to "
                 f"its foot")
    ratio = max(grad_norms) / grad_norms[0]
    print(f"   {where};\n   near the wall the gradient is {ratio:.0e} times larger than 0.1 away")

    start = (w, b_wall + args.distance)
    L0, g0 = loss_and_grad(*start, y, T)
    print(f"\n3. Gradient descent, lr = {args.lr:g}, {args.steps} steps, from b = wall + "
          f"{args.distance:.0e} (loss {L0:.4f}, ||gradient|| {np.linalg.norm(g0):.1e})")
    steps, seen = {}, {}
    # a huge --lr can overflow the unclipped step to inf: that is reported below, not warned
    with np.errstate(over="ignore", invalid="ignore"):
        for label, max_norm in (("without clipping", None), ("with clipping", args.clip)):
            theta, path = np.array(start), [np.array(start)]
            for k in range(args.steps):  # the same rule, step after step
                L, g = loss_and_grad(theta[0], theta[1], y, T)
                layer = Vector(list(g))
                if max_norm is not None:
                    clip_global_norm([layer], max_norm)
                theta = theta - args.lr * layer.grads["v"]
                path.append(theta)
                if k == 0:
                    L1, g1 = loss_and_grad(theta[0], theta[1], y, T)
                    print(f"   {label:17s}: first step length {args.lr * global_norm([layer]):.3g},"
                          f" lands at w = {theta[0]:+.4g}, b = {theta[1]:+.4g}: loss {L1:.4f}, "
                          f"gradient there {np.linalg.norm(g1):.1e}")
                    seen[label] = {"landed_grad": float(np.linalg.norm(g1)), "landed_loss": L1}
            L_end, _ = loss_and_grad(theta[0], theta[1], y, T)
            seen[label]["end"] = L_end
            steps[label] = np.array(path)
            print(f"   {'':17s}  after {args.steps} steps: w = {theta[0]:+.4g}, "
                  f"b = {theta[1]:+.4g}, loss {L_end:.2g}")
    free, clipped = seen["without clipping"], seen["with clipping"]
    if np.linalg.norm(g0) <= args.clip:  # what this run shows, not what the default run shows
        print(f"   The first gradient is no longer than the clip ({args.clip:g}): clipping "
              f"changed nothing, and the two runs are the same.")
    elif not np.isfinite(free["end"]):
        print(f"   The unclipped step is too long to represent (it overflowed to infinity): that "
              f"run is lost.\n   The clipped one ends at loss {clipped['end']:.2g}.")
    elif free["landed_grad"] < 1e-8 and clipped["end"] < free["end"]:
        print("   The unclipped step lands so far off that tanh saturates and the gradient is "
              "about 0:\n   training is stuck for good. The clipped one lands close by, where "
              "the gradient still\n   points somewhere useful, and descent carries on.")
    else:
        print(f"   Clipping shortened the first step; the runs end at loss {free['end']:.2g} "
              f"without it and {clipped['end']:.2g} with it.")

    print("\nFigures")
    plot_cliff(distances, np.array(losses), np.array(grad_norms), start, steps, y, T, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Gradient clipping by global norm, and the cliff it protects against.")
    parser.add_argument("--clip", type=positive_float, default=1.0,
                        help="the largest gradient norm allowed")
    parser.add_argument("--lr", type=positive_float, default=0.1,
                        help="learning rate of the step from the wall")
    parser.add_argument("--seq-len", type=positive_int, default=50,
                        help="steps T of the one-unit RNN")
    parser.add_argument("--w", type=finite_float, default=2.0,
                        help="the recurrent weight w of the slice")
    parser.add_argument("--target", type=finite_float, default=0.8, help="the target y of h_T")
    parser.add_argument("--steps", type=positive_int, default=50,
                        help="steps of descent from the foot of the wall")
    parser.add_argument("--distance", type=positive_float, default=1e-8,
                        help="how far from the wall the step starts")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
