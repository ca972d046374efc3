"""nn.Module: phase 02's MLP rebuilt in PyTorch, loaded with the same weights, trained in step.

Phase 01 built a network as a list of layers, each holding its weights in `params`; phase 02
gave each layer a hand-written `backward` and an optimizer that walked the `params` and
`grads`. PyTorch's `nn.Module` is that protocol, automated:

    ours (phases 01-02)                        PyTorch
    Dense(n_in, n_out): params W (n_in, n_out)  nn.Linear(n_in, n_out): weight (n_out, n_in)
    Activation("tanh")                          a module whose forward is torch.tanh
    MLP([layer, layer, ...])                    nn.Sequential(layer, layer, ...)
    model.params / model.grads                  model.named_parameters(), p.grad
    layer.backward(dout), by hand               loss.backward(), by autograd
    optimizer.step() over params and grads      torch.optim...step() over parameters()
    (no state on disk)                          model.state_dict(), load_state_dict()

Every attribute of a module that is an `nn.Parameter` or another module is registered
automatically, so `parameters()` finds every knob of the mixing board, however deeply nested,
and `state_dict()` names them by their path ("0.weight" is the weight of layer 0).

One difference of layout: nn.Linear stores its weight as (n_out, n_in) and computes
x @ weight.T + bias, while our Dense stores W as (n_in, n_out) and computes x @ W + b. The
converter pair below (`mlp_to_torch`, `mlp_to_numpy`) transposes on the way in and out; that,
and renaming W -> weight, b -> bias, is all a converter does.

Then the proof: from the same weights, NumPy's hand-written backward pass and PyTorch's
autograd give the same gradients (float64, differences near 1e-16), and phase 02's Adam and
torch.optim.Adam, trained side by side on phase 02's moons data, follow the same loss curve.

Run:  python phase-06-pytorch/code/mlp_torch.py --activation relu --optimizer adamw
"""

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase00.linear_regression import add_descent_flags
from phase01.activations import ACTIVATIONS
from phase02.layers import MLP, Dense, SoftmaxCrossEntropy, mlp_from_weights
from phase02.mlp_numpy import make_problem
from phase02.optimizers import OPTIMIZERS
from phase06.device import add_threads_flag, limit_cpu_threads
from phase06.optimizers_torch import torch_twin
from phase06.tensors import Parity, max_abs_diff, to_array, to_tensor


class StepFunction(torch.autograd.Function):
    """The step activation, with its backward written by hand, as in phase 01.

    `x > 0` has no gradient in PyTorch (a comparison is not differentiable), so autograd would
    stop there. A torch.autograd.Function is how you give PyTorch your own backward: forward
    computes the output, backward receives dL/d(output) and returns dL/d(input). The step's
    slope is 0 (almost) everywhere, the same choice as phase01.activations.step_grad.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx,
                 grad_out: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(grad_out)  # no blame gets through a step


def step(x: torch.Tensor) -> torch.Tensor:
    return StepFunction.apply(x)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU in the tanh approximation, phase 01's (and GPT-2's) choice."""
    return F.gelu(x, approximate="tanh")


# phase 01's activations by name, as torch functions (autograd knows their derivatives).
TORCH_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "step": step, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
    "gelu": gelu_tanh,
}
assert set(TORCH_ACTIVATIONS) == set(ACTIVATIONS)


class Activation(nn.Module):
    """An activation as a layer with no parameters (phase 01's Activation, as a module)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        if name not in TORCH_ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; choose one of "
                             f"{sorted(TORCH_ACTIVATIONS)}")
        self.name = name
        self.f = TORCH_ACTIVATIONS[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)

    def extra_repr(self) -> str:
        return self.name


class TorchMLP(nn.Sequential):
    """Linear, activation, Linear, ..., Linear: phase 02's MLP as an nn.Sequential.

    The layers are numbered like phase 02's (0 = first Dense, 1 = its activation, 2 = next
    Dense, ...), so the NumPy name "2.W" becomes the PyTorch name "2.weight".
    """

    def __init__(self, sizes: list[int], activation: str) -> None:
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"an MLP needs at least two positive sizes, got {sizes}")
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(Activation(activation))
        super().__init__(*layers)
        self.sizes, self.activation = list(sizes), activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"TorchMLP expects x of shape (batch, {self.sizes[0]}), got "
                             f"{tuple(x.shape)}")
        return super().forward(x)


def numpy_layout(model: MLP) -> tuple[list[int], str]:
    """The sizes and the hidden activation of a phase 02 MLP."""
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    names = {layer.name for layer in model.layers if not isinstance(layer, Dense)}
    if len(names) > 1:
        raise ValueError(f"this converter handles one activation throughout, found {names}")
    sizes = [dense[0].n_in] + [layer.n_out for layer in dense]
    return sizes, names.pop() if names else "tanh"


def mlp_to_torch(model: MLP) -> TorchMLP:
    """A TorchMLP with exactly the weights of phase 02's `model` (copied, float64 kept)."""
    sizes, activation = numpy_layout(model)
    torch_model = TorchMLP(sizes, activation).to(torch.float64)
    state = {}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            state[f"{i}.weight"] = to_tensor(layer.params["W"].T)  # (n_in, n_out) -> (n_out, n_in)
            state[f"{i}.bias"] = to_tensor(layer.params["b"])
    torch_model.load_state_dict(state)  # checks every name and shape
    return torch_model


