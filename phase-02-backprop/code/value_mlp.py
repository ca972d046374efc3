"""A neural network built from Value objects, trained by the autograd engine on a toy set.

This is the moment the pieces of phases 01 and 02 meet. A Neuron is phase 01's weighted sum
and activation, but its weights are Values, so every multiplication it performs is recorded.
A Layer is a list of Neurons; an MLP is a list of Layers. The loss over the whole data set is
one final Value, and one call to loss.backward() fills the .grad of every weight: the blame
each knob on the mixing board deserves for the mistakes. Gradient descent then turns each
knob a little against its blame, and we repeat.

Nothing here knows calculus. The network is just arithmetic; the engine does the chain rule.
The price is speed: every scalar is a Python object, so one epoch on 100 points builds and
walks tens of thousands of nodes. Section 4 of the printout trains the very same network with
matrices (mlp_numpy.py) from the very same weights, gets the same losses, and is hundreds of
times faster: the reason the rest of the course uses matrices, and PyTorch from phase 06.

Run:  python phase-02-backprop/code/value_mlp.py --activation tanh --lr 2
"""

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from phase00.figures import add_seed_and_out_flags
from phase00.flags import check_fits_in_memory, script_parser
from phase00.gradient_descent import check_loss
from phase00.linear_regression import add_descent_flags
from phase00.probability import softmax
from phase02.autograd import Value
from phase02.layers import add_network_flags
from phase02.mlp_numpy import loss_ceiling, make_problem
from phase02.mlp_numpy import train as train_numpy
from phase02.toy_data import add_toy_data_flags, plot_decision_boundary

VALUE_ACTIVATIONS = ("tanh", "relu")  # the nonlinearities the Value engine has


class Neuron:
    """One unit: activation(w . x + b), where w and b are Values the engine can blame."""

    def __init__(self, w: Sequence[float], b: float, activation: str) -> None:
        if activation not in (*VALUE_ACTIVATIONS, "linear"):
            raise ValueError(f"unknown activation {activation!r}; choose one of "
                             f"{[*VALUE_ACTIVATIONS, 'linear']}")
        self.w = [Value(wi, label="w") for wi in w]
        self.b = Value(b, label="b")
        self.activation = activation

    def __call__(self, x: Sequence[Value | float]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"this neuron has {len(self.w)} weights but got {len(x)} inputs")
        z = self.b
        for wi, xi in zip(self.w, x, strict=True):  # the loop IS the weighted sum, one term
            z = z + wi * xi  # per input, each term a node the engine can trace back
        if self.activation == "tanh":
            return z.tanh()
        if self.activation == "relu":
            return z.relu()
        return z  # "linear": the output layer hands raw scores (logits) to the loss

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]


class Layer:
    """n_out neurons reading the same inputs. W (n_in, n_out): column j is neuron j's weights."""

    def __init__(self, W: np.ndarray, b: np.ndarray, activation: str) -> None:
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"need W (n_in, n_out) and b (n_out,), got {W.shape} and "
                             f"{b.shape}")
        self.neurons = [Neuron(W[:, j], float(b[j]), activation) for j in range(W.shape[1])]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        return [neuron(x) for neuron in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for neuron in self.neurons for p in neuron.parameters()]


