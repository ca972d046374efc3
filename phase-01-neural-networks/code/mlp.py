"""A dense layer, a multi-layer perceptron's forward pass, and hand-set weights that solve XOR.

One perceptron draws one line. A layer is many perceptrons side by side, all reading the same
inputs; as matrices that is a single line of algebra,

    h = activation(x @ W + b)      x: (batch, n_in)   W: (n_in, n_out)   b: (n_out,)

where column j of W holds the weights of neuron j and h has shape (batch, n_out). Stack layers
and feed each one's output to the next: that is a multi-layer perceptron (MLP), and running an
input through it is the "forward pass". The script prints every shape on the way.

Then the payoff. Two hidden neurons, one detecting "x1 OR x2" and one "x1 AND x2", move the four
XOR points to new coordinates where a single line finishes the job: OR-but-not-AND is XOR. The
hidden layer does not solve the problem; it re-describes the inputs so that the next layer can.
Here the weights are set by hand. Finding them automatically is phase 02 (backpropagation).

Layers follow the repository's protocol: `params` (name -> array), `grads` (same names, same
shapes), `forward(x)` which keeps its input for the backward pass phase 02 adds.

Run:  python phase-01-neural-networks/code/mlp.py --hidden 4 3 --activation tanh --batch 5
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, positive_float, positive_int, script_parser
from phase00.gradient_descent import check_duration
from phase01.activations import ACTIVATIONS, get_activation
from phase01.perceptron import GATES, X_GATE

GRID_SIDE = 161  # the random-function figure evaluates each net on a 161 x 161 grid
# Rough speeds of a 2-core laptop, for refusing a run of hours before it starts: matrix
# products at about 1e10 floating-point operations a second (measured: 2e10), an activation
# at about 2e-8 s per value.
FLOPS, ACTIVATION_SECONDS = 1e10, 2e-8
MAX_SECONDS = 300  # a run estimated longer than this is refused, with the estimate
PRINTED_OUTPUTS = 8  # a big batch prints its first outputs, not a million numbers


class Dense:
    """A fully connected layer: every output is a weighted sum of every input, plus a bias.

    params["W"] has shape (n_in, n_out): column j is neuron j's weights, one per input.
    params["b"] has shape (n_out,): one bias per neuron, added to every row of the batch.
    Think of W and b as knobs on a mixing board: each knob sets how loudly one input plays in
    one output. Training (phase 02) is the art of turning them.
    """

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator | None = None) -> None:
        if n_in < 1 or n_out < 1:
            raise ValueError(f"Dense needs n_in >= 1 and n_out >= 1, got {n_in} and {n_out}")
        rng = np.random.default_rng() if rng is None else rng  # None: unseeded, unrepeatable
        # Random weights of size about 1/sqrt(n_in), so a sum of n_in inputs stays of size about
        # 1 (phase 02 measures why this matters). Biases start at 0.
        self._set(rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_in, n_out)), np.zeros(n_out))

    def _set(self, W: np.ndarray, b: np.ndarray) -> None:
        """Install W and b, zero gradients of the same shapes, and no input seen yet."""
        self.params: dict[str, np.ndarray] = {"W": W, "b": b}
        self.grads: dict[str, np.ndarray] = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.x: np.ndarray | None = None  # the last input, kept for the backward pass

    @classmethod
    def from_weights(cls, W: np.ndarray, b: np.ndarray) -> "Dense":
        """A layer with the given weights, e.g. set by hand (no random ones are drawn)."""
        W, b = np.array(W, dtype=np.float64), np.array(b, dtype=np.float64)
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"need W of shape (n_in, n_out) and b of shape (n_out,), "
                             f"got W {W.shape} and b {b.shape}")
        layer = cls.__new__(cls)  # skip __init__, which would draw a random W to throw away
        layer._set(W, b)
        return layer

    @property
    def n_in(self) -> int:
        return self.params["W"].shape[0]

    @property
    def n_out(self) -> int:
        return self.params["W"].shape[1]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x @ W + b for a batch of row vectors: (batch, n_in) -> (batch, n_out)."""
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"{self!r} expects x of shape (batch, {self.n_in}), got {x.shape}")
        self.x = x
        out = x @ self.params["W"] + self.params["b"]  # b broadcasts over the batch rows
        assert out.shape == (x.shape[0], self.n_out)
        return out

    def __repr__(self) -> str:
        return f"Dense({self.n_in} -> {self.n_out})"


