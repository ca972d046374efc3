"""The MLP trained with matrix backprop: the same network as value_mlp.py, hundreds of times faster.

Training is four lines repeated, and each is one idea of this phase:

    logits = model.forward(X)            # phase 01's forward pass, keeping what backward needs
    loss = loss_fn.forward(logits, y)    # how surprised we are by the truth (phase 00)
    model.backward(loss_fn.backward())   # blame traced backward, one matrix product per layer
    optimizer.step()                     # every knob turned a little downhill

The model is a list of layers from layers.py, the optimizer one of optimizers.py, the data
a toy set from toy_data.py. Before training, the gradient checker confirms the backward pass
on this very model; after it, the decision boundary shows what the network learned.

Run:  python phase-02-backprop/code/mlp_numpy.py --dataset spirals --hidden 32 --epochs 2000
"""

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, nonnegative_int, script_parser
from phase00.gradient_descent import check_loss
from phase00.linear_regression import add_descent_flags
from phase00.probability import softmax
from phase02.gradcheck import TOLERANCE, gradcheck_model
from phase02.layers import (
    MLP,
    SoftmaxCrossEntropy,
    add_network_flags,
    build_mlp,
    mlp_memory_bytes,
)
from phase02.optimizers import OPTIMIZERS, make_optimizer
from phase02.toy_data import add_toy_data_flags, make_dataset, plot_decision_boundary


def make_problem(dataset: str, n_samples: int, noise: float, hidden: int, depth: int,
                 activation: str, init: str, seed: int) -> tuple[np.ndarray, np.ndarray, MLP]:
    """The data and a freshly initialised MLP 2 -> hidden (x depth) -> n_classes.

    One seed makes both, in a fixed order, so value_mlp.py (which calls this too) starts from
    exactly the same points and the same weights.
    """
    if depth < 1 or hidden < 1:
        raise ValueError(f"need depth >= 1 and hidden >= 1, got {depth} and {hidden}")
    rng = np.random.default_rng(seed)
    X, y = make_dataset(dataset, n_samples, noise, rng)
    sizes = [2] + [hidden] * depth + [int(y.max()) + 1]
    return X, y, build_mlp(sizes, activation, rng, init)


def predict_proba(model: MLP, X: np.ndarray) -> np.ndarray:
    """Class probabilities (N, C) for points X (N, 2)."""
    return softmax(model.forward(X), axis=-1)


def accuracy(model: MLP, X: np.ndarray, y: np.ndarray) -> float:
    return float((model.forward(X).argmax(axis=1) == y).mean())


