"""Tensors versus NumPy arrays: the same numbers in a new container, and the few ways it differs.

Phases 00 to 05 ran on NumPy arrays. PyTorch's central object, the tensor, is an n-dimensional
array too: a block of numbers with a shape and a dtype, indexed, sliced and broadcast with the
same rules. `x @ W + b` means what it meant in phase 01. What the tensor adds is two things an
array cannot do:

- it can remember how it was computed, so that PyTorch can run phase 02's backward sweep for us
  (autograd_torch.py);
- it can live on another processor (a GPU through CUDA or Apple's Metal), where the same
  arithmetic runs many times faster (device.py).

Everything else is mostly spelling: `axis=` becomes `dim=`, `keepdims` becomes `keepdim`,
`np.concatenate` becomes `torch.cat`. Three differences bite newcomers, and this script shows
each of them with numbers:

1. The default float is float32 (NumPy's is float64). float32 keeps about 7 significant digits,
   float64 about 16. That is why every parity test of this phase runs in float64: NumPy and
   PyTorch, both correct, add the same products in different orders, and in float32 their
   results differ by up to about 1e-6, enough to hide a real bug of that size.
2. `torch.from_numpy(a)` and `t.numpy()` share memory with the other side: write into one and
   the other changes. `torch.tensor(a)` copies.
3. A tensor has a device, and an operation needs all its inputs on the same one.

PyTorch itself grew out of Torch7 (Collobert, Kavukcuoglu & Farabet 2011, "Torch7: A
Matlab-like Environment for Machine Learning", written in Lua) and is described by Paszke et al.
(2019, "PyTorch: An Imperative Style, High-Performance Deep Learning Library"). Its tensor
library is deliberately NumPy-like, so that code like ours moves over almost line by line.

The small helpers at the top (`to_tensor`, `to_array`, `max_abs_diff`, `Parity`) are what every
parity check of this phase uses to compare a NumPy result with a PyTorch one.

Run:  python phase-06-pytorch/code/tensors.py --width 4096
"""

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from phase00.figures import add_seed_and_out_flags, save_figure
from phase00.flags import check_fits_in_memory, positive_int, script_parser
from phase00.probability import softmax


def to_tensor(a: np.ndarray, dtype: torch.dtype | None = None,
              device: torch.device | str = "cpu") -> torch.Tensor:
    """A tensor holding a COPY of array `a` (so later writes to either side stay apart).

    dtype None keeps the array's own dtype (float64 stays float64: what parity checks need).
    """
    t = torch.tensor(np.asarray(a))  # torch.tensor always copies; torch.from_numpy would share
    return t.to(device=device, dtype=dtype) if dtype is not None else t.to(device)


def to_array(t: torch.Tensor) -> np.ndarray:
    """A NumPy copy of tensor `t`, wherever it lives: detached from autograd, moved to the CPU."""
    return t.detach().cpu().numpy().copy()


def max_abs_diff(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """The largest |a - b| over all entries; the shapes must match exactly (no broadcasting)."""
    a = to_array(a) if isinstance(a, torch.Tensor) else np.asarray(a)
    b = to_array(b) if isinstance(b, torch.Tensor) else np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}: a parity check "
                         f"needs the same shape on both sides")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


# The bars of this phase (the course's conventions): float64, forward < 1e-8, gradients < 1e-6.
FORWARD_TOL = 1e-8
GRAD_TOL = 1e-6


