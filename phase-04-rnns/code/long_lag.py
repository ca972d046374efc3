"""A memory test with one long dependency: the plain RNN forgets, the LSTM and the GRU learn it.

Everything so far says that the gated cells keep their blame alive for longer (lstm.py,
gradient_flow.py), but those are measurements at initialisation. On Shakespeare
(compare_cells.py) the plain RNN keeps up with them, because a character model finds most of
what it needs in the last few characters. This script builds a task that needs ONE thing from
long ago and nothing else, and trains all three cells on it.

The task. A sequence has lag + 1 steps. Step 0 shows one of k symbols, with a mark on it. Steps
1 .. lag show random symbols from the same k, unmarked: distractors. After the last step the
model must name the marked symbol. It reads the sequence with phase 04's own recurrent layer
(RNN, LSTM or GRU), and a Dense layer (phase 02) turns the LAST hidden state into k scores;
softmax cross-entropy, Adam and clipping by global norm, as in char_rnn.py. Nothing in the
distractors predicts the answer, so a model that has forgotten step 0 is right 1/k of the time:
chance. The distractors come from the same alphabet as the answer, so a network cannot simply
ignore its input after step 0: it must learn to WRITE when it sees the mark and to KEEP
otherwise. The loss reads the last step only, so its blame must travel back `lag` steps to
reach the one step that matters.

This is the experiment that motivated the LSTM. Bengio, Simard & Frasconi ("Learning Long-Term
Dependencies with Gradient Descent is Difficult", IEEE Transactions on Neural Networks, 1994)
posed a "latching" problem of this kind, a class fixed by the first inputs and followed by
noise, and proved the dilemma of notes/02: a network that stores a bit robustly against noise
is in the regime where its gradients vanish exponentially with the lag. Hochreiter &
Schmidhuber ("Long Short-Term Memory", Neural Computation, 1997) designed their cell for tasks
like their experiment 2 (remember the first symbol of a sequence across long stretches of
random distractors), where the recurrent networks of the day failed.

Like for like: the RNN's hidden size sets a parameter budget and each gated cell gets the
hidden size whose model comes closest to it (as in compare_cells.py), so the plain RNN has the
MOST hidden units. All cells see the same batches, in the same order, for the same number of
steps, with the same learning rate. One setting differs, and it is the point: a gated cell has a
valve whose bias sets how much it keeps per step at the start (the LSTM's forget gate, the GRU's
update gate), and both start at --keep-bias 3, sigma(3) = 0.95 kept per step. The plain RNN has
no such valve: its only memory is W_h, drawn with spectral radius about 1, and tanh.

Run:  python phase-04-rnns/code/long_lag.py --lags 5 10 20 40 60 --seeds 3
"""

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_out_flag, save_figure
from phase00.flags import finite_float, nonnegative_int, positive_int, script_parser
from phase00.threads import limit_blas_threads
from phase01.activations import sigmoid
from phase02.layers import Dense, SoftmaxCrossEntropy
from phase02.optimizers import Adam
from phase04.char_rnn import add_adam_flags
from phase04.clipping import clip_global_norm
from phase04.compare_cells import add_cells_flag, hidden_for_params, recurrent_params
from phase04.gru import GRU
from phase04.lstm import LSTM
from phase04.rnn import (
    RNN,
    RecurrentLayer,
    check_recurrent_sizes,
    spectral_radius,
    training_seconds,
)

CELLS: dict[str, type[RecurrentLayer]] = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
SOLVED = 0.99  # a run stops early once it names this share of the held-out sequences right
TARGET = 0.9  # the accuracy whose first step the table reports
MAX_SECONDS = 2 * 3600  # a run that could last longer is refused, with the estimate

# The full experiment, and --quick: a small one that runs in seconds (for the tests). A flag
# given on the command line always wins over either.
FULL: dict[str, Any] = {"lags": [5, 10, 20, 40, 60], "hidden": 64, "steps": 1000, "seeds": 3,
                        "eval_size": 512}
QUICK: dict[str, Any] = {"lags": [3, 30], "hidden": 32, "steps": 300, "seeds": 1,
                         "eval_size": 256}