class Activation:
    """An activation function as a layer with no parameters: applied to every entry."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.f, self.df = get_activation(name)  # df is what phase 02's backward pass needs
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """activation(x), elementwise: the shape does not change."""
        self.x = x
        return self.f(x)

    def __repr__(self) -> str:
        return f"Activation({self.name})"


class MLP:
    """Layers applied one after another: the output of each is the input of the next."""

    def __init__(self, layers: list[Dense | Activation]) -> None:
        self.layers = layers

    @property
    def n_params(self) -> int:
        """How many numbers (knobs) the network has."""
        return sum(p.size for layer in self.layers for p in layer.params.values())

    def forward(self, x: np.ndarray, verbose: bool = False) -> np.ndarray:
        """Run x through every layer; with verbose, print each layer's input and output shape."""
        if verbose:
            print(f"   input x{'':27s}{x.shape}")
        for layer in self.layers:
            out = layer.forward(x)
            if verbose:
                detail = ""
                if isinstance(layer, Dense):
                    detail = f"   W {layer.params['W'].shape}, b {layer.params['b'].shape}"
                print(f"   {layer!r:28s}{x.shape} -> {out.shape}{detail}")
            x = out
        return x


def build_mlp(sizes: list[int], activation: str, rng: np.random.Generator,
              use_bias: bool = True) -> MLP:
    """Dense layers of the given sizes with `activation` between them (none after the last).

    sizes = [2, 4, 3, 1] gives Dense(2 -> 4), act, Dense(4 -> 3), act, Dense(3 -> 1). With
    use_bias=True the biases get random values too (a Dense layer starts them at 0), so that the
    neurons switch at different places; with use_bias=False they stay at 0.
    """
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least an input and an output size, got {sizes}")
    get_activation(activation)  # fail early, listing the valid names
    layers: list[Dense | Activation] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        dense = Dense(n_in, n_out, rng)
        if use_bias:
            dense.params["b"] = rng.normal(0.0, 1.0, size=n_out)
        layers.append(dense)
        if i < len(sizes) - 2:
            layers.append(Activation(activation))
    return MLP(layers)


# The activations for which xor_network() has a hand-set XOR network.
XOR_ACTIVATIONS = ("step", "sigmoid", "relu")


def xor_network(activation: str = "step", steepness: float = 10.0) -> MLP:
    """A 2-2-1 network whose weights, chosen by hand, compute XOR.

    step:    h1 = step(x1 + x2 - 0.5) is OR, h2 = step(x1 + x2 - 1.5) is AND,
             y = step(h1 - h2 - 0.5) is "OR but not AND" = XOR. Exact.
    sigmoid: the same weights times `steepness`, so every sigmoid acts almost like a step.
             Outputs are within about 0.01 of 0 and 1 for steepness 10.
    relu:    h1 = relu(x1 + x2), h2 = relu(x1 + x2 - 1), y = h1 - 2 h2 (no output activation).
             Exact: (0,0) -> 0, (0,1) and (1,0) -> 1, (1,1) -> 2 - 2 = 0.
    """
    if activation == "step":
        W1, b1, W2, b2 = [[1, 1], [1, 1]], [-0.5, -1.5], [[1], [-1]], [-0.5]
        tail: list[Dense | Activation] = [Activation("step")]
    elif activation == "sigmoid":
        k = steepness
        W1, b1 = k * np.ones((2, 2)), [-0.5 * k, -1.5 * k]
        W2, b2 = [[k], [-k]], [-0.5 * k]
        tail = [Activation("sigmoid")]
    elif activation == "relu":
        W1, b1, W2, b2 = [[1, 1], [1, 1]], [0, -1], [[1], [-2]], [0]
        tail = []
    else:
        raise ValueError(f"no hand-set XOR network for {activation!r}; "
                         f"choose one of {list(XOR_ACTIVATIONS)}")
    return MLP([Dense.from_weights(W1, b1), Activation(activation),
                Dense.from_weights(W2, b2), *tail])


