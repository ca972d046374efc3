"""The course's scripts, and the command line each one offers, for the tests that check them all.

Every script builds its command line in `build_parser()`, which `main()` uses. The tests ask that
parser what flags a script has, instead of reading the script's text: a flag declared once in a
shared group (phase00.figures.add_out_flag, phase06.device.add_device_flags, ...) is then seen in
every script that uses the group, exactly as `--help` shows it.
"""

import argparse
import functools
import importlib
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import PHASE_DIRS, REPO_ROOT

SCRIPTS = [p for d in PHASE_DIRS for p in sorted((d / "code").glob("*.py"))
           if p.name != "__init__.py"]


def phase_number(path: Path) -> int:
    """The XX of the phase-XX-name directory that holds `path`."""
    for part in path.relative_to(REPO_ROOT).parts:
        if m := re.fullmatch(r"phase-(\d\d)-.+", part):
            return int(m.group(1))
    raise ValueError(f"{path} is not inside a phase directory")


def module_of(script: Path) -> ModuleType:
    """The script imported as a module of its phase's package (phase05.train_transformer)."""
    return importlib.import_module(f"phase{phase_number(script):02d}.{script.stem}")


@functools.cache
def parser_of(script: Path) -> argparse.ArgumentParser:
    """The parser the script's main() reads its command line with (built once per run)."""
    module = module_of(script)
    assert hasattr(module, "build_parser"), (
        f"{script.name} needs a build_parser() -> argparse.ArgumentParser that main() uses")
    parser = module.build_parser()
    assert isinstance(parser, argparse.ArgumentParser), (
        f"{script.name}: build_parser() returned a {type(parser).__name__}")
    return parser


def flags_of(script: Path) -> dict[str, argparse.Action]:
    """Each --flag of the script, with the argparse action that holds its type, default, nargs."""
    return {name: action for action in parser_of(script)._actions
            for name in action.option_strings if name.startswith("--") and name != "--help"}


def flag_names(script: Path) -> set[str]:
    """Every --flag a script's parser declares."""
    return set(flags_of(script))



def refused(main: Callable[[list[str]], object], argv: list[str],
            capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    """Run a script's main(argv), expect SystemExit(code) with no traceback and no warning (a
    NumPy RuntimeWarning is noise before the one line); return the last line of the error, the
    one the learner reads."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Warning" not in err, err
    return err.strip().splitlines()[-1]