def make_batch(rng: np.random.Generator, batch: int, lag: int,
               n_symbols: int) -> tuple[np.ndarray, np.ndarray]:
    """`batch` sequences of lag + 1 steps and their answers.

    x (B, lag + 1, k + 1): each step is a one-hot symbol (k columns) plus a mark column, which is
    1 at step 0 only. y (B,): the symbol of step 0, the one to name after the last step.
    """
    k = n_symbols
    symbols = rng.integers(0, k, size=(batch, lag + 1))  # step 0's symbol is the answer
    x = np.zeros((batch, lag + 1, k + 1))
    np.put_along_axis(x, symbols[:, :, None], 1.0, axis=2)  # one-hot, all steps at once
    x[:, 0, k] = 1.0  # the mark: "remember this one"
    return x, symbols[:, 0].copy()


class LastStepClassifier:
    """A recurrent layer, then a Dense head on its last hidden state: k scores per sequence.

    params / grads gather both layers' arrays (names like "rnn.W_h"); `layers` is what Adam and
    the clipping update.
    """

    def __init__(self, cell: str, n_symbols: int, hidden: int, keep_bias: float,
                 rng: np.random.Generator) -> None:
        n_in = n_symbols + 1  # one-hot symbol and the mark
        if cell == "lstm":
            self.rnn: RecurrentLayer = LSTM(n_in, hidden, rng, forget_bias=keep_bias)
        else:
            self.rnn = CELLS[cell](n_in, hidden, rng)
        if cell == "gru":  # the update gate z is the GRU's "keep" valve: blocks r, z, n
            self.rnn.params["b"][hidden:2 * hidden] = keep_bias
        self.head = Dense(hidden, n_symbols, rng)
        self.loss_layer = SoftmaxCrossEntropy()
        self.layers = [self.rnn, self.head]

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {f"{n}.{k}": v for n, layer in (("rnn", self.rnn), ("head", self.head))
                for k, v in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{n}.{k}": v for n, layer in (("rnn", self.rnn), ("head", self.head))
                for k, v in layer.grads.items()}

    def n_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Scores (B, k) for sequences x (B, T, k + 1), read from the last hidden state."""
        hs = self.rnn.forward(x)  # (B, T, H): every step's state, kept for BPTT
        return self.head.forward(hs[:, -1])

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy of naming y (B,) after reading x."""
        return self.loss_layer.forward(self.forward(x), y)

    def backward(self) -> None:
        """Fill every grad. Only the last step has an output, so only it gets blame from the
        loss; BPTT carries that blame back to step 0."""
        dlast = self.head.backward(self.loss_layer.backward())  # (B, H)
        B, T, H = self.rnn.x.shape[0], self.rnn.x.shape[1], self.rnn.n_hidden
        dhs = np.zeros((B, T, H))
        dhs[:, -1] = dlast
        self.rnn.backward(dhs)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        """Share of the sequences whose highest score is the right symbol."""
        return float(np.mean(self.forward(x).argmax(axis=1) == y))


def blame_at_mark(model: LastStepClassifier) -> float:
    """After backward(): ||dL/ds|| on the state right after the marked step, as a share of
    ||dL/ds|| on the last state (means over the batch). How much of the blame reaches the one
    step that holds the answer."""
    norms = np.linalg.norm(model.rnn.dL_dstate, axis=2).mean(axis=0)  # s_0 .. s_T
    return float(norms[1] / norms[-1])


