"""Put a learner's own modules in front of the course's, when (and only when) asked.

Each phase package (phase00 ... phase09) ends its __init__.py with

    __path__ = with_learner_code(__path__, __name__)

which calls `overlay_path` below (phase00's __init__.py holds it, so that a course installed
before the workbook existed still imports).

A package's `__path__` is the list of folders Python searches for its modules. When the overlay
is on for phase 02, the list becomes [my-code/phase02, phase-02-backprop/code]: `import
phase02.autograd` then finds the learner's autograd.py first, while every module they have not
copied still comes from the course. It is on for a phase when

- the environment variable WORKBOOK_MINE names it ("02" or "00,02"), which is how
  `python -m workbook check` runs the course's tests on the learner's code; or
- the script being run lives in that phase's folder of my-code/ (`python my-code/phase02/x.py`).

Otherwise nothing changes: the course's own tests and scripts always use the reference code.
"""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_PHASES = "WORKBOOK_MINE"
ENV_FOLDER = "WORKBOOK_DIR"


def learner_folder() -> Path:
    """Where the learner's code lives: my-code/ at the repository's root, unless
    WORKBOOK_DIR names another folder (the workbook's own tests use a temporary one)."""
    return Path(os.environ.get(ENV_FOLDER) or REPO_ROOT / "my-code").resolve()


def phases_in_use(folder: Path) -> set[str]:
    """The two-digit phases whose learner modules should be used in this process."""
    phases = {p.strip().zfill(2) for p in os.environ.get(ENV_PHASES, "").split(",") if p.strip()}
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file:
        script = Path(main_file).resolve()
        if script.parent.parent == folder and script.parent.name.startswith("phase"):
            phases.add(script.parent.name.removeprefix("phase"))
    return phases


def overlay_path(path: list[str], package: str) -> list[str]:
    """`path` with the learner's folder for `package` in front, if the overlay is on for it."""
    folder = learner_folder()
    mine = folder / package
    if package.removeprefix("phase") not in phases_in_use(folder) or not mine.is_dir():
        return path
    return [str(mine), *path]
