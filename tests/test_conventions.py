"""Conventions every phase keeps, checked for every phase directory that exists.

These tests keep the repository honest as it grows: each phase has its four parts, its blog
ends by pointing forward, its scripts are runnable lessons, its imports respect the rules of the
course (NumPy only until phase 06, no ready-made attention before phase 08, no Hugging Face
before phase 09), and its notebooks build on its scripts instead of redefining them.
"""

import argparse
import ast
import contextlib
import functools
import hashlib
import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from phase00.flags import ShowDefaults, script_parser
from tests.conftest import PHASE_DIRS, REPO_ROOT
from tests.scripts import SCRIPTS, flags_of, module_of, parser_of, phase_number

NOTEBOOKS = [p for d in PHASE_DIRS for p in sorted((d / "code").glob("*.ipynb"))]
BLOG_POSTS = [p for d in PHASE_DIRS for p in sorted((d / "blog").glob("*.md"))]

# Top-level modules each phase may not import (by phase number).
NUMPY_ONLY = {"torch", "sklearn", "tensorflow", "jax", "transformers"}
NO_HUGGING_FACE = {"transformers", "sklearn", "tensorflow", "jax"}


def forbidden_modules(phase: int) -> set[str]:
    """Phases 00-05 are NumPy only; 06-08 use PyTorch but not `transformers`; 09 compares."""
    if phase <= 5:
        return NUMPY_ONLY
    if phase <= 8:
        return NO_HUGGING_FACE
    return set()


# The one deliberate exception, named here so it stays the only one: the environment checker of
# phase 00 is tooling, not a lesson, and imports torch only to ask which devices it can use.
IMPORT_EXCEPTIONS = {("phase-00-foundations", "check_environment.py"): {"torch"}}
# PyTorch's ready-made attention and transformer layers: allowed from phase 08, for comparison.
READY_MADE_ATTENTION = {"MultiheadAttention", "Transformer", "TransformerEncoder",
                        "TransformerDecoder", "TransformerEncoderLayer",
                        "TransformerDecoderLayer"}


def notebook_code(path: Path) -> str:
    """The code cells of a notebook as one Python source, IPython magics and shell lines removed."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    lines = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines += [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def source_tree(path: Path) -> ast.Module:
    """Parse a script or notebook into an AST."""
    text = notebook_code(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    return ast.parse(text, filename=str(path))


def imported_modules(tree: ast.Module) -> set[str]:
    """Top-level names of every module imported anywhere in the tree (inside functions too)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def torch_names_used(tree: ast.Module) -> set[str]:
    """Names taken from PyTorch: `nn.X` / `torch.nn.X` attributes and `from torch... import X`.

    Our own classes may share a name with PyTorch's (phase 05's NumPy `Transformer`); only
    PyTorch's versions are held back until phase 08.
    """
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in ("nn", "torch"):
                found.add(node.attr)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            found |= {alias.name for alias in node.names}
    return found


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(REPO_ROOT)) for p in paths]


def test_there_are_phases() -> None:
    assert PHASE_DIRS, "no phase-XX-name directories found"
    assert SCRIPTS, "no scripts found in any phase's code/"


@pytest.mark.parametrize("phase_dir", PHASE_DIRS, ids=ids(PHASE_DIRS))
def test_phase_has_its_four_parts(phase_dir: Path) -> None:
    assert (phase_dir / "README.md").is_file(), f"{phase_dir.name} needs a README.md"
    for folder, pattern in (("notes", "*.md"), ("code", "*.py"), ("blog", "*.md")):
        assert list((phase_dir / folder).glob(pattern)), (
            f"{phase_dir.name}/{folder}/ must hold at least one {pattern} file")
    assert (phase_dir / "code" / "__init__.py").is_file(), (
        f"{phase_dir.name}/code/ needs an __init__.py: it is the package phaseXX")


