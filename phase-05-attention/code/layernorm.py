"""LayerNorm and residual connections: the two pieces that let a deep stack of layers train.

Phase 02 measured what depth does to signals: through many layers they shrink or blow up, and
the gradient that reaches the first layers fades. A transformer is deep (GPT-2 small has 12
blocks, each with two sub-layers), so it needs two safety devices:

- A residual connection (He, Zhang, Ren & Sun 2015, "Deep Residual Learning for Image
  Recognition"): each sub-layer computes a change to add, x + f(x), instead of replacing x. The
  "+ x" is a straight path through the whole network, for the signal forward and for the
  gradient backward: d(x + f(x))/dx = 1 + f'(x), so the gradient arriving at a block's output
  reaches its input whole, plus whatever the branch f adds to it (or takes from it).
- Layer normalisation (Ba, Kiros & Hinton 2016, "Layer Normalization"): rescale each position's
  vector to mean 0 and variance 1 over its features, then let the layer learn a gain g and a
  bias b per feature. Whatever the layer below did to the scale, the layer above sees numbers of
  a steady size. (Unlike batch normalisation it looks at one example at a time, so it works
  the same in training and in generation, one token at a time.)

    mu = mean(x),  var = mean((x - mu)^2),  x_hat = (x - mu) / sqrt(var + eps),  y = g x_hat + b

GPT-2 uses the "pre-LN" arrangement, x + f(LN(x)): the normalisation sits inside the branch, so
the residual path itself is never touched (Xiong et al. 2020, "On Layer Normalization in the
Transformer Architecture", explain why this trains more easily than the original post-LN).

Run:  python phase-05-attention/code/layernorm.py --depth 30
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, positive_float, positive_int, script_parser
from phase02.layers import Activation
from phase05.attention import Linear


class LayerNorm:
    """Normalise each vector over its last axis, then scale by g and shift by b (learned)."""

    def __init__(self, d: int, eps: float = 1e-5) -> None:
        if d < 1 or eps <= 0:
            raise ValueError(f"LayerNorm needs d >= 1 and eps > 0, got d={d}, eps={eps}")
        self.d, self.eps = d, eps
        self.params: dict[str, np.ndarray] = {"g": np.ones(d), "b": np.zeros(d)}
        self.grads: dict[str, np.ndarray] = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.x_hat: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.shape[-1] != self.d:
            raise ValueError(f"{self!r} expects a last axis of {self.d}, got shape {x.shape}")
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        var = (xc * xc).mean(axis=-1, keepdims=True)
        self.rstd = 1.0 / np.sqrt(var + self.eps)  # (..., 1): one scale per vector
        self.x_hat = xc * self.rstd  # mean 0, variance ~1 along the last axis
        return self.x_hat * self.params["g"] + self.params["b"]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dL/dx given dL/dy. With dx_hat = dout * g and means over the last axis,

            dx = rstd * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)).

        The two subtracted means are the normalisation pushing back: moving every feature up
        together changes nothing after subtracting the mean, and neither does stretching them.
        """
        if self.x_hat is None:
            raise RuntimeError("call forward() before backward()")
        lead = tuple(range(dout.ndim - 1))
        self.grads["g"][...] = np.sum(dout * self.x_hat, axis=lead)
        self.grads["b"][...] = np.sum(dout, axis=lead)
        dx_hat = dout * self.params["g"]
        return self.rstd * (dx_hat - dx_hat.mean(axis=-1, keepdims=True)
                            - self.x_hat * (dx_hat * self.x_hat).mean(axis=-1, keepdims=True))

    def __repr__(self) -> str:
        return f"LayerNorm({self.d}, eps={self.eps:g})"


