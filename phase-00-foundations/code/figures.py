"""Where this phase's figures go, how they are written without a screen, and a way to remake them.

Every plot in this repository is drawn on a `matplotlib.figure.Figure` made directly, never
through `pyplot`. A Figure made this way needs no window and no backend choice, so the same
code runs in a terminal, over SSH, in a test and in a notebook (after `%matplotlib inline`, a
Figure left as the last line of a cell is drawn there).

Run:  python phase-00-foundations/code/figures.py        (remakes every figure of phase 00)
"""

import argparse
import contextlib
import io
from pathlib import Path

from matplotlib.figure import Figure

FIGURES_DIR = Path(__file__).resolve().parent.parent / "blog" / "figures"


def save_figure(fig: Figure, out_dir: Path | None, name: str,
                dpi: int = 120) -> Path | None:
    """Write `fig` as out_dir/name (PNG), creating the folder, and say where it went.

    With out_dir=None nothing is written: notebooks pass None and just display the figure.
    """
    if out_dir is None:
        return None
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    print(f"  wrote {path}")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Remake every figure of phase 00.")
    parser.add_argument("--out", type=Path, default=FIGURES_DIR,
                        help="folder for figures (default: the phase's blog/figures)")
    args = parser.parse_args(argv)

    # Imported here, not at the top: each lesson imports save_figure from this file.
    from phase00 import derivatives, gradient_descent, linear_regression, probability, vectors

    for lesson in (vectors, derivatives, gradient_descent, probability, linear_regression):
        print(f"{lesson.__name__}")
        with contextlib.redirect_stdout(io.StringIO()):  # the lessons' own printout is long
            lesson.main(["--out", str(args.out)])
    print(f"figures in {args.out}:")
    for path in sorted(args.out.glob("*.png")):
        print(f"  {path.name}")


if __name__ == "__main__":
    main()