def mlp_to_numpy(torch_model: TorchMLP) -> MLP:
    """Phase 02's MLP with exactly the weights of `torch_model` (copied)."""
    weights = [(to_array(layer.weight).T, to_array(layer.bias))  # back to (n_in, n_out)
               for layer in torch_model if isinstance(layer, nn.Linear)]
    return mlp_from_weights(weights, torch_model.activation)


def compare_mlp(model: MLP, x: np.ndarray, y: np.ndarray) -> Parity:
    """Forward logits and every gradient of the mean cross-entropy, NumPy against PyTorch."""
    torch_model = mlp_to_torch(model)
    loss_fn = SoftmaxCrossEntropy()
    logits = model.forward(x)
    loss_fn.forward(logits, y)
    model.backward(loss_fn.backward())
    logits_t = torch_model(to_tensor(x))
    F.cross_entropy(logits_t, torch.as_tensor(y)).backward()
    grads = {}
    for i, layer in enumerate(torch_model):
        if isinstance(layer, nn.Linear):
            grads[f"{i}.W"] = max_abs_diff(model.grads[f"{i}.W"], layer.weight.grad.T)
            grads[f"{i}.b"] = max_abs_diff(model.grads[f"{i}.b"], layer.bias.grad)
    return Parity(f"phase 02 MLP {'-'.join(map(str, torch_model.sizes))} "
                  f"{torch_model.activation}", max_abs_diff(logits, logits_t), grads)


def train_both(optimizer: str = "adam", lr: float = 0.02, epochs: int = 300,
               activation: str = "tanh", hidden: int = 16, seed: int = 0,
               settings: dict[str, float] | None = None) -> dict[str, object]:
    """Train phase 02's moons MLP twice from the same start, full batch, float64: NumPy with
    hand-written backprop and phase 02's optimizer, PyTorch with autograd and torch.optim.

    settings: extra keyword arguments for our optimizer (beta1, beta2, eps, weight_decay, ...);
    torch_twin copies them into PyTorch's. Returns both loss curves (one loss per epoch, before
    that epoch's step, plus the final one), both models and the seconds each took.
    """
    X, y, np_model = make_problem("moons", 200, 0.1, hidden, 2, activation, "xavier", seed)
    torch_model = mlp_to_torch(np_model)
    loss_fn = SoftmaxCrossEntropy()
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZERS)}")
    ours = OPTIMIZERS[optimizer](np_model.layers, lr=lr, **(settings or {}))
    theirs = torch_twin(ours, torch_model.parameters())
    X_t, y_t = to_tensor(X), torch.as_tensor(y)
    losses_np, losses_t = [], []
    start = time.perf_counter()
    for epoch in range(epochs + 1):
        losses_np.append(loss_fn.forward(np_model.forward(X), y))
        if epoch < epochs:
            np_model.backward(loss_fn.backward())  # our layers overwrite their grads
            ours.step()
    seconds_np = time.perf_counter() - start
    start = time.perf_counter()
    for epoch in range(epochs + 1):
        theirs.zero_grad()  # autograd adds into .grad: clear last step's first
        loss = F.cross_entropy(torch_model(X_t), y_t)
        losses_t.append(loss.item())
        if epoch < epochs:
            loss.backward()
            theirs.step()
    seconds_t = time.perf_counter() - start
    return {"numpy": np.array(losses_np), "torch": np.array(losses_t),
            "np_model": np_model, "torch_model": torch_model,
            "seconds_numpy": seconds_np, "seconds_torch": seconds_t}


def largest_weight_gap(np_model: MLP, torch_model: TorchMLP) -> float:
    """max |W_numpy - W_torch| over every parameter of the two MLPs."""
    other = mlp_to_numpy(torch_model).params
    return max(max_abs_diff(p, other[k]) for k, p in np_model.params.items())