@pytest.mark.parametrize("phase_dir", PHASE_DIRS, ids=ids(PHASE_DIRS))
def test_phase_is_an_installed_package(phase_dir: Path) -> None:
    """pyproject.toml maps phase-XX-name/code to the package phaseXX."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    name = f"phase{phase_number(phase_dir):02d}"
    assert name in config["packages"], f"add {name!r} to [tool.setuptools] packages"
    assert config["package-dir"].get(name) == f"{phase_dir.name}/code", (
        f'add {name} = "{phase_dir.name}/code" to [tool.setuptools.package-dir]')


@pytest.mark.parametrize("phase_dir", PHASE_DIRS, ids=ids(PHASE_DIRS))
def test_readme_names_every_script(phase_dir: Path) -> None:
    """A learner finds every script from the phase README, with the command that runs it."""
    readme = (phase_dir / "README.md").read_text(encoding="utf-8")
    for script in sorted((phase_dir / "code").glob("*.py")):
        if script.name != "__init__.py":
            assert script.name in readme, f"{phase_dir.name}/README.md never mentions {script.name}"
    for heading in ("Learning objectives", "Prerequisites", "Experiments to try"):
        assert re.search(rf"^#+ .*{heading}", readme, re.M | re.I), (
            f"{phase_dir.name}/README.md needs a '{heading}' section")


@pytest.mark.parametrize("post", BLOG_POSTS, ids=ids(BLOG_POSTS))
def test_blog_post_ends_with_what_comes_next(post: Path) -> None:
    headings = re.findall(r"^## (.+)$", post.read_text(encoding="utf-8"), re.M)
    assert headings, f"{post.name} has no '## ' sections"
    assert headings[-1].startswith("What comes next"), (
        f"{post.name}: the last section must be '## What comes next and why', "
        f"found '## {headings[-1]}'")


@pytest.mark.parametrize("post", BLOG_POSTS, ids=ids(BLOG_POSTS))
def test_blog_images_exist(post: Path) -> None:
    """Every image a post shows is a file in the repository (made by the phase's scripts)."""
    for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", post.read_text(encoding="utf-8")):
        if not target.startswith(("http://", "https://")):
            assert (post.parent / target).is_file(), f"{post.name} shows missing image {target}"


@pytest.mark.parametrize("path", SCRIPTS + NOTEBOOKS, ids=ids(SCRIPTS + NOTEBOOKS))
def test_no_forbidden_imports(path: Path) -> None:
    phase = phase_number(path)
    phase_dir = next(d for d in PHASE_DIRS if path.is_relative_to(d))
    tree = source_tree(path)
    allowed = IMPORT_EXCEPTIONS.get((phase_dir.name, path.name), set())
    bad = (imported_modules(tree) & forbidden_modules(phase)) - allowed
    assert not bad, f"phase {phase:02d} may not import {sorted(bad)} ({path.name})"
    if phase < 8:
        for name in torch_names_used(tree) & READY_MADE_ATTENTION:
            raise AssertionError(f"{path.name} uses PyTorch's ready-made {name}: build it by "
                                 f"hand before phase 08")


@pytest.mark.parametrize("script", SCRIPTS, ids=ids(SCRIPTS))
def test_script_is_a_runnable_lesson(script: Path) -> None:
    """Module docstring, type hints on every function, and a __main__ entry point."""
    tree = source_tree(script)
    doc = ast.get_docstring(tree)
    assert doc and len(doc) > 80, f"{script.name} needs a module docstring saying what it teaches"
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            args += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
            missing = [a.arg for a in args if a.annotation is None and a.arg not in ("self", "cls")]
            where = f"{script.name}:{node.lineno} {node.name}()"
            assert not missing, f"{where} lacks type hints on {missing}"
            assert node.returns is not None, f"{where} lacks a return type hint"
    has_main_guard = any(
        isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"
        for node in tree.body)
    assert has_main_guard, f'{script.name} needs an `if __name__ == "__main__":` entry'


@pytest.mark.parametrize("script", SCRIPTS, ids=ids(SCRIPTS))
def test_main_reads_the_command_line_of_build_parser(script: Path) -> None:
    """The tests ask build_parser() what a script accepts, so main() must parse with it."""
    tree = source_tree(script)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "build_parser" in functions, f"{script.name} needs a build_parser() for its flags"
    calls = [node.func.id for node in ast.walk(functions["main"]) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name)]
    assert "build_parser" in calls, f"{script.name}: main() must parse with build_parser()"
    assert not any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                   and node.func.attr == "ArgumentParser"
                   for node in ast.walk(functions["main"])), (
        f"{script.name}: main() builds its own parser; build_parser() is the one")


