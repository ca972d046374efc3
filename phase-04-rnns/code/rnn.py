"""The recurrent neural network: a layer with memory, and backprop through time by hand.

Every network so far saw a fixed-size input. Phase 03's language models looked at a window of
one character (the bigram) or a few; anything further back did not exist for them. A text is a
sequence of any length, and what comes next can depend on something said long ago.

Jeffrey Elman's answer ("Finding Structure in Time", Cognitive Science, 1990) was to give a
network a memory: a hidden state h that it carries from one time step to the next. At each step
it reads one input x_t and updates its memory from the old memory and the new input:

    h_t = tanh(x_t @ W_x + h_{t-1} @ W_h + b)

The same W_x, W_h and b are used at every step: one small layer, applied again and again, like
reading a book one word at a time while keeping a running summary in your head. (Elman's net
copied the hidden units into "context units" fed back at the next step; this formula is that
idea as it is written today.)

Training it needs the gradient of a loss that depends on every step. Unroll the loop: T steps
of one shared layer are a T-layer network whose layers share weights. Backpropagate through
that deep network and add up the gradient each copy of the weights receives: "backpropagation
through time" (BPTT), named and described by Paul Werbos ("Backpropagation Through Time: What
It Does and How to Do It", Proceedings of the IEEE, 1990).

This file holds the loop that every recurrent layer of the phase shares (RecurrentLayer:
forward through time, then BPTT backwards) and Elman's cell (RNN). The LSTM (lstm.py) and the
GRU (gru.py) reuse the loop and change only what happens inside one step. Two things are
vectorised and one is not. The batch: B sequences go through each step together, as matrices.
The input projection: x_t does not depend on the past, so x @ W_x for all T steps is one
matrix product before the loop. The recurrence itself: h_t needs h_{t-1}, so the loop over time
steps cannot be replaced by a matrix product. That loop IS the lesson, and it is why RNNs are
slow on long sequences (attention, in phase 05, removes it).

The state a layer carries is one array of shape (B, state_size): h for the RNN and the GRU,
h and c side by side for the LSTM. A forward pass may start from a given state (the previous
chunk's last state in truncated BPTT, or an encoder's summary in seq2seq.py); the backward pass
then also returns the gradient for that initial state.

Run:  python phase-04-rnns/code/rnn.py --w-h 0.5 --seq-len 6
"""

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from phase00.derivatives import numerical_gradient
from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, finite_float, positive_int, script_parser
from phase02.gradcheck import TOLERANCE, check_gradients, gradient_error

Cache = tuple[np.ndarray, ...]  # what one step keeps for its backward pass


def spectral_radius(W: np.ndarray) -> float:
    """The largest |eigenvalue| of a square matrix: how much W stretches a vector it is applied
    to again and again (after many steps, W^k v grows or shrinks like radius^k)."""
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"the spectral radius needs a square matrix, got shape {W.shape}")
    return float(np.abs(np.linalg.eigvals(W)).max())


def recurrent_weights(n_hidden: int, n_blocks: int, rng: np.random.Generator,
                      radius: float | None = None) -> np.ndarray:
    """W_h of shape (H, n_blocks * H): one H x H block per gate, entries N(0, 1/H).

    A random H x H matrix with entries of variance 1/H has spectral radius close to 1 (its
    eigenvalues fill the unit disc, for large H). With `radius` given, every block is rescaled
    to exactly that spectral radius, so gradient_flow.py can dial memory up and down.
    """
    blocks = [rng.normal(0.0, 1.0 / np.sqrt(n_hidden), size=(n_hidden, n_hidden))
              for _ in range(n_blocks)]
    if radius is not None:
        if radius < 0:
            raise ValueError(f"a spectral radius is >= 0, got {radius}")
        blocks = [B * (radius / spectral_radius(B)) for B in blocks]
    return np.concatenate(blocks, axis=1)


