"""Backprop with matrices: phase 01's layers, each given a backward pass.

The Value engine of autograd.py finds every gradient, one scalar at a time: thousands of tiny
Python objects per example. A layer does the same arithmetic for a whole batch with a few
matrix products. For a dense layer out = x @ W + b, with x of shape (B, n_in) (B examples in
a batch) and delta = dL/d(out) of shape (B, n_out) arriving from above:

    dL/dW = x.T @ delta          (n_in, B) @ (B, n_out) -> (n_in, n_out), the shape of W
    dL/db = delta summed over B  (n_out,), the shape of b
    dL/dx = delta @ W.T          (B, n_out) @ (n_out, n_in) -> (B, n_in), the shape of x

Each line is the 2-2-1 example of chain_rule.py, written once for every entry and every
example: W[i, j] touches the loss through out[:, j], scaled by x[:, i], so its blame is
sum over the batch of x[b, i] * delta[b, j]. The shapes are the easiest check: a gradient
always has the shape of the thing it is the gradient of.

The layer protocol of this course (so the gradient checker and the optimizers work on every
layer without special cases):
- `params`: name -> array;  `grads`: the same names and shapes;
- `forward(x)` returns the output and keeps what backward needs;
- `backward(dout)` fills `grads` and returns dL/dx for the layer below.

Dense, Activation and MLP extend phase 01's classes (which only went forward) by inheritance.
The weight initialisations live here too, because Dense uses them; initialization.py measures
why they matter.

Run:  python phase-02-backprop/code/layers.py --batch 5 --activation relu
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import positive_int, script_parser
from phase00.probability import cross_entropy_from_logits, softmax
from phase01 import mlp as phase01_mlp
from phase01.activations import ACTIVATIONS


def init_std(scheme: str, n_in: int, n_out: int) -> float:
    """The standard deviation of a freshly drawn weight, per initialisation scheme.

    zeros:  0. Every unit computes the same thing and gets the same gradient: they never differ.
    small:  0.01. Signals shrink by about 0.01 * sqrt(n_in) per layer and vanish with depth.
    large:  1. Signals grow by about sqrt(n_in) per layer: tanh saturates, ReLU explodes.
    xavier: sqrt(2 / (n_in + n_out)) (Glorot & Bengio 2010, "Understanding the difficulty of
            training deep feedforward neural networks"): keeps the variance of signals forward
            and of gradients backward about constant for units that are linear near 0. Real
            tanh bends, so its spread still fades slowly (initialization.py measures it). (The
            paper draws from a uniform distribution with this variance; we use a normal one.)
    he:     sqrt(2 / n_in) (He, Zhang, Ren & Sun 2015, "Delving Deep into Rectifiers"): ReLU
            zeroes half of its inputs, halving the variance, so the weights make up a factor 2.
    """
    stds = {"zeros": 0.0, "small": 0.01, "large": 1.0,
            "xavier": float(np.sqrt(2.0 / (n_in + n_out))), "he": float(np.sqrt(2.0 / n_in))}
    if scheme not in stds:
        raise ValueError(f"unknown init {scheme!r}; choose one of {sorted(stds)}")
    return stds[scheme]


INIT_SCHEMES = ("zeros", "small", "large", "xavier", "he")


def init_weights(scheme: str, n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    """A weight matrix of shape (n_in, n_out) drawn from N(0, init_std^2)."""
    return rng.normal(0.0, 1.0, size=(n_in, n_out)) * init_std(scheme, n_in, n_out)


class Dense(phase01_mlp.Dense):
    """phase 01's x @ W + b, plus the backward pass (and a choice of initialisation)."""

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator | None = None,
                 init: str = "xavier") -> None:
        rng = np.random.default_rng() if rng is None else rng
        super().__init__(n_in, n_out, rng)  # phase 01's layer: params, grads, shape checks
        # Phase 01's constructor has already drawn W; we replace it with the chosen scheme's.
        # That first draw is wasted work, but it stays: skipping it would shift every later
        # random number, and with them every number quoted from this phase to phase 06.
        self.params["W"] = init_weights(init, n_in, n_out, rng)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Given delta = dL/d(out) (B, n_out): fill dL/dW, dL/db and return dL/dx (B, n_in)."""
        if self.x is None:
            raise RuntimeError("call forward() before backward(): backward needs its input x")
        B = self.x.shape[0]
        if dout.shape != (B, self.n_out):
            raise ValueError(f"{self!r}.backward expects dout of shape ({B}, {self.n_out}), "
                             f"the shape of its output, got {dout.shape}")
        self.grads["W"][...] = self.x.T @ dout  # (n_in, B) @ (B, n_out): summed over the batch
        self.grads["b"][...] = dout.sum(axis=0)  # b was added to every row: its blame adds up
        dL_dx = dout @ self.params["W"].T  # (B, n_out) @ (n_out, n_in)
        assert dL_dx.shape == self.x.shape
        return dL_dx


class Activation(phase01_mlp.Activation):
    """phase 01's elementwise activation, plus backward: dL/dx = dL/d(out) * f'(x)."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.x is None:
            raise RuntimeError("call forward() before backward(): backward needs its input x")
        if dout.shape != self.x.shape:
            raise ValueError(f"{self!r}.backward expects dout of shape {self.x.shape}, "
                             f"got {dout.shape}")
        # Elementwise: each output depends on its own input only, so the chain rule is one
        # product per entry (no matrix needed).
        return dout * self.df(self.x)


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against integer labels, with its backward pass.

    L = (1/B) sum_b -log softmax(z_b)[y_b]. Its gradient is the neatest result of the phase:

        dL/dz = (softmax(z) - onehot(y)) / B

    onehot(y) is the label written as a vector: all zeros except a 1 at the true class, so
    with three classes onehot(0) = (1, 0, 0) and onehot(2) = (0, 0, 1). "Predicted
    probabilities minus the truth": the loss pushes the true class's score up by how much
    probability it was missing, and every other score down by how much it got. The notes
    derive it. Softmax and cross-entropy come from phase 00's probability.py.
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.p: np.ndarray | None = None
        self.y: np.ndarray | None = None

    def forward(self, logits: np.ndarray, y: np.ndarray) -> float:
        if logits.ndim != 2 or y.shape != (logits.shape[0],):
            raise ValueError(f"expected logits (B, C) and labels (B,), got {logits.shape} and "
                             f"{y.shape}")
        self.p = softmax(logits, axis=-1)  # (B, C), kept for backward
        self.y = y
        return cross_entropy_from_logits(logits, y)

    def backward(self, dout: float = 1.0) -> np.ndarray:
        if self.p is None or self.y is None:
            raise RuntimeError("call forward() before backward()")
        B = self.p.shape[0]
        dL_dz = self.p.copy()
        dL_dz[np.arange(B), self.y] -= 1.0  # p - onehot(y)
        return dout * dL_dz / B  # the mean over the batch divides every example's share by B