# Runs `script.py --help` for every script of one phase folder in ONE fresh interpreter, each as
# `__main__` with its own folder first on sys.path (as `python script.py --help` would), and
# prints one JSON line: script name -> [exit status, what it printed]. One process per phase
# imports PyTorch or transformers once instead of once per script, which saves about two minutes.
HELP_RUNNER = """
import contextlib, io, json, runpy, sys, traceback
results = {}
for path in sys.argv[1:]:
    out = io.StringIO()
    sys.argv, saved_path = [path, "--help"], list(sys.path)
    sys.path.insert(0, path.rsplit("/", 1)[0])
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            runpy.run_path(path, run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        code, _ = 1, out.write(traceback.format_exc())
    sys.path[:] = saved_path
    results[path.rsplit("/", 1)[1]] = [code, out.getvalue()]
print("HELP-RESULTS " + json.dumps(results))
"""


@functools.cache
def help_of_phase(folder: Path) -> dict[str, list]:
    """Exit status and output of `--help` for every script in one phase's code folder."""
    scripts = [str(s) for s in SCRIPTS if s.parent == folder]
    result = subprocess.run([sys.executable, "-c", HELP_RUNNER, *scripts], capture_output=True,
                            text=True, timeout=300, cwd=REPO_ROOT)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("HELP-RESULTS ")]
    assert lines, f"the --help runner of {folder} died:\n{result.stdout[-2000:]}{result.stderr}"
    return json.loads(lines[-1].removeprefix("HELP-RESULTS "))


@pytest.mark.parametrize("script", SCRIPTS, ids=ids(SCRIPTS))
def test_script_help_works(script: Path) -> None:
    code, output = help_of_phase(script.parent)[script.name]
    assert code == 0, f"{script.name} --help failed:\n{output}"
    assert "usage:" in output


def top_level_definitions(path: Path) -> set[str]:
    """Names of the functions and classes a script defines at its top level."""
    return {node.name for node in source_tree(path).body
            if isinstance(node, ast.FunctionDef | ast.ClassDef)}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_builds_on_its_scripts(notebook: Path) -> None:
    """A notebook imports its phase's package and never redefines what a script defines."""
    package = f"phase{phase_number(notebook):02d}"
    tree = source_tree(notebook)
    assert package in imported_modules(tree), f"{notebook.name} should import from {package}"
    defined_by_scripts = set().union(*(top_level_definitions(s) for s in SCRIPTS
                                       if s.parent == notebook.parent))
    redefined = {node.name for node in ast.walk(tree)
                 if isinstance(node, ast.FunctionDef | ast.ClassDef)} & defined_by_scripts
    assert not redefined, (
        f"{notebook.name} redefines {sorted(redefined)}: import them from {package} instead")


# ---------------------------------------------------------------------------------------------
# Flags refuse nonsense, and experiments never overwrite the blog.

def numeric_flags() -> list[tuple[Path, str, str, int]]:
    """(script, flag, validator name, how many values it takes) for every validated flag."""
    import phase00.flags
    from phase00.flags import BAD_VALUES

    validators = {getattr(phase00.flags, name): name for name in BAD_VALUES}
    found = []
    for script in SCRIPTS:
        for flag, action in flags_of(script).items():
            if action.type in validators:
                count = action.nargs if isinstance(action.nargs, int) else 1
                found.append((script, flag, validators[action.type], count))
    return found