class RecurrentLayer:
    """A recurrent layer over whole sequences: the loop over time, and BPTT.

    Protocol (phase 02): params / grads dicts with the same names and shapes;
    forward(x) returns the output and keeps what backward needs; backward(dout) fills grads and
    returns dL/dx. Here x is (B, T, D), the output hs is (B, T, H): every step's hidden state.

    params: W_x (D, G), W_h (H, G), b (G,), with G = n_gates * H. A subclass says how many
    gates it has, how big its state is, and writes one step forward and one step backward.
    """

    n_gates = 1  # blocks of H columns in W_x, W_h and b
    state_factor = 1  # the state is state_factor * H numbers per sequence

    def __init__(self, n_in: int, n_hidden: int, rng: np.random.Generator | None = None,
                 spectral_radius: float | None = None) -> None:
        if n_in < 1 or n_hidden < 1:
            raise ValueError(f"{type(self).__name__} needs n_in >= 1 and n_hidden >= 1, got "
                             f"{n_in} and {n_hidden}")
        rng = np.random.default_rng() if rng is None else rng
        G = self.n_gates * n_hidden
        self.params: dict[str, np.ndarray] = {
            "W_x": rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_in, G)),  # inputs of size ~1
            "W_h": recurrent_weights(n_hidden, self.n_gates, rng, spectral_radius),
            "b": np.zeros(G),
        }
        self.grads: dict[str, np.ndarray] = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.x: np.ndarray | None = None  # kept by forward for backward
        self.caches: list[Cache] = []
        self.had_initial_state = False
        self.state: np.ndarray | None = None  # the last step's state: carry it to the next chunk
        self.dL_dstate: np.ndarray | None = None  # (B, T+1, S) after backward: dL/ds_0 .. ds_T

    @property
    def n_in(self) -> int:
        return self.params["W_x"].shape[0]

    @property
    def n_hidden(self) -> int:
        return self.params["W_h"].shape[0]

    @property
    def state_size(self) -> int:
        return self.state_factor * self.n_hidden

    def zero_state(self, batch: int) -> np.ndarray:
        """The state before the first step: all zeros, shape (B, state_size)."""
        return np.zeros((batch, self.state_size))

    def check_state(self, s: np.ndarray, batch: int, what: str) -> None:
        """Raise a ValueError naming the expected shape when a state array has the wrong one."""
        if s.shape != (batch, self.state_size):
            raise ValueError(f"{self!r}: {what} must have shape (B, state_size) = "
                             f"({batch}, {self.state_size}), got {s.shape}")

    def forward(self, x: np.ndarray, s0: np.ndarray | None = None) -> np.ndarray:
        """Run the sequence x (B, T, D) from state s0 (default zeros); return hs (B, T, H)."""
        if x.ndim != 3 or x.shape[2] != self.n_in:
            raise ValueError(f"{self!r} expects x of shape (B, T, D) = (batch, time, "
                             f"{self.n_in}), got {x.shape}")
        B, T, _ = x.shape
        H = self.n_hidden
        self.had_initial_state = s0 is not None
        s = self.zero_state(B) if s0 is None else s0
        self.check_state(s, B, "the initial state s0")
        self.x = x
        # x_t does not depend on the past: project all T steps in one product, before the loop.
        ax = x @ self.params["W_x"] + self.params["b"]  # (B, T, G)
        hs = np.empty((B, T, H))
        self.caches = []
        for t in range(T):  # the recurrence: step t needs the state of step t-1
            hs[:, t], s, cache = self.step(ax[:, t], s)
            self.caches.append(cache)
        self.state = s
        assert hs.shape == (B, T, H) and s.shape == (B, self.state_size)
        return hs

    def backward(self, dhs: np.ndarray,
                 ds_last: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """BPTT. dhs = dL/dhs (B, T, H); ds_last = dL/d(final state), if the final state was
        used later (the decoder of seq2seq.py reads the encoder's last state).

        Fills grads and returns (dL/dx (B, T, D), dL/ds0 (B, S)): the gradient for the inputs
        and for the initial state. Always both, so the caller never guesses the type; when
        forward started from zeros, ds0 is the gradient for those zeros, which a caller ignores
        (`dx, _ = layer.backward(dhs)`).
        """
        if self.x is None:
            raise RuntimeError("call forward() before backward(): BPTT needs the cached steps")
        B, T, _ = self.x.shape
        if dhs.shape != (B, T, self.n_hidden):
            raise ValueError(f"{self!r}.backward expects dhs of shape (B, T, H) = "
                             f"({B}, {T}, {self.n_hidden}), the shape of its output, got "
                             f"{dhs.shape}")
        ds = self.zero_state(B) if ds_last is None else ds_last.copy()
        self.check_state(ds, B, "ds_last")
        self.grads["W_h"][...] = 0.0  # each step adds its share: the weights are shared
        dax = np.empty((B, T, self.n_gates * self.n_hidden))
        self.dL_dstate = np.empty((B, T + 1, self.state_size))
        for t in reversed(range(T)):  # walk the unrolled network from the last step back
            ds[:, :self.n_hidden] += dhs[:, t]  # h_t is read by the output AND the next step
            self.dL_dstate[:, t + 1] = ds
            dax[:, t], ds = self.step_backward(ds, self.caches[t])
        self.dL_dstate[:, 0] = ds
        # The input projection was one product for all steps; so are its gradients.
        D, G = self.n_in, dax.shape[2]
        self.grads["W_x"][...] = self.x.reshape(B * T, D).T @ dax.reshape(B * T, G)
        self.grads["b"][...] = dax.sum(axis=(0, 1))
        dx = dax @ self.params["W_x"].T  # (B, T, G) @ (G, D)
        assert dx.shape == self.x.shape
        return dx, ds

    def step(self, ax_t: np.ndarray, s_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray, Cache]:
        """One step: from ax_t = x_t @ W_x + b (B, G) and the old state, return
        (h_t (B, H), the new state (B, S), what step_backward needs)."""
        raise NotImplementedError

    def step_backward(self, ds: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray]:
        """One step back: from dL/ds_t (everything the future and the output say about this
        step's state), add this step's share to grads["W_h"] and return
        (dL/d(ax_t), dL/ds_{t-1})."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.n_in} -> {self.n_hidden})"


class RNN(RecurrentLayer):
    """Elman's cell: h_t = tanh(x_t @ W_x + h_{t-1} @ W_h + b). The state is h itself."""

    def step(self, ax_t: np.ndarray, s_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray, Cache]:
        h_prev = s_prev
        h = np.tanh(ax_t + h_prev @ self.params["W_h"])  # (B, H): new memory from old + input
        return h, h, (h_prev, h)

    def step_backward(self, ds: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray]:
        h_prev, h = cache
        da = ds * (1.0 - h**2)  # through tanh: tanh'(a) = 1 - tanh(a)^2
        self.grads["W_h"] += h_prev.T @ da  # (H, B) @ (B, H): this step's share of the blame
        dh_prev = da @ self.params["W_h"].T  # the blame handed to the previous step
        return da, dh_prev


def gradcheck_recurrent(layer: RecurrentLayer, x: np.ndarray, s0: np.ndarray | None = None,
                        rng: np.random.Generator | None = None) -> dict[str, float]:
    """Check BPTT against central differences: every parameter, the input x, the initial state
    s0 (when given) and the path through the final state.

    The loss is L = sum(hs * R) + sum(s_T * R_s) for random R, R_s: its gradient with respect
    to the outputs is R, and with respect to the final state R_s (as when a decoder reads it).
    Returns name -> worst relative error (phase02.gradcheck's measure), float64 only.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x = x.copy()
    s0 = None if s0 is None else s0.copy()
    R = rng.normal(size=(x.shape[0], x.shape[1], layer.n_hidden))
    R_s = rng.normal(size=(x.shape[0], layer.state_size))

    def loss() -> float:
        hs = layer.forward(x, s0)
        return float(np.sum(hs * R) + np.sum(layer.state * R_s))

    loss()
    dx, ds0 = layer.backward(R, R_s)
    params = dict(layer.params)
    grads = {name: g.copy() for name, g in layer.grads.items()}
    errors = check_gradients(loss, params, grads)
    errors["x"] = gradient_error(dx, numerical_gradient(lambda x_: _loss_at(layer, x_, s0, R, R_s),
                                                        x))
    if s0 is not None:
        errors["s0"] = gradient_error(ds0, numerical_gradient(
            lambda s_: _loss_at(layer, x, s_, R, R_s), s0))
    loss()  # leave the layer's cache as it was
    return errors


def _loss_at(layer: RecurrentLayer, x: np.ndarray, s0: np.ndarray | None, R: np.ndarray,
             R_s: np.ndarray) -> float:
    """gradcheck_recurrent's loss for given x and s0 (numerical_gradient nudges them)."""
    hs = layer.forward(x, s0)
    return float(np.sum(hs * R) + np.sum(layer.state * R_s))


MAX_CHECK_SECONDS = 300  # a gradient check longer than this is refused, not started


def bptt_bytes(n_in: int, n_hidden: int, n_gates: int, batch: int, T: int) -> int:
    """Bytes one forward and backward pass through T steps needs, about, in 8-byte numbers:
    every step keeps its input, state and gate values for the backward pass, and the backward
    pass makes gradients of the same sizes; plus the weights, their gradients and two more
    copies (an optimizer's moments)."""
    per_step = batch * (2 * n_in + (4 + 4 * n_gates) * n_hidden)
    weights = n_gates * (n_in * n_hidden + n_hidden**2 + n_hidden)
    return 8 * (T * per_step + 4 * weights)


def step_seconds(n_in: int, n_hidden: int, n_gates: int, batch: int) -> float:
    """A rough time for one forward step of a recurrent layer on this machine class: about 15
    microseconds of Python and NumPy per gate block, plus its matrix products at about 3
    billion multiply-adds a second (small matrices, one thread). Only the order of magnitude
    matters: it tells a run of seconds from one of days."""
    return n_gates * 15e-6 + batch * n_gates * n_hidden * (n_in + n_hidden) / 3e9


def gradcheck_seconds(n_in: int, n_hidden: int, n_gates: int, batch: int, T: int) -> float:
    """A rough time for gradcheck_recurrent: it nudges every number of the weights, the input
    and the initial state twice and reruns all T steps each time."""
    numbers = n_gates * (n_in * n_hidden + n_hidden**2 + n_hidden) + batch * T * n_in + \
        batch * 2 * n_hidden
    return 2 * numbers * T * step_seconds(n_in, n_hidden, n_gates, batch)


def training_seconds(n_in: int, n_hidden: int, n_gates: int, batch: int, T: int,
                     steps: int) -> float:
    """A rough time for `steps` training steps through T time steps: a forward and a backward
    pass, about three forward steps' work for each time step (measured: a lag-40 RNN of
    H = 64, 5000 steps, took 36 s where this says 38 s)."""
    return 3 * steps * T * step_seconds(n_in, n_hidden, n_gates, batch)


def check_recurrent_sizes(n_in: int, n_hidden: int, n_gates: int, batch: int, T: int,
                          what: str, gradcheck: bool = True) -> None:
    """Refuse (ValueError) sizes whose pass through time does not fit in memory or whose
    gradient check would run for hours; `what` names the flags that set them."""
    check_fits_in_memory(bptt_bytes(n_in, n_hidden, n_gates, batch, T), what)
    seconds = gradcheck_seconds(n_in, n_hidden, n_gates, batch, T) if gradcheck else 0.0
    if seconds > MAX_CHECK_SECONDS:
        raise ValueError(f"with {what} the gradient check would take about "
                         f"{seconds / 60:,.0f} minutes (it reruns all {T:,} steps twice for "
                         f"each of its numbers): choose smaller values")


def scalar_rnn(x: np.ndarray, w_x: float, w_h: float, b: float, h0: float = 0.0) -> np.ndarray:
    """The one-unit RNN of the notes, written with plain numbers: h_1 .. h_T for inputs x."""
    h, hs = h0, []
    for x_t in x:
        h = float(np.tanh(w_x * x_t + w_h * h + b))
        hs.append(h)
    return np.array(hs)


def scalar_bptt(x: np.ndarray, hs: np.ndarray, w_h: float, y: float,
                h0: float = 0.0) -> dict[str, Any]:
    """BPTT for the one-unit RNN with loss L = (h_T - y)^2 / 2, one step at a time.

    Returns dL/dh_t for every t, and dL/dw_x, dL/dw_h, dL/db summed over the steps.
    """
    T = len(x)
    dh = np.zeros(T)  # dL/dh_t
    da = np.zeros(T)  # dL/da_t, a_t = w_x x_t + w_h h_{t-1} + b
    dh[T - 1] = hs[T - 1] - y  # only the last step touches the loss
    for t in reversed(range(T)):
        da[t] = dh[t] * (1.0 - hs[t] ** 2)
        if t > 0:
            dh[t - 1] = da[t] * w_h  # the only path from h_{t-1} to L goes through h_t
    h_prev = np.concatenate([[h0], hs[:-1]])
    return {"dh": dh, "da": da, "dw_x": float(np.sum(da * x)), "dw_h": float(np.sum(da * h_prev)),
            "db": float(np.sum(da))}


def plot_unrolled(x: np.ndarray, hs: np.ndarray, grads: dict[str, Any], w_x: float, w_h: float,
                  y: float, out_dir: Path | None = None) -> Figure:
    """The one-unit RNN unrolled over T steps: values forward (black), blame backward (red)."""
    T = len(x)
    fig = Figure(figsize=(2.3 * T + 1.5, 4.4), layout="constrained")
    ax = fig.subplots()
    box = {"boxstyle": "round,pad=0.45", "edgecolor": "0.4"}
    for t in range(T):
        cx = 2.3 * t
        ax.text(cx, 0, f"x_{t + 1} = {x[t]:+.2f}", ha="center", va="center", fontsize=9,
                bbox={**box, "facecolor": "#d0ebff"})
        ax.annotate("", xy=(cx, 1.45), xytext=(cx, 0.35),
                    arrowprops={"arrowstyle": "->", "color": "0.5"})
        ax.text(cx + 0.08, 0.9, f"w_x = {w_x:g}", fontsize=8, color="0.3")
        ax.text(cx, 1.9, f"h_{t + 1} = {hs[t]:+.4f}", ha="center", va="center", fontsize=9,
                bbox={**box, "facecolor": "#e9ecef"})
        ax.text(cx, 2.55, f"dL/dh_{t + 1}\n= {grads['dh'][t]:+.4f}", ha="center", va="bottom",
                fontsize=8.5, color="tab:red")
        if t > 0:
            ax.annotate("", xy=(cx - 0.85, 1.9), xytext=(cx - 1.45, 1.9),
                        arrowprops={"arrowstyle": "->", "color": "0.5"})
            ax.text(cx - 1.15, 1.6, f"w_h = {w_h:g}", ha="center", fontsize=8, color="0.3")
            ax.annotate("", xy=(cx - 1.55, 2.75), xytext=(cx - 0.75, 2.75),
                        arrowprops={"arrowstyle": "->", "color": "tab:red"})
    last = 2.3 * (T - 1)
    ax.annotate("", xy=(last + 1.4, 1.9), xytext=(last + 0.85, 1.9),
                arrowprops={"arrowstyle": "->", "color": "0.5"})
    L = 0.5 * (hs[-1] - y) ** 2
    ax.add_patch(FancyBboxPatch((last + 1.45, 1.55), 1.2, 0.7, boxstyle="round,pad=0.05",
                                facecolor="#ffd8a8", edgecolor="0.4"))
    ax.text(last + 2.05, 1.9, f"L = {L:.4f}\n(y = {y:g})", ha="center", va="center", fontsize=8.5)
    ax.text(last / 2, -0.85, f"gradients summed over the steps (weights are shared):  "
            f"dL/dw_x = {grads['dw_x']:+.4f}   dL/dw_h = {grads['dw_h']:+.4f}   "
            f"dL/db = {grads['db']:+.4f}", ha="center", fontsize=9, color="tab:red")
    ax.set_xlim(-1.2, last + 2.9)
    ax.set_ylim(-1.2, 3.3)
    ax.axis("off")
    ax.set_title(f"A one-unit RNN unrolled over {T} steps: h_t = tanh(w_x x_t + w_h h_(t-1)); "
                 f"the blame shrinks as it travels back", fontsize=10)
    save_figure(fig, out_dir, "rnn_unrolled.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_recurrent_sizes(4, args.hidden, 1, args.batch, args.seq_len + 1,
                              f"--hidden {args.hidden} --batch {args.batch} --seq-len "
                              f"{args.seq_len}")
    except ValueError as err:
        parser.error(str(err))
    rng = np.random.default_rng(args.seed)
    T = args.seq_len

    print(f"1. One hidden unit, {T} steps: h_t = tanh(w_x * x_t + w_h * h_(t-1) + b), "
          f"w_x = {args.w_x:g}, w_h = {args.w_h:g}, b = 0, h_0 = 0")
    x = np.zeros(T)
    x[0] = 1.0  # one pulse at the start, then silence: how long is it remembered?
    hs = scalar_rnn(x, args.w_x, args.w_h, 0.0)
    h_prev = 0.0
    for t in range(T):
        print(f"   t = {t + 1}: a = {args.w_x:g} * {x[t]:g} + {args.w_h:g} * {h_prev:+.4g} = "
              f"{args.w_x * x[t] + args.w_h * h_prev:+.4g}   h = tanh(a) = {hs[t]:+.4g}")
        h_prev = hs[t]
    if hs[0] != 0:
        print(f"   what is left of the pulse of step 1: h_{T} / h_1 = {hs[-1] / hs[0]:.4g}")
    else:  # --w-x 0: the pulse never got in
        print("   with w_x = 0 the pulse never entered the state (h_1 = 0): nothing to remember")

    print(f"\n2. Backprop through time, loss L = (h_{T} - y)^2 / 2 with y = {args.target:g}")
    g = scalar_bptt(x, hs, args.w_h, args.target)
    print(f"   L = {0.5 * (hs[-1] - args.target) ** 2:.4g};  dL/dh_{T} = h_{T} - y = "
          f"{g['dh'][-1]:+.4g}")
    for t in reversed(range(1, T)):
        print(f"   dL/dh_{t} = dL/dh_{t + 1} * (1 - h_{t + 1}^2) * w_h = {g['dh'][t]:+.4g} * "
              f"{1 - hs[t] ** 2:.4g} * {args.w_h:g} = {g['dh'][t - 1]:+.4g}")
    print(f"   each step back multiplies the blame by (1 - h^2) * w_h: after {T - 1} steps it "
          f"is {abs(g['dh'][0] / g['dh'][-1]):.4g} of what it was")
    print(f"   shared weights collect a share from every step: dL/dw_x = {g['dw_x']:+.4g}, "
          f"dL/dw_h = {g['dw_h']:+.4g}, dL/db = {g['db']:+.4g}")
    layer = RNN(1, 1)
    layer.params["W_x"][...], layer.params["W_h"][...] = args.w_x, args.w_h
    hs_layer = layer.forward(x.reshape(1, T, 1))
    dhs = np.zeros((1, T, 1))
    dhs[0, -1, 0] = hs_layer[0, -1, 0] - args.target
    layer.backward(dhs)
    same = np.allclose([layer.grads["W_x"].item(), layer.grads["W_h"].item(),
                        layer.grads["b"].item()], [g["dw_x"], g["dw_h"], g["db"]], atol=1e-12)
    print(f"   the RNN layer (the loop of this file) gives the same three numbers: {same}")

    B, D, H = args.batch, 4, args.hidden
    print(f"\n3. The vectorised layer: B = {B} sequences, T = {T + 1} steps, D = {D} inputs, "
          f"H = {H} hidden units")
    layer = RNN(D, H, rng)
    for name, p in layer.params.items():
        print(f"   {name:4s} {str(p.shape):8s}")
    xb = rng.normal(size=(B, T + 1, D))
    print(f"   x {xb.shape} @ W_x {layer.params['W_x'].shape} -> {(B, T + 1, H)}: "
          f"all steps' inputs projected in one product")
    print(f"   then {T + 1} steps of h_prev {(B, H)} @ W_h {layer.params['W_h'].shape}: the "
          f"loop over time, one step per iteration")
    hs_b = layer.forward(xb)
    print(f"   hs {hs_b.shape}; final state {layer.state.shape}; "
          f"hs[0, -1, :3] = {np.round(hs_b[0, -1, :3], 4).tolist()}")
    print(f"   W_h was drawn with entries N(0, 1/H): spectral radius "
          f"{spectral_radius(layer.params['W_h']):.3f}")

    print("\n4. Gradient check in float64 (bar 1e-6), from a non-zero initial state s0")
    s0 = rng.normal(size=(B, H)) * 0.5
    errors = gradcheck_recurrent(layer, xb, s0, rng)
    for name, err in errors.items():
        print(f"   {name:4s} error {err:.1e}  {'ok' if err < TOLERANCE else 'WRONG'}")

    print("\n5. Truncated BPTT: run the sequence in two chunks, carrying the state across")
    whole = layer.forward(xb)
    cut = (T + 1) // 2
    first = layer.forward(xb[:, :cut])
    carried = layer.state.copy()  # the values travel on; the gradient will stop here
    second = layer.forward(xb[:, cut:], carried)
    gap = np.abs(np.concatenate([first, second], axis=1) - whole).max()
    print(f"   chunks of {cut} and {T + 1 - cut} steps give the same hidden states as one pass "
          f"(largest difference {gap:.1e});")
    print("   but backward() of the second chunk stops at its first step: the blame for older "
          "steps is dropped")

    print("\nFigures")
    plot_unrolled(x, hs, g, args.w_x, args.w_h, args.target, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("An Elman RNN forward and backward through time, by hand.")
    parser.add_argument("--w-x", type=finite_float, default=0.5,
                        help="input weight of the one-unit example")
    parser.add_argument("--w-h", type=finite_float, default=0.8,
                        help="recurrent weight of the one-unit example")
    parser.add_argument("--seq-len", type=positive_int, default=4,
                        help="steps of the one-unit example")
    parser.add_argument("--target", type=finite_float, default=1.0,
                        help="the target y of the last step")
    parser.add_argument("--hidden", type=positive_int, default=6,
                        help="hidden units of the vectorised layer")
    parser.add_argument("--batch", type=positive_int, default=3,
                        help="sequences per batch of the vectorised layer")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
