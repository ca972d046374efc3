"""The GRU: the LSTM's idea with two gates and one state, forward and backward by hand.

Kyunghyun Cho and colleagues needed a recurrent unit for their encoder-decoder translation model
("Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine
Translation", Cho, van Merrienboer, Gulcehre, Bahdanau, Bougares, Schwenk & Bengio, EMNLP 2014)
and proposed a simpler cousin of the LSTM, later named the gated recurrent unit:

    r_t = sigmoid(x_t @ W_xr + h_{t-1} @ W_hr + b_r)        reset: how much of the past to use
    z_t = sigmoid(x_t @ W_xz + h_{t-1} @ W_hz + b_z)        update: how much to keep
    n_t = tanh(x_t @ W_xn + (r_t * h_{t-1}) @ W_hn + b_n)   the candidate new memory
    h_t = z_t * h_{t-1} + (1 - z_t) * n_t                   keep a share, replace the rest

There is no separate cell: h is both the memory and the output. The last line is the LSTM's
trick in another form. When z is close to 1 the unit copies its old value, and the gradient
flows straight back, dL/dh_{t-1} = dL/dh_t * z_t + (the paths through the gates), with no weight
matrix and no tanh slope in the way. Keep-or-replace is one gate here (z against 1 - z), where
the LSTM has two independent ones (f and i).

Two versions exist. This file follows the paper: the reset gate multiplies h_{t-1} BEFORE the
product with W_hn. PyTorch's nn.GRU (after cuDNN) applies it after: r * (h_{t-1} @ W_hn + b_hn).
Both train about equally well; they are different functions, so weights do not carry over
between them unchanged.

The GRU reuses rnn.py's loop (RecurrentLayer). W_x is (D, 3H) and W_h is (H, 3H), blocks in the
order r, z, n; its state is h, shape (B, H).

Run:  python phase-04-rnns/code/gru.py --hidden 8
"""

import argparse

import numpy as np

from phase00.flags import add_seed_flag, positive_int, script_parser
from phase01.activations import sigmoid
from phase02.gradcheck import TOLERANCE
from phase04.rnn import Cache, RecurrentLayer, check_recurrent_sizes, gradcheck_recurrent


class GRU(RecurrentLayer):
    """Gated recurrent unit (Cho et al. 2014, reset before the product). State (B, H): h."""

    n_gates = 3  # r, z, n

    def step(self, ax_t: np.ndarray, s_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray, Cache]:
        H = self.n_hidden
        h_prev = s_prev
        W_h = self.params["W_h"]
        rz = sigmoid(ax_t[:, :2 * H] + h_prev @ W_h[:, :2 * H])  # both gates in one product
        r, z = rz[:, :H], rz[:, H:]
        rh = r * h_prev  # the part of the past the candidate may look at
        n = np.tanh(ax_t[:, 2 * H:] + rh @ W_h[:, 2 * H:])
        h = z * h_prev + (1.0 - z) * n  # keep a share z of the old memory, replace the rest
        return h, h, (h_prev, r, z, rh, n)

    def step_backward(self, ds: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray]:
        H = self.n_hidden
        h_prev, r, z, rh, n = cache
        W_h = self.params["W_h"]
        dh = ds
        dz = dh * (h_prev - n)  # h = z h_prev + (1 - z) n, so dh/dz = h_prev - n
        dn = dh * (1.0 - z)
        dh_prev = dh * z  # the direct path: a copy, scaled by the update gate
        da_n = dn * (1.0 - n**2)
        self.grads["W_h"][:, 2 * H:] += rh.T @ da_n
        d_rh = da_n @ W_h[:, 2 * H:].T
        dr = d_rh * h_prev
        dh_prev += d_rh * r
        da_rz = np.concatenate([dr * r * (1 - r), dz * z * (1 - z)], axis=1)  # (B, 2H)
        self.grads["W_h"][:, :2 * H] += h_prev.T @ da_rz
        dh_prev += da_rz @ W_h[:, :2 * H].T
        return np.concatenate([da_rz, da_n], axis=1), dh_prev


