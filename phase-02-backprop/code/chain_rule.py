"""The chain rule on concrete numbers: tracing blame backward, one multiplication at a time.

When a network gets an answer wrong, each weight deserves a share of the blame: how much would
the loss move if that weight moved a little? The weight does not touch the loss directly; it
changes a sum, which changes an activation, which changes the output, which changes the loss.
The chain rule says the effects multiply along that chain:

    dL/dw = dL/d(output) * d(output)/d(activation) * d(activation)/d(sum) * d(sum)/dw

and when a quantity reaches the loss along several paths, the blame from each path adds up.
Backpropagation is nothing more than computing these products from the loss backwards, so that
each partial product is computed once and shared by every weight behind it.

This script works three examples by hand and prints every number: a chain of two functions, a
variable that reaches the output by two paths, and a 2-2-1 network whose whole backward pass is
written out entry by entry, then checked against finite differences and against the autograd
engine of autograd.py. The notes derive the same numbers on paper.

Run:  python phase-02-backprop/code/chain_rule.py --activation relu --lr 1.0
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.derivatives import central_difference, numerical_gradient, relative_error
from phase00.figures import add_out_flag, save_figure
from phase00.flags import finite_float, positive_float, script_parser
from phase01.activations import ACTIVATIONS, get_activation
from phase02.autograd import Value


def tiny_network() -> dict[str, np.ndarray]:
    """The fixed weights of the 2-2-1 example (the notes work with exactly these).

    Shapes follow the course convention h = x @ W1 + b1: W1[i, j] connects input i to hidden
    unit j. The output is y_hat = h @ w2 + b2, one number.
    """
    return {
        "W1": np.array([[0.8, -0.4],
                        [0.3, 0.6]]),  # (2 inputs, 2 hidden units)
        "b1": np.array([0.1, -0.2]),  # (2,)
        "w2": np.array([1.2, -0.7]),  # (2,): hidden unit j -> output
        "b2": np.array(0.05),  # a scalar, kept as a 0-d array so all params are arrays
    }


def forward(params: dict[str, np.ndarray], x: np.ndarray, y: float,
            activation: str) -> dict[str, np.ndarray]:
    """z1 = x @ W1 + b1, h = f(z1), y_hat = h @ w2 + b2, L = (y_hat - y)^2 / 2.

    Returns every intermediate: the backward pass needs z1 (for f'), h (for dL/dw2) and x
    (for dL/dW1). Keeping them is what the layers of layers.py do in their forward().
    """
    f, _ = get_activation(activation)
    assert x.shape == (2,), f"x must have shape (2,), got {x.shape}"
    z1 = x @ params["W1"] + params["b1"]  # (2,)
    h = f(z1)  # (2,)
    y_hat = h @ params["w2"] + params["b2"]  # a number
    L = 0.5 * (y_hat - y) ** 2  # the 1/2 cancels the 2 of the derivative
    return {"x": x, "z1": z1, "h": h, "y_hat": y_hat, "y": np.array(y), "L": L}


def backward(params: dict[str, np.ndarray], cache: dict[str, np.ndarray], activation: str,
             verbose: bool = False) -> dict[str, np.ndarray]:
    """Every dL/d(parameter) of the 2-2-1 network, one chain-rule step per line.

    The loops over units are the lesson (each entry is one product we can read); layers.py
    computes the same numbers with one matrix product per layer.
    """
    _, df = get_activation(activation)
    x, z1, h, y_hat, y = (cache[k] for k in ("x", "z1", "h", "y_hat", "y"))

    def say(text: str) -> None:
        if verbose:
            print("   " + text)

    dL_dyhat = y_hat - y  # d/dy_hat of (y_hat - y)^2 / 2
    say(f"dL/dy_hat   = y_hat - y = {y_hat:.4f} - {y:.4f} = {dL_dyhat:+.4f}")
    dL_db2 = dL_dyhat * 1.0  # y_hat = ... + b2, so dy_hat/db2 = 1
    say(f"dL/db2      = dL/dy_hat * 1 = {dL_db2:+.4f}")
    dL_dw2 = np.zeros(2)
    dL_dh = np.zeros(2)
    dL_dz1 = np.zeros(2)
    for j in range(2):
        dL_dw2[j] = dL_dyhat * h[j]  # dy_hat/dw2[j] = h[j]
        say(f"dL/dw2[{j}]   = dL/dy_hat * h[{j}]  = {dL_dyhat:+.4f} * {h[j]:+.4f} "
            f"= {dL_dw2[j]:+.4f}")
    for j in range(2):
        dL_dh[j] = dL_dyhat * params["w2"][j]  # dy_hat/dh[j] = w2[j]: blame sent back
        say(f"dL/dh[{j}]    = dL/dy_hat * w2[{j}] = {dL_dyhat:+.4f} * {params['w2'][j]:+.4f} "
            f"= {dL_dh[j]:+.4f}")
    for j in range(2):
        slope = float(df(z1[j]))  # dh[j]/dz1[j] = f'(z1[j])
        dL_dz1[j] = dL_dh[j] * slope
        say(f"dL/dz1[{j}]   = dL/dh[{j}] * f'(z1[{j}]) = {dL_dh[j]:+.4f} * {slope:.4f} "
            f"= {dL_dz1[j]:+.4f}")
    dL_dW1 = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            dL_dW1[i, j] = x[i] * dL_dz1[j]  # dz1[j]/dW1[i, j] = x[i]
            say(f"dL/dW1[{i},{j}] = x[{i}] * dL/dz1[{j}] = {x[i]:+.4f} * {dL_dz1[j]:+.4f} "
                f"= {dL_dW1[i, j]:+.4f}")
    dL_db1 = dL_dz1.copy()  # dz1[j]/db1[j] = 1
    say(f"dL/db1      = dL/dz1 = [{dL_db1[0]:+.4f}, {dL_db1[1]:+.4f}]")
    return {"W1": dL_dW1, "b1": dL_db1, "w2": dL_dw2, "b2": np.array(dL_db2)}


def engine_gradients(params: dict[str, np.ndarray], x: np.ndarray, y: float,
                     activation: str) -> dict[str, np.ndarray]:
    """The same gradients from the Value engine, which knows nothing about networks.

    Only tanh and relu exist as Value operations, so only they can be checked this way.
    """
    P = {k: np.vectorize(Value, otypes=[object])(v) for k, v in params.items()}
    z1 = [x[0] * P["W1"][0, j] + x[1] * P["W1"][1, j] + P["b1"][j] for j in range(2)]
    h = [z.tanh() if activation == "tanh" else z.relu() for z in z1]
    y_hat = h[0] * P["w2"][0] + h[1] * P["w2"][1] + P["b2"][()]
    L = 0.5 * (y_hat - y) ** 2
    L.backward()
    grad_of = np.vectorize(lambda v: v.grad, otypes=[float])
    return {k: grad_of(v) for k, v in P.items()}


def plot_network(params: dict[str, np.ndarray], cache: dict[str, np.ndarray],
                 grads: dict[str, np.ndarray], activation: str,
                 out_dir: Path | None = None) -> Figure:
    """The 2-2-1 network with its numbers: forward values in black, gradients in red."""
    fig = Figure(figsize=(10, 4.8), layout="constrained")
    ax = fig.subplots()
    pos = {"x0": (0, 1), "x1": (0, -1), "h0": (4, 1), "h1": (4, -1), "out": (7.6, 0),
           "L": (9.8, 0)}
    edges = [("x0", "h0", "W1", (0, 0)), ("x0", "h1", "W1", (0, 1)),
             ("x1", "h0", "W1", (1, 0)), ("x1", "h1", "W1", (1, 1)),
             ("h0", "out", "w2", (0,)), ("h1", "out", "w2", (1,))]
    for src, dst, name, idx in edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        start = (x0 + (0.55 if name == "W1" else 1.15), y0)
        end = (x1 - (1.2 if name == "W1" else 0.85), y1)
        ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "0.5"})
        # straight edges are labelled at their middle; the two that cross, a quarter of the
        # way along, on either side of the crossing
        t = 0.5 if y0 == y1 or name == "w2" else 0.27
        lx = start[0] + t * (end[0] - start[0])
        ly = start[1] + t * (end[1] - start[1])
        box = {"facecolor": "white", "edgecolor": "none", "pad": 0.6}
        ax.text(lx, ly + 0.05, f"{name}{list(idx)} = {params[name][idx]:+.2f}", ha="center",
                va="bottom", fontsize=8, bbox=box)
        ax.text(lx, ly - 0.05, f"grad {grads[name][idx]:+.4f}", ha="center", va="top",
                fontsize=8, color="tab:red", bbox=box)
    node_text = {
        "x0": (f"x[0] = {cache['x'][0]:+.2f}", ""),
        "x1": (f"x[1] = {cache['x'][1]:+.2f}", ""),
        "out": (f"b2 = {float(params['b2']):+.2f}\ny_hat = {cache['y_hat']:.4f}",
                f"dL/dy_hat = dL/db2\n= {cache['y_hat'] - cache['y']:+.4f}"),
        "L": (f"L = {cache['L']:.4f}\n(y = {cache['y']:g})", ""),
    }
    for j in range(2):
        node_text[f"h{j}"] = (
            f"b1[{j}] = {params['b1'][j]:+.2f}\nz1[{j}] = {cache['z1'][j]:+.4f}\n"
            f"h[{j}] = {activation}(z1[{j}]) = {cache['h'][j]:+.4f}",
            f"dL/dz1[{j}] = dL/db1[{j}] = {grads['b1'][j]:+.4f}")
    for key, (text, grad_text) in node_text.items():
        x, y = pos[key]
        ax.text(x, y, text, ha="center", va="center", fontsize=8.5,
                bbox={"boxstyle": "round,pad=0.5", "facecolor": "#d0ebff" if key[0] == "x"
                      else "#ffd8a8" if key == "L" else "#e9ecef", "edgecolor": "0.4"})
        if grad_text:
            ax.text(x, y - 0.5 if key[0] == "h" else y - 0.35, grad_text, ha="center",
                    va="top", fontsize=8.5, color="tab:red")
    ax.annotate("", xy=(pos["L"][0] - 0.7, 0), xytext=(pos["out"][0] + 0.8, 0),
                arrowprops={"arrowstyle": "->", "color": "0.5"})
    ax.set_xlim(-0.8, 10.6)
    ax.set_ylim(-1.85, 1.6)
    ax.axis("off")
    ax.set_title("A 2-2-1 network: values forward (black), blame backward (red)", fontsize=11)
    save_figure(fig, out_dir, "chain_rule_network.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)

    print("1. A chain: x -> u = 3x + 1 -> y = u^2, at x = 2")
    x0 = 2.0
    u = 3 * x0 + 1
    print(f"   forward:  u = 3*2 + 1 = {u:g},  y = u^2 = {u**2:g}")
    print(f"   local slopes: du/dx = 3,  dy/du = 2u = {2 * u:g}")
    print(f"   chain rule:   dy/dx = dy/du * du/dx = {2 * u:g} * 3 = {6 * u:g}")
    nudge = 0.001
    print(f"   nudge x by {nudge}: u moves {3 * nudge:.3f}, so y moves about "
          f"{2 * u:g} * {3 * nudge:.3f} = {6 * u * nudge:.3f}")
    print(f"   measured:  y(2.001) - y(2) = {(3 * (x0 + nudge) + 1) ** 2 - u**2:.6f};  "
          f"central difference dy/dx = "
          f"{central_difference(lambda t: (3 * t + 1) ** 2, x0, 1e-5):.6f}")

    print("\n2. Two paths: a reaches L through q = a*b and through r = a + c; L = q*r")
    a, b, c = 2.0, -3.0, 4.0
    q, r = a * b, a + c
    print(f"   forward:  q = {q:g}, r = {r:g}, L = q*r = {q * r:g}")
    print(f"   dL/dq = r = {r:g},   dL/dr = q = {q:g}")
    print(f"   path through q: dL/dq * dq/da = {r:g} * b = {r:g} * {b:g} = {r * b:g}")
    print(f"   path through r: dL/dr * dr/da = {q:g} * 1 = {q:g}")
    print(f"   dL/da = sum over paths = {r * b:g} + {q:g} = {r * b + q:g}")
    print(f"   check, L = a*b*(a+c) expanded: dL/da = 2ab + bc = {2 * a * b + b * c:g}")

    params = tiny_network()
    x = np.array(args.x)
    print(f"\n3. A 2-2-1 network ({args.activation} hidden units, linear output, "
          "L = (y_hat - y)^2 / 2)")
    for name, value in params.items():
        print(f"   {name} {str(value.shape):7s} = {np.round(value, 4).tolist()}")
    cache = forward(params, x, args.target, args.activation)
    print("   forward, number by number:")
    for j in range(2):
        print(f"   z1[{j}] = x[0]*W1[0,{j}] + x[1]*W1[1,{j}] + b1[{j}] = "
              f"{x[0]:g}*{params['W1'][0, j]:g} + {x[1]:g}*{params['W1'][1, j]:g} + "
              f"{params['b1'][j]:g} = {cache['z1'][j]:+.4f}")
    for j in range(2):
        print(f"   h[{j}]  = {args.activation}(z1[{j}]) = {cache['h'][j]:+.4f}")
    print(f"   y_hat = h[0]*w2[0] + h[1]*w2[1] + b2 = {cache['h'][0]:.4f}*{params['w2'][0]:g}"
          f" + {cache['h'][1]:.4f}*{params['w2'][1]:g} + {params['b2']:g} = "
          f"{cache['y_hat']:.4f}")
    print(f"   L     = (y_hat - y)^2 / 2 = ({cache['y_hat']:.4f} - {args.target:g})^2 / 2 = "
          f"{cache['L']:.4f}")
    print("   backward, number by number (each line is one link of the chain):")
    grads = backward(params, cache, args.activation, verbose=True)

    print("\n   the same in matrix form (what layers.py does for a whole batch):")
    delta1 = grads["b1"]
    print(f"   dL/dW1 = outer(x, dL/dz1) = x[:, None] * dL/dz1[None, :] = "
          f"{np.round(np.outer(x, delta1), 4).tolist()}")

    print("\n   check 1: central differences on the loss, one parameter at a time")
    print("   (relative error: phase 00's relative_error, |a - n| / (|a| + |n|) entry by entry, "
          "the worst entry\n   of each array; gradcheck.py's gradient_error is a different "
          "measure)")
    for name in params:
        def loss_of(v: np.ndarray, name: str = name) -> float:
            return float(forward({**params, name: v}, x, args.target, args.activation)["L"])
        err = relative_error(grads[name], numerical_gradient(loss_of, params[name]))
        print(f"   {name}: relative error {err:.1e}")
    if args.activation in ("tanh", "relu"):
        engine = engine_gradients(params, x, args.target, args.activation)
        worst = max(np.abs(engine[k] - grads[k]).max() for k in params)
        print(f"   check 2: the Value engine of autograd.py gives the same gradients "
              f"(largest difference {worst:.1e})")
    if args.activation == "step":
        print("   step' = 0: no blame reaches the first layer, so it can never learn.")

    print(f"\n4. One step downhill: every parameter moves by -lr * gradient, lr = {args.lr:g}")
    stepped = {k: params[k] - args.lr * grads[k] for k in params}
    after = forward(stepped, x, args.target, args.activation)
    print(f"   y_hat {cache['y_hat']:.4f} -> {after['y_hat']:.4f}   (target {args.target:g})")
    print(f"   loss  {cache['L']:.6f} -> {after['L']:.6f}")
    if after["L"] > cache["L"]:
        print("   the loss went UP: the step was so long it jumped past the bottom (lower --lr)")

    print("\nFigures")
    plot_network(params, cache, grads, args.activation, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("The chain rule, worked by hand on numbers.")
    parser.add_argument("--x", type=finite_float, nargs=2, default=[0.5, -1.0],
                        help="the network's two inputs")
    parser.add_argument("--target", type=finite_float, default=1.0, help="the output we want, y")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="tanh",
                        help="hidden activation (default: tanh; try step or relu)")
    parser.add_argument("--lr", type=positive_float, default=0.2,
                        help="learning rate of the one descent step at the end (default: 0.2; try "
                             "1.0 to overshoot)")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
