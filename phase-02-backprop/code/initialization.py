"""Weight initialisation: why the starting knob settings decide whether a deep net can learn.

Backprop multiplies: a signal going forward is multiplied by every layer's weights, and the
blame coming back is multiplied by them again. Multiply by a little too much ten times and
the numbers explode; a little too little and they vanish. The scale of the random starting
weights sets that "little", so it decides whether layer 10 sees anything at all.

The experiment: push 1000 random inputs through 10 layers of 256 units and measure the
spread (standard deviation) of the activations after every layer, and of the gradients on
the way back, for each starting scale:

- zeros: every unit computes the same thing, so every unit gets the same blame and they
  stay identical forever. (With tanh or ReLU, 0 in gives 0 out, and nothing moves at all.)
- small (0.01): each layer multiplies the spread by about 0.01 * sqrt(256) = 0.16: by layer
  10 the signal is 1e-8 of what went in.
- large (1.0): each layer multiplies it by about sqrt(256) = 16. ReLU's numbers explode
  forward and backward. tanh pins almost every unit at -1 or +1 (a saturated switch whose
  slope is nearly 0, so it barely learns), while the blame flowing back still grows layer
  after layer: the large weights win over the tiny slopes.
- Xavier/Glorot (Glorot & Bengio 2010): variance 2 / (n_in + n_out), about 1 / n_in. With
  tanh the spread no longer collapses, but it still shrinks slowly (0.63 after layer 1, 0.23
  after layer 10): tanh is flatter than a straight line away from 0, so each layer squeezes a
  little, while the blame still reaches layer 1 at a usable size (0.39).
- He/Kaiming (He et al. 2015): variance 2 / n_in, twice as much, because ReLU zeroes half of
  its inputs; it keeps the spread steady for ReLU.

Finally a deeper MLP is trained on moons by plain gradient descent from each
initialisation: the statistics predict which runs learn.

Run:  python phase-02-backprop/code/initialization.py --depth 10 --hidden 256
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase00.linear_regression import add_descent_flags
from phase01.activations import ACTIVATIONS
from phase02.layers import INIT_SCHEMES, MLP, Activation, Dense, init_std
from phase02.mlp_numpy import train

SCHEME_COLORS = {"zeros": "0.5", "small": "tab:blue", "large": "tab:red",
                 "xavier": "tab:green", "he": "tab:purple"}


def deep_stack(width: int, depth: int, activation: str, init: str,
               rng: np.random.Generator) -> MLP:
    """depth x (Dense(width -> width), activation): every layer the same size, so any change
    in the spread from one layer to the next comes from the weights, not from the shapes."""
    layers: list[Dense | Activation] = []
    for _ in range(depth):
        layers += [Dense(width, width, rng, init), Activation(activation)]
    return MLP(layers)


def activation_statistics(activation: str, init: str, depth: int, width: int,
                          n_samples: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Forward n_samples standard-normal inputs, then backward a standard-normal dL/d(out).

    Returns
      "h":       (depth, n_samples, width) the activations after each layer,
      "std":     (depth,) their standard deviation per layer,
      "grad_std": (depth,) std of dL/dh, the blame reaching each layer's output on the way back,
      "unit_spread": (depth,) the largest difference between two units of a layer for the
                 same input: 0 means every unit computes the same thing.
    """
    model = deep_stack(width, depth, activation, init, rng)
    x = rng.normal(size=(n_samples, width))
    h_all = []
    h = x
    for layer in model.layers:
        h = layer.forward(h)
        if isinstance(layer, Activation):
            h_all.append(h)
    dout = rng.normal(size=h.shape)
    grad_std = []
    for layer in reversed(model.layers):
        if isinstance(layer, Activation):
            grad_std.append(dout.std())  # the blame arriving at this layer's output
        dout = layer.backward(dout)
    H = np.stack(h_all)
    assert H.shape == (depth, n_samples, width)
    return {"h": H, "std": H.std(axis=(1, 2)), "grad_std": np.array(grad_std[::-1]),
            "unit_spread": np.ptp(H, axis=2).max(axis=1)}