def train_one(cell: str, hidden: int, lag: int, seed: int, args: argparse.Namespace
              ) -> dict[str, Any]:
    """Train one cell on one lag with one seed; return its accuracy curve and what it took.

    The seed and the lag fix the initial weights, the training batches and the held-out set,
    so the three cells of one (lag, seed) see exactly the same data.
    """
    k = args.symbols
    model = LastStepClassifier(cell, k, hidden, args.keep_bias,
                               np.random.default_rng([seed, lag, 0]))
    optimizer = Adam(model.layers, lr=args.lr)
    data = np.random.default_rng([seed, lag, 1])
    x_eval, y_eval = make_batch(np.random.default_rng([seed, lag, 2]), args.eval_size, lag, k)
    curve_steps, curve_acc = [0], [model.accuracy(x_eval, y_eval)]
    blame = float("nan")
    start = time.perf_counter()
    diverged = None  # the step whose loss was not a finite number, if any
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported below
        for step in range(1, args.steps + 1):
            x, y = make_batch(data, args.batch_size, lag, k)
            if not np.isfinite(model.loss(x, y)):
                diverged = step
                curve_steps.append(step)
                curve_acc.append(model.accuracy(x_eval, y_eval))
                break  # the weights are no longer numbers: stop, and say so
            model.backward()
            if step == 1:
                blame = blame_at_mark(model)
            if args.clip > 0:
                clip_global_norm(model.layers, args.clip)
            optimizer.step()
            if step % args.eval_every == 0 or step == args.steps:
                curve_steps.append(step)
                curve_acc.append(model.accuracy(x_eval, y_eval))
                if curve_acc[-1] >= SOLVED:
                    break  # solved: more steps would only cost time
    reached = [s for s, a in zip(curve_steps, curve_acc, strict=True) if a >= TARGET]
    return {"steps": curve_steps, "acc": curve_acc, "final": curve_acc[-1],
            "to_target": reached[0] if reached else None, "blame": blame, "diverged": diverged,
            "seconds": time.perf_counter() - start, "params": model.n_params()}


def symbol_name(i: int) -> str:
    """A symbol's name for printing: A, B, C, ... (numbers beyond Z)."""
    return chr(ord("A") + i) if i < 26 else str(i)


def show_sequence(x: np.ndarray) -> str:
    """One sequence (T, k + 1) as text: its symbols, the marked one with a *."""
    k = x.shape[1] - 1
    return " ".join(("*" if step[k] else "") + symbol_name(int(step[:k].argmax())) for step in x)


def print_table(results: dict[str, dict[int, list[dict[str, Any]]]], lags: list[int],
                cell_text: Callable[[list[dict[str, Any]]], str]) -> None:
    """A table with a row per lag and a column per cell; cell_text(runs) fills each entry from
    the runs (one per seed) of that cell at that lag."""
    print("   lag " + "".join(f"{cell.upper():>20s}" for cell in results))
    for lag in lags:
        print(f"   {lag:3d} " + "".join(f"{cell_text(by_lag[lag]):>20s}"
                                       for by_lag in results.values()))