class MLP:
    """Layers one after another; `activation` between them, none after the last (logits).

    Built from a list of (W, b) arrays, the format layers.MLP.weights() returns, so this net
    and the vectorised one can start from identical weights.
    """

    def __init__(self, weights: Sequence[tuple[np.ndarray, np.ndarray]],
                 activation: str) -> None:
        n = len(weights)
        self.layers = [Layer(np.asarray(W), np.asarray(b), activation if i < n - 1 else "linear")
                       for i, (W, b) in enumerate(weights)]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        h: Sequence[Value | float] = x
        for layer in self.layers:
            h = layer(h)
        return list(h)

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The current (W, b) of every layer as arrays, in layers.py's shapes."""
        return [(np.array([[n.w[i].data for n in layer.neurons]
                           for i in range(len(layer.neurons[0].w))]),
                 np.array([n.b.data for n in layer.neurons])) for layer in self.layers]

    def gradients(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """dL/dW and dL/db of every layer as arrays, after loss.backward()."""
        return [(np.array([[n.w[i].grad for n in layer.neurons]
                           for i in range(len(layer.neurons[0].w))]),
                 np.array([n.b.grad for n in layer.neurons])) for layer in self.layers]


def cross_entropy(logits: Sequence[Value], target: int) -> Value:
    """-log softmax(logits)[target] = log(sum_k e^(z_k)) - z_target, built from Values.

    Subtracting m = max(z) first keeps e^z from overflowing (phase 00's trick). m is a plain
    number, a constant to the engine, and that is fine: log-sum-exp(z - m) + m is the same
    function of z for any constant m, so it has the same gradient.
    """
    m = max(z.data for z in logits)
    log_sum_exp = sum((z - m).exp() for z in logits).log() + m
    return log_sum_exp - logits[target]


def loss_and_accuracy(model: MLP, X: np.ndarray, y: np.ndarray) -> tuple[Value, float]:
    """Mean cross-entropy over all points (one Value, the root of a big graph) and accuracy."""
    total: Value | float = 0.0
    correct = 0
    for x_i, y_i in zip(X, y, strict=True):
        logits = model([float(v) for v in x_i])
        total = total + cross_entropy(logits, int(y_i))
        correct += int(np.argmax([z.data for z in logits]) == y_i)
    assert isinstance(total, Value)
    return total / len(X), correct / len(X)


def predict_proba(model: MLP, X: np.ndarray) -> np.ndarray:
    """softmax of the logits for each row of X: (N, C). Forward only, no backward needed."""
    logits = np.array([[z.data for z in model([float(v) for v in x_i])] for x_i in X])
    return softmax(logits, axis=-1)


def train(model: MLP, X: np.ndarray, y: np.ndarray, lr: float, epochs: int,
          verbose: bool = True, ceiling: float | None = None) -> dict[str, Any]:
    """Full-batch gradient descent: build the loss, backward, step every parameter, repeat.

    losses[k] is the loss before epoch k's step (losses[-1]: after the last step), the same
    bookkeeping as mlp_numpy.train, so the two can be compared number for number. With a
    `ceiling`, a loss above it (or not a number) stops the run with FloatingPointError.
    """
    params = model.parameters()
    losses, accuracies, nodes = [], [], 0
    start = time.perf_counter()
    for epoch in range(epochs + 1):
        loss, acc = loss_and_accuracy(model, X, y)
        losses.append(loss.data)
        accuracies.append(acc)
        if ceiling is not None:
            check_loss(loss.data, f"at epoch {epoch}", lr, ceiling)
        if verbose and (epoch % max(1, epochs // 10) == 0 or epoch == epochs):
            print(f"   epoch {epoch:4d}   loss {loss.data:.4f}   accuracy {acc:6.1%}   "
                  f"({time.perf_counter() - start:5.1f} s)")
        if epoch == epochs:
            break
        loss.backward()
        if epoch == 0:
            nodes = len(loss.topological_order())
        for p in params:
            p.data -= lr * p.grad  # one step downhill, each knob against its own blame
    return {"losses": losses, "accuracies": accuracies, "nodes": nodes,
            "seconds": time.perf_counter() - start}


def nodes_per_epoch(sizes: Sequence[int], n_samples: int) -> int:
    """How many Values one epoch's loss graph holds, counted the way this file builds them.

    Per example: every (input, neuron) pair of a layer makes a product and a sum (the first
    layer also wraps each plain-float input in a constant Value), every hidden neuron its
    activation, and the cross-entropy of C logits 4C + 5 nodes. The parameters are shared by
    all examples; adding up n_samples losses and dividing by n_samples adds n_samples + 3.
    For the defaults (2-8-8-2, 100 points) that is 23,917, what train() counts.
    """
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    per_example = 4 * sizes[-1] + 5
    for i, (n_in, n_out) in enumerate(pairs):
        per_example += n_in * n_out * (3 if i == 0 else 2) + (n_out if i < len(pairs) - 1 else 0)
    n_params = sum(n_in * n_out + n_out for n_in, n_out in pairs)
    return n_samples * per_example + n_params + n_samples + 3


def seconds_per_node() -> float:
    """How long this machine takes per Value to build a loss and run backward() (measured)."""
    rng = np.random.default_rng(0)
    sizes = [2, 8, 8, 2]
    model = MLP([(rng.normal(size=(n_in, n_out)), np.zeros(n_out))
                 for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)], "relu")
    X, y = rng.normal(size=(10, 2)), np.arange(10) % 2
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        loss, _ = loss_and_accuracy(model, X, y)
        loss.backward()
        best = min(best, time.perf_counter() - start)
    return best / nodes_per_epoch(sizes, len(X))


BYTES_PER_NODE = 300  # a Value with its tuples of parents and local derivatives, and its
#                       place in backward()'s topological order (measured: about 180 + 100)
MAX_SECONDS = 600.0  # refuse a run this machine would need more than ten minutes for


def check_size(sizes: Sequence[int], n_samples: int, epochs: int) -> None:
    """Refuse, before building anything, a run too big for the Value engine (ValueError).

    Every number is a Python object: --hidden 300 means 18 million of them per epoch. The
    estimate counts the nodes of every epoch, plus the decision-boundary plot (a forward
    pass for each of 60 x 60 points), and times them on this machine.
    """
    nodes = nodes_per_epoch(sizes, n_samples)
    check_fits_in_memory(nodes * BYTES_PER_NODE, f"{nodes:,} Values per epoch")
    plot_nodes = nodes_per_epoch(sizes, 60 * 60) // 2  # forward only: about half the work
    seconds = ((epochs + 1) * nodes + plot_nodes) * seconds_per_node()
    if seconds > MAX_SECONDS:
        raise ValueError(f"this run builds {nodes:,} Values per epoch, one Python object per "
                         f"number, and would take about {seconds / 60:,.0f} minutes here; "
                         f"mlp_numpy.py trains the same network with matrices, hundreds of "
                         f"times faster")


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.lr <= 0 or args.epochs < 0 or args.n_samples < 2:
        parser.error("need --lr > 0, --epochs >= 0 and --n-samples >= 2")
    try:
        check_size([2] + [args.hidden] * args.depth + [2], args.n_samples, args.epochs)
    except ValueError as err:
        parser.error(str(err))

    setup = {k: getattr(args, k) for k in ("dataset", "n_samples", "noise", "hidden", "depth",
                                           "activation", "init", "seed")}
    X, y, reference = make_problem(**setup)
    model = MLP(reference.weights(), args.activation)
    shape = " -> ".join(str(len(layer.neurons)) for layer in model.layers)
    print(f"1. An MLP of Values, 2 -> {shape}, {len(model.parameters())} parameters "
          f"(each a Value); data {args.dataset}, X {X.shape}")

    print("\n2. One forward pass, one example")
    logits = model([float(v) for v in X[0]])
    loss = cross_entropy(logits, int(y[0]))
    print(f"   x = {np.round(X[0], 3).tolist()}, class {y[0]}: logits "
          f"{[round(z.data, 4) for z in logits]}, loss {loss.data:.4f}")
    print(f"   the graph behind this one loss has {len(loss.topological_order())} nodes")
    loss.backward()
    params = model.parameters()
    blamed = [p for p in params if p.grad != 0.0]
    top = max(params, key=lambda p: abs(p.grad))
    print(f"   after loss.backward(): {len(blamed)} of {len(params)} parameters got a share of "
          f"the blame;\n   the largest: a {'bias' if top.label == 'b' else 'weight'} = "
          f"{top.data:+.4f} with grad "
          f"{top.grad:+.4f}")
    if args.activation == "relu":
        print("   (a ReLU unit that was off for this x passes no blame to the weights behind it)")

    print(f"\n3. Training: full-batch gradient descent, lr {args.lr:g}, {args.epochs} epochs")
    try:
        history = train(model, X, y, args.lr, args.epochs, ceiling=loss_ceiling(int(y.max()) + 1))
    except FloatingPointError as err:
        parser.exit(1, f"error: {err}\n")
    per_epoch = history["seconds"] / max(args.epochs, 1)
    print(f"   final accuracy {history['accuracies'][-1]:.1%}; {history['nodes']} nodes per "
          f"epoch; {history['seconds']:.1f} s in all ({per_epoch * 1e3:.0f} ms per epoch)")

    print("\n4. The same network with matrices (mlp_numpy.py), from the same weights")
    numpy_run = train_numpy(**setup, optimizer="sgd", lr=args.lr, epochs=args.epochs,
                            verbose=False)
    gap = np.abs(np.array(history["losses"]) - np.array(numpy_run["losses"])).max()
    numpy_per_epoch = numpy_run["seconds"] / max(args.epochs, 1)
    print(f"   largest loss difference over all {args.epochs + 1} epochs: {gap:.1e}")
    print(f"   NumPy: {numpy_run['seconds']:.3f} s ({numpy_per_epoch * 1e3:.2f} ms per epoch), "
          f"{per_epoch / max(numpy_per_epoch, 1e-12):.0f}x faster than the Value engine")

    print("\nFigures")
    plot_decision_boundary(lambda P: predict_proba(model, P), X, y,
                           f"Value-engine MLP 2 -> {shape} ({args.activation}) on "
                           f"{args.dataset}\ngradient descent, lr {args.lr:g}, "
                           f"{args.epochs} epochs", "value_mlp_boundary.png", args.out,
                           resolution=60)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Train an MLP made of Value objects.")
    add_toy_data_flags(parser, n_samples=100)
    add_network_flags(parser, hidden=8, activation="relu", depth=2, activations=VALUE_ACTIVATIONS)
    add_descent_flags(parser, lr=1.0, epochs=100)
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