def plot_training(run: dict[str, object], title: str, out_dir: Path | None = None) -> Figure:
    """Left: both loss curves (they lie on top of each other). Right: their difference."""
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_loss, ax_gap = fig.subplots(1, 2)
    ax_loss.semilogy(run["numpy"], color="tab:blue", lw=3, alpha=0.5,
                     label="NumPy: hand backprop + phase 02 optimizer")
    ax_loss.semilogy(run["torch"], color="tab:red", lw=1, ls="--",
                     label="PyTorch: autograd + torch.optim")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy (nats)")
    ax_loss.set_title(title, fontsize=10)
    ax_loss.legend(fontsize=8)
    gap = np.abs(run["numpy"] - run["torch"])
    ax_gap.semilogy(np.maximum(gap, 1e-18), color="0.3", lw=1)
    ax_gap.set_ylim(1e-18, 1e-6)
    ax_gap.set_xlabel("epoch")
    ax_gap.set_ylabel("|loss NumPy - loss PyTorch|  (0 drawn at 1e-18)")
    ax_gap.set_title("the difference stays at round-off", fontsize=10)
    save_figure(fig, out_dir, "mlp_numpy_vs_torch.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # the (hidden, hidden) matrix, float64, about ten times over: NumPy's and PyTorch's
        # weights, gradients and Adam's two moments
        check_fits_in_memory(8 * 10 * (args.hidden**2 + 200 * args.hidden),
                             f"--hidden {args.hidden}")
    except ValueError as err:
        parser.error(str(err))
    limit_cpu_threads(args.threads)  # device.py explains why 1 is the default

    X, y, np_model = make_problem("moons", 200, 0.1, args.hidden, 2, args.activation,
                                  "xavier", args.seed)
    torch_model = mlp_to_torch(np_model)
    print("1. phase 02's MLP and its PyTorch rebuild")
    print(f"   NumPy: {np_model.layers}")
    print("   PyTorch:")
    for line in repr(torch_model).splitlines():
        print(f"     {line}")
    n_torch = sum(p.numel() for p in torch_model.parameters())
    print(f"   parameters: NumPy {np_model.n_params}, PyTorch {n_torch} (found by "
          f"model.parameters(), nothing listed by hand)")
    print(f"   {'NumPy name':10s} {'shape':10s} -> {'PyTorch name':12s} {'shape':10s}")
    for (name, p), (t_name, t) in zip(np_model.params.items(), torch_model.state_dict().items(),
                                      strict=True):
        note = "transposed" if p.ndim == 2 else ""
        print(f"   {name:10s} {str(p.shape):10s} -> {t_name:12s} {str(tuple(t.shape)):10s} "
              f"{note}")

    print("\n2. Same weights, same batch: forward and backward, float64")
    parity = compare_mlp(np_model, X[:8], y[:8])
    print(f"   logits max |NumPy - PyTorch| = {parity.forward:.1e}")
    for name, gap in parity.grads.items():
        print(f"   dL/d{name:4s} max |hand backprop - autograd| = {gap:.1e}")
    back = mlp_to_numpy(torch_model)
    print(f"   round trip NumPy -> PyTorch -> NumPy changes no weight: "
          f"{all(np.array_equal(v, back.params[k]) for k, v in np_model.params.items())}")

    print(f"\n3. Train both on moons from the same start: {args.optimizer}, lr {args.lr}, "
          f"{args.epochs} full-batch epochs")
    run = train_both(args.optimizer, args.lr, args.epochs, args.activation, args.hidden,
                     args.seed)
    for epoch in sorted({e for e in (0, 1, 10, args.epochs // 2, args.epochs)
                         if e <= args.epochs}):  # a short run has no epoch 10
        print(f"   epoch {epoch:4d}: loss NumPy {run['numpy'][epoch]:.12f}   PyTorch "
              f"{run['torch'][epoch]:.12f}")
    print(f"   largest loss difference over the run: "
          f"{np.abs(run['numpy'] - run['torch']).max():.1e}; largest weight difference at the "
          f"end: {largest_weight_gap(run['np_model'], run['torch_model']):.1e}")
    print(f"   time with {args.threads} CPU thread{'s' if args.threads > 1 else ''}: NumPy "
          f"{run['seconds_numpy']:.2f} s, PyTorch {run['seconds_torch']:.2f} s "
          f"({run['seconds_torch'] / args.epochs * 1e3:.2f} ms per step); a {np_model.n_params:,}-"
          f"knob model is too small\n   for either to shine (benchmark.py times a bigger one)")

    print("\nFigures")
    plot_training(run, f"moons, 2-{args.hidden}-{args.hidden}-2 {args.activation}, "
                       f"{args.optimizer} lr {args.lr}: the two curves coincide", args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("phase 02's MLP rebuilt as an nn.Module and checked against NumPy.")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="tanh",
                        help="hidden activation")
    parser.add_argument("--hidden", type=positive_int, default=16, help="units per hidden layer")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                        help="optimizer of the training race")
    add_descent_flags(parser, lr=0.02, epochs=300)
    add_threads_flag(parser,
                     why="; for a model this small, more threads cost more than they save")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
