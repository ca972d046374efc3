"""A scalar autograd engine: every number remembers how it was made, so blame can flow back.

Phase 01 left us with networks whose weights we had to set by hand. To let gradient descent set
them, we need dL/dw for every weight w: how much the loss L moves when w is nudged. Finite
differences (phase 00) give that at the price of two full forward passes per weight: hopeless
for thousands of weights. This file computes every one of them in a single backward sweep.

The idea, reverse-mode automatic differentiation, is older than deep learning. Seppo
Linnainmaa (1970, master's thesis, "The representation of the cumulative rounding error of an
algorithm as a Taylor expansion of the local rounding errors") showed how to get the derivative
of a whole computation from the local derivative of each elementary step, accumulated from the
output backwards. Paul Werbos (1974, PhD thesis, "Beyond Regression: New Tools for Prediction
and Analysis in the Behavioral Sciences") proposed using it to train networks, and Rumelhart,
Hinton & Williams (1986, "Learning representations by back-propagating errors") made it the
way networks learn. "Backpropagation" is this algorithm applied to a network's loss.

How it works here, in one class:
- A `Value` wraps one float (`data`). Every arithmetic operation returns a new Value that
  remembers its `parents` and, computed right then, the `local_grads`: d(output)/d(parent).
  Each operator's local derivative sits next to its forward rule, so the two are checked
  together when you read them.
- `backward()` visits the nodes from the output back to the inputs (a reverse topological
  order, so a node is finished before its parents hear from it) and applies the chain rule:
  parent.grad += local_grad * node.grad. The `+=` is essential: a value used twice (a * a,
  or a weight feeding many units) collects blame from every use.

Run:  python phase-02-backprop/code/autograd.py --x 1.5 --w -0.8 --b 0.3
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.derivatives import numerical_gradient, relative_error
from phase00.figures import add_out_flag, save_figure
from phase00.flags import finite_float, script_parser

Number = int | float


class Value:
    """One scalar in a computation, plus what is needed to send gradients back through it.

    data:        the number itself (the forward pass).
    grad:        dL/d(this value) once `L.backward()` has run (the backward pass).
    parents:     the Values this one was computed from (empty for inputs and weights).
    local_grads: d(this)/d(parent) for each parent, in the same order, fixed at forward time.
    """

    # __slots__: thousands of Values are made per training step; no per-object dict is faster.
    __slots__ = ("data", "grad", "parents", "local_grads", "op", "label")

    def __init__(self, data: Number, parents: tuple[Value, ...] = (),
                 local_grads: tuple[float, ...] = (), op: str = "", label: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0
        self.parents = parents
        self.local_grads = local_grads
        self.op = op  # which operation made it, for printing and drawing
        self.label = label  # an optional name, for printing and drawing

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"

    # ---- the operators: forward rule, and right beside it the local derivative(s) ----

    def __add__(self, other: Value | Number) -> Value:
        other = as_value(other)
        # a + b:  d/da = 1, d/db = 1  (a sum passes blame through unchanged)
        return Value(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __sub__(self, other: Value | Number) -> Value:
        other = as_value(other)
        # a - b:  d/da = 1, d/db = -1
        return Value(self.data - other.data, (self, other), (1.0, -1.0), "-")

    def __mul__(self, other: Value | Number) -> Value:
        other = as_value(other)
        # a * b:  d/da = b, d/db = a  (each factor's blame is scaled by the other factor)
        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __truediv__(self, other: Value | Number) -> Value:
        other = as_value(other)
        # a / b:  d/da = 1/b, d/db = -a/b^2
        return Value(self.data / other.data, (self, other),
                     (1.0 / other.data, -self.data / other.data**2), "/")

    def __pow__(self, k: Number) -> Value:
        if isinstance(k, Value):
            raise TypeError("the exponent must be a plain number; for a Value exponent b "
                            "write (b * a.log()).exp(), which is a**b for a > 0")
        # a ** k:  d/da = k a^(k-1)   (k is a constant, so it gets no gradient)
        return Value(self.data**k, (self,), (k * self.data ** (k - 1),), f"**{k:g}")

    def __neg__(self) -> Value:
        # -a:  d/da = -1
        return Value(-self.data, (self,), (-1.0,), "neg")

    def exp(self) -> Value:
        e = math.exp(self.data)
        # e^a:  d/da = e^a  (the one function that is its own slope)
        return Value(e, (self,), (e,), "exp")

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log needs a positive number, got {self.data}")
        # ln a:  d/da = 1/a
        return Value(math.log(self.data), (self,), (1.0 / self.data,), "log")

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        # tanh a:  d/da = 1 - tanh(a)^2  (the output already holds what the slope needs)
        return Value(t, (self,), (1.0 - t * t,), "tanh")

    def relu(self) -> Value:
        # max(0, a):  d/da = 1 where a > 0, else 0 (at exactly 0 we pick 0, as PyTorch does)
        return Value(max(0.0, self.data), (self,), (1.0 if self.data > 0 else 0.0,), "relu")

    # ---- reversed operators: 2 * v, 1 - v, 3 / v, 1 + v call these on v ----

    def __radd__(self, other: Number) -> Value:
        return as_value(other) + self

    def __rsub__(self, other: Number) -> Value:
        return as_value(other) - self

    def __rmul__(self, other: Number) -> Value:
        return as_value(other) * self

    def __rtruediv__(self, other: Number) -> Value:
        return as_value(other) / self

    # ---- the backward pass ----

    def topological_order(self) -> list[Value]:
        """Every node this one depends on, each listed after all of its parents.

        A depth-first walk that appends a node once all its parents are appended. It uses an
        explicit stack, not recursion: a loss summed over many examples is a chain thousands
        of nodes long, deeper than Python's recursion limit.
        """
        order: list[Value] = []
        visited: set[Value] = set()  # Values hash by identity: we never define __eq__
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
                continue
            if node in visited:
                continue
            visited.add(node)
            stack.append((node, True))  # comes back after every parent has been handled
            # reversed: the first parent is popped, so listed, first
            stack.extend((p, False) for p in reversed(node.parents) if p not in visited)
        return order

    def backward(self) -> None:
        """Fill `.grad` of every node in the graph with d(self)/d(node).

        The sweep is the chain rule run backwards: when we reach a node, every path from it
        to the output has already deposited its share of blame in node.grad, so the node can
        pass on node.grad times its local derivatives to its parents.

        Every grad in the graph is reset first, so calling backward twice gives the same
        answer. (PyTorch instead adds into the inputs' .grad until you zero them: phase 06.)
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0  # dL/dL: nudging the output by 1 moves it by 1
        for node in reversed(order):
            for parent, local in zip(node.parents, node.local_grads, strict=True):
                parent.grad += local * node.grad  # += : a node used twice gets blame twice


def as_value(x: Value | Number) -> Value:
    """Wrap a plain number as a constant Value (no parents); pass Values through."""
    return x if isinstance(x, Value) else Value(x)


def neuron_with_loss(x: float, w: float, b: float,
                     y: float) -> tuple[Value, dict[str, Value]]:
    """The graph of the demo: one tanh neuron and its squared error.

    L = (tanh(w * x + b) - y)^2. Returns L and every named node, for printing and drawing.
    """
    nodes = {"x": Value(x, label="x"), "w": Value(w, label="w"), "b": Value(b, label="b"),
             "y": Value(y, label="y")}
    nodes["w*x"] = nodes["w"] * nodes["x"]
    nodes["z"] = nodes["w*x"] + nodes["b"]
    nodes["h"] = nodes["z"].tanh()
    nodes["h-y"] = nodes["h"] - nodes["y"]
    nodes["L"] = nodes["h-y"] ** 2
    for name, node in nodes.items():
        node.label = name
    return nodes["L"], nodes


def graph_layout(root: Value) -> dict[Value, tuple[float, float]]:
    """(column, row) for each node: column = longest path from an input, rows spread evenly.

    An input sits one column before the first node that uses it, so a late constant (the
    target y, say) does not send a long arrow across the picture. Within a column nodes are
    sorted by the mean row of their parents, which keeps arrows from crossing in small graphs.
    """
    order = root.topological_order()
    depth: dict[Value, int] = {}
    for node in order:
        depth[node] = 1 + max((depth[p] for p in node.parents), default=-1)
    users: dict[Value, list[Value]] = {node: [] for node in order}
    for node in order:
        for p in node.parents:
            users[p].append(node)
    for node in order:  # an input moves right, next to its first user
        if not node.parents and users[node]:
            depth[node] = min(depth[u] for u in users[node]) - 1
    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(depth[node], []).append(node)
    position: dict[Value, tuple[float, float]] = {}
    for col in sorted(columns):
        inner = [n for n in columns[col] if n.parents]
        inner.sort(key=lambda n: float(np.mean([position[p][1] for p in n.parents])))
        nodes = inner + [n for n in columns[col] if not n.parents]
        for i, node in enumerate(nodes):
            position[node] = (float(col), (len(nodes) - 1) / 2 - i)
    return position


def draw_graph(root: Value, title: str, out_dir: Path | None = None,
               name: str = "computation_graph.png") -> Figure:
    """Draw the graph under `root`: each node's value (black) and gradient (red).

    Boxes are Values; a circle in front of a box is the operation that made it. Arrows point
    the way the forward pass runs; gradients travel them in reverse.
    """
    position = graph_layout(root)
    cols = [c for c, _ in position.values()]
    n_cols = 1 + int(max(cols))
    n_rows = max(cols.count(c) for c in set(cols))
    dx, dy = 3.0, 1.3  # spacing between columns and rows, in data units
    fig = Figure(figsize=(1.75 * n_cols + 0.4, 0.95 * n_rows + 1.0), layout="constrained")
    ax = fig.subplots()
    for node, (col, row) in position.items():
        x, y = col * dx, row * dy
        for parent in node.parents:
            px, py = position[parent][0] * dx, position[parent][1] * dy
            ax.annotate("", xy=(x - 1.2, y + 0.12), xytext=(px + 0.75, py + 0.12),
                        arrowprops={"arrowstyle": "->", "color": "0.45", "lw": 1.0})
        if node.parents:
            # the operation, joined to the box it makes (the box is drawn on top of the line)
            ax.plot([x - 1.0, x], [y + 0.12, y + 0.12], color="0.45", lw=1.0, zorder=1)
            ax.text(x - 1.0, y + 0.12, node.op, ha="center", va="center", fontsize=7.5,
                    zorder=3, bbox={"boxstyle": "circle,pad=0.3", "facecolor": "white",
                                    "edgecolor": "0.3"})
        colour = ("#ffd8a8" if node is root else "#d0ebff" if not node.parents
                  else "#e9ecef")
        ax.text(x, y + 0.12, f"{node.label or node.op} = {node.data:.4f}", ha="center",
                va="center", fontsize=8, zorder=3,
                bbox={"boxstyle": "round,pad=0.4", "facecolor": colour, "edgecolor": "0.4"})
        ax.text(x, y - 0.25, f"grad {node.grad:+.4f}", ha="center", va="center", fontsize=8,
                color="tab:red")
    ax.set_xlim(-0.9, (n_cols - 1) * dx + 0.9)
    ax.set_ylim(-(n_rows / 2) * dy, (n_rows / 2) * dy)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    save_figure(fig, out_dir, name)
    return fig


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)

    print("1. Forward: build L = (tanh(w*x + b) - y)^2, one Value per step")
    L, nodes = neuron_with_loss(args.x, args.w, args.b, args.y)
    for node in L.topological_order():
        made_from = " ".join(p.label for p in node.parents)
        how = f"= {node.op}({made_from})" if node.parents else "(input)"
        local = ", ".join(f"{g:+.4f}" for g in node.local_grads)
        print(f"   {node.label:4s} = {node.data:+.4f}   {how:16s}"
              + (f"  local derivatives [{local}]" if node.parents else ""))

    print("\n2. Backward: L.backward() multiplies local derivatives from the output back")
    L.backward()
    for node in reversed(L.topological_order()):
        print(f"   dL/d{node.label:4s} = {node.grad:+.6f}")

    print("\n3. Check against central differences (phase 00)")
    inputs = ["x", "w", "b", "y"]

    def loss_of(v: np.ndarray) -> float:
        return neuron_with_loss(*v)[0].data

    point = np.array([args.x, args.w, args.b, args.y])
    numeric = numerical_gradient(loss_of, point)
    engine = np.array([nodes[k].grad for k in inputs])
    for k, e, n in zip(inputs, engine, numeric, strict=True):
        print(f"   dL/d{k}: engine {e:+.8f}   finite difference {n:+.8f}")
    print(f"   relative error {relative_error(engine, numeric):.1e}   (phase 00's relative_error: "
          f"the worst entry's |a - n| / (|a| + |n|))")

    print("\n4. A value used twice collects blame from both uses")
    a = Value(3.0, label="a")
    (a * a).backward()
    print(f"   d(a*a)/da at a = 3: {a.grad}   (2a = 6: two paths, 3 + 3)")
    (a + a).backward()
    print(f"   d(a+a)/da:          {a.grad}   (1 + 1)")
    b = 2 * a
    c = 1 - a
    (b * c).backward()
    print(f"   d[(2a)(1-a)]/da:    {a.grad}   (2 - 4a = -10: reversed operators work too)")

    print("\nFigures")
    L, _ = neuron_with_loss(args.x, args.w, args.b, args.y)
    L.backward()
    draw_graph(L, "L = (tanh(w*x + b) - y)^2: values forward, gradients (red) backward",
               args.out)