NUMERIC_FLAGS = numeric_flags()


@pytest.mark.parametrize("script", SCRIPTS, ids=ids(SCRIPTS))
def test_numeric_flags_use_validating_types(script: Path) -> None:
    """A bare type=float lets nan, inf and a negative learning rate through; use phase00.flags."""
    for flag, action in flags_of(script).items():
        if action.type in (float, int):
            raise AssertionError(f"{script.name}: {flag} has type={action.type.__name__}; use "
                                 f"a validator from phase00.flags (positive_float, ...)")


def stated_numbers(text: str) -> list[float] | None:
    """The numbers of a help text's closing "(default: 0.1)" or "(default: 2 1 0.1)", or None
    when it ends otherwise or states the default in words ("(default: the preset's)")."""
    match = re.search(r"\(default: ([-+0-9.,_e ]+)\)$", text)
    try:
        return [float(w.replace(",", "").replace("_", "")) for w in match.group(1).split()]
    except (AttributeError, ValueError):
        return None


@pytest.mark.parametrize("script", SCRIPTS, ids=ids(SCRIPTS))
def test_parser_comes_from_script_parser(script: Path) -> None:
    """Every script builds its parser with phase00.flags.script_parser, so `--help` shows each
    default (written once, in default=) and `--x -1e-3` reaches its flag."""
    parser = parser_of(script)
    assert parser.formatter_class is ShowDefaults, (
        f"{script.name}: build the parser with phase00.flags.script_parser(description)")
    assert parser._negative_number_matcher.match("-1e-3"), script.name


def test_help_shows_defaults_as_typed() -> None:
    """The formatter writes a default as a learner would type it, once, and leaves alone a help
    that already speaks of its default, a None, a switch that is off and an empty list."""
    parser = script_parser("demo")
    parser.add_argument("--lr", type=float, default=1e-5, help="learning rate")
    parser.add_argument("--logits", type=float, nargs="+", default=[2.0, 1.0, 0.1], help="scores")
    parser.add_argument("--steps", type=int, default=100, help="steps (default: the preset's)")
    parser.add_argument("--path", default=None, help="a file")
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--set", action="append", default=[], help="a field")
    parser.add_argument("--share", type=float, default=0.5, help="a share, in %%")
    text = " ".join(parser.format_help().split())
    assert "learning rate (default: 1e-5)" in text
    assert "scores (default: 2 1 0.1)" in text
    assert text.count("default") == 4
    assert "a share, in % (default: 0.5)" in text


@pytest.mark.parametrize("script", SCRIPTS, ids=ids(SCRIPTS))
def test_help_states_the_default_the_flag_really_has(script: Path) -> None:
    """A default written into a help text by hand can drift from the value in default=: every
    number a flag's help gives as its default must be the flag's real default (unless that is
    None, which main() replaces with the value the help states)."""
    for flag, action in flags_of(script).items():
        stated = stated_numbers(" ".join((action.help or "").split()))
        if stated is None or action.default is None:  # None: a default main() computes
            continue
        real = action.default if isinstance(action.default, list | tuple) else [action.default]
        numbers = all(isinstance(v, int | float) for v in real)
        assert numbers and stated == [float(v) for v in real], (
            f"{script.name}: {flag}'s help says (default: {' '.join(map(str, stated))}), but its "
            f"default is {action.default!r}")