def hidden_coordinates(net: MLP, x: np.ndarray) -> np.ndarray:
    """Where the first Dense + activation sends each input: its "new coordinates"."""
    h = x
    for layer in net.layers[:2]:
        h = layer.forward(h)
    return h


def plot_xor_hidden_space(steepness: float = 10.0, out_dir: Path | None = None) -> Figure:
    """For each hand-set XOR net: the inputs (top) and the same points after the hidden layer
    (bottom), where one straight line separates the classes."""
    n = len(XOR_ACTIVATIONS)
    fig = Figure(figsize=(4.3 * n, 9.0), layout="constrained")
    axes = fig.subplots(2, n)
    y = GATES["xor"]
    g = np.linspace(-0.5, 1.5, 201)
    G1, G2 = np.meshgrid(g, g)
    grid = np.column_stack([G1.ravel(), G2.ravel()])  # (201 * 201, 2)
    s = np.linspace(-0.5, 3.0, 400)[:, None] * np.array([[0.5, 0.5]])  # inputs with x1 = x2
    for col, act in enumerate(XOR_ACTIVATIONS):
        net = xor_network(act, steepness)
        ax_in, ax_h = axes[0, col], axes[1, col]
        out = net.forward(grid).reshape(G1.shape)
        ax_in.contourf(G1, G2, out > 0.5, levels=[-0.5, 0.5, 1.5],
                       colors=["#f3d9d9", "#d9e6f3"])
        dense1 = net.layers[0]
        for j, style in ((0, "--"), (1, ":")):  # where hidden neuron j switches on
            Zj = (grid @ dense1.params["W"][:, j] + dense1.params["b"][j]).reshape(G1.shape)
            ax_in.contour(G1, G2, Zj, levels=[0.0], colors="black", linestyles=style)
        H = hidden_coordinates(net, X_GATE)  # (4, 2)
        for ax, P in ((ax_in, X_GATE), (ax_h, H)):
            for target, color, marker in ((0, "tab:red", "o"), (1, "tab:blue", "s")):
                pts = P[y == target]
                ax.scatter(pts[:, 0], pts[:, 1], s=170, c=color, marker=marker,
                           edgecolors="black", zorder=3)
        for (x1, x2), (h1, h2) in zip(X_GATE, H, strict=True):
            ax_in.annotate(f"({x1:g},{x2:g})", (x1, x2), xytext=(10, 8),
                           textcoords="offset points", fontsize=8)
            ax_h.annotate(f"from ({x1:g},{x2:g})", (h1, h2), fontsize=8,
                          textcoords="offset points",
                          xytext=(10, 14 if x1 > x2 else (-4 if x1 < x2 else 6)))
        if act != "step":  # a step sends every input to one of the three points shown
            # Both hidden neurons read only x1 + x2 here, so all inputs land on one curve.
            curve = hidden_coordinates(net, s)
            ax_h.plot(curve[:, 0], curve[:, 1], color="0.6", lw=1, zorder=1)
        lo, hi = min(-0.3, H.min() - 0.3), max(1.5, H.max() + 0.5)  # room for the labels
        hs = np.linspace(lo, hi, 2)
        # The output neuron's line w2 . h + b2 = threshold: threshold 0 before a step or a
        # sigmoid (where it switches), 0.5 for the relu net, whose output is read directly.
        w2, b2 = net.layers[2].params["W"][:, 0], net.layers[2].params["b"][0]
        thr = 0.5 if act == "relu" else 0.0
        ax_h.plot(hs, (thr - b2 - w2[0] * hs) / w2[1], color="black", lw=2)
        ax_in.set_title(f"{act} network: the inputs", fontsize=10)
        ax_h.set_title(f"{act} network: after the hidden layer", fontsize=10)
        ax_in.set_xlabel("$x_1$")
        ax_in.set_ylabel("$x_2$")
        ax_h.set_xlabel("$h_1$ (first hidden neuron)")
        ax_h.set_ylabel("$h_2$ (second hidden neuron)")
        ax_h.set_xlim(lo, hi)
        ax_h.set_ylim(lo, hi)
        for ax in (ax_in, ax_h):
            ax.set_aspect("equal")
    legend = [Line2D([], [], ls="", marker="o", ms=11, mfc="tab:red", mec="black"),
              Line2D([], [], ls="", marker="s", ms=11, mfc="tab:blue", mec="black"),
              Line2D([], [], color="black", ls="--"), Line2D([], [], color="black", ls=":"),
              Line2D([], [], color="0.6"), Line2D([], [], color="black", lw=2)]
    fig.legend(legend, ["XOR = 0", "XOR = 1", "hidden neuron 1 switches",
                        "hidden neuron 2 switches", "where every input lands",
                        "the output neuron's line"],
               loc="outside lower center", ncols=3, fontsize=9)
    fig.suptitle("Two layers do what one cannot. Top: inputs, shaded by the network's answer "
                 "(blue 1, red 0).\nBottom: the same points in the hidden layer's coordinates, "
                 "where one straight line separates them.", fontsize=11)
    save_figure(fig, out_dir, "xor_hidden_space.png")
    return fig