NEURON_LIMIT = 1000.0  # the largest |x|, |w|, |b|, |y| the one-neuron demo accepts


def neuron_number(text: str) -> float:
    """A number for the one-neuron demo, between -NEURON_LIMIT and NEURON_LIMIT.

    tanh(w*x + b) is flat to every printed digit long before |w*x| reaches 1000, so larger
    inputs teach nothing more; they only make numbers hundreds of digits long (a derivative of
    w*x is x or w), overflow a square (y = 1e200) or turn w*x into inf.
    """
    value = finite_float(text)
    if abs(value) > NEURON_LIMIT:
        raise argparse.ArgumentTypeError(
            f"expected a number between -{NEURON_LIMIT:g} and {NEURON_LIMIT:g}, got {text!r} "
            f"(tanh is flat long before that; larger values overflow the squared error)")
    return value


def add_neuron_flags(parser: argparse.ArgumentParser) -> None:
    """Give a script the four numbers of the one-neuron example, L = (tanh(w*x + b) - y)^2:
    `--x`, `--w`, `--b` and `--y`, so every engine can be checked at the same point."""
    for name, default, meaning in (("x", 1.5, "input"), ("w", -0.8, "weight"),
                                   ("b", 0.3, "bias"), ("y", 0.5, "target")):
        parser.add_argument(f"--{name}", type=neuron_number, default=default,
                            help=f'{meaning}, between -{NEURON_LIMIT:g} and {NEURON_LIMIT:g}')


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("A scalar autograd engine, demonstrated on one neuron.")
    add_neuron_flags(parser)
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