def one_step(x: float, h_prev: float, w_x: np.ndarray, w_h: np.ndarray,
             b: np.ndarray) -> dict[str, float]:
    """One step of a one-unit GRU with plain numbers (w_x, w_h, b: 3 numbers, order r z n)."""
    r = float(sigmoid(x * w_x[0] + h_prev * w_h[0] + b[0]))
    z = float(sigmoid(x * w_x[1] + h_prev * w_h[1] + b[1]))
    n = float(np.tanh(x * w_x[2] + r * h_prev * w_h[2] + b[2]))
    return {"r": r, "z": z, "n": n, "h": z * h_prev + (1 - z) * n}


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_recurrent_sizes(3, args.hidden, 3, args.batch, args.seq_len,
                              f"--hidden {args.hidden} --batch {args.batch} --seq-len "
                              f"{args.seq_len}")
    except ValueError as err:
        parser.error(str(err))
    rng = np.random.default_rng(args.seed)

    print("1. One step of a one-unit GRU (blocks in the order r, z, n)")
    w_x, w_h, b = np.array([0.5, -0.3, 0.9]), np.array([0.2, 0.6, -0.4]), np.zeros(3)
    x, h_prev = 1.0, 0.5
    s = one_step(x, h_prev, w_x, w_h, b)
    print(f"   x_t = {x:g}, h_(t-1) = {h_prev:g}, w_x = {w_x.tolist()}, w_h = {w_h.tolist()}, "
          f"b = 0")
    print(f"   r = sigmoid({w_x[0]:g} * {x:g} + {w_h[0]:g} * {h_prev:g}) = {s['r']:.4f}   "
          f"z = sigmoid({w_x[1]:g} * {x:g} + {w_h[1]:g} * {h_prev:g}) = {s['z']:.4f}")
    print(f"   n = tanh({w_x[2]:g} * {x:g} + {w_h[2]:g} * (r * h_(t-1) = "
          f"{s['r'] * h_prev:.4f})) = {s['n']:.4f}")
    print(f"   h_t = z * h_(t-1) + (1 - z) * n = {s['z']:.4f} * {h_prev:g} + {1 - s['z']:.4f} * "
          f"{s['n']:.4f} = {s['h']:.4f}")
    print(f"   backward, the direct path: dL/dh_(t-1) = dL/dh_t * z = dL/dh_t * {s['z']:.4f} "
          f"(plus the gates' paths)")
    one = GRU(1, 1)
    one.params["W_x"][...], one.params["W_h"][...], one.params["b"][...] = w_x, w_h, b
    one.forward(np.full((1, 1, 1), x), np.array([[h_prev]]))
    print(f"   the GRU layer gives the same h_t = {one.state[0, 0]:.4f}")

    B, T, D, H = args.batch, args.seq_len, 3, args.hidden
    print(f"\n2. The vectorised layer: B = {B}, T = {T}, D = {D}, H = {H}")
    gru = GRU(D, H, rng)
    for name, p in gru.params.items():
        print(f"   {name:4s} {str(p.shape):8s} (3 blocks of {H}: r, z, n)")
    xb = rng.normal(size=(B, T, D))
    hs = gru.forward(xb)
    print(f"   hs {hs.shape}; state h {gru.state.shape}")
    counts = {name: D * g * H + H * g * H + g * H for name, g in (("RNN", 1), ("GRU", 3),
                                                                 ("LSTM", 4))}
    print("   parameters for these sizes: " + ", ".join(f"{k} {v}" for k, v in counts.items())
          + " (the gates cost 3x and 4x an RNN)")

    print("\n3. Gradient check in float64 (bar 1e-6), from a non-zero initial state h0")
    h0 = rng.normal(size=(B, H)) * 0.5
    for name, err in gradcheck_recurrent(gru, xb, h0, rng).items():
        print(f"   {name:4s} error {err:.1e}  {'ok' if err < TOLERANCE else 'WRONG'}")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("A GRU cell forward and backward, by hand.")
    parser.add_argument("--hidden", type=positive_int, default=4,
                        help="hidden units of the vectorised layer")
    parser.add_argument("--batch", type=positive_int, default=3, help="sequences per batch")
    parser.add_argument("--seq-len", type=positive_int, default=5, help="steps per sequence")
    add_seed_flag(parser)
    return parser


if __name__ == "__main__":
    main()