def plot_random_functions(hidden: list[int], rng_seed: int, use_bias: bool,
                          out_dir: Path | None = None) -> Figure:
    """The output of one random MLP over the plane, once per activation (same weights)."""
    names = list(ACTIVATIONS)
    fig = Figure(figsize=(3.3 * len(names), 4.0), layout="constrained")
    axes = fig.subplots(1, len(names))
    g = np.linspace(-3, 3, GRID_SIDE)
    G1, G2 = np.meshgrid(g, g)
    grid = np.column_stack([G1.ravel(), G2.ravel()])
    for ax, name in zip(axes, names, strict=True):
        # The same seed for every panel: identical weights, only the activation differs.
        net = build_mlp([2, *hidden, 1], name, np.random.default_rng(rng_seed), use_bias)
        out = net.forward(grid).reshape(G1.shape)
        ax.imshow(out, extent=(-3, 3, -3, 3), origin="lower", cmap="viridis")
        ax.contour(G1, G2, out, levels=8, colors="white", linewidths=0.5, alpha=0.7,
                   linestyles="solid")
        ax.set_title(name)
        ax.set_xlabel("$x_1$")
        ax.set_xticks([-3, 0, 3])
        ax.set_yticks([-3, 0, 3])
    axes[0].set_ylabel("$x_2$")
    bias = "with biases" if use_bias else "no biases"
    fig.suptitle(f"One random MLP 2 -> {' -> '.join(map(str, hidden))} -> 1 ({bias}): "
                 "its output over the plane, per activation")
    save_figure(fig, out_dir, "mlp_random_functions.png")
    return fig