def train(dataset: str = "moons", n_samples: int = 200, noise: float = 0.1, hidden: int = 16,
          depth: int = 2, activation: str = "tanh", init: str = "xavier",
          optimizer: str = "adam", lr: float = 0.02, epochs: int = 500, batch_size: int = 0,
          seed: int = 0, verbose: bool = True, ceiling: float | None = None) -> dict[str, Any]:
    """Train an MLP on a toy set; return the model, data, per-epoch losses and accuracies.

    batch_size 0 means full batch: one step per epoch on all points (what value_mlp.py
    does). A positive batch_size shuffles the points each epoch and steps once per slice.
    losses[k] is the full-data loss before epoch k's updates (losses[-1]: after the last).
    With a `ceiling`, a loss above it (or not a number) stops the run with FloatingPointError
    (phase 00's check_loss); without one, a run that blows up goes on, in nan.
    """
    X, y, model = make_problem(dataset, n_samples, noise, hidden, depth, activation, init,
                               seed)
    loss_fn = SoftmaxCrossEntropy()
    opt = make_optimizer(optimizer, model.layers, lr)
    rng = np.random.default_rng(seed + 1)  # for shuffling only
    batch = batch_size if 0 < batch_size < len(X) else len(X)
    losses, accuracies = [], []
    start = time.perf_counter()
    for epoch in range(epochs + 1):
        logits = model.forward(X)  # one forward pass gives both the loss and the accuracy
        losses.append(loss_fn.forward(logits, y))
        accuracies.append(float((logits.argmax(axis=1) == y).mean()))
        if ceiling is not None:
            check_loss(losses[-1], f"at epoch {epoch}", lr, ceiling)
        if verbose and (epoch % max(1, epochs // 10) == 0 or epoch == epochs):
            print(f"   epoch {epoch:5d}   loss {losses[-1]:.4f}   accuracy {accuracies[-1]:6.1%}")
        if epoch == epochs:
            break
        order = rng.permutation(len(X)) if batch < len(X) else np.arange(len(X))
        for i in range(0, len(X), batch):
            idx = order[i:i + batch]
            loss_fn.forward(model.forward(X[idx]), y[idx])
            model.backward(loss_fn.backward())  # our layers overwrite grads: no zero_grad
            opt.step()
    seconds = time.perf_counter() - start
    return {"model": model, "X": X, "y": y, "losses": losses, "accuracies": accuracies,
            "seconds": seconds}


def gradient_noise(model: MLP, X: np.ndarray, y: np.ndarray, batch_sizes: list[int],
                   rng: np.random.Generator, draws: int = 200) -> dict[int, tuple[float, float]]:
    """How far the gradient of a random mini-batch strays from the gradient of all the data.

    The full-batch gradient g is the average of one gradient per example; a batch of B random
    examples averages only B of them, so it is g plus noise. For each B, draw `draws` batches
    (without replacement) and return (mean relative distance |g_B - g| / |g|, mean cosine
    between g_B and g), all parameters flattened into one vector. The noise shrinks about like
    1 / sqrt(B): the spread of an average (phase 00's probability note). Returns {} where the
    full gradient is 0 up to round-off (all-zero weights on balanced data): nothing to compare.
    """
    loss_fn = SoftmaxCrossEntropy()

    def flat_gradient(idx: np.ndarray) -> np.ndarray:
        loss_fn.forward(model.forward(X[idx]), y[idx])
        model.backward(loss_fn.backward())
        return np.concatenate([g.ravel() for g in model.grads.values()])

    g_full = flat_gradient(np.arange(len(X)))
    g_norm = float(np.linalg.norm(g_full))
    if g_norm < 1e-12:  # a flat point: only round-off is left to measure
        return {}
    noise = {}
    for B in batch_sizes:
        distances, cosines = [], []
        for _ in range(draws):
            g_B = flat_gradient(rng.choice(len(X), size=B, replace=False))
            distances.append(np.linalg.norm(g_B - g_full) / g_norm)
            cosines.append(g_B @ g_full / max(np.linalg.norm(g_B) * g_norm, 1e-300))
        noise[B] = (float(np.mean(distances)), float(np.mean(cosines)))
    return noise


def plot_training(losses: list[float], accuracies: list[float], title: str,
                  out_dir: Path | None = None, name: str = "mlp_numpy_training.png") -> Figure:
    """Loss (log scale) and accuracy per epoch, side by side."""
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.semilogy(losses, color="tab:red")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy (nats)")
    ax_loss.set_title("loss")
    ax_acc.plot(np.array(accuracies) * 100, color="tab:blue")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("training accuracy (%)")
    ax_acc.set_ylim(0, 101)
    ax_acc.set_title("accuracy")
    fig.suptitle(title, fontsize=10)
    save_figure(fig, out_dir, name)
    return fig


GRADCHECK_MAX_PARAMS = 20_000  # the check nudges every parameter: two forward passes each


def loss_ceiling(n_classes: int) -> float:
    """A loss no working run reaches: 100 times (1 + ln C), where ln C is a uniform guess's.

    Above it the steps are so long that the logits are hundreds apart and wrong (--lr 1e6
    reaches millions): the run is stopped rather than left to print nonsense.
    """
    return 100 * (1 + float(np.log(n_classes)))


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.lr <= 0 or args.epochs < 0 or args.n_samples < 2 or args.batch_size < 0:
        parser.error("need --lr > 0, --epochs >= 0, --n-samples >= 2, --batch-size >= 0")
    if args.batch_size > args.n_samples:
        parser.error(f"--batch-size {args.batch_size} is larger than the {args.n_samples} "
                     f"points: a batch cannot hold more points than there are (0 or "
                     f"{args.n_samples} means full batch)")
    sizes = [2] + [args.hidden] * args.depth + [2]  # both toy sets have two classes
    try:  # the largest batch is the decision-boundary plot's grid of 200 x 200 points
        check_fits_in_memory(mlp_memory_bytes(sizes, max(args.n_samples, 200 * 200)),
                             "this network (--hidden, --depth, --n-samples)")
    except ValueError as err:
        parser.error(str(err))

    setup = {k: getattr(args, k) for k in ("dataset", "n_samples", "noise", "hidden", "depth",
                                           "activation", "init", "seed")}
    X, y, model = make_problem(**setup)
    print(f"1. Data: {args.dataset}, X {X.shape}, y {y.shape}, {int(y.max()) + 1} classes")
    print(f"   model ({model.n_params} parameters):")
    model.forward(X[:4], verbose=True)

    print("\n2. Gradient check of this model before training (float64, 8 points)")
    if model.n_params > GRADCHECK_MAX_PARAMS:
        print(f"   skipped: it nudges every one of the {model.n_params:,} parameters, two forward "
              f"passes each,\n   and would take longer than the training; it runs for models "
              f"of up to {GRADCHECK_MAX_PARAMS:,} parameters")
    else:
        errors = gradcheck_model(model, SoftmaxCrossEntropy(), X[:8], y[:8], verbose=True)
        if max(errors.values()) < TOLERANCE:
            print("   every error is below 1e-6: the backward pass is right")
        else:
            print("   not every error is below 1e-6: read the verdicts above")

    print(f"\n3. Training: {args.optimizer}, lr {args.lr:g}, {args.epochs} epochs, "
          f"{'full batch' if args.batch_size in (0, len(X)) else f'batches of {args.batch_size}'}")
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # check_loss reports a blow-up
            result = train(**setup, optimizer=args.optimizer, lr=args.lr, epochs=args.epochs,
                           batch_size=args.batch_size, ceiling=loss_ceiling(int(y.max()) + 1))
    except FloatingPointError as err:
        parser.exit(1, f"error: {err}\n")
    per_epoch = result["seconds"] / max(args.epochs, 1)
    print(f"   final accuracy {result['accuracies'][-1]:.1%}, loss {result['losses'][-1]:.4f}, "
          f"{result['seconds']:.2f} s ({per_epoch * 1e3:.2f} ms per epoch)")

    print("\n4. Mini-batches: how far a batch's gradient strays from the full-batch one")
    print("   (at the starting weights, 200 random batches of each size)")
    sizes = [B for B in (1, 4, 16, 64) if B < len(X)] + [len(X)]
    noise = gradient_noise(model, X, y, sizes, np.random.default_rng(args.seed + 2))
    for B, (distance, cosine) in noise.items():
        print(f"   batch of {B:4d}: |g_B - g| / |g| = {distance:.3f}, "
              f"cosine with the full gradient {cosine:+.3f}")
    if noise:
        print("   A small batch points roughly downhill, with noise that shrinks like 1/sqrt(B).")
        print("   That noise is the \"stochastic\" in stochastic gradient descent: the price of "
              "steps\n   that cost B examples each instead of all N.")
    else:
        print("   the full gradient is 0 (up to round-off) at these weights: there is no "
              "direction to compare with")

    print("\nFigures")
    sizes = " -> ".join(str(layer.n_out) for layer in result["model"].layers
                        if hasattr(layer, "n_out"))
    title = (f"NumPy MLP 2 -> {sizes} ({args.activation}) on {args.dataset}\n"
             f"{args.optimizer}, lr {args.lr:g}, {args.epochs} epochs")
    plot_decision_boundary(lambda P: predict_proba(result["model"], P), result["X"],
                           result["y"], title, "mlp_numpy_boundary.png", args.out)
    plot_training(result["losses"], result["accuracies"], title, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Train a vectorised MLP on a 2-D toy set.")
    add_toy_data_flags(parser, n_samples=200)
    add_network_flags(parser, hidden=16, activation="tanh", depth=2)
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam", help="optimizer")
    add_descent_flags(parser, lr=0.02, epochs=500)
    parser.add_argument("--batch-size", type=nonnegative_int, default=0,
                        help="mini-batch size; 0 = full batch")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
