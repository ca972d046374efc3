"""Phase 04's RNN, LSTM and GRU in PyTorch: the same loop over time, and no backward to write.

In phase 04 each recurrent cell needed two pieces of hand work: `step` (one time step forward)
and `step_backward` (one time step of backprop through time, with every gate's derivative
worked out by hand, the LSTM's conveyor belt and the GRU's reset gate included). Here each cell
is the `step` alone. The loop over time stays, written with torch operations, because the
recurrence is the model: h_t needs h_{t-1}. Autograd records every step as it runs and, on
`backward()`, walks the unrolled graph back through time: BPTT (Werbos 1990) for free.

The parameters keep phase 04's names and layouts, so converting is copying: W_x (D, G),
W_h (H, G), b (G,), with G = n_gates * H and the gate blocks in phase 04's order (LSTM: i, f,
g, o, as in Hochreiter & Schmidhuber 1997 with Gers, Schmidhuber & Cummins's 2000 forget gate;
GRU: r, z, n, Cho et al. 2014, reset applied before the product). The rebuild uses no
nn.RNN / nn.LSTM: writing the recurrence ourselves is what makes the parity meaningful.

At the end, one outside check: PyTorch's own nn.RNN and nn.LSTM, given phase 04's weights
(transposed into their layout), produce the same states, which confirms the gate order. Its
nn.GRU does not, and the script shows by how much: PyTorch applies the reset gate after the
product, r * (h W_hn + b_hn) (the form NVIDIA's cuDNN library computes), while phase 04, like
Cho et al.'s paper, applies it before, (r * h) W_hn. Same name, two slightly different cells.

Run:  python phase-06-pytorch/code/rnn_torch.py --seq-len 8 --hidden 5
"""

import argparse
import math

import numpy as np
import torch
from torch import nn

from phase00.flags import add_seed_flag, check_fits_in_memory, positive_int, script_parser
from phase04.gru import GRU
from phase04.lstm import LSTM
from phase04.rnn import RNN, RecurrentLayer
from phase06.device import limit_cpu_threads
from phase06.tensors import Parity, max_abs_diff, to_array, to_tensor