def plot_statistics(stats: dict[tuple[str, str], dict[str, np.ndarray]],
                    out_dir: Path | None = None) -> Figure:
    """Activation std (left) and gradient std (right) per layer, one row per activation."""
    activations = sorted({a for a, _ in stats})
    fig = Figure(figsize=(11, 3.8 * len(activations)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(activations), 2))
    for row, act in zip(axes, activations, strict=True):
        for (a, init), s in stats.items():
            if a != act:
                continue
            layers = np.arange(1, len(s["std"]) + 1)
            floor = 1e-30  # zeros init gives exactly 0, which a log axis cannot show
            for ax, key in zip(row, ("std", "grad_std"), strict=True):
                ax.semilogy(layers, np.maximum(s[key], floor), "o-", ms=4,
                            color=SCHEME_COLORS[init], label=init)
        row[0].set_title(f"{act}: spread of the activations, layer by layer", fontsize=10)
        row[1].set_title(f"{act}: spread of the gradient dL/dh on the way back", fontsize=10)
        for ax in row:
            ax.set_xlabel("layer")
            ax.set_ylim(1e-12, 1e14)
            ax.axhline(1.0, color="black", lw=0.6, ls=":")
            ax.set_xticks(layers)
        row[0].set_ylabel("std of h")
        row[1].set_ylabel("std of dL/dh")
        row[0].legend(fontsize=8, loc="upper left", ncols=2)
    some = next(iter(stats.values()))["h"]  # (depth, n_samples, width)
    zeros = any(init == "zeros" for _, init in stats)
    fig.suptitle(f"{some.shape[0]} layers of {some.shape[2]} units: only the right starting "
                 "scale keeps signals (and blame) alive."
                 + ("\nZeros init is exactly 0 everywhere (off the bottom of the plot)."
                    if zeros else ""), fontsize=11)
    save_figure(fig, out_dir, "init_statistics.png")
    return fig