def deep_stack_gradients(depth: int, width: int, residual: bool, norm: bool, scale: float,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Push a batch through `depth` blocks of tanh(Linear(x)) and back.

    Each block is f(x) = tanh(W x + b), optionally pre-normalised, f(LN(x)), and optionally
    residual, x + f(...). Returns the std of the activations after each block and the norm of
    the gradient dL/dx arriving at each block's input, for L = sum(out * R), R random.
    """
    blocks = []
    for _ in range(depth):
        lin = Linear(width, width, rng)
        lin.params["W"] = rng.normal(0, scale / np.sqrt(width), size=(width, width))
        blocks.append((LayerNorm(width) if norm else None, lin, Activation("tanh")))
    h = rng.normal(size=(64, width))
    stds = []
    for ln, lin, act in blocks:
        f = act.forward(lin.forward(ln.forward(h) if ln else h))
        h = h + f if residual else f
        stds.append(h.std())
    dh = rng.normal(size=h.shape)
    norms = []
    for ln, lin, act in reversed(blocks):
        df = lin.backward(act.backward(dh))
        df = ln.backward(df) if ln else df
        dh = dh + df if residual else df
        norms.append(np.linalg.norm(dh))
    return np.array(stds), np.array(norms[::-1])


def plot_depth(curves: dict[str, tuple[np.ndarray, np.ndarray]], out_dir: Path | None) -> Figure:
    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    for name, (stds, norms) in curves.items():
        ax1.plot(range(1, len(stds) + 1), stds, label=name)
        ax2.plot(range(1, len(norms) + 1), norms, label=name)
    ax1.set_title("Size of the signal after each block")
    ax1.set_ylabel("std of activations")
    ax2.set_title("Size of the gradient reaching each block")
    ax2.set_ylabel("norm of dL/dx")
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xlabel("block")
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_dir, "residual_layernorm.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # each block keeps a (width, width) weight matrix and its gradient, and the
        # activations of 64 vectors for the backward pass, all float64
        check_fits_in_memory(8 * args.depth * args.width * (2 * args.width + 8 * 64),
                             f"--depth {args.depth} --width {args.width}")
    except ValueError as err:
        parser.error(str(err))

    print("1. LayerNorm on one vector x = [1, 2, 3, 4]")
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    ln = LayerNorm(4)
    y = ln.forward(x)
    print(f"   mean {x.mean():.2f}, variance {x.var():.4f}, 1/sqrt(var + 1e-5) = "
          f"{ln.rstd[0, 0]:.4f}")
    print(f"   x_hat = (x - mean) * that = {np.round(y[0], 4)}: mean 0, variance "
          f"{y.var():.4f}")
    dx = ln.backward(np.array([[1.0, 0.0, 0.0, 0.0]]))
    print(f"   dL/dx for dL/dy = [1, 0, 0, 0]: {np.round(dx[0], 4)} (sums to "
          f"{abs(dx.sum()):.0f}: shifting all x together changes nothing)")
    print(f"   x * 100 + 7 normalises to the same: "
          f"{np.allclose(ln.forward(x * 100 + 7), y, atol=1e-6)}")

    print(f"\n2. {args.depth} blocks of tanh(W x + b), width {args.width}, weights scaled by "
          f"{args.scale}/sqrt(width)")
    curves = {}
    for name, residual, norm in [("plain", False, False), ("residual", True, False),
                                 ("pre-LN residual", True, True)]:
        stds, norms = deep_stack_gradients(args.depth, args.width, residual, norm, args.scale,
                                           np.random.default_rng(args.seed))
        curves[name] = (stds, norms)
        print(f"   {name:16s} activation std after block 1 / {args.depth}: {stds[0]:.3g} / "
              f"{stds[-1]:.3g};  gradient norm at block {args.depth} / 1: {norms[-1]:.3g} / "
              f"{norms[0]:.3g}")
    # A gradient of exactly 0 at the last block (tanh saturated everywhere) has no ratio
    ratios = {name: norms[0] / norms[-1] if norms[-1] > 0 else None
              for name, (_, norms) in curves.items()}
    print(f"   gradient at block 1 / gradient at block {args.depth}: "
          + ", ".join(f"{name} {r:.3g}" if r is not None else f"{name} - (no gradient at all:"
                      f" every tanh is saturated)" for name, r in ratios.items()))
    print("   Without residuals each block multiplies the gradient by a factor set by its "
          "weights:\n   below 1 it vanishes over many blocks, above 1 it explodes (try --scale 3)."
          " The '+ x' path\n   carries it past every block, and pre-LN keeps what the branches "
          "add within a small factor.")

    print("\nFigures")
    plot_depth(curves, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("LayerNorm forward/backward, and why residual "
                           "connections keep deep stacks trainable.")
    parser.add_argument("--depth", type=positive_int, default=30,
                        help="blocks in the deep-stack experiment")
    parser.add_argument("--width", type=positive_int, default=64, help="features per position")
    parser.add_argument("--scale", type=positive_float, default=0.5,
                        help="weight scale times 1/sqrt(width); < 1 shrinks signals")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
