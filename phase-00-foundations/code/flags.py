"""Command-line flags that refuse nonsense: the argparse types every script of the course uses.

Tooling, not a lesson. A learner experiments by changing flags (`--lr 0.5`, `--epochs 300`), so a
flag is the first thing that meets a typo. argparse calls the `type=` of a flag on the text the
user typed; when that function raises `argparse.ArgumentTypeError`, argparse prints the usage
line and a one-line error and exits with status 2. Nothing runs, nothing is drawn, no traceback.
So `--lr -1`, `--epochs 0` or `--steepness nan` are stopped at the door, with the reason.

Every numeric flag in every script uses one of these types (a convention test checks it, and
feeds each flag a bad value): a plain `type=float` would let `nan`, `inf` and negative learning
rates through.

Every script builds its parser with `script_parser(description)` (below): argparse, with each
flag's default shown by `--help`, so a default is written once, in `default=`, and the help
cannot drift from it.

Run:  python phase-00-foundations/code/flags.py --lr -1      (see the error a learner gets)
"""

import argparse
import math
import os
import re
import tempfile
from pathlib import Path


def _number(text: str, kind: type) -> float | int:
    """Parse `text` as an int or a float, with an error that names the kind expected."""
    try:
        return kind(text)
    except ValueError:
        name = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}") from None


def finite_float(text: str) -> float:
    """Any real number, but not nan or ±inf (they would poison every later computation)."""
    value = _number(text, float)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0: a learning rate, a step size, a temperature, a scale."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


MIN_TEMPERATURE = 1e-6


def temperature(text: str) -> float:
    """A softmax temperature: a finite number of at least MIN_TEMPERATURE (1e-6).

    Far enough down, logits / T overflows: float32, the type the models sample in, stops near
    3.4e38, so a logit of 30 divided by T = 1e-38 is inf and the probabilities become NaN. The
    floor sits well above that. At T = 1e-6 a logit that trails the largest by 20 T (2e-5) keeps
    a probability of about 2e-9, so a clear winner is picked every time; but logits within a
    few T of each other still share the probability (1.0 and 1.0000001 get about 0.475 and
    0.525). Even this cold, sampling is not always the same as taking the most likely token.
    """
    value = positive_float(text)
    if value < MIN_TEMPERATURE:
        raise argparse.ArgumentTypeError(
            f"expected a temperature of at least {MIN_TEMPERATURE:g}, got {text!r} (the course "
            f"stops there, well before logits / T overflows; already at {MIN_TEMPERATURE:g} only "
            f"logits within a few T of the largest keep any probability)")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number >= 0: a noise level, a weight-decay strength, a momentum."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def unit_float(text: str) -> float:
    """A number in [0, 1): a probability of dropping, a decay rate such as Adam's beta."""
    value = finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def fraction(text: str) -> float:
    """A number strictly between 0 and 1: the share of a text held out for validation."""
    value = finite_float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number above 0 and below 1, got {text!r}")
    return value


def probability_mass(text: str) -> float:
    """A number above 0 and at most 1: how much probability top-p sampling keeps (1 keeps all)."""
    value = finite_float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number above 0 and at most 1, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1: a count of epochs, samples, layers, neurons, steps."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """A whole number >= 0: a random seed (NumPy refuses negative seeds), a count that may be 0."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def thread_count(text: str) -> int:
    """A number of CPU threads, 1 up to the cores this machine has (more only waits on itself).

    Ten thousand threads on a 2-core laptop do not fail: they hang the program in scheduling.
    """
    value = positive_int(text)
    cores = os.cpu_count() or 1
    if value > cores:
        raise argparse.ArgumentTypeError(f"expected at most {cores} (this machine's CPU cores), "
                                         f"got {text!r}")
    return value


