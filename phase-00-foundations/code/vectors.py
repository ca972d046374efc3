"""Vectors and matrices: the dot product as similarity, the matrix as a transformation.

Every number a GPT handles lives in a vector, and almost every computation it does is a matrix
multiplication. Two ideas carry the whole of that:

- The dot product a·b multiplies matching entries and adds them up. It is large when the two
  vectors point the same way, zero when they are unrelated (perpendicular), negative when they
  disagree. Attention, in phase 05, is built on exactly this score.
- A matrix times a vector is many dot products at once, one per row, and it moves space: it
  can stretch, rotate, shear or flatten every point. A neural network layer is such a move.

Shapes are the grammar: (m, n) @ (n,) -> (m,), and the inner sizes must match.

Run:  python phase-00-foundations/code/vectors.py --matrix 1 1 0 1
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from phase00.figures import add_out_flag, save_figure
from phase00.flags import finite_float, script_parser


def dot_by_hand(a: np.ndarray, b: np.ndarray) -> float:
    """Multiply matching entries and add them up, one at a time.

    The explicit loop is the lesson; outside this function we write `a @ b`, which does the
    same arithmetic in compiled code.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"dot product needs two 1-D vectors of the same length, "
                         f"got shapes {a.shape} and {b.shape}")
    total = 0.0
    for a_i, b_i in zip(a, b, strict=True):
        total += a_i * b_i
    return total


def norm(a: np.ndarray) -> float:
    """Length of a vector: the square root of its dot product with itself (Pythagoras)."""
    a = np.asarray(a, dtype=float)
    return float(np.sqrt(a @ a))


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The dot product of the two directions, ignoring lengths: a number in [-1, 1].

    1 = same direction, 0 = perpendicular (unrelated), -1 = opposite.
    """
    n_a, n_b = norm(a), norm(b)
    if n_a == 0 or n_b == 0:
        raise ValueError("cosine similarity is undefined for a zero vector (it has no direction)")
    return float(np.asarray(a, dtype=float) @ np.asarray(b, dtype=float) / (n_a * n_b))


def matvec_by_hand(W: np.ndarray, x: np.ndarray, verbose: bool = False) -> np.ndarray:
    """W @ x as one dot product per row of W, printing each when `verbose`.

    W has shape (m, n) and x shape (n,): each of the m rows of W is dotted with x, giving m
    numbers. The loop over rows is the lesson; `W @ x` is the same thing, fast.
    """
    W, x = np.asarray(W, dtype=float), np.asarray(x, dtype=float)
    if W.ndim != 2:
        raise ValueError(f"W must be a matrix (2-D), got shape {W.shape}")
    m, n = W.shape
    if x.shape != (n,):
        raise ValueError(f"W has shape {W.shape}, so x must have shape ({n},): one entry per "
                         f"column of W; got {x.shape}")
    y = np.empty(m)
    for i in range(m):
        y[i] = dot_by_hand(W[i], x)
        if verbose:
            terms = " + ".join(f"{w:g}*{v:g}" for w, v in zip(W[i], x, strict=True))
            print(f"   row {i}: {terms} = {y[i]:g}")
    return y


def transform_points(M: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply the 2x2 matrix M to many 2-D points at once.

    points has shape (N, 2), one point per row. M @ p for every row p is (points @ M.T):
    one matrix product instead of N little ones.
    """
    M, points = np.asarray(M, dtype=float), np.asarray(points, dtype=float)
    if M.shape != (2, 2) or points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"need M of shape (2, 2) and points of shape (N, 2), "
                         f"got {M.shape} and {points.shape}")
    return points @ M.T


