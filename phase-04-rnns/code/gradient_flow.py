"""Vanishing and exploding gradients, measured: how much blame reaches a step 50 steps back?

BPTT hands the blame back one step at a time, and each step multiplies it by the same kind of
matrix. For the RNN of rnn.py, going from step t to step t-1 multiplies dL/dh_t by
diag(1 - h_t^2) @ W_h^T: the slope of tanh, then the recurrent weights. After k steps the blame
has been through k such products. Like a number multiplied by itself k times, it shrinks to
nothing if the typical factor is below 1 and blows up if it is above 1, exponentially in k.

Sepp Hochreiter worked this out in his diploma thesis (1991, TU Munich), and Bengio, Simard &
Frasconi ("Learning Long-Term Dependencies with Gradient Descent is Difficult", IEEE
Transactions on Neural Networks, 1994) showed it is unavoidable: a network that stores
information robustly against noise must be in the shrinking regime, so the gradient from long
ago is exponentially small next to the gradient from recent steps. Pascanu, Mikolov & Bengio
("On the difficulty of training recurrent neural networks", ICML 2013) made it precise with the
spectral radius of W_h (its largest |eigenvalue|, rnn.spectral_radius): for a linear network,
radius < 1 means vanishing, and radius > 1 is needed for exploding. With tanh, the slope
1 - h^2 is at most 1 and averages gamma < 1 when the units are busy, so the border moves out to
about radius = 1 / gamma.

This script measures it. A random input sequence (like the char LM's embeddings: entries of
size about `--input-scale`) runs through a freshly initialised layer whose W_h is rescaled to a
chosen spectral radius; a random loss is put on the LAST step only; BPTT fills dL/ds_t for
every step, and we print and plot its norm against the number of steps back. Then the LSTM
(lstm.py) and the GRU (gru.py), from recurrent weights with the same spectral radius: their
additive paths (c_t = f * c_{t-1} + ..., h_t = z * h_{t-1} + ...) carry the blame further,
and how far depends on the gates, which the forget bias sets at the start.

Run:  python phase-04-rnns/code/gradient_flow.py --spectral-radius 0.5 1 1.5 2 3 --seq-len 100
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import finite_float, nonnegative_float, positive_int, script_parser
from phase00.threads import limit_blas_threads
from phase04.gru import GRU
from phase04.lstm import LSTM
from phase04.rnn import RNN, RecurrentLayer, check_recurrent_sizes, spectral_radius


def gradient_norms(cell: RecurrentLayer, T: int, rng: np.random.Generator, batch: int = 32,
                   input_scale: float = 1.0) -> np.ndarray:
    """||dL/ds_t|| for t = 0..T, averaged over the batch, for a random loss on the last step.

    s_t is the layer's whole state (h, or [h, c] for the LSTM); s_0 is the initial state.
    Entry T is the blame where the loss is; entry T - k, the blame k steps back.
    """
    x = rng.normal(0.0, input_scale, size=(batch, T, cell.n_in))
    hs = cell.forward(x)
    dhs = np.zeros_like(hs)
    dhs[:, -1] = rng.normal(size=(batch, cell.n_hidden))  # the loss looks at the last step only
    cell.backward(dhs)
    norms = np.linalg.norm(cell.dL_dstate, axis=2).mean(axis=0)  # (T + 1,)
    assert norms.shape == (T + 1,)
    return norms


def tanh_slope(cell: RNN) -> float:
    """gamma: the typical (root-mean-square) slope 1 - h^2 of the RNN's tanh over its last
    forward pass. A random W_h of spectral radius rho stretches a typical vector by about rho;
    the slopes then scale its entries, by gamma on average in the root-mean-square sense."""
    slopes = np.stack([1.0 - cache[1] ** 2 for cache in cell.caches])
    return float(np.sqrt(np.mean(slopes**2)))


def measure(radii: list[float], forget_biases: list[float], T: int, hidden: int, n_in: int,
            batch: int, input_scale: float, seed: int) -> tuple[dict[str, np.ndarray],
                                                               dict[str, np.ndarray],
                                                               dict[float, float]]:
    """Norms relative to the last step's, for RNNs of each radius and for the gated cells.

    Every layer is built from the same seed, so their input weights are the same draw; the
    gated cells get recurrent weights of spectral radius 1 per gate, like the middle RNN.
    Returns (rnn curves by label, gated curves by label, the RNN's tanh slope per radius).
    """
    rnn_curves, gated, slopes = {}, {}, {}
    for rho in radii:
        cell = RNN(n_in, hidden, np.random.default_rng(seed), spectral_radius=rho)
        norms = gradient_norms(cell, T, np.random.default_rng(seed + 1), batch, input_scale)
        rnn_curves[f"RNN, radius {rho:g}"] = norms / norms[-1]
        slopes[rho] = tanh_slope(cell)
    cells: list[tuple[str, RecurrentLayer]] = [
        ("RNN, radius 1", RNN(n_in, hidden, np.random.default_rng(seed), spectral_radius=1.0))]
    cells += [(f"LSTM, forget bias {fb:g}",
               LSTM(n_in, hidden, np.random.default_rng(seed), 1.0, forget_bias=fb))
              for fb in forget_biases]
    cells.append(("GRU", GRU(n_in, hidden, np.random.default_rng(seed), 1.0)))
    for label, cell in cells:
        norms = gradient_norms(cell, T, np.random.default_rng(seed + 1), batch, input_scale)
        gated[label] = norms / norms[-1]
    return rnn_curves, gated, slopes


def plot_gradient_flow(rnn_curves: dict[str, np.ndarray], gated: dict[str, np.ndarray],
                       input_scale: float, out_dir: Path | None = None) -> Figure:
    """Two panels: the RNN for several spectral radii; the RNN against the LSTM and GRU."""
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, curves, title in ((axes[0], rnn_curves, "RNN: the spectral radius of W_h decides"),
                              (axes[1], gated, "Gated cells, recurrent weights of radius 1")):
        for label, norms in curves.items():
            steps_back = np.arange(len(norms))[::-1]
            style = ({"ls": "--", "color": "black"} if label.startswith("RNN") and curves is gated
                     else {})
            ax.semilogy(steps_back, np.maximum(norms, 1e-300), lw=1.6, label=label, **style)
        ax.axhline(1.0, color="0.6", lw=0.8)
        ax.set_xlabel("steps back from the loss (k)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="major")
    axes[0].set_ylabel("||dL/ds_(T-k)|| / ||dL/ds_T||")
    fig.suptitle(f"How much blame reaches k steps back (fresh layers, inputs of scale "
                 f"{input_scale:g}, loss on the last step)", fontsize=11)
    save_figure(fig, out_dir, "gradient_flow.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    limit_blas_threads()  # small matrices, one after another: one BLAS thread is fastest
    T, n_in = args.seq_len, 16
    try:  # one cell at a time, the LSTM the largest: 4 gate blocks
        check_recurrent_sizes(n_in, args.hidden, 4, args.batch, T,
                              f"--hidden {args.hidden} --batch {args.batch} --seq-len {T}",
                              gradcheck=False)
    except ValueError as err:
        parser.error(str(err))

    print(f"1. Setup: random inputs x (B, T, D) = ({args.batch}, {T}, {n_in}) of scale "
          f"{args.input_scale:g}, H = {args.hidden}; loss on step {T} only")
    cell = RNN(n_in, args.hidden, np.random.default_rng(args.seed))
    print(f"   W_h {cell.params['W_h'].shape} drawn with entries N(0, 1/H) has spectral radius "
          f"{spectral_radius(cell.params['W_h']):.3f}; we rescale it to each radius asked for")
    radii = list(dict.fromkeys(args.spectral_radius))  # each radius once, in the order given
    biases = list(dict.fromkeys(args.forget_bias))
    rnn_curves, gated, slopes = measure(radii, biases, T, args.hidden, n_in, args.batch,
                                        args.input_scale, args.seed)
    shown = [k for k in (1, 10, 25, 50, 75, 100, 150, 200) if k <= T]
    header = "".join(f"{k:>10d}" for k in shown)

    print("\n2. The RNN: ||dL/ds_(T-k)|| / ||dL/ds_T|| for k steps back")
    print(f"   {'':30s}{header}")
    for label, norms in rnn_curves.items():
        print(f"   {label:30s}" + "".join(f"{norms[T - k]:10.1e}" for k in shown))
    k = min(50, T)
    print(f"   per step back, measured over the last {k} steps: the blame is multiplied by")
    for (rho, gamma), norms in zip(slopes.items(), rnn_curves.values(), strict=True):
        print(f"   radius {rho:g}: {norms[T - k] ** (1 / k):.2f} per step; the typical tanh "
              f"slope is gamma = {gamma:.2f}, and radius * gamma = {rho * gamma:.2f}")

    print("\n3. The gated cells (recurrent weights of spectral radius 1 per gate)")
    print(f"   {'':30s}{header}")
    for label, norms in gated.items():
        print(f"   {label:30s}" + "".join(f"{norms[T - k]:10.1e}" for k in shown))
    if T >= 50:
        rnn50, lstm50 = gated["RNN, radius 1"][T - 50], max(
            v[T - 50] for k, v in gated.items() if k.startswith("LSTM"))
        print(f"   50 steps back, the best LSTM keeps {lstm50 / rnn50:.1e} times the RNN's "
              f"share of the blame")

    print("\nFigures")
    plot_gradient_flow(rnn_curves, gated, args.input_scale, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Measure vanishing and exploding gradients through time.")
    parser.add_argument("--spectral-radius", type=nonnegative_float, nargs="+",
                        default=[0.5, 1.0, 2.0, 3.0],
                        help="spectral radii of the RNN's W_h to compare (default: 0.5 1 2 3)")
    parser.add_argument("--forget-bias", type=finite_float, nargs="+", default=[0.0, 1.0, 3.0],
                        help="starting forget-gate biases of the LSTMs")
    parser.add_argument("--seq-len", type=positive_int, default=100,
                        help="steps in the sequence: how far back we look")
    parser.add_argument("--hidden", type=positive_int, default=64, help="hidden units")
    parser.add_argument("--input-scale", type=nonnegative_float, default=1.0,
                        help="std of the random inputs; small inputs keep tanh in its linear part")
    parser.add_argument("--batch", type=positive_int, default=32, help="sequences averaged over")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
