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

Run:  python phase-00-foundations/code/figures.py --phase 01 02 (these phases' blog figures)
      python phase-00-foundations/code/figures.py --all         (every phase: over an hour)

It says which script it runs as it goes, how long each took, and how many figures it wrote.
With neither flag it does nothing: redrawing every phase retrains models in the later phases
and replaces every committed figure, so it must be asked for by name.
"""

import argparse
import contextlib
import importlib
import io
import os
import re
import time
from pathlib import Path

from matplotlib.figure import Figure

from phase00.flags import add_seed_flag, output_folder, script_parser

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


def png_times(folder: Path) -> dict[Path, int]:
    """Each PNG in `folder` and when it was last written (nanoseconds)."""
    return {p: p.stat().st_mtime_ns for p in folder.glob("*.png")} if folder.is_dir() else {}


def redraw_blog_figures(number: str, folder: Path, out: Path | None = None) -> list[Path]:
    """Run every entry of phase `number`'s BLOG_FIGURES; return the PNGs this run wrote.

    out: where to write them; None means the phase's own blog/figures. A PNG already in `out`
    that no entry rewrote (left from an older version of a script) is not counted.
    """
    package = importlib.import_module(f"phase{number}")
    out = blog_figures_dir(folder) if out is None else Path(out)
    before = png_times(out)
    for module_name, flags in package.BLOG_FIGURES:
        module = importlib.import_module(f"phase{number}.{module_name}")
        print(f"  {module_name}.py {' '.join(flags)}".rstrip(), end=" ... ", flush=True)
        start = time.perf_counter()
        # the lessons' own printout and progress bars are long: keep them out of the way
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            module.main([*flags, "--out", str(out)])
        print(f"{time.perf_counter() - start:.1f} s", flush=True)
    return sorted(p for p, written in png_times(out).items() if before.get(p) != written)


def main(argv: list[str] | None = None) -> None:
    phases = phase_folders()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.all:
        args.phase = sorted(phases)
        print(f"redrawing the blog figures of every phase ({', '.join(args.phase)}): the later "
              f"phases retrain their models, which takes over an hour", flush=True)
    elif not args.phase:
        parser.error("say which phases to redraw: --phase 00 (or several, --phase 01 02), or "
                     "--all for every phase (over an hour; it replaces every committed figure)")
    for number in args.phase:
        folder = phases[number]
        out = blog_figures_dir(folder) if args.into is None else args.into / folder.name
        print(f"phase {number}:", flush=True)
        written = redraw_blog_figures(number, folder, out)
        print(f"  {len(written)} figure{'' if len(written) == 1 else 's'} written in {out}")
        left = sorted({p.name for p in out.glob("*.png")} - {p.name for p in written})
        if left:
            print(f"  not written by this run (left over from older scripts?): {', '.join(left)}")


def build_parser() -> argparse.ArgumentParser:
    phases = sorted(phase_folders())
    parser = script_parser("Redraw the blog's figures with the settings the posts describe.")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--phase", nargs="+", choices=phases, default=None,
                       help="which phases, e.g. --phase 00 or --phase 01 02")
    which.add_argument("--all", action="store_true",
                       help="every phase: over an hour, as the later phases retrain models")
    parser.add_argument("--into", type=output_folder, default=None,
                        help="write into INTO/<phase folder>/ instead of the blogs, e.g. to "
                             "compare with the committed figures")
    return parser


if __name__ == "__main__":
    main()
