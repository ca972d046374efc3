"""The LSTM: a memory cell that keeps its contents by default, and its backward pass by hand.

An RNN rewrites its whole memory at every step: h_t = tanh(x_t @ W_x + h_{t-1} @ W_h + b).
Whatever it knew at step 1 reaches step 50 only after 49 multiplications by W_h and 49 trips
through tanh, and so does the gradient on its way back. Sepp Hochreiter measured this in his
diploma thesis (1991, "Untersuchungen zu dynamischen neuronalen Netzen", TU Munich): the error
signal shrinks or grows exponentially with the number of steps (gradient_flow.py measures it).

Hochreiter & Schmidhuber's answer ("Long Short-Term Memory", Neural Computation, 1997) was a
cell whose memory c is carried forward unchanged unless the network decides otherwise:

    c_t = f_t * c_{t-1} + i_t * g_t        the memory: keep a share, add something new
    h_t = o_t * tanh(c_t)                  what the cell shows the rest of the network

with three gates, numbers between 0 and 1 computed from x_t and h_{t-1} like an RNN's update:
i (input: how much of the candidate g to write), f (forget: how much of the old memory to keep)
and o (output: how much of the memory to show). The 1997 cell had no forget gate: its memory
was kept whole (f = 1, the "constant error carousel"), which works until a stream never ends and
the cell fills up. Gers, Schmidhuber & Cummins added the forget gate ("Learning to Forget:
Continual Prediction with LSTM", Neural Computation, 2000); this file's cell is theirs, the one
every library uses.

Why it helps: the memory update is a sum, not a squashed product. Its backward pass is

    dL/dc_{t-1} = dL/dc_t * f_t  (+ the paths through the gates and h)

with no weight matrix and no tanh slope in the way: when f is close to 1 the blame flows back
along the cell like goods on a conveyor belt. Starting the forget gate's bias at 1 keeps f near
0.73 at first, so the belt runs from the first step (Jozefowicz, Zaremba & Sutskever 2015, "An
Empirical Exploration of Recurrent Network Architectures", found that this one change closes
most of the gap to other gated cells).

The LSTM reuses rnn.py's loop (RecurrentLayer) and changes only the step. Its state is h and c
side by side, shape (B, 2H). The four gates are computed with one matrix product: W_x is
(D, 4H) and W_h is (H, 4H), columns in the order i, f, g, o (PyTorch's order, so phase 06 can
copy the weights across).

Run:  python phase-04-rnns/code/lstm.py --forget-bias 3 --seq-len 50
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import finite_float, positive_int, script_parser
from phase01.activations import sigmoid
from phase02.gradcheck import TOLERANCE
from phase04.rnn import RNN, Cache, RecurrentLayer, check_recurrent_sizes, gradcheck_recurrent


class LSTM(RecurrentLayer):
    """Long short-term memory with a forget gate. State (B, 2H): [h, c].

    forget_bias: added to the forget gate's bias at the start (default 1: f = sigmoid(1) = 0.73
    before training, so the cell remembers from the first step).
    """

    n_gates = 4  # i, f, g, o
    state_factor = 2  # h and c

    def __init__(self, n_in: int, n_hidden: int, rng: np.random.Generator | None = None,
                 spectral_radius: float | None = None, forget_bias: float = 1.0) -> None:
        super().__init__(n_in, n_hidden, rng, spectral_radius)
        H = n_hidden
        self.params["b"][H:2 * H] = forget_bias  # the f block of b

    def step(self, ax_t: np.ndarray, s_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray, Cache]:
        H = self.n_hidden
        h_prev, c_prev = s_prev[:, :H], s_prev[:, H:]
        z = ax_t + h_prev @ self.params["W_h"]  # (B, 4H): all four gates in one product
        i = sigmoid(z[:, :H])  # input gate: how much of g to write
        f = sigmoid(z[:, H:2 * H])  # forget gate: how much of c_prev to keep
        g = np.tanh(z[:, 2 * H:3 * H])  # candidate: what could be written
        o = sigmoid(z[:, 3 * H:])  # output gate: how much of the memory to show
        c = f * c_prev + i * g  # the memory: a sum, so it can carry a value unchanged
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return h, np.concatenate([h, c], axis=1), (h_prev, c_prev, i, f, g, o, tanh_c)

    def step_backward(self, ds: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray]:
        H = self.n_hidden
        h_prev, c_prev, i, f, g, o, tanh_c = cache
        dh, dc = ds[:, :H], ds[:, H:]
        do = dh * tanh_c
        dc = dc + dh * o * (1.0 - tanh_c**2)  # c reaches the loss directly AND through h
        di, df, dg = dc * g, dc * c_prev, dc * i
        dc_prev = dc * f  # the conveyor belt: no matrix, no squashing, just the forget gate
        dz = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2),
                             do * o * (1 - o)], axis=1)  # (B, 4H): back through each gate
        self.grads["W_h"] += h_prev.T @ dz
        dh_prev = dz @ self.params["W_h"].T
        return dz, np.concatenate([dh_prev, dc_prev], axis=1)


def one_step(x: float, h_prev: float, c_prev: float, w_x: np.ndarray, w_h: np.ndarray,
             b: np.ndarray) -> dict[str, float]:
    """One step of a one-unit LSTM with plain numbers (w_x, w_h, b: 4 numbers, order i f g o)."""
    z = x * w_x + h_prev * w_h + b
    i, f, o = (float(sigmoid(z[k])) for k in (0, 1, 3))
    g = float(np.tanh(z[2]))
    c = f * c_prev + i * g
    return {"z": z, "i": i, "f": f, "g": g, "o": o, "c": c, "h": o * float(np.tanh(c))}


def blame_reach(cell: RecurrentLayer, T: int, rng: np.random.Generator,
                batch: int = 16) -> float:
    """||dL/ds_1|| / ||dL/ds_T||: the share of the last step's blame that reaches step 1, for a
    random loss on the last output of T steps of random inputs (busy units, as in real data).
    gradient_flow.py draws the whole curve; this is its far end, as one number."""
    x = rng.normal(size=(batch, T, cell.n_in))
    hs = cell.forward(x)
    dhs = np.zeros_like(hs)
    dhs[:, -1] = rng.normal(size=(batch, cell.n_hidden))
    cell.backward(dhs)
    norms = np.linalg.norm(cell.dL_dstate, axis=2).mean(axis=0)  # (T + 1,): s_0 .. s_T
    return float(norms[1] / norms[-1])


def plot_cell(step: dict[str, float], x: float, h_prev: float, c_prev: float,
              out_dir: Path | None = None) -> Figure:
    """The LSTM cell as a circuit, with the numbers of one step of a one-unit cell."""
    fig = Figure(figsize=(10, 5.2), layout="constrained")
    ax = fig.subplots()
    box = {"boxstyle": "round,pad=0.4", "edgecolor": "0.4"}
    arrow = {"arrowstyle": "->", "color": "0.45", "lw": 1.2}
    belt = {"arrowstyle": "->", "color": "tab:orange", "lw": 2.5}

    def node(px: float, py: float, text: str, color: str = "#e9ecef") -> None:
        ax.text(px, py, text, ha="center", va="center", fontsize=9,
                bbox={**box, "facecolor": color})

    # the conveyor belt: c_{t-1} -> x f -> + i*g -> c_t
    node(0, 4, f"c_(t-1)\n= {c_prev:+.3f}", "#ffe8cc")
    node(3, 4, "x", "#fff")
    node(5.5, 4, "+", "#fff")
    node(9.2, 4, f"c_t = {step['c']:+.4f}", "#ffe8cc")
    ax.annotate("", xy=(2.7, 4), xytext=(0.75, 4), arrowprops=belt)
    ax.annotate("", xy=(5.2, 4), xytext=(3.3, 4), arrowprops=belt)
    ax.annotate("", xy=(8.3, 4), xytext=(5.8, 4), arrowprops=belt)
    ax.text(4.3, 4.55, "the cell state: a sum, carried along", ha="center", fontsize=8.5,
            color="tab:orange")
    # the four gates, computed from [x_t, h_(t-1)]
    node(0, 0, f"x_t = {x:+.2f}\nh_(t-1) = {h_prev:+.2f}", "#d0ebff")
    gates = [("f", 3, "forget", "sigmoid"), ("i", 4.6, "input", "sigmoid"),
             ("g", 6.2, "candidate", "tanh"), ("o", 7.8, "output", "sigmoid")]
    for name, gx, label, fn in gates:
        node(gx, 1.4, f"{name} = {fn}(z_{name})\n= {step[name]:.4f}\n({label})")
        ax.annotate("", xy=(gx, 0.9), xytext=(0.8, 0.1), arrowprops=arrow)
    ax.annotate("", xy=(3, 3.65), xytext=(3, 1.95), arrowprops=arrow)
    node(5.5, 2.8, f"i * g\n= {step['i'] * step['g']:+.4f}", "#fff")
    ax.annotate("", xy=(5.2, 2.45), xytext=(4.6, 1.95), arrowprops=arrow)
    ax.annotate("", xy=(5.8, 2.45), xytext=(6.2, 1.95), arrowprops=arrow)
    ax.annotate("", xy=(5.5, 3.65), xytext=(5.5, 3.2), arrowprops=arrow)
    # the output: h_t = o * tanh(c_t)
    node(9.2, 2.6, f"tanh(c_t)\n= {np.tanh(step['c']):+.4f}")
    ax.annotate("", xy=(9.2, 3.05), xytext=(9.2, 3.65), arrowprops=arrow)
    node(9.2, 0.2, f"h_t = o * tanh(c_t)\n= {step['h']:+.4f}", "#d3f9d8")
    ax.annotate("", xy=(9.2, 0.65), xytext=(9.2, 2.15), arrowprops=arrow)
    ax.annotate("", xy=(8.6, 0.35), xytext=(7.9, 0.95), arrowprops=arrow)
    ax.text(3.15, 3.0, f"f * c_(t-1)\n= {step['f'] * c_prev:+.4f}", fontsize=8.5)
    ax.set_xlim(-1.2, 10.6)
    ax.set_ylim(-0.7, 5.0)
    ax.axis("off")
    ax.set_title("One step of a one-unit LSTM: gates from x_t and h_(t-1); the memory c is "
                 "kept (x f), topped up (+ i*g) and shown (x o)", fontsize=10)
    save_figure(fig, out_dir, "lstm_cell.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # part 3 checks a small layer on --batch sequences; part 4 runs --seq-len steps
        check_recurrent_sizes(3, 4, 4, args.batch, 5, f"--batch {args.batch}")
        check_recurrent_sizes(8, args.hidden, 4, 16, args.seq_len,
                              f"--hidden {args.hidden} --seq-len {args.seq_len}",
                              gradcheck=False)
    except ValueError as err:
        parser.error(str(err))
    rng = np.random.default_rng(args.seed)

    print("1. One step of a one-unit LSTM (gates in the order i, f, g, o)")
    w_x = np.array([0.5, -0.3, 0.9, 0.4])
    w_h = np.array([0.2, 0.6, -0.4, 0.1])
    b = np.array([0.0, args.forget_bias, 0.0, 0.0])
    x, h_prev, c_prev = 1.0, 0.5, 0.8
    s = one_step(x, h_prev, c_prev, w_x, w_h, b)
    print(f"   x_t = {x:g}, h_(t-1) = {h_prev:g}, c_(t-1) = {c_prev:g}")
    print(f"   w_x = {w_x.tolist()}, w_h = {w_h.tolist()}, b = {b.tolist()}")
    print(f"   z = x * w_x + h * w_h + b = {np.round(s['z'], 4).tolist()}")
    print(f"   i = sigmoid({s['z'][0]:.2f}) = {s['i']:.4f}   f = sigmoid({s['z'][1]:.2f}) = "
          f"{s['f']:.4f}   g = tanh({s['z'][2]:.2f}) = {s['g']:.4f}   "
          f"o = sigmoid({s['z'][3]:.2f}) = {s['o']:.4f}")
    print(f"   c_t = f * c_(t-1) + i * g = {s['f']:.4f} * {c_prev:g} + {s['i']:.4f} * "
          f"{s['g']:.4f} = {s['c']:.4f}")
    print(f"   h_t = o * tanh(c_t) = {s['o']:.4f} * {np.tanh(s['c']):.4f} = {s['h']:.4f}")
    print(f"   backward along the belt: dL/dc_(t-1) = dL/dc_t * f = dL/dc_t * {s['f']:.4f} "
          f"(plus the gates' paths)")
    one = LSTM(1, 1)
    one.params["W_x"][...], one.params["W_h"][...], one.params["b"][...] = w_x, w_h, b
    one.forward(np.full((1, 1, 1), x), np.array([[h_prev, c_prev]]))
    print(f"   the LSTM layer gives the same state [h, c] = {np.round(one.state[0], 4).tolist()}")

    B, D, H = args.batch, 3, 4
    print(f"\n2. The vectorised layer: B = {B}, T = 5, D = {D}, H = {H}")
    lstm = LSTM(D, H, rng, forget_bias=args.forget_bias)
    for name, p in lstm.params.items():
        print(f"   {name:4s} {str(p.shape):8s} (4 blocks of {H}: i, f, g, o)")
    xb = rng.normal(size=(B, 5, D))
    hs = lstm.forward(xb)
    print(f"   hs {hs.shape}; state [h, c] {lstm.state.shape}")

    print("\n3. Gradient check in float64 (bar 1e-6), from a non-zero state [h0, c0]")
    s0 = rng.normal(size=(B, 2 * H)) * 0.5
    for name, err in gradcheck_recurrent(lstm, xb, s0, rng).items():
        print(f"   {name:4s} error {err:.1e}  {'ok' if err < TOLERANCE else 'WRONG'}")

    T = args.seq_len
    print(f"\n4. How far back does the blame reach? {T} steps of random inputs, loss on the last"
          f" step, H = {args.hidden}")
    print("   (same input weights for both cells, recurrent blocks rescaled to spectral radius 1)")
    for name, cell in (("RNN", RNN(8, args.hidden, np.random.default_rng(args.seed + 1), 1.0)),
                       ("LSTM", LSTM(8, args.hidden, np.random.default_rng(args.seed + 1), 1.0,
                                     forget_bias=args.forget_bias))):
        share = blame_reach(cell, T, np.random.default_rng(args.seed))
        print(f"   {name:4s}  ||dL/ds_1|| / ||dL/ds_{T}|| = {share:.1e}")
    print(f"   forget bias {args.forget_bias:g}: the forget gate starts near "
          f"f = sigmoid({args.forget_bias:g}) = {float(sigmoid(args.forget_bias)):.3f}, and "
          f"f^{T - 1} = {float(sigmoid(args.forget_bias)) ** (T - 1):.1e}")

    print("\nFigures")
    plot_cell(s, x, h_prev, c_prev, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("An LSTM cell forward and backward, by hand.")
    parser.add_argument("--forget-bias", type=finite_float, default=1.0,
                        help="starting bias of the forget gate")
    parser.add_argument("--seq-len", type=positive_int, default=30,
                        help="steps the blame must travel back in part 4")
    parser.add_argument("--hidden", type=positive_int, default=32, help="hidden units in part 4")
    parser.add_argument("--batch", type=positive_int, default=3,
                        help="sequences per batch in the gradient check")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
