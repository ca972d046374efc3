"""The hand-written components of phases 02 to 05 against their PyTorch rebuilds, in one table.

Phases 02 to 05 derived every backward pass by hand and checked it against finite differences.
That check is strong, but it is a check of our code by our code. Here a second, independent
implementation answers: PyTorch's autograd, which nobody in this course wrote. For each
component the NumPy object and its PyTorch rebuild get the same weights (through the converter
pair next to each rebuild), the same input and the same upstream gradient, in float64, and we
compare:

- forward: the largest |NumPy - PyTorch| over the outputs; the bar is 1e-8;
- gradients: the largest |NumPy - PyTorch| over each parameter's gradient (and the input's);
  the bar is 1e-6;
- optimizers: the largest weight difference after 10 training steps of the same MLP, phase 02's
  optimizer against torch.optim's; the bar is 1e-8.

Two programs written independently, by different people, in different styles, that agree to
about 1e-15 on every number: that is as close to proof as testing gets. (The margins below the
bars are wide on purpose: a real bug moves a number by far more than 1e-8, and round-off in
float64 stays near 1e-15; tensors.py shows why float32 would blur that line.)

The table covers the layers, models and optimizers on the road to GPT (phase 02's MLP and
optimizers, phase 03's embedding, bigram and MLP language model, phase 04's recurrent cells,
phase 05's transformer and its parts). Phase 03's word2vec, phase 04's character RNN and
seq2seq and phase 05's Bahdanau attention have no PyTorch rebuild here; gradient clipping is
compared with PyTorch's by a test (tests/phase_06/test_train_loop.py).

Run:  python phase-06-pytorch/code/parity.py --steps 10
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import positive_int, script_parser
from phase02.mlp_numpy import make_problem
from phase03.embeddings import Embedding
from phase03.mlp_lm import MLPLanguageModel
from phase04.gru import GRU
from phase04.lstm import LSTM
from phase04.rnn import RNN
from phase05.attention import MultiHeadAttention
from phase05.layernorm import LayerNorm
from phase05.transformer import Block, Transformer, TransformerConfig
from phase06.device import limit_cpu_threads
from phase06.lm_torch import compare_bigram, compare_embedding, compare_mlp_lm
from phase06.mlp_torch import compare_mlp, largest_weight_gap, train_both
from phase06.rnn_torch import compare_recurrent
from phase06.tensors import FORWARD_TOL, GRAD_TOL, Parity, max_abs_diff, to_array
from phase06.train_loop import recipe_side_by_side
from phase06.transformer_torch import (
    attention_to_torch,
    block_to_torch,
    compare_layer,
    compare_transformer,
    layernorm_to_torch,
)

MAX_MINUTES = 30  # a run that would take longer is refused, with the estimate


def nudged(params: dict[str, np.ndarray], rng: np.random.Generator, scale: float = 0.05) -> None:
    """Add small noise to every array, in place: LayerNorm gains start at exactly 1 and biases at
    0, values at which a wrong gradient formula can hide; nudged, every term counts."""
    for p in params.values():
        p += rng.normal(0.0, scale, p.shape)


def run_all(seed: int = 0, steps: int = 10) -> list[Parity]:
    """Compare every component; return one Parity per row of the table."""
    rng = np.random.default_rng(seed)
    rows = []
    X, y, mlp = make_problem("moons", 32, 0.1, 16, 2, "tanh", "xavier", seed)
    rows.append(compare_mlp(mlp, X, y))
    X, y, mlp = make_problem("moons", 32, 0.1, 8, 3, "gelu", "he", seed)
    rows.append(compare_mlp(mlp, X, y))

    V = 13
    rows.append(compare_embedding(Embedding(V, 6, rng), rng.integers(0, V, (4, 5)), rng))
    rows.append(compare_bigram(Embedding(V, V, rng, std=0.5), rng.integers(0, V, 40),
                               rng.integers(0, V, 40)))
    lm = MLPLanguageModel(V, 3, 5, 16, rng)
    rows.append(compare_mlp_lm(lm, rng.integers(0, V, (10, 3)), rng.integers(0, V, 10)))

    B, T, D, H = 2, 7, 3, 5
    for cls in (RNN, LSTM, GRU):
        layer = cls(D, H, rng)
        nudged(layer.params, rng, 0.1)
        rows.append(compare_recurrent(layer, rng.normal(size=(B, T, D)),
                                      rng.normal(size=(B, layer.state_size)), rng))

    d, heads = 16, 4
    ln = LayerNorm(d)
    nudged(ln.params, rng, 0.1)
    rows.append(compare_layer(f"phase 05 LayerNorm = nn.LayerNorm (d={d})", ln,
                              layernorm_to_torch(ln), rng.normal(size=(2, 5, d)) * 3 + 1, rng))
    mha = MultiHeadAttention(d, heads, rng, causal=True)
    rows.append(compare_layer(f"phase 05 attention (causal, {heads} heads)", mha,
                              attention_to_torch(mha), rng.normal(size=(2, 6, d)), rng))
    block = Block(d, heads, 1e-5, rng)
    nudged(block.params, rng)
    rows.append(compare_layer("phase 05 block (pre-LN)", block, block_to_torch(block),
                              rng.normal(size=(2, 6, d)), rng))
    config = TransformerConfig(vocab_size=V, context=8, d_model=d, n_heads=heads, n_layers=2)
    model = Transformer(config, seed=seed)
    nudged(model.params, rng)
    rows.append(compare_transformer(model, rng.integers(0, V, (2, 8)),
                                    rng.integers(0, V, (2, 8))))

    for name, settings in (("sgd", {}), ("momentum", {"beta": 0.8}),
                           ("rmsprop", {"decay": 0.95, "eps": 1e-6}),
                           ("adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6,
                                     "weight_decay": 0.1}),
                           ("adamw", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6,
                                      "weight_decay": 0.1})):
        lr = 0.5 if name in ("sgd", "momentum") else 0.02
        run = train_both(name, lr, steps, seed=seed, settings=settings)
        rows.append(Parity(f"phase 02 {name}: weights after {steps} steps",
                           largest_weight_gap(run["np_model"], run["torch_model"])))

    # Everything at once: phase 05's recipe (AdamW in two groups, clipping, warmup and cosine)
    # on the small transformer above, from the same weights on the same batches.
    model = Transformer(config, seed=seed)
    ours, theirs, _, twin = recipe_side_by_side(
        model, rng.integers(0, V, 500), steps, batch=4, lr=3e-3, warmup=2, clip=1.0,
        weight_decay=0.1, beta2=0.99, seed=seed)
    weights = {k: to_array(v) for k, v in twin.state_dict().items()}
    gap = max(max_abs_diff(p, weights[k]) for k, p in model.state_dict().items())
    rows.append(Parity(f"phase 05 recipe: losses and weights, {steps} steps", max(gap, float(
        np.max(np.abs(ours - theirs))))))
    return rows


def plot_parity(rows: list[Parity], out_dir: Path | None = None) -> Figure:
    """One bar per component: the forward difference and the worst gradient difference."""
    fig = Figure(figsize=(10, 0.36 * len(rows) + 1.8), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    floor = 1e-20  # an exact 0 is drawn at the left edge
    fwd = [max(r.forward, floor) for r in rows]
    grad = [max(r.worst_grad, floor) if r.grads else np.nan for r in rows]
    ax.barh(y + 0.18, fwd, height=0.34, left=floor, color="tab:blue",
            label="forward (optimizers: weights after the steps)")
    ax.barh(y - 0.18, grad, height=0.34, left=floor, color="tab:orange",
            label="worst gradient")
    ax.axvline(FORWARD_TOL, color="tab:blue", ls="--", lw=1)
    ax.axvline(GRAD_TOL, color="tab:orange", ls="--", lw=1)
    ax.text(FORWARD_TOL / 1.3, y[0] + 0.6, f"forward bar {FORWARD_TOL:g}", fontsize=8,
            color="tab:blue", ha="right")
    ax.text(GRAD_TOL * 1.3, y[0] + 0.6, f"gradient bar {GRAD_TOL:g}", fontsize=8,
            color="tab:orange")
    ax.set_xscale("log")
    ax.set_xlim(floor, 1e-2)
    ax.set_ylim(-0.8, len(rows) + 0.3)
    ax.set_yticks(y, [r.name for r in rows], fontsize=8)
    ax.set_xlabel("max |NumPy - PyTorch| (float64; log scale, 0 at the left edge)")
    ax.set_title(f"{len(rows)} hand-written components of phases 02-05 against their PyTorch "
                 "rebuilds:\n"
                 "all differences are round-off, millions of times below the bars", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, out_dir, "parity_summary.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    minutes = 7e-3 * args.steps / 60  # the optimizers' runs: about 7 ms a step, all of them
    if minutes > MAX_MINUTES:
        parser.error(f"--steps {args.steps:,} would take about {minutes:,.0f} minutes (every "
                     f"optimizer steps twice, in NumPy and in PyTorch): at most {MAX_MINUTES} "
                     f"minutes")
    limit_cpu_threads(1)  # small tensors: one thread is faster (device.py explains)

    print(f"Parity in float64: forward bar {FORWARD_TOL:g}, gradient bar {GRAD_TOL:g}\n")
    rows = run_all(args.seed, args.steps)
    print(f"   {'component':46s} {'forward':>10s} {'gradient':>10s} {'arrays':>6s}")
    for row in rows:
        print(f"   {row.line()}")
    worst_fwd = float(np.max([r.forward for r in rows]))  # np.max keeps a nan visible
    worst_grad = float(np.max([r.worst_grad for r in rows]))
    print(f"\n   {sum(r.ok for r in rows)} of {len(rows)} components equal; largest forward "
          f"difference {worst_fwd:.1e}, largest gradient difference {worst_grad:.1e}")
    print(f"   ({sum(len(r.grads) for r in rows)} gradients compared, each against its own "
          f"hand-written backward pass)")

    print("\nFigures")
    plot_parity(rows, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("The parity table: phases 02-05 in NumPy "
                           "against their PyTorch rebuilds.")
    parser.add_argument("--steps", type=positive_int, default=10,
                        help="training steps of the optimizer comparisons")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