def machine_memory_bytes() -> int | None:
    """The machine's physical memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:,.1f} GiB"


# The share of the machine's memory a run may plan to use: estimates are rough, and the
# operating system and other programs need the rest.
MEMORY_SHARE = 0.8


def check_fits_in_memory(nbytes: float, what: str) -> None:
    """Refuse, before allocating, a setting whose arrays would not fit in this machine's memory.

    `nbytes` is an estimate of the largest memory the setting needs at once (arrays, activations,
    gradients); `what` names the flags that set it, so the message says what to make smaller.
    Without this, a typo such as `--context 100000` ends minutes later in an allocator's
    traceback, or swaps the machine to a standstill. Raises ValueError with the estimate.
    """
    total = machine_memory_bytes()
    if total is not None and nbytes > MEMORY_SHARE * total:
        raise ValueError(f"{what} needs about {gib(nbytes)} of memory and this machine has "
                         f"{gib(total)}, of which a run may take {MEMORY_SHARE:.0%} "
                         f"({gib(MEMORY_SHARE * total)}; the rest is the system's and the other "
                         f"programs'): choose smaller values")


def _output_path_problem(path: Path, folder: bool) -> str | None:
    """Why `path` cannot be written as a folder (folder=True) or as a file; None if it can."""
    if folder and path.exists() and not path.is_dir():
        return f"{path} is a file, not a folder: pass a folder (it is created if missing)"
    if not folder and path.is_dir():
        return f"{path} is a folder, not a file: pass the name of a file to write"
    parent = path if folder else path.parent
    existing = next(p for p in (parent.absolute(), *parent.absolute().parents) if p.exists())
    if not existing.is_dir():
        return f"cannot write {path}: {existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write {path}: no permission to write in {existing}"
    try:  # permissions are not the whole story (/proc, a read-only disk): try, and tidy up
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-test-"):
            pass
    except OSError as err:
        return f"cannot write {path}: {existing} does not take new files ({err.strerror})"
    return None


def output_folder(text: str) -> Path:
    """A folder a script writes into (--out, --run-dir): a file in its place is refused while
    the command line is read, before a single step of work, not when the first figure is saved."""
    problem = _output_path_problem(Path(text), folder=True)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return Path(text)


def output_file(text: str) -> Path:
    """A file a script writes (--save): a folder in its place is refused at once."""
    problem = _output_path_problem(Path(text), folder=False)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return Path(text)


class ShowDefaults(argparse.HelpFormatter):
    """`--help` that ends each flag's text with its default: "learning rate (default: 0.1)".

    The default is then written once, in `default=`, and cannot drift from what the help says.
    A flag whose help already speaks of its default ("(default: the preset's)"), or whose
    default is None (main() works it out), False (a switch that is off) or empty, gets nothing
    added.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "default:" in text or default is argparse.SUPPRESS
                or default is None or default is False or default in ("", [], ())):
            return text
        values = default if isinstance(default, list | tuple) else [default]
        # As a learner would type it: "2 1 0.1" for a list; "1", "0.001" and "1e-5" for floats.
        shown = " ".join(re.sub(r"e([-+])0(\d)", r"e\1\2", f"{v:.12g}") if isinstance(v, float)
                         else str(v) for v in values)
        return f"{text} (default: {shown.replace('%', '%%')})"


def script_parser(description: str) -> argparse.ArgumentParser:
    """The command line of a course script: argparse, with two changes every script wants.

    - `--help` shows each flag's default (ShowDefaults, above).
    - A flag can take a negative number written with an exponent: `--x -1e-3`. argparse must
      decide whether a word that starts with "-" is the next flag or a negative value. Its own
      test for a negative number (in Python 3.11, which this course supports) has no exponent,
      so `-1e-3` is read as an unknown flag and the learner is told `--x` "expected one
      argument". Here the test is widened to any "-" followed by a digit (or by "." and a
      digit): no flag of the course starts that way.
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=ShowDefaults)
    parser._negative_number_matcher = re.compile(r"^-\.?\d")  # argparse reads this attribute
    return parser


def add_seed_flag(parser: argparse.ArgumentParser, default: int = 0) -> None:
    """Give a script the flag `--seed`: the seed of its random generator, so a run repeats."""
    parser.add_argument("--seed", type=nonnegative_int, default=default, help="random seed")


# The value a convention test feeds each type to check that a script refuses it.
BAD_VALUES = {
    "finite_float": "nan",
    "positive_float": "-1",
    "nonnegative_float": "-1",
    "unit_float": "1",
    "fraction": "0",
    "positive_int": "0",
    "nonnegative_int": "-1",
    "thread_count": "100000",
    "temperature": "1e-9",
    "probability_mass": "0",
}


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    print(f"accepted: --lr {args.lr} --epochs {args.epochs} --seed {args.seed}")
    print("try a bad one, e.g. --lr -1, --epochs 0 or --lr nan: argparse stops with status 2")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Show what a bad flag value gets: a usage error.")
    parser.add_argument("--lr", type=positive_float, default=0.1, help="a learning rate, > 0")
    parser.add_argument("--epochs", type=positive_int, default=10, help="a count, >= 1")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="a random seed, >= 0")
    return parser


if __name__ == "__main__":
    main()