def plot_long_lag(results: dict[str, dict[int, list[dict[str, Any]]]], lags: list[int],
                  chance: float, out_dir: Path | None = None) -> Figure:
    """Left: final accuracy against lag, one dot per seed and a line through the means, one
    colour per cell. Right: held-out accuracy during training at the longest lag,
    first seed."""
    fig = Figure(figsize=(11, 4.3), layout="constrained")
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
    colors = {"rnn": "tab:blue", "lstm": "tab:orange", "gru": "tab:green"}
    spread = 0.012 * (lags[-1] - lags[0] + 1)  # dots of the cells side by side, not on top
    for i, (cell, by_lag) in enumerate(results.items()):
        finals = np.array([[run["final"] for run in by_lag[lag]] for lag in lags])  # (lags, seeds)
        x = np.array(lags) + (i - 1) * spread
        left.plot(x, finals.mean(axis=1), "-", color=colors[cell], label=f"{cell.upper()} (mean)")
        left.plot(np.repeat(x, finals.shape[1]), finals.ravel(), "o", ms=5, alpha=0.55,
                  color=colors[cell])
        run = by_lag[lags[-1]][0]
        right.plot(run["steps"], run["acc"], "o-", ms=3, color=colors[cell], label=cell.upper())
    for ax in (left, right):
        ax.axhline(chance, color="0.5", ls=":", lw=1, label=f"chance (1/{round(1 / chance)})")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    n_seeds = len(next(iter(results.values()))[lags[0]])
    left.set_xlabel("lag: steps between the marked symbol and the answer")
    left.set_ylabel("held-out accuracy at the end of training")
    left.set_title(f"Naming a symbol seen lag steps ago: a dot per seed ({n_seeds}), a line "
                   f"through the means", fontsize=9)
    right.set_xlabel("training step")
    right.set_ylabel("held-out accuracy")
    right.set_title(f"Training at lag {lags[-1]} (first seed; a run stops at "
                    f"{SOLVED:.0%})", fontsize=9)
    save_figure(fig, out_dir, "long_lag.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for name, value in preset.items():
        if getattr(args, name) is None:  # only what the command line left open
            setattr(args, name, value)
    if args.symbols < 2:
        parser.error(f"--symbols {args.symbols}: the task needs at least 2 symbols to choose "
                     f"from")
    if args.symbols > 256:  # every step is a one-hot of 2k inputs: past a few hundred, the
        # task is no longer about memory but about a huge input layer, and it crawls
        parser.error(f"--symbols {args.symbols}: at most 256 (the task is about remembering one "
                     f"of a few symbols; 4 is the default)")
    lags = sorted(set(args.lags))
    cells = list(dict.fromkeys(args.cells))
    k, n_in = args.symbols, args.symbols + 1
    budget = recurrent_params("rnn", n_in, k, args.hidden)
    sizes = {cell: hidden_for_params(cell, budget, n_in, k) for cell in cells}
    try:
        for cell, H in sizes.items():
            check_recurrent_sizes(n_in, H, CELLS[cell].n_gates,
                                  max(args.batch_size, args.eval_size), lags[-1] + 1,
                                  f"--hidden {args.hidden} --batch-size {args.batch_size} "
                                  f"--eval-size {args.eval_size} at lag {lags[-1]}",
                                  gradcheck=False)
    except ValueError as err:
        parser.error(str(err))
    # The longest the whole run can take: every run to its last step (a solved one stops early)
    worst = args.seeds * sum(
        training_seconds(n_in, H, CELLS[cell].n_gates, args.batch_size, lag + 1, args.steps)
        + (args.steps // args.eval_every + 1)
        * training_seconds(n_in, H, CELLS[cell].n_gates, args.eval_size, lag + 1, 1) / 3
        for lag in lags for cell, H in sizes.items())
    if worst > MAX_SECONDS:
        parser.error(f"these lags, cells, seeds and --steps could take about {worst / 3600:,.1f} "
                     f"hours if no run stopped early: choose fewer or shorter lags, fewer "
                     f"--seeds or --steps (at most {MAX_SECONDS // 3600} hours)")
    limit_blas_threads()  # small matrices, one after another: one BLAS thread is fastest
    seeds = list(range(args.seed, args.seed + args.seeds))
    chance = 1.0 / k

    print(f"1. The task: step 0 shows one of k = {k} symbols, marked; then `lag` random "
          f"unmarked symbols;")
    print(f"   after the last step, name the marked one (chance {chance:.2f}). Example, lag 6:")
    x, y = make_batch(np.random.default_rng(args.seed), 1, 6, k)
    print(f"   {show_sequence(x[0])}  ->  {symbol_name(int(y[0]))}   (* = the mark)")

    print(f"\n2. The models: equal parameter budgets, set by the RNN with H = {args.hidden}")
    for cell, H in sizes.items():
        print(f"   {cell.upper():4s} H = {H:3d}: {recurrent_params(cell, n_in, k, H):,} parameters")
    kept = float(sigmoid(args.keep_bias))
    lifetime = 1.0 + math.exp(args.keep_bias) if args.keep_bias < 700 else math.inf  # 1/(1-kept)
    if set(sizes) - {"rnn"}:
        print(f"   the gated cells' keep valves start at sigma({args.keep_bias:g}) = {kept:.3f} "
              f"kept per step,\n   a memory of about 1 / (1 - {kept:.3f}) = "
              f"{lifetime:.1f} steps; {kept:.3f}^{lags[-1]} = {kept ** lags[-1]:.1e} is "
              f"left after {lags[-1]} steps")
    if "rnn" in sizes:
        first = RNN(n_in, sizes["rnn"], np.random.default_rng([args.seed, lags[-1], 0]))
        print(f"   the RNN has no valve: its W_h starts with spectral radius "
              f"{spectral_radius(first.params['W_h']):.3f}, and tanh's slope is at most 1")

    print(f"\n3. Training: Adam lr {args.lr:g}, clip {args.clip:g}, batches of "
          f"{args.batch_size}, at most {args.steps} steps, seeds {seeds};\n   a run stops "
          f"once it names {SOLVED:.0%} of its {args.eval_size} held-out sequences (if none "
          f"did, all of them would take about "
          f"{f'{worst:.0f} s' if worst < 90 else f'{worst / 60:,.0f} min'})")
    results: dict[str, dict[int, list[dict[str, Any]]]] = {c: {} for c in cells}
    total = time.perf_counter()
    for lag in lags:
        for cell, H in sizes.items():
            runs = [train_one(cell, H, lag, seed, args) for seed in seeds]
            results[cell][lag] = runs
            print(f"   lag {lag:3d} {cell.upper():4s}: final accuracy "
                  + " ".join(f"{r['final']:.2f}" for r in runs)
                  + ", after " + " ".join(str(r["steps"][-1]) for r in runs) + " steps"
                  + f" ({sum(r['seconds'] for r in runs):.1f} s)", flush=True)
            for seed, run in zip(seeds, runs, strict=True):
                if run["diverged"] is not None:
                    print(f"      seed {seed} diverged at step {run['diverged']}: its loss is not "
                          f"a finite number (try a smaller --lr)")

    print(f"\n4. Final held-out accuracy, mean over {len(seeds)} seed"
          f"{'s' if len(seeds) > 1 else ''} (lowest-highest); chance {chance:.2f}")
    print_table(results, lags, lambda runs: f"{np.mean([r['final'] for r in runs]):.2f} "
                f"({min(r['final'] for r in runs):.2f}-{max(r['final'] for r in runs):.2f})")
    print(f"\n5. Steps until the held-out accuracy first reached {TARGET:.0%}, per seed "
          f"(- = never, within {args.steps})")
    print_table(results, lags, lambda runs: " ".join(
        "-" if r["to_target"] is None else str(r["to_target"]) for r in runs))
    print("\n6. At the first step: the share of the blame on the last state that reaches the "
          "marked\n   step (first seed)")
    print_table(results, lags, lambda runs: f"{runs[0]['blame']:.1e}")
    print(f"\n   all runs: {time.perf_counter() - total:.0f} s")

    print("\nFigures")
    plot_long_lag(results, lags, chance, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Train RNN, LSTM and GRU to name a symbol seen "
                           "`lag` steps earlier among distractors.")
    parser.add_argument("--lags", type=positive_int, nargs="+", default=None,
                        help=f"lags to train at, each a separate run (default: "
                             f"{' '.join(map(str, FULL['lags']))}; --quick: "
                             f"{' '.join(map(str, QUICK['lags']))})")
    add_cells_flag(parser)
    parser.add_argument("--hidden", type=positive_int, default=None,
                        help=f"the RNN's hidden size; it sets the parameter budget of every cell "
                             f"(default: {FULL['hidden']}; --quick: {QUICK['hidden']})")
    parser.add_argument("--symbols", type=positive_int, default=4,
                        help="k, the symbols to choose from; chance is 1/k")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help=f"most training steps per run; a run stops early at "
                             f"{SOLVED * 100:.0f}%% held-out accuracy (default: {FULL['steps']}; "
                             f"--quick: {QUICK['steps']})")
    parser.add_argument("--batch-size", type=positive_int, default=32,
                        help="sequences per training step")
    add_adam_flags(parser, lr=3e-3, decayed=False)
    parser.add_argument("--keep-bias", type=finite_float, default=3.0,
                        help="starting bias of the gated cells' keep valves: the LSTM's forget "
                             "gate and the GRU's update gate")
    parser.add_argument("--eval-every", type=positive_int, default=50,
                        help="steps between held-out accuracies")
    parser.add_argument("--eval-size", type=positive_int, default=None,
                        help=f"held-out sequences per (lag, seed) (default: {FULL['eval_size']};"
                             f" --quick: {QUICK['eval_size']})")
    parser.add_argument("--seeds", type=positive_int, default=None,
                        help=f"seeds per (cell, lag): --seed, --seed + 1, ... (default: "
                             f"{FULL['seeds']}; --quick: {QUICK['seeds']})")
    parser.add_argument("--quick", action="store_true",
                        help="a small experiment of a few seconds; flags given still win")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="the first random seed")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