def plot_histograms(stats: dict[tuple[str, str], dict[str, np.ndarray]], activation: str,
                    out_dir: Path | None = None) -> Figure:
    """Histograms of the activations at a few depths, one row per initialisation."""
    inits = [init for a, init in stats if a == activation]
    depth = next(iter(stats.values()))["h"].shape[0]
    shown = sorted({1, max(1, depth // 3), max(1, 2 * depth // 3), depth})
    fig = Figure(figsize=(2.8 * len(shown), 2.1 * len(inits)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(inits), len(shown)))
    for r, init in enumerate(inits):
        H = stats[(activation, init)]["h"]
        for c, layer in enumerate(shown):
            ax = axes[r, c]
            values = H[layer - 1].ravel()
            zero = float(np.mean(values == 0.0))
            # ReLU sets about half of its outputs to exactly 0; a bar that tall would flatten
            # the rest, so those are counted in the title instead of drawn
            drawn = values[values != 0.0] if 0.2 < zero < 1.0 else values
            ax.hist(drawn, bins=50, color=SCHEME_COLORS[init])
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            ax.locator_params(axis="x", nbins=5)
            extra = f"\n{zero:.0%} exactly 0 (not drawn)" if drawn.size < values.size else ""
            ax.set_title(f"{init}, layer {layer}: std {values.std():.2g}{extra}", fontsize=8)
    fig.suptitle(f"{activation}: where the activations land (each panel has its own x scale)",
                 fontsize=11)
    save_figure(fig, out_dir, f"init_histograms_{activation}.png")
    return fig


def training_verdict(final_loss: float, accuracy: float) -> str:
    """One phrase for a two-class training run: diverged, learned, stuck at chance or partly.

    "Stuck at chance" needs both signs of a coin toss: a loss near ln 2 (a 50/50 guess's) AND
    an accuracy near 50%. A run can already sort 80% of the points while its loss has hardly
    moved from ln 2 (sigmoid with He init does), and that is not stuck.
    """
    if not np.isfinite(final_loss):
        return "diverged (nan)"
    if accuracy >= 0.9:
        return "learned"
    if final_loss > 0.9 * np.log(2) and accuracy < 0.6:
        return "stuck at chance"
    return "partly"


def statistics_memory_bytes(depth: int, width: int, n_samples: int) -> float:
    """A generous estimate of the memory activation_statistics needs, in bytes (float64).

    Every layer holds a (width, width) weight matrix, its gradient and phase 01's discarded
    draw; every layer's activations are kept for the histograms, and each layer also keeps its
    input for backward: about six (n_samples, width) arrays per layer.
    """
    return 8.0 * depth * (3 * width * width + 6 * n_samples * width)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_fits_in_memory(statistics_memory_bytes(args.depth, args.hidden, args.n_samples),
                             "this experiment (--depth, --hidden, --n-samples)")
    except ValueError as err:
        parser.error(str(err))

    print(f"1. Weight std per scheme for a {args.hidden} -> {args.hidden} layer")
    for init in args.init:
        print(f"   {init:7s} {init_std(init, args.hidden, args.hidden):.4f}")

    print(f"\n2. {args.n_samples} inputs through {args.depth} layers of {args.hidden}: "
          "std of the activations h after some layers,\n   and of the blame dL/dh that gets "
          "back to layer 1")
    shown = sorted({0, *range(args.depth - 1, 0, -3)})  # the last layer, every third before
    print(f"   {'':15s} layer: " + " ".join(f"{i + 1:8d}" for i in shown) + "   | dL/dh at 1")
    stats = {}
    for act in args.activation:
        for init in args.init:
            s = activation_statistics(act, init, args.depth, args.hidden, args.n_samples,
                                      np.random.default_rng(args.seed))
            stats[(act, init)] = s
            print(f"   {act:7s} {init:7s} h std: " + " ".join(f"{s['std'][i]:8.2g}" for i in shown)
                  + f"   | {s['grad_std'][0]:8.2g}")
    for act in args.activation:
        if (act, "zeros") in stats:
            spread = stats[(act, "zeros")]["unit_spread"].max()
            print(f"   zeros + {act}: largest difference between two units of a layer = "
                  f"{spread:g} (all units identical)")

    print(f"\n3. Training an MLP with {args.train_depth} hidden layers of 16 on moons: plain "
          f"gradient descent, lr {args.lr:g}, {args.epochs} epochs, from each initialisation")
    for act in args.activation:
        for init in args.init:
            with np.errstate(all="ignore"):  # a run that explodes fills arrays with inf/nan
                result = train(hidden=16, depth=args.train_depth, activation=act, init=init,
                               optimizer="sgd", lr=args.lr, epochs=args.epochs,
                               seed=args.seed, verbose=False)
            final, acc = result["losses"][-1], result["accuracies"][-1]
            print(f"   {act:7s} {init:7s} loss {result['losses'][0]:9.4f} -> {final:7.4f}, "
                  f"accuracy {acc:6.1%}   {training_verdict(final, acc)}")

    print("\nFigures")
    plot_statistics(stats, args.out)
    for act in args.activation:
        plot_histograms(stats, act, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Activation statistics across depth for each weight initialisation.")
    parser.add_argument("--depth", type=positive_int, default=10, help="layers")
    parser.add_argument("--hidden", type=positive_int, default=256, help="units per layer")
    parser.add_argument("--n-samples", type=positive_int, default=1000,
                        help="inputs pushed through")
    parser.add_argument("--activation", nargs="+", default=["tanh", "relu"],
                        choices=sorted(ACTIVATIONS), help="activations (default: tanh relu)")
    parser.add_argument("--init", nargs="+", default=list(INIT_SCHEMES), choices=INIT_SCHEMES,
                        help="initialisations to compare (default: all five)")
    parser.add_argument("--train-depth", type=positive_int, default=6,
                        help="hidden layers of the MLP trained on moons")
    add_descent_flags(parser, lr=0.5, epochs=300)
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
