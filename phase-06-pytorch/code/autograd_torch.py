"""PyTorch's autograd is phase 02's Value engine, grown up: same idea, same numbers.

In phase 02 every `Value` remembered its parents and its local derivatives, and `backward()`
walked the graph in reverse topological order, adding `local * grad` into each parent. PyTorch
does exactly that for tensors. A tensor made with `requires_grad=True` is a leaf the graph
starts from (a weight, a knob of the mixing board); every operation on it records a node, its
`grad_fn` (MulBackward0, TanhBackward0, ...), which knows the local derivative of that
operation; `loss.backward()` walks those nodes from the loss back to the leaves and leaves each
leaf's dL/d(leaf) in its `.grad`.

The idea is old. Reverse-mode differentiation is Linnainmaa's (1970, "The representation of the
cumulative rounding error of an algorithm as a Taylor expansion of the local rounding errors");
Griewank (1989, "On Automatic Differentiation"; with Walther, 2008, "Evaluating Derivatives")
turned it into a discipline. For networks, Theano (Bergstra et al. 2010, "Theano: a CPU and GPU
Math Compiler in Python") built the whole graph first and then compiled it ("define and run").
Chainer (Tokui, Oono, Hido & Clayton 2015, "Chainer: a Next-Generation Open Source Framework
for Deep Learning") recorded the graph while ordinary Python ran ("define by run"), so loops
and ifs just work: that is our Value engine's way, and PyTorch's (Paszke et al. 2017,
"Automatic differentiation in PyTorch"; 2019, "PyTorch: An Imperative Style,
High-Performance Deep Learning Library").

One difference matters in every training loop. `Value.backward()` resets every grad first, so
calling it twice gives the same answer. PyTorch ADDS into `.grad`: a second backward doubles it.
That is on purpose (phase 08 sums the gradients of several small batches before one optimizer
step, "gradient accumulation"), and it is why every PyTorch loop calls `optimizer.zero_grad()`.

Run:  python phase-06-pytorch/code/autograd_torch.py --x 1.5 --w -0.8 --b 0.3 --y 0.5
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import script_parser
from phase02.autograd import Value, add_neuron_flags, neuron_with_loss
from phase06.device import limit_cpu_threads

LEAVES = ("x", "w", "b", "y")


def torch_neuron_with_loss(x: float, w: float, b: float,
                           y: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """phase 02's demo, L = (tanh(w * x + b) - y)^2, written with float64 tensors.

    Every input is a leaf that requires a gradient, so that, like the Value engine, PyTorch
    reports dL/dx and dL/dy too (a real model would ask only for its weights').
    """
    leaves = {name: torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for name, v in zip(LEAVES, (x, w, b, y), strict=True)}
    z = leaves["w"] * leaves["x"] + leaves["b"]
    L = (torch.tanh(z) - leaves["y"]) ** 2
    return L, leaves


def mixed_expression_value(a: Value, b: Value) -> Value:
    """An expression using every operator of the Value engine: + - * / ** exp log tanh relu."""
    u = (a * b + b**3).tanh()
    v = (1 + u).log() / (a.exp() + 2)
    return v - (a - b).relu() * 0.5


def mixed_expression_torch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The same expression, line for line, with torch operations."""
    u = torch.tanh(a * b + b**3)
    v = torch.log(1 + u) / (torch.exp(a) + 2)
    return v - torch.relu(a - b) * 0.5


def mixed_expression_both(a0: float, b0: float
                          ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """f(a0, b0), df/da and df/db of the expression, once by the Value engine and once by
    PyTorch in float64: ((f, df/da, df/db) by Value, the same three by torch)."""
    a_v, b_v = Value(a0), Value(b0)
    out_v = mixed_expression_value(a_v, b_v)
    out_v.backward()
    a_t = torch.tensor(a0, dtype=torch.float64, requires_grad=True)
    b_t = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    out_t = mixed_expression_torch(a_t, b_t)
    out_t.backward()
    return (out_v.data, a_v.grad, b_v.grad), (out_t.item(), a_t.grad.item(), b_t.grad.item())


def graph_of(root: torch.Tensor,
             names: dict[int, str]) -> list[tuple[str, int, list[int]]]:
    """The nodes PyTorch recorded under `root`, as (label, depth, indices of the nodes it feeds).

    Walks root.grad_fn and each node's `next_functions` (the nodes of its inputs), the same
    graph the Value engine kept in `parents`. A leaf appears as an AccumulateGrad node (the
    step that adds into `.grad`); `names` maps id(leaf tensor) to a label for it.
    depth is the longest path from the root, so the loss is at depth 0.
    """
    nodes: list[tuple[str, int, list[int]]] = []
    index: dict[object, int] = {}
    stack = [(root.grad_fn, 0, -1)]
    while stack:
        fn, depth, child = stack.pop()
        if fn in index:  # seen: keep the longest path, add this edge
            i = index[fn]
            label, old_depth, feeds = nodes[i]
            nodes[i] = (label, max(old_depth, depth), feeds + [child])
        else:
            label = type(fn).__name__
            if hasattr(fn, "variable"):  # an AccumulateGrad node holds its leaf tensor
                leaf = fn.variable
                label = f"{names.get(id(leaf), '?')}.grad +="
                if leaf.grad is not None and leaf.grad.numel() == 1:
                    label += f" {leaf.grad.item():+.4f}"
            index[fn] = len(nodes)
            nodes.append((label, depth, [] if child < 0 else [child]))
        for parent, _ in fn.next_functions:
            if parent is not None:
                stack.append((parent, depth + 1, index[fn]))
    return nodes


def plot_graphs(value_root: Value, torch_root: torch.Tensor, names: dict[int, str],
                out_dir: Path | None = None) -> Figure:
    """Top: phase 02's Value graph (op and grad per node). Bottom: PyTorch's grad_fn graph."""
    fig = Figure(figsize=(11, 5.6), layout="constrained")
    ax_v, ax_t = fig.subplots(2, 1)
    # Value graph: columns by depth from the inputs, as in phase 02's picture.
    order = value_root.topological_order()
    depth: dict[Value, int] = {}
    for node in order:
        depth[node] = 1 + max((depth[p] for p in node.parents), default=-1)
    rows: dict[int, int] = {}
    pos: dict[Value, tuple[float, float]] = {}
    for node in order:
        col = depth[node]
        pos[node] = (col, -rows.get(col, 0))
        rows[col] = rows.get(col, 0) + 1
    for node, (cx, cy) in pos.items():
        for p in node.parents:
            ax_v.annotate("", xy=(cx - 0.32, cy), xytext=(pos[p][0] + 0.32, pos[p][1]),
                          arrowprops={"arrowstyle": "->", "color": "0.5"})
        text = f"{node.label or node.op}\n{node.data:+.4f}\ngrad {node.grad:+.4f}"
        ax_v.text(cx, cy, text, ha="center", va="center", fontsize=8,
                  bbox={"boxstyle": "round,pad=0.3", "edgecolor": "0.4",
                        "facecolor": "#d0ebff" if not node.parents else "#e9ecef"})
    ax_v.set_xlim(-0.6, max(c for c, _ in pos.values()) + 0.6)
    ax_v.set_ylim(min(r for _, r in pos.values()) - 0.7, 0.7)
    ax_v.axis("off")
    ax_v.set_title("phase 02: the Value engine's graph (value and gradient in each node)",
                   fontsize=10)
    # PyTorch graph: the loss on the right, the leaves (AccumulateGrad) in the first column,
    # as the inputs are in the Value graph above.
    nodes = graph_of(torch_root, names)
    max_depth = max(d for _, d, _ in nodes)
    order = list(names.values())  # leaves stacked in this order, top to bottom
    count: dict[int, int] = {}
    tpos = []
    for label, d, _ in nodes:
        if ".grad +=" in label:
            tpos.append((0, -order.index(label.split(".grad")[0])))
            continue
        col = max_depth - d + 1
        tpos.append((col, -count.get(col, 0)))
        count[col] = count.get(col, 0) + 1
    for i, (label, _, feeds) in enumerate(nodes):
        cx, cy = tpos[i]
        for j in feeds:
            ax_t.annotate("", xy=(tpos[j][0] - 0.38, tpos[j][1]), xytext=(cx + 0.38, cy),
                          arrowprops={"arrowstyle": "->", "color": "0.5"})
        leaf = ".grad +=" in label
        ax_t.text(cx, cy, label, ha="center", va="center", fontsize=8,
                  bbox={"boxstyle": "round,pad=0.3", "edgecolor": "0.4",
                        "facecolor": "#d0ebff" if leaf else "#ffe8cc"})
    ax_t.set_xlim(-0.6, max(c for c, _ in tpos) + 0.6)
    ax_t.set_ylim(min(r for _, r in tpos) - 0.7, 0.7)
    ax_t.axis("off")
    ax_t.set_title("PyTorch: the grad_fn nodes recorded by the same formula; loss.backward() "
                   "walks them right to left\nand each leaf's AccumulateGrad ADDS into .grad",
                   fontsize=10)
    save_figure(fig, out_dir, "autograd_graphs.png")
    return fig


def accumulation_demo(x: float, w: float, b: float, y: float) -> dict[str, float]:
    """dL/dw after one backward, after a second one, and after zeroing: Value and PyTorch."""
    L_v, nodes = neuron_with_loss(x, w, b, y)
    L_v.backward()
    value_once = nodes["w"].grad
    L_v.backward()  # the engine resets every grad first: same answer
    value_twice = nodes["w"].grad
    L_t, leaves = torch_neuron_with_loss(x, w, b, y)
    L_t.backward(retain_graph=True)  # keep the graph: we walk it again
    torch_once = leaves["w"].grad.item()
    L_t.backward(retain_graph=True)  # PyTorch adds into .grad: now twice the gradient
    torch_twice = leaves["w"].grad.item()
    leaves["w"].grad = None  # what optimizer.zero_grad() does (set_to_none=True)
    L_t.backward()
    return {"value_once": value_once, "value_twice": value_twice, "torch_once": torch_once,
            "torch_twice": torch_twice, "torch_after_zero": leaves["w"].grad.item()}


def split_batch_gradients(seed: int = 0, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Why accumulation is useful: the gradient of a mean loss over n examples, computed once
    on all of them, and by two backward passes on halves (each loss halved) added into .grad.
    Returns (full-batch gradient, accumulated gradient) of a linear model's weights."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, generator=g, dtype=torch.float64)
    t = torch.randn(n, generator=g, dtype=torch.float64)
    W = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    ((X @ W - t) ** 2).mean().backward()
    full = W.grad.clone()
    W.grad = None
    for half in (slice(0, n // 2), slice(n // 2, n)):
        loss = ((X[half] @ W - t[half]) ** 2).mean() / 2  # each half is half of the batch
        loss.backward()  # adds into W.grad
    return full.numpy(), W.grad.numpy()


def gradient_step(w: torch.Tensor, lr: float) -> torch.Tensor:
    """One step of gradient descent written by hand: w - lr * dL/dw, with the dL/dw that
    autograd left in `w.grad` (phase 00's update rule, on a tensor).

    The update runs under torch.no_grad(): it is not part of the model, so PyTorch records no
    graph for it and the new tensor does not require a gradient. torch.optim.SGD(params,
    lr).step() applies the same rule to every parameter, in place.
    """
    if w.grad is None:
        raise ValueError("w has no gradient yet: call backward() on a loss computed from w "
                         "first")
    with torch.no_grad():  # an update is not part of the model: record nothing
        return w - lr * w.grad


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    limit_cpu_threads(1)  # tiny tensors: one thread is faster (device.py explains)
    point = (args.x, args.w, args.b, args.y)

    print("1. L = (tanh(w*x + b) - y)^2 in both engines, float64")
    L_v, nodes = neuron_with_loss(*point)
    L_v.backward()
    L_t, leaves = torch_neuron_with_loss(*point)
    L_t.backward()
    print(f"   L: Value {L_v.data:.12f}   torch {L_t.item():.12f}")
    for name in LEAVES:
        print(f"   dL/d{name}: Value {nodes[name].grad:+.12f}   torch "
              f"{leaves[name].grad.item():+.12f}   |diff| "
              f"{abs(nodes[name].grad - leaves[name].grad.item()):.1e}")

    print("\n2. The graph PyTorch recorded (L.grad_fn, then each node's next_functions)")
    names = {id(leaves[name]): name for name in ("w", "x", "b", "y")}  # the picture's order
    for label, depth, _ in sorted(graph_of(L_t, names), key=lambda n: n[1]):
        print(f"   {'  ' * depth}{label}")
    print("   the Value engine's nodes, in the same order: "
          + " <- ".join(n.op or n.label for n in reversed(L_v.topological_order())
                        if n.parents))

    print("\n3. Every operator of the Value engine at once: + - * / ** exp log tanh relu")
    rng = np.random.default_rng(args.seed)
    worst = 0.0
    for a0, b0 in rng.uniform(-1.5, 1.5, size=(5, 2)):
        by_value, by_torch = mixed_expression_both(a0, b0)
        worst = max(worst, *(abs(v - t) for v, t in zip(by_value, by_torch, strict=True)))
        f, df_da, df_db = by_torch
        print(f"   a = {a0:+.3f}, b = {b0:+.3f}: f = {f:+.6f}, df/da = {df_da:+.6f}, "
              f"df/db = {df_db:+.6f}")
    print(f"   largest |Value - torch| over values and gradients: {worst:.1e}")

    print("\n4. Calling backward twice")
    acc = accumulation_demo(*point)
    print(f"   Value engine: dL/dw = {acc['value_once']:+.6f}, again: {acc['value_twice']:+.6f}"
          f"   (backward() resets the grads first)")
    print(f"   PyTorch:      dL/dw = {acc['torch_once']:+.6f}, again: {acc['torch_twice']:+.6f}"
          f"   (backward() ADDS into .grad)")
    print(f"   after w.grad = None (optimizer.zero_grad()): {acc['torch_after_zero']:+.6f}")
    full, accumulated = split_batch_gradients(args.seed)
    print(f"   why add? two half-batches, each loss halved, backward twice: "
          f"{np.round(accumulated, 6).tolist()}")
    print(f"   the full batch in one backward:                               "
          f"{np.round(full, 6).tolist()}  (|diff| {np.abs(full - accumulated).max():.1e})")

    print("\n5. Leaves and intermediates")
    _, fresh = torch_neuron_with_loss(*point)
    z = fresh["w"] * fresh["x"] + fresh["b"]
    z.retain_grad()  # keep dL/dz, which PyTorch otherwise frees after use
    L = (torch.tanh(z) - fresh["y"]) ** 2
    L.backward()
    print(f"   z.is_leaf = {z.is_leaf}, w.is_leaf = {fresh['w'].is_leaf}; dL/dz kept by "
          f"retain_grad(): {z.grad.item():+.6f} (Value: {nodes['z'].grad:+.6f})")
    w_new = gradient_step(fresh["w"], 0.1)
    print(f"   a gradient step under torch.no_grad(): w {fresh['w'].item():+.4f} -> "
          f"{w_new.item():+.4f}, requires_grad = {w_new.requires_grad}")

    print("\nFigures")
    plot_graphs(L_v, L_t, names, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("PyTorch autograd against phase 02's Value engine.")
    add_neuron_flags(parser)
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