class TorchRecurrent(nn.Module):
    """The loop over time shared by every cell; a subclass writes one step (and nothing else).

    forward(x (B, T, D), s0 (B, S) or None) -> (hs (B, T, H), final state (B, S)).
    """

    n_gates = 1  # blocks of H columns in W_x, W_h and b
    state_factor = 1  # the state holds state_factor * H numbers per sequence

    def __init__(self, n_in: int, n_hidden: int) -> None:
        super().__init__()
        G = self.n_gates * n_hidden
        # Same initial scale as phase 04: entries of size 1/sqrt(fan-in), biases 0.
        self.W_x = nn.Parameter(torch.randn(n_in, G) / math.sqrt(n_in))
        self.W_h = nn.Parameter(torch.randn(n_hidden, G) / math.sqrt(n_hidden))
        self.b = nn.Parameter(torch.zeros(G))
        self.n_in, self.n_hidden = n_in, n_hidden

    @property
    def state_size(self) -> int:
        return self.state_factor * self.n_hidden

    def forward(self, x: torch.Tensor,
                s0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 3 or x.shape[2] != self.n_in:
            raise ValueError(f"{type(self).__name__} expects x of shape (B, T, D) = (batch, "
                             f"time, {self.n_in}), got {tuple(x.shape)}")
        B, T, _ = x.shape
        s = x.new_zeros(B, self.state_size) if s0 is None else s0
        if s.shape != (B, self.state_size):
            raise ValueError(f"the initial state must have shape (B, state_size) = "
                             f"({B}, {self.state_size}), got {tuple(s.shape)}")
        ax = x @ self.W_x + self.b  # (B, T, G): every step's input projection in one product
        hs = []
        for t in range(T):  # the recurrence itself: step t needs the state of step t-1
            h, s = self.step(ax[:, t], s)
            hs.append(h)
        return torch.stack(hs, dim=1), s  # (B, T, H), (B, S)

    def step(self, ax_t: torch.Tensor, s_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: from ax_t = x_t @ W_x + b (B, G) and the old state -> (h_t, new state)."""
        raise NotImplementedError


class TorchRNN(TorchRecurrent):
    """Elman's cell: h_t = tanh(x_t W_x + h_{t-1} W_h + b)."""

    def step(self, ax_t: torch.Tensor, s_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.tanh(ax_t + s_prev @ self.W_h)
        return h, h


class TorchLSTM(TorchRecurrent):
    """LSTM with a forget gate; state [h, c] side by side (B, 2H); gates in the order i f g o."""

    n_gates = 4
    state_factor = 2

    def __init__(self, n_in: int, n_hidden: int, forget_bias: float = 1.0) -> None:
        super().__init__(n_in, n_hidden)
        with torch.no_grad():
            self.b[n_hidden:2 * n_hidden] = forget_bias  # remember from the first step

    def step(self, ax_t: torch.Tensor, s_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        H = self.n_hidden
        h_prev, c_prev = s_prev[:, :H], s_prev[:, H:]
        z = ax_t + h_prev @ self.W_h  # (B, 4H): all four gates in one product
        i, f, g, o = z.split(H, dim=1)
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)  # the conveyor belt
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, torch.cat([h, c], dim=1)


class TorchGRU(TorchRecurrent):
    """GRU as phase 04 writes it (Cho et al. 2014), the reset gate applied before the product."""

    n_gates = 3

    def step(self, ax_t: torch.Tensor, s_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        H = self.n_hidden
        h_prev = s_prev
        rz = torch.sigmoid(ax_t[:, :2 * H] + h_prev @ self.W_h[:, :2 * H])
        r, z = rz[:, :H], rz[:, H:]
        n = torch.tanh(ax_t[:, 2 * H:] + (r * h_prev) @ self.W_h[:, 2 * H:])
        h = z * h_prev + (1 - z) * n  # keep a share z of the old memory
        return h, h


# Phase 04's classes and their rebuilds, both ways.
TWINS: dict[type[RecurrentLayer], type[TorchRecurrent]] = {
    RNN: TorchRNN, LSTM: TorchLSTM, GRU: TorchGRU}


def recurrent_to_torch(layer: RecurrentLayer) -> TorchRecurrent:
    """The PyTorch rebuild of a phase 04 layer, with a copy of its W_x, W_h, b (float64)."""
    if type(layer) not in TWINS:
        raise TypeError(f"no rebuild for {type(layer).__name__}; known: "
                        f"{[c.__name__ for c in TWINS]}")
    module = TWINS[type(layer)](layer.n_in, layer.n_hidden).double()
    module.load_state_dict({k: to_tensor(v) for k, v in layer.params.items()})
    return module


def recurrent_to_numpy(module: TorchRecurrent) -> RecurrentLayer:
    """The phase 04 layer of the same kind, with a copy of the module's parameters."""
    cls = {v: k for k, v in TWINS.items()}[type(module)]
    layer = cls(module.n_in, module.n_hidden, np.random.default_rng(0))
    for name, p in module.state_dict().items():
        layer.params[name] = to_array(p)
    return layer


def compare_recurrent(layer: RecurrentLayer, x: np.ndarray, s0: np.ndarray | None,
                      rng: np.random.Generator) -> Parity:
    """Forward (every hidden state and the final state) and every gradient, through all steps.

    The loss L = sum(hs * R) + sum(s_T * R_s), with random R and R_s, sends a gradient into
    every step's output and into the final state, as phase 04's gradient check does. NumPy:
    phase 04's hand-written BPTT. PyTorch: autograd through the loop. Compared: W_x, W_h, b, the
    input x and, when given, the initial state s0.
    """
    module = recurrent_to_torch(layer)
    B, T, _ = x.shape
    R = rng.normal(size=(B, T, layer.n_hidden))
    R_s = rng.normal(size=(B, layer.state_size))
    hs = layer.forward(x, s0)
    dx, ds0 = layer.backward(R, R_s)
    x_t = to_tensor(x).requires_grad_(True)
    s0_t = None if s0 is None else to_tensor(s0).requires_grad_(True)
    hs_t, s_T = module(x_t, s0_t)
    ((hs_t * to_tensor(R)).sum() + (s_T * to_tensor(R_s)).sum()).backward()
    forward = max(max_abs_diff(hs, hs_t), max_abs_diff(layer.state, s_T))
    grads = {name: max_abs_diff(layer.grads[name], p.grad)
             for name, p in module.named_parameters()}
    grads["x"] = max_abs_diff(dx, x_t.grad)
    if s0 is not None:
        grads["s0"] = max_abs_diff(ds0, s0_t.grad)
    return Parity(f"phase 04 {type(layer).__name__} (T={T}, with initial state)"
                  if s0 is not None else f"phase 04 {type(layer).__name__} (T={T})",
                  forward, grads)


def nn_twin_gap(layer: RecurrentLayer, x: np.ndarray, s0: np.ndarray) -> float:
    """max |states| difference between phase 04's layer and PyTorch's own nn.RNN/LSTM/GRU.

    An outside check only (the rebuilds above never use these). PyTorch stores
    weight_ih (G, D) = W_x^T and weight_hh (G, H) = W_h^T, and two biases that it adds
    together; we give it b and zeros.
    """
    H = layer.n_hidden
    kinds = {RNN: nn.RNN, LSTM: nn.LSTM, GRU: nn.GRU}
    net = kinds[type(layer)](layer.n_in, H, batch_first=True).double()
    with torch.no_grad():
        net.weight_ih_l0.copy_(to_tensor(layer.params["W_x"].T))
        net.weight_hh_l0.copy_(to_tensor(layer.params["W_h"].T))
        net.bias_ih_l0.copy_(to_tensor(layer.params["b"]))
        net.bias_hh_l0.zero_()
        if isinstance(layer, LSTM):  # PyTorch keeps h and c apart, each (layers, B, H)
            state = (to_tensor(s0[None, :, :H]).contiguous(),
                     to_tensor(s0[None, :, H:]).contiguous())
        else:
            state = to_tensor(s0[None])
        hs_t, _ = net(to_tensor(x), state)
    return max_abs_diff(layer.forward(x, s0), hs_t)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    B, T, D, H = args.batch, args.seq_len, args.inputs, args.hidden
    try:  # float64: an LSTM's four gates and states at every step, kept for BPTT by both
        # libraries, and its (D + H, 4H) weights with their gradients
        check_fits_in_memory(8 * (2 * 12 * B * T * (D + 4 * H) + 4 * 4 * H * (D + H)),
                             f"--batch {B} --seq-len {T} --inputs {D} --hidden {H}")
    except ValueError as err:
        parser.error(str(err))
    limit_cpu_threads(1)  # small tensors: one thread is faster (device.py explains)
    rng = np.random.default_rng(args.seed)

    print(f"1. Three cells, B = {B} sequences of T = {T} steps, D = {D} inputs, H = {H} hidden "
          f"units, float64")
    x = rng.normal(size=(B, T, D))
    for cls in (RNN, LSTM, GRU):
        layer = cls(D, H, rng)
        s0 = rng.normal(size=(B, layer.state_size))  # start from a given state
        module = recurrent_to_torch(layer)
        shapes = ", ".join(f"{k} {tuple(p.shape)}" for k, p in module.state_dict().items())
        print(f"\n   {cls.__name__} -> {type(module).__name__}: {shapes}; state {layer.state_size}"
              f" numbers per sequence")
        parity = compare_recurrent(layer, x, s0, rng)
        print(f"   every state h_1..h_{T} and the final state: max |diff| {parity.forward:.1e}")
        print("   gradients (hand BPTT against autograd): "
              + ", ".join(f"{k} {v:.1e}" for k, v in parity.grads.items()))
        back = recurrent_to_numpy(module)
        print(f"   round trip keeps every weight: "
              f"{all(np.array_equal(v, back.params[k]) for k, v in layer.params.items())}")
        print(f"   PyTorch's own nn.{cls.__name__}, same weights: states differ by "
              f"{nn_twin_gap(layer, x, s0):.1e}"
              + ("  (reset after the product: another GRU)" if cls is GRU else ""))

    print("\n2. What autograd saved us: phase 04 wrote a step_backward for every cell; "
          "here there is none.")
    print("   The loop over time is still there: the recurrence cannot be turned into one "
          "matrix product,\n   which is why RNNs are slow on long sequences (phase 05).")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("phase 04's recurrent layers rebuilt in PyTorch, BPTT by autograd.")
    parser.add_argument("--seq-len", type=positive_int, default=6, help="time steps")
    parser.add_argument("--hidden", type=positive_int, default=4, help="hidden units H")
    parser.add_argument("--inputs", type=positive_int, default=3, help="input size D")
    parser.add_argument("--batch", type=positive_int, default=2, help="sequences per batch")
    add_seed_flag(parser)
    return parser


if __name__ == "__main__":
    main()
