"""Positional encodings: attention cannot tell order, so we write the position into each vector.

Self-attention compares every position with every other through dot products, and a dot product
does not care where a vector sits in the sequence. Shuffle the input words and each output is
shuffled the same way, otherwise unchanged (the tests check this "permutation equivariance").
"Dog bites man" and "man bites dog" would look alike. The fix is to add to each token's vector
a second vector that depends only on its position.

Two ways to make that vector:
- Sinusoids (Vaswani et al. 2017, "Attention Is All You Need"): feature pair (2i, 2i+1) of
  position t holds sin(t / 10000^(2i/d)) and cos(t / 10000^(2i/d)). Each pair is a clock hand
  turning at its own speed: the first pairs spin fast (they tell neighbours apart), the last ones
  crawl (they tell the beginning of a long text from the end). Nothing is learned, and because
  sin(a + b) is a fixed mix of sin(a) and cos(a), "k positions further on" is the same linear map
  at every position.
- Learned positions (GPT-2, Radford et al. 2019): a table of context x d numbers trained like the
  token embeddings. More flexible, but it knows nothing about positions beyond the context length.
Our NumPy transformer offers both (`--positions sinusoidal|learned|none` in train_transformer.py).

Run:  python phase-05-attention/code/positional.py --positions 64 --d-model 32
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_out_flag, save_figure
from phase00.flags import check_fits_in_memory, positive_int, script_parser


def sinusoidal_encoding(T: int, d: int) -> np.ndarray:
    """(T, d) matrix: row t is position t's code. d must be even (features come in pairs)."""
    if d % 2 or d < 2 or T < 1:
        raise ValueError(f"need T >= 1 and an even d >= 2 (sin/cos pairs), got T={T}, d={d}")
    t = np.arange(T)[:, None]  # (T, 1) positions
    freq = 1.0 / 10000 ** (np.arange(0, d, 2) / d)  # (d/2,) from 1 down to almost 1/10000
    angles = t * freq  # (T, d/2): each column is one clock hand turning at its own speed
    pe = np.zeros((T, d))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe


def plot_encoding(pe: np.ndarray, out_dir: Path | None) -> Figure:
    """Heatmap of the code of every position, and how similar positions are to position 0."""
    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    im = ax1.imshow(pe, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
    ax1.set_xlabel("feature (sin, cos, sin, cos, ...)")
    ax1.set_ylabel("position t")
    ax1.set_title("Sinusoidal positional encoding")
    fig.colorbar(im, ax=ax1, fraction=0.046)
    sims = pe @ pe[len(pe) // 2] / (pe ** 2).sum(axis=1)
    ax2.plot(sims, color="tab:purple")
    ax2.axvline(len(pe) // 2, color="0.6", ls=":")
    ax2.set_xlabel("position t")
    ax2.set_ylabel(f"code(t) · code({len(pe) // 2}) / |code|²")
    ax2.set_title("Nearby positions have similar codes")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out_dir, "positional_encoding.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.d_model % 2:
        parser.error(f"--d-model must be even (sin/cos pairs), got {args.d_model}")
    T, d = args.positions, args.d_model
    try:  # float64 (T, d) tables: the code, its angles, the shifted copy, the figure's copies
        check_fits_in_memory(8 * 6 * T * d, f"--positions {T} --d-model {d}")
    except ValueError as err:
        parser.error(str(err))

    pe = sinusoidal_encoding(T, d)
    print(f"1. The code matrix has shape {pe.shape}: one row of {d} numbers per position")
    for t in (0, 1, 2, min(10, T - 1)):
        print(f"   position {t:3d}: " + " ".join(f"{v:+.3f}" for v in pe[t, :6]) + " ...")
    print("   Feature pair 0 turns 1 radian per position; the last pair "
          f"{1 / 10000 ** ((d - 2) / d):.2e} radians.")

    print("\n2. Each row has the same length (every pair is a point on a unit circle):")
    print(f"   |code(t)|^2 = {np.round((pe ** 2).sum(axis=1)[:4], 6)} ... = d/2 = {d // 2}")

    if T > 5:
        print("\n3. A shift by k positions is the same rotation wherever you start:")
        k = 3
        freq = 1.0 / 10000 ** (np.arange(0, d, 2) / d)
        c, s = np.cos(k * freq), np.sin(k * freq)
        shifted = pe.copy()  # rotate each (sin, cos) pair by the angle k * freq
        shifted[:, 0::2] = pe[:, 0::2] * c + pe[:, 1::2] * s
        shifted[:, 1::2] = pe[:, 1::2] * c - pe[:, 0::2] * s
        gap = np.abs(shifted[:-k] - pe[k:]).max()
        print(f"   rotating code(t) by the angles of k = {k} gives code(t + {k}) for every t: "
              f"largest error {gap:.1e}")

    print("\nFigures")
    plot_encoding(pe, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Sinusoidal positional encodings.")
    parser.add_argument("--positions", type=positive_int, default=64, help="sequence length T")
    parser.add_argument("--d-model", type=positive_int, default=32,
                        help="features per position, even")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