@pytest.mark.parametrize("script", SCRIPTS, ids=ids(SCRIPTS))
def test_a_negative_number_with_an_exponent_reaches_its_flag(
        script: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--x -1e-3` must give --x the number, where argparse alone takes "-1e-3" for an unknown
    flag (phase00.flags.allow_negative_numbers): checked for every flag whose type accepts it."""
    for flag, action in flags_of(script).items():
        try:
            value = action.type("-1e-3") if callable(action.type) else None
        except (argparse.ArgumentTypeError, ValueError, TypeError):
            continue
        if not isinstance(value, int | float) or action.choices:
            continue
        count = action.nargs if isinstance(action.nargs, int) else 1
        with contextlib.suppress(SystemExit):  # another flag may be required: not this test's
            parser_of(script).parse_args([flag, *["-1e-3"] * count])
        err = capsys.readouterr().err
        assert not re.search(r"expected (one|at least one|\d+) arguments?", err), (
            f"{script.name}: {flag} -1e-3 is read as a flag, not a number:\n{err}")


@pytest.mark.parametrize("script, flag, kind, count", NUMERIC_FLAGS,
                         ids=[f"{s.name}:{f}" for s, f, _, _ in NUMERIC_FLAGS])
def test_bad_numeric_flag_is_a_usage_error(script: Path, flag: str, kind: str, count: int,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Each numeric flag, given a value its type refuses, stops with argparse's exit status 2."""
    from phase00.flags import BAD_VALUES

    with pytest.raises(SystemExit) as stop:
        module_of(script).main([flag, *[BAD_VALUES[kind]] * count])
    assert stop.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("script", SCRIPTS, ids=ids(SCRIPTS))
def test_figures_default_to_the_scratch_folder(script: Path) -> None:
    """`--out` defaults to scratch_dir(__file__), never to the committed blog/figures."""
    from phase00.figures import scratch_dir

    out = flags_of(script).get("--out")
    if out is not None:
        assert out.default == scratch_dir(script), (
            f"{script.name}: --out must default to scratch_dir(__file__), not {out.default}")


def folder_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_experiment_leaves_the_blog_unchanged(tmp_path: Path) -> None:
    phase = REPO_ROOT / "phase-01-neural-networks"
    before = folder_digest(phase / "blog")
    result = subprocess.run(
        [sys.executable, str(phase / "code" / "mlp.py"), "--steepness", "3", "--no-bias"],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
        env={**os.environ, "TFS_SCRATCH_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert folder_digest(phase / "blog") == before, "an experiment changed the blog's files"
    assert list((tmp_path / phase.name).glob("*.png")), "the experiment's figures went nowhere"
    assert str(tmp_path / phase.name) in result.stdout, "say where the figures went"


@pytest.mark.parametrize("phase_dir", PHASE_DIRS, ids=ids(PHASE_DIRS))
def test_blog_figures_registry_names_real_scripts(phase_dir: Path) -> None:
    """Each BLOG_FIGURES entry is a script of the phase that draws figures (has --out)."""
    package = importlib.import_module(f"phase{phase_number(phase_dir):02d}")
    assert isinstance(package.BLOG_FIGURES, list)
    for module_name, flags in package.BLOG_FIGURES:
        script = phase_dir / "code" / f"{module_name}.py"
        assert script.is_file(), f"BLOG_FIGURES names {module_name}, which is not a script"
        assert "--out" in flags_of(script), f"{module_name} has no --out"
        assert all(isinstance(f, str) for f in flags)


def test_parallel_tests_take_one_worker_a_core_unless_memory_is_short(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`pytest -n auto` asks tests/conftest.py how many processes to start."""
    import phase00.flags
    from tests.conftest import WORKER_MEMORY_BYTES, pytest_xdist_auto_num_workers

    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(phase00.flags, "machine_memory_bytes", lambda: 64 * 2**30)
    assert pytest_xdist_auto_num_workers(None) == 4  # one a core
    monkeypatch.setattr(phase00.flags, "machine_memory_bytes", lambda: 3 * WORKER_MEMORY_BYTES)
    assert pytest_xdist_auto_num_workers(None) == 3  # what the memory holds
    monkeypatch.setattr(phase00.flags, "machine_memory_bytes", lambda: WORKER_MEMORY_BYTES // 2)
    assert pytest_xdist_auto_num_workers(None) == 1  # never none
    monkeypatch.setattr(phase00.flags, "machine_memory_bytes", lambda: None)
    assert pytest_xdist_auto_num_workers(None) == 4  # memory unknown: the cores decide
