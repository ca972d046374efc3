"""Where figures go, how they are drawn without a screen, and the command that redraws the blog's.

Tooling, not a lesson. Every plot in this repository is drawn on a `matplotlib.figure.Figure`
made directly, never through `pyplot`. A Figure made this way needs no window and no backend
choice, so the same code runs in a terminal, over SSH, in a test and in a notebook (after
`%matplotlib inline`, a Figure left as the last line of a cell is drawn there).

Two kinds of figure, two places:
- An experiment (any script run with any flags) writes to a scratch folder that git ignores,
  `scratch/<phase folder>/` at the root of the repository, and prints where. Try `--lr 5` as
  often as you like: the blog never changes under you.
- The blog's own figures in `<phase>/blog/figures/` are drawn by one explicit command, this
  script, with the settings the posts describe. Each phase lists those settings in its package's
  `BLOG_FIGURES` (in `code/__init__.py`): which script, with which flags.

Run:  python phase-00-foundations/code/figures.py               (redraw every blog figure)
      python phase-00-foundations/code/figures.py --phase 01 02 (only these phases)
"""

import argparse
import contextlib
import importlib
import io
import os
import re
from pathlib import Path

from matplotlib.figure import Figure

from phase00.flags import add_seed_flag, output_folder

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRATCH_ROOT = Path(os.environ.get("TFS_SCRATCH_DIR", REPO_ROOT / "scratch"))


def scratch_dir(script_file: str | Path) -> Path:
    """The default `--out` of a script: scratch/<its phase folder>/, which git ignores.

    script_file: the script's own `__file__` (it lives in <phase folder>/code/). A run on the
    learner's own code (a script in my-code/phaseNN/, or any script run by `python -m workbook
    run`, which sets WORKBOOK_MINE) writes to scratch/my-code/phaseNN/ instead, so that what the
    learner's code makes never replaces what the course's code made, and the reverse.
    """
    script = Path(script_file).resolve()
    phase_folder = script.parents[1].name
    if re.fullmatch(r"phase\d\d", script.parent.name):  # the learner's my-code/phaseNN/x.py
        return SCRATCH_ROOT / "my-code" / script.parent.name
    if os.environ.get("WORKBOOK_MINE") and (number := re.match(r"phase-(\d\d)", phase_folder)):
        return SCRATCH_ROOT / "my-code" / f"phase{number.group(1)}"
    return SCRATCH_ROOT / phase_folder


def add_out_flag(parser: argparse.ArgumentParser, script_file: str | Path,
                 what: str = "figures") -> None:
    """Give a script the flag `--out`: the folder its `what` go to, scratch_dir by default.

    Every script that draws takes the same flag, so `--out /tmp/try` works the same in each.
    The folder is checked while the command line is read (phase00.flags.output_folder).
    """
    parser.add_argument("--out", type=output_folder, default=scratch_dir(script_file),
                        help=f"folder for {what} (default: the git-ignored scratch/ folder)")


def add_seed_and_out_flags(parser: argparse.ArgumentParser, script_file: str | Path,
                           seed: int = 0) -> None:
    """The two flags most experiments end with: `--seed` (phase00.flags.add_seed_flag), then
    `--out` for the figures (add_out_flag)."""
    add_seed_flag(parser, seed)
    add_out_flag(parser, script_file)


def blog_figures_dir(phase_folder: Path) -> Path:
    """Where a phase's blog keeps the figures its posts show."""
    return Path(phase_folder) / "blog" / "figures"


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


def phase_folders() -> dict[str, Path]:
    """The phases that exist, by number: {"00": .../phase-00-foundations, ...}."""
    found = {}
    for folder in sorted(REPO_ROOT.glob("phase-[0-9][0-9]-*")):
        if (folder / "code" / "__init__.py").is_file():
            found[re.match(r"phase-(\d\d)", folder.name).group(1)] = folder
    return found


def redraw_blog_figures(number: str, folder: Path, out: Path | None = None) -> list[Path]:
    """Run every entry of phase `number`'s BLOG_FIGURES; return the PNGs written.

    out: where to write them; None means the phase's own blog/figures.
    """
    package = importlib.import_module(f"phase{number}")
    out = blog_figures_dir(folder) if out is None else Path(out)
    for module_name, flags in package.BLOG_FIGURES:
        module = importlib.import_module(f"phase{number}.{module_name}")
        print(f"  {module_name}.py {' '.join(flags)}".rstrip())
        # the lessons' own printout and progress bars are long: keep them out of the way
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            module.main([*flags, "--out", str(out)])
    return sorted(out.glob("*.png"))


def main(argv: list[str] | None = None) -> None:
    phases = phase_folders()
    args = build_parser().parse_args(argv)
    for number in args.phase:
        folder = phases[number]
        out = blog_figures_dir(folder) if args.into is None else args.into / folder.name
        print(f"phase {number}:")
        pngs = redraw_blog_figures(number, folder, out)
        print(f"  {len(pngs)} figures in {out}")


def build_parser() -> argparse.ArgumentParser:
    phases = sorted(phase_folders())
    parser = argparse.ArgumentParser(description="Redraw the blog's figures with the settings "
                                                 "the posts describe.")
    parser.add_argument("--phase", nargs="+", choices=phases, default=phases,
                        help="which phases (default: all)")
    parser.add_argument("--into", type=output_folder, default=None,
                        help="write into INTO/<phase folder>/ instead of the blogs, e.g. to "
                             "compare with the committed figures")
    return parser


if __name__ == "__main__":
    main()