@dataclass
class Parity:
    """The result of comparing a NumPy component with its PyTorch rebuild.

    forward: max |difference| of the outputs; grads: parameter (or input) name -> max
    |difference| of its gradient. `ok` applies the bars above.
    """

    name: str
    forward: float
    grads: dict[str, float] = field(default_factory=dict)

    @property
    def worst_grad(self) -> float:
        return max(self.grads.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return self.forward < FORWARD_TOL and self.worst_grad < GRAD_TOL

    def line(self) -> str:
        """One row of a parity table."""
        grad = f"{self.worst_grad:10.1e}" if self.grads else f"{'-':>10s}"
        return (f"{self.name:46s} {self.forward:10.1e} {grad} {len(self.grads):6d}   "
                f"{'equal' if self.ok else 'DIFFERENT'}")


def numpy_torch_gap(n: int, rng: np.random.Generator, batch: int = 64) -> dict[str, float]:
    """tanh(x @ W) computed by NumPy and by PyTorch from the same numbers, in float32 and float64.

    x is (batch, n), W is (n, n) with entries of size 1/sqrt(n), so every output is a sum of n
    products of size about 1. Both libraries compute it correctly; they just add the n products
    in different orders (their matrix routines split the work differently), and rounding makes
    the order matter. Returns dtype name -> max |NumPy - PyTorch|.
    """
    x = rng.normal(size=(batch, n))
    W = rng.normal(size=(n, n)) / np.sqrt(n)
    out = {}
    for name, dtype in (("float32", np.float32), ("float64", np.float64)):
        x_d, W_d = x.astype(dtype), W.astype(dtype)
        y_np = np.tanh(x_d @ W_d)  # (batch, n)
        y_torch = torch.tanh(torch.from_numpy(x_d) @ torch.from_numpy(W_d))
        out[name] = max_abs_diff(y_np, y_torch)
    return out


def plot_gap(sizes: list[int], gaps: list[dict[str, float]],
             out_dir: Path | None = None) -> Figure:
    """The NumPy-vs-PyTorch gap of one layer, float32 against float64, for each width n."""
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    for name, color in (("float32", "tab:red"), ("float64", "tab:blue")):
        ax.loglog(sizes, [max(g[name], 1e-18) for g in gaps], "o-", color=color, label=name)
    ax.axhline(FORWARD_TOL, color="0.3", lw=1, ls="--")
    ax.text(sizes[0], FORWARD_TOL * 1.6, f"this phase's forward bar, {FORWARD_TOL:g}",
            fontsize=8, color="0.3")
    ax.set_xlabel("width n (each output adds n products)")
    ax.set_ylabel("max |NumPy - PyTorch|")
    ax.set_ylim(1e-17, 1e-4)
    ax.set_title("tanh(x @ W) in NumPy and in PyTorch, same numbers:\n"
                 "float32 disagrees near 1e-6, float64 near 1e-15 (why parity runs in float64)",
                 fontsize=10)
    ax.legend()
    save_figure(fig, out_dir, "float32_vs_float64.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # the precision experiment's (width, width) matrix: float64, and a float32 copy
        check_fits_in_memory(12 * args.width**2 + 8 * 64 * 8 * args.width,
                             f"--width {args.width}")
    except ValueError as err:
        parser.error(str(err))
    rng = np.random.default_rng(args.seed)

    print("1. The same matrix-vector product as phase 00, as an array and as a tensor")
    W_np = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # (3, 2)
    x_np = np.array([[10.0], [-1.0]])  # (2, 1)
    W, x = torch.tensor(W_np), torch.tensor(x_np)
    y_np, y = W_np @ x_np, W @ x
    print(f"   NumPy: W {W_np.shape} @ x {x_np.shape} = {y_np.ravel().tolist()}  dtype "
          f"{y_np.dtype}")
    print(f"   torch: W {tuple(W.shape)} @ x {tuple(x.shape)} = {y.ravel().tolist()}  dtype "
          f"{y.dtype}")
    p_np = softmax(np.array([1.0, 2.0, 3.0]))
    p = torch.softmax(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), dim=0)
    print(f"   softmax([1, 2, 3]): phase 00 {np.round(p_np, 8).tolist()}, torch "
          f"{np.round(p.numpy(), 8).tolist()}")
    print("   spelling: axis= -> dim=, keepdims= -> keepdim=, np.concatenate -> torch.cat, "
          "x.astype -> x.to")

    print("\n2. Default dtypes differ")
    a = np.array([0.1, 0.2])
    t = torch.tensor([0.1, 0.2])
    print(f"   np.array([0.1, 0.2]).dtype = {a.dtype};  torch.tensor([0.1, 0.2]).dtype = "
          f"{t.dtype}")
    print(f"   0.1 + 0.2 in float64: {a.sum():.17f}")
    print(f"   0.1 + 0.2 in float32: {t.sum().item():.17f}   (about 7 digits are real)")
    print("   torch.tensor(array) keeps the array's dtype: "
          f"{torch.tensor(a).dtype}")

    print("\n3. Shared memory: from_numpy and .numpy() are views, torch.tensor copies")
    base = np.zeros(3)
    shared, copied = torch.from_numpy(base), torch.tensor(base)
    base[0] = 7.0  # write into the ARRAY
    print(f"   after base[0] = 7: from_numpy tensor {shared.tolist()}, torch.tensor copy "
          f"{copied.tolist()}")
    back = shared.numpy()
    shared[1] = 5.0  # write into the TENSOR
    print(f"   after shared[1] = 5: the array {base.tolist()}, shared.numpy() {back.tolist()}")
    print(f"   shared.data_ptr() == base's address: "
          f"{shared.data_ptr() == base.__array_interface__['data'][0]}")

    print("\n4. Shapes, views and broadcasting follow NumPy's rules")
    X = torch.arange(12.0).reshape(3, 4)  # (3, 4)
    print(f"   X = arange(12).reshape(3, 4): shape {tuple(X.shape)}, X.T {tuple(X.T.shape)}, "
          f"X.T contiguous in memory: {X.T.is_contiguous()}")
    print(f"   X - X.mean(dim=1, keepdim=True): row means {X.mean(dim=1).tolist()} "
          f"broadcast over columns -> first row {(X - X.mean(dim=1, keepdim=True))[0].tolist()}")
    print("   X.view(4, 3) reuses memory (needs it contiguous); X.T.reshape(12) copies when it "
          "must:")
    try:
        X.T.view(12)
    except RuntimeError as err:
        print(f"   X.T.view(12) -> RuntimeError: {str(err).splitlines()[0][:70]}...")
    print(f"   X.T.reshape(12)[:4] = {X.T.reshape(12)[:4].tolist()}")

    print("\n5. Devices: where a tensor's numbers live")
    print(f"   X.device = {X.device}. X.to('cuda') or X.to('mps') copies it to a GPU; an "
          f"operation needs all inputs")
    print("   on one device (device.py picks the best one this machine has).")

    sizes = [n for n in (16, 64, 256, 1024, 4096) if n <= args.width] or [args.width]
    if sizes[-1] != args.width:
        sizes.append(args.width)
    print("\n6. Precision: tanh(x @ W) by NumPy and by PyTorch from the same numbers, "
          "max |difference|")
    gaps = [numpy_torch_gap(n, rng) for n in sizes]
    for n, g in zip(sizes, gaps, strict=True):
        print(f"   width {n:5d}   float32 {g['float32']:8.1e}   float64 {g['float64']:8.1e}")
    print(f"   Both are right; they add in different orders. float32 keeps ~7 digits, float64 "
          f"~16, so parity\n   tests run in float64, where a real bug (say 1e-4) cannot hide "
          f"under round-off.\n   The bars: forward < {FORWARD_TOL:g}, gradients < {GRAD_TOL:g}.")

    print("\nFigures")
    plot_gap(sizes, gaps, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Tensors against NumPy arrays: same numbers, new container.")
    parser.add_argument("--width", type=positive_int, default=1024,
                        help="largest layer width in the precision experiment")
    add_seed_and_out_flags(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