class SquaredError:
    """L = (1/B) sum_b (1/2) ||y_hat_b - y_b||^2, the loss of chain_rule.py's 2-2-1 example.

    dL/dy_hat = (y_hat - y) / B: the miss itself (the 1/2 cancels the square's 2).
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.diff: np.ndarray | None = None

    def forward(self, y_hat: np.ndarray, y: np.ndarray) -> float:
        if y_hat.shape != y.shape:
            raise ValueError(f"y_hat and y must have the same shape, got {y_hat.shape} and "
                             f"{y.shape}")
        self.diff = y_hat - y
        return float(0.5 * np.sum(self.diff**2) / y_hat.shape[0])

    def backward(self, dout: float = 1.0) -> np.ndarray:
        if self.diff is None:
            raise RuntimeError("call forward() before backward()")
        return dout * self.diff / self.diff.shape[0]


class MLP(phase01_mlp.MLP):
    """phase 01's list of layers, plus backward: the layers' backward passes in reverse.

    A model is a layer made of layers: `params` and `grads` gather every layer's arrays under
    names like "0.W" (layer 0's W). They are the layers' own arrays, not copies, so a change
    made through them (by an optimizer, or the gradient checker's nudges) reaches the layers.
    """

    def backward(self, dout: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)  # each layer hands the blame for its input downwards
        return dout

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in layer.grads.items()}

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W, b) of each Dense layer, in order: what value_mlp.MLP is built from."""
        return [(layer.params["W"], layer.params["b"]) for layer in self.layers
                if isinstance(layer, Dense)]


def build_mlp(sizes: list[int], activation: str, rng: np.random.Generator,
              init: str = "xavier") -> MLP:
    """Dense(sizes[0] -> sizes[1]), activation, ..., Dense(sizes[-2] -> sizes[-1]).

    No activation after the last layer: it outputs logits, and the loss applies softmax.
    Biases start at 0.
    """
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"an MLP needs at least two positive sizes, got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of "
                         f"{sorted(ACTIVATIONS)}")
    layers: list[phase01_mlp.Dense | phase01_mlp.Activation] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(Dense(n_in, n_out, rng, init))
        if i < len(sizes) - 2:
            layers.append(Activation(activation))
    return MLP(layers)


def mlp_from_weights(weights: list[tuple[np.ndarray, np.ndarray]], activation: str) -> MLP:
    """The MLP with exactly these (W, b) per Dense layer (copied), `activation` in between."""
    layers: list[phase01_mlp.Dense | phase01_mlp.Activation] = []
    for i, (W, b) in enumerate(weights):
        layers.append(Dense.from_weights(np.array(W, dtype=np.float64),
                                         np.array(b, dtype=np.float64)))
        if i < len(weights) - 1:
            layers.append(Activation(activation))
    return MLP(layers)


def mlp_memory_bytes(sizes: list[int], rows: int) -> float:
    """A generous estimate of the memory an MLP with these layer sizes needs, in bytes.

    Per parameter: the weight, its gradient, two optimizer arrays (Adam's m and v) and, for
    the largest matrix, phase 01's discarded first draw. Per row of a batch of `rows`: every
    layer's output, the input it keeps for backward, and the blame on the way back. Float64.
    """
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    n_params = sum(n_in * n_out + n_out for n_in, n_out in pairs)
    largest = max(n_in * n_out for n_in, n_out in pairs)
    return 8.0 * (4 * n_params + largest + 4 * rows * sum(sizes))


FIGURE_MAX_CELLS = 1024  # batch x hidden: the figure writes every entry of delta as a number


def plot_backward_shapes(x: np.ndarray, W: np.ndarray, delta: np.ndarray,
                         out_dir: Path | None = None) -> Figure:
    """The two matrix products of a dense layer's backward pass, drawn as coloured grids."""
    rows = [(("x.T", x.T), ("delta", delta), ("dL/dW", x.T @ delta)),
            (("delta", delta), ("W.T", W.T), ("dL/dx", delta @ W.T))]
    fig = Figure(figsize=(10, 7), layout="constrained")
    ax = fig.subplots()
    top, right = 0.0, 0.0  # every cell is a 1 x 1 square: all six matrices share one scale
    for row in rows:
        left = 0.0
        height = max(M.shape[0] for _, M in row)
        for c, (name, M) in enumerate(row):
            n_r, n_c = M.shape
            y0 = top - (height - n_r) / 2  # centre shorter matrices on the row
            limit = np.abs(M).max() or 1.0  # each matrix gets its own colour scale
            ax.imshow(M, cmap="RdBu_r", vmin=-limit, vmax=limit,
                      extent=(left, left + n_c, y0 - n_r, y0))
            for (i, j), v in np.ndenumerate(M):
                ax.text(left + j + 0.5, y0 - i - 0.5, f"{v:.2f}", ha="center", va="center",
                        fontsize=8, color="white" if abs(v) > 0.6 * limit else "black")
            ax.text(left + n_c / 2, y0 + 0.3, f"{name}  {M.shape}", ha="center", fontsize=10)
            if c < 2:
                ax.text(left + n_c + 1.0, top - height / 2, "@" if c == 0 else "=",
                        ha="center", va="center", fontsize=18)
            left += n_c + 2.0
        right = max(right, left - 2.0)
        top -= height + 1.8
    ax.set_xlim(-0.5, right + 0.5)
    ax.set_ylim(top + 1.3, 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    B, n_in = x.shape
    fig.suptitle(f"A dense layer's backward pass for a batch of B = {B}: "
                 f"dL/dW = x.T @ delta sums over the batch;\n"
                 f"dL/dx = delta @ W.T sends the blame back to each input "
                 f"(n_in = {n_in}, n_out = {W.shape[1]})", fontsize=11)
    save_figure(fig, out_dir, "dense_backward_shapes.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.batch * args.hidden > FIGURE_MAX_CELLS:
        parser.error(f"--batch {args.batch} x --hidden {args.hidden} = "
                     f"{args.batch * args.hidden:,} entries of delta, and the figure writes "
                     f"each one out as a number: keep the product at most {FIGURE_MAX_CELLS} "
                     f"(e.g. --batch 16 --hidden 64); the shapes do not need more")
    rng = np.random.default_rng(args.seed)

    print("1. The 2-2-1 network of chain_rule.py, as layers, on a batch of one")
    net = mlp_from_weights([([[0.8, -0.4], [0.3, 0.6]], [0.1, -0.2]),
                            ([[1.2], [-0.7]], [0.05])], "tanh")
    loss = SquaredError()
    L = loss.forward(net.forward(np.array([[0.5, -1.0]])), np.array([[1.0]]))
    net.backward(loss.backward())
    print(f"   L = {L:.4f}")
    for name, g in net.grads.items():
        if g.size:
            print(f"   dL/d[{name}] = {np.round(g, 4).tolist()}")
    print("   the same numbers chain_rule.py computed one product at a time")

    print("\n2. Softmax cross-entropy's gradient on one example: logits [2, 1, 0.1], class 0")
    ce = SoftmaxCrossEntropy()
    L = ce.forward(np.array([[2.0, 1.0, 0.1]]), np.array([0]))
    print(f"   p = softmax(z) = {np.round(ce.p[0], 4).tolist()},  L = -log p[0] = {L:.4f}")
    print(f"   dL/dz = p - onehot(0) = {np.round(ce.backward()[0], 4).tolist()}"
          "   (the true class is pulled up, the others pushed down)")

    sizes = [2, args.hidden, 3]
    print(f"\n3. An MLP {' -> '.join(map(str, sizes))} ({args.activation}, {args.init} init), "
          f"batch of {args.batch}, 3 classes")
    model = build_mlp(sizes, args.activation, rng, args.init)
    x = rng.normal(size=(args.batch, 2))
    y = rng.integers(0, 3, size=args.batch)
    print("   forward:")
    logits = model.forward(x, verbose=True)
    loss_fn = SoftmaxCrossEntropy()
    L = loss_fn.forward(logits, y)
    print(f"   loss = {L:.4f}   (ln 3 = {np.log(3):.4f}: a guess among 3 classes)")
    print("   backward (shapes of the blame flowing down):")
    dout = loss_fn.backward()
    print(f"   dL/dlogits = (softmax - onehot) / B{'':11s}{dout.shape}")
    first = model.layers[0]
    for layer in reversed(model.layers):
        if layer is first:
            delta = dout  # the blame reaching the first Dense layer: the figure draws it
        dx = layer.backward(dout)
        detail = ""
        if isinstance(layer, Dense):
            detail = (f"   dL/dW {layer.grads['W'].shape} = x.T {layer.x.T.shape} @ delta "
                      f"{dout.shape}")
        print(f"   {layer!r:28s}{dout.shape} -> {dx.shape}{detail}")
        dout = dx
    print(f"   every gradient has its parameter's shape: "
          f"{all(model.grads[k].shape == v.shape for k, v in model.params.items())}")
    print("   (gradcheck.py confirms these numbers against finite differences)")

    print("\nFigures")
    plot_backward_shapes(first.x, first.params["W"], delta, args.out)


def add_network_flags(parser: argparse.ArgumentParser, hidden: int, activation: str,
                      depth: int | None = None, activations: tuple[str, ...] | None = None
                      ) -> None:
    """Give a script the flags that shape its MLP: `--hidden` units per hidden layer, `--depth`
    (how many hidden layers; only if `depth` is given), the hidden `--activation` (one of
    `activations`, by default every one phase 01 defines) and the weight `--init`."""
    parser.add_argument("--hidden", type=positive_int, default=hidden,
                        help="units per hidden layer")
    if depth is not None:
        parser.add_argument("--depth", type=positive_int, default=depth,
                            help="number of hidden layers")
    parser.add_argument("--activation", choices=activations or sorted(ACTIVATIONS),
                        default=activation, help="hidden activation")
    parser.add_argument("--init", choices=INIT_SCHEMES, default="xavier",
                        help="weight initialisation")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Dense and activation layers with backward passes.")
    parser.add_argument("--batch", type=positive_int, default=5, help="examples per batch")
    add_network_flags(parser, hidden=4, activation="tanh")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