def run_cost(sizes: list[int], batch: int) -> tuple[float, float]:
    """(bytes, seconds): rough peak memory and time of the script's random networks, which run
    once on the batch and once per activation on the figure's grid.

    Memory: every weight is held twice (W and its gradient), plus the random draw being made;
    every layer keeps its input for the backward pass, and an activation makes a few temporary
    copies of its input: about 6 numbers per neuron per row.
    """
    n_params = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:],
                                                                  strict=True))
    neurons = sum(sizes[1:-1])
    rows = max(batch, GRID_SIDE**2)
    nbytes = 8 * (3 * n_params + 6 * rows * sum(sizes))
    per_row = 2 * n_params / FLOPS + neurons * ACTIVATION_SECONDS
    seconds = (batch + len(ACTIVATIONS) * GRID_SIDE**2) * per_row
    return nbytes, seconds


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    sizes = [2, *args.hidden, 1]
    what = f"--hidden {' '.join(map(str, args.hidden))} with --batch {args.batch}"
    nbytes, seconds = run_cost(sizes, args.batch)
    try:
        check_fits_in_memory(nbytes, what)
        check_duration(seconds, what, MAX_SECONDS, f"the figure runs the network on "
                       f"{GRID_SIDE**2:,} points for each of {len(ACTIVATIONS)} activations")
    except ValueError as err:
        parser.error(str(err))

    print("1. One dense layer, by the numbers: x (1, 2) @ W (2, 3) + b (3,)")
    layer = Dense.from_weights([[1.0, -1.0, 0.5], [2.0, 0.0, -1.0]], [0.0, 1.0, -0.5])
    x = np.array([[3.0, 1.0]])
    W, b = layer.params["W"], layer.params["b"]
    print(f"   x = {x.tolist()},  W = {W.tolist()},  b = {b.tolist()}")
    for j in range(W.shape[1]):
        terms = " + ".join(f"{x[0, i]:g}*({W[i, j]:g})" for i in range(W.shape[0]))
        print(f"   neuron {j}: {terms} + ({b[j]:g}) = {x[0] @ W[:, j] + b[j]:g}")
    out = layer.forward(x)
    print(f"   layer.forward(x) = {out.tolist()}   shape {out.shape}")
    try:
        layer.forward(np.ones((4, 3)))
    except ValueError as error:
        print(f"   a wrong shape is refused: ValueError: {error}")

    print(f"\n2. A random MLP {' -> '.join(map(str, sizes))} with {args.activation}, "
          f"forward pass on a batch of {args.batch}")
    net = build_mlp(sizes, args.activation, rng, use_bias=not args.no_bias)
    x = rng.normal(size=(args.batch, 2))
    y_hat = net.forward(x, verbose=True)
    assert y_hat.shape == (args.batch, 1)
    shown = np.round(y_hat[:PRINTED_OUTPUTS, 0], 4).tolist()
    more = f" ... ({args.batch:,} in all)" if args.batch > PRINTED_OUTPUTS else ""
    print(f"   outputs: {shown}{more}")
    n_dense = [f"{layer.n_in}*{layer.n_out} + {layer.n_out}" for layer in net.layers
               if isinstance(layer, Dense)]
    print(f"   parameters: {' + '.join(f'({t})' for t in n_dense)} = {net.n_params}")

    print("\n3. XOR with hand-set weights")
    y_xor = GATES["xor"]
    for act in XOR_ACTIVATIONS:
        xor = xor_network(act, args.steepness)
        H = hidden_coordinates(xor, X_GATE)
        out = xor.forward(X_GATE)[:, 0]
        print(f"   {act}:")
        for x_row, h_row, o in zip(X_GATE, H, out, strict=True):
            print(f"     x = {x_row.astype(int).tolist()}  ->  h = {np.round(h_row, 4).tolist()}"
                  f"  ->  output {o:.4f}")
        verdict = ("exactly XOR" if np.array_equal(out, y_xor)
                   else f"XOR after rounding, largest miss {np.abs(out - y_xor).max():.4f}"
                   if np.array_equal(out > 0.5, y_xor == 1) else "NOT XOR")
        print(f"     outputs {np.round(out, 4).tolist()}: {verdict}")
    print("   In h-space (0,1) and (1,0) land on the same point, and the three distinct points")
    print("   are split by one line: the hidden layer made XOR linearly separable.")

    print("\nFigures")
    plot_xor_hidden_space(args.steepness, args.out)
    plot_random_functions(args.hidden, args.seed, not args.no_bias, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Dense layers, an MLP forward pass, and XOR solved by hand-set weights.")
    parser.add_argument("--hidden", type=positive_int, nargs="+", default=[16, 16],
                        help="sizes of the hidden layers of the random MLP")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu",
                        help="activation between the random MLP's layers")
    parser.add_argument("--batch", type=positive_int, default=4,
                        help="how many inputs to push through at once")
    parser.add_argument("--no-bias", action="store_true",
                        help="set every bias of the random MLP to 0")
    parser.add_argument("--steepness", type=positive_float, default=10.0,
                        help="weight scale of the sigmoid XOR network")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