def plot_transformation(M: np.ndarray, out_dir: Path | None = None) -> Figure:
    """Draw a grid, the unit square and the two basis vectors before and after M."""
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    axes = fig.subplots(1, 2)
    t = np.linspace(-2, 2, 9)
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    for ax, A, title in ((axes[0], np.eye(2), "before: the plane"),
                         (axes[1], M, f"after M = {M.tolist()}")):
        for c in t:  # grid lines x = c and y = c, each a line of 50 points
            line = np.linspace(-2, 2, 50)
            for pts in (np.column_stack([np.full(50, c), line]),
                        np.column_stack([line, np.full(50, c)])):
                moved = transform_points(A, pts)
                ax.plot(moved[:, 0], moved[:, 1], color="0.85", lw=0.8)
        sq = transform_points(A, square)
        ax.fill(sq[:, 0], sq[:, 1], color="tab:orange", alpha=0.4, label="unit square")
        e1, e2 = A[:, 0], A[:, 1]  # where the basis vectors land: the columns of A
        ax.arrow(0, 0, *e1, color="tab:red", width=0.03, length_includes_head=True)
        ax.arrow(0, 0, *e2, color="tab:blue", width=0.03, length_includes_head=True)
        ax.text(*(e1 * 1.08), "first column", color="tab:red")
        ax.text(*(e2 * 1.08), "second column", color="tab:blue")
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_aspect("equal")
        ax.set_title(title)
    area = abs(np.linalg.det(M))
    fig.suptitle(f"A matrix moves every point of the plane (areas scale by |det M| = {area:.2f})")
    save_figure(fig, out_dir, "matrix_transformation.png")
    return fig


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    rng = np.random.default_rng(0)  # only shapes are printed; the values do not matter

    print("1. The dot product as similarity")
    # Made-up 3-number descriptions: (is an animal, is a pet, has wheels)
    words = {"cat": np.array([0.9, 0.8, 0.0]), "dog": np.array([0.9, 0.9, 0.1]),
             "car": np.array([0.0, 0.1, 0.9])}
    for u, v in (("cat", "dog"), ("cat", "car"), ("dog", "car")):
        a, b = words[u], words[v]
        print(f"   {u}·{v} = {dot_by_hand(a, b):.2f}   cosine similarity "
              f"{cosine_similarity(a, b):.3f}")
    print("   cat and dog point the same way; car points elsewhere.")

    print("\n2. A 3x2 matrix times a 2-vector, one row at a time")
    W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    x = np.array([10.0, -1.0])
    print(f"   W = {W.tolist()}  shape {W.shape}")
    print(f"   x = {x.tolist()}  shape {x.shape}")
    y = matvec_by_hand(W, x, verbose=True)
    assert y.shape == (3,)
    print(f"   W @ x = {y}  shape {y.shape}   (numpy's W @ x = {W @ x})")

    print("\n3. Shapes: (m, n) @ (n,) -> (m,); inner sizes must match")
    B, d_in, d_out = 4, 3, 2
    X = rng.normal(size=(B, d_in))  # a batch of 4 inputs, 3 numbers each
    W2 = rng.normal(size=(d_in, d_out))
    Y = X @ W2
    assert Y.shape == (B, d_out)
    print(f"   X {X.shape} @ W {W2.shape} -> {Y.shape}: 4 inputs in, 4 outputs out")
    try:
        matvec_by_hand(W, np.ones(3))
    except ValueError as err:
        print(f"   a mismatch is caught: {err}")

    print("\n4. Broadcasting: NumPy stretches size-1 axes to fit")
    b = np.array([100.0, 200.0])
    print(f"   Y {Y.shape} + b {b.shape} -> {(Y + b).shape}: the same bias added to every row")
    col = np.arange(3).reshape(3, 1)
    row = np.arange(4).reshape(1, 4)
    print(f"   (3, 1) + (1, 4) -> {(col + row).shape}:\n{col + row}")

    print("\n5. A matrix as a transformation of the plane")
    M = np.array(args.matrix).reshape(2, 2)
    corners = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    for p, q in zip(corners, transform_points(M, corners), strict=True):
        print(f"   {p} -> {q}")
    print(f"   the columns of M are where (1, 0) and (0, 1) land; det M = {np.linalg.det(M):.3f}")

    print("\nFigures")
    plot_transformation(M, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Dot products, matrix-vector products, broadcasting and shapes.")
    parser.add_argument("--matrix", type=finite_float, nargs=4, default=[1.0, 0.5, 0.0, 1.0],
                        metavar=("A", "B", "C", "D"),
                        help="the 2x2 matrix [[A, B], [C, D]] to draw (default: a shear "
                             "1 0.5 0 1)")
    add_out_flag(parser, __file__)
    return parser


if __name__ == "__main__":
    main()
