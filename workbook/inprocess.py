"""The coverage proof, fast: every exercise of a phase stubbed in turn inside ONE process.

Starting Python, pytest and PyTorch costs seconds, and the proof needs one run per exercise. So
`python -m workbook.inprocess 05` imports the course once and, for each exercise, swaps the
reference function's code for the stub's (`function.__code__`: every name that refers to the
function sees the stub at once), runs the exercise's tests with `pytest.main`, and swaps it back.

Tests that start a script in a new process do not see the swap. An exercise whose stub no
in-process test catches is therefore proved again the slow way (checking.verify_exercise, its
module really copied into a learner's folder), and only a failure there is a problem. It prints
one JSON object: {"problems": [...], "slow": [ids proved the slow way]}.
"""

import ast
import importlib
import inspect
import json
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from workbook import report
from workbook.checking import judge, untouched_problems, verify_exercise
from workbook.manifest import Exercise, all_exercises, module_file
from workbook.stubs import find_function, stubbed_module


def reference_function(e: Exercise):  # noqa: ANN201 (a function object)
    """The live function object of the exercise's target, under any decorator."""
    obj = importlib.import_module(f"phase{e.phase}.{e.module}")
    *owners, name = e.qualname.split(".")
    for owner in owners:
        obj = getattr(obj, owner)
    attr = inspect.getattr_static(obj, name)
    attr = getattr(attr, "fget", None) or getattr(attr, "__func__", None) or attr
    return inspect.unwrap(attr)


def stub_code(e: Exercise, function):  # noqa: ANN001, ANN201 (a function, a code object)
    """The code object of the exercise's stub, compiled from `def` on (decorators dropped).

    A code object can only replace one with the same free variables: a method that calls
    super() closes over `__class__`. The stub is then compiled inside a function that defines
    those names, and reads them once before it raises, so that it closes over them too."""
    source = stubbed_module(e.phase, e.module, only=e)
    fn = find_function(ast.parse(source), e.qualname)
    lines = source.splitlines(keepends=True)[fn.lineno - 1:fn.end_lineno]
    free = function.__code__.co_freevars
    if free:
        raise_line = next(i for i, ln in enumerate(lines) if "raise NotImplementedError" in ln)
        indent = lines[raise_line][: len(lines[raise_line]) - len(lines[raise_line].lstrip())]
        lines.insert(raise_line, f"{indent}({', '.join(free)},)\n")
    text = textwrap.dedent("".join(lines))
    if free:
        text = ("def _closure():\n" + "".join(f"    {name} = None\n" for name in free)
                + textwrap.indent(text, "    ") + f"    return {fn.name}\n")
    namespace = dict(function.__globals__)
    exec(compile(text, str(module_file(e.phase, e.module)), "exec"), namespace)  # noqa: S102
    made = namespace["_closure"]() if free else namespace[fn.name]
    return made.__code__


@contextmanager
def stubbed(exercises: list[Exercise]) -> Iterator[None]:
    """The exercises' reference functions run their stubs' code inside the block."""
    saved = []
    try:
        for e in exercises:
            function = reference_function(e)
            code = stub_code(e, function)
            saved.append((function, function.__code__))
            function.__code__ = code  # ValueError if the function closes over a variable
        yield
    finally:
        for function, code in saved:
            function.__code__ = code


def run(test_ids: list[str]) -> dict[str, dict]:
    report._results.clear()
    pytest.main(["-q", "--no-header", "-p", "no:cacheprovider", *test_ids], plugins=[report])
    return dict(report._results)


def verify_phase(phase: str) -> dict:
    exercises = [e for e in all_exercises() if e.phase == phase]
    problems: list[str] = []
    slow: list[str] = []
    for e in exercises:
        try:
            with stubbed([e]):
                outcome = judge(e, run(e.test_ids))
        except ValueError:  # a code object that cannot be swapped: prove it the slow way
            outcome = None
        if outcome is not None:
            problems += [f"{e.id}: no test called {t}" for t, n in outcome.found.items() if not n]
        if outcome is None or outcome.status != "not written":
            slow.append(e.id)
            problems += verify_exercise(e)
    with stubbed(exercises):  # a fresh start: nobody is sent to a later exercise
        ids = list(dict.fromkeys(t for e in exercises for t in e.test_ids))
        results = run(ids)
    problems += untouched_problems([judge(e, results) for e in exercises])
    return {"problems": problems, "slow": slow}


if __name__ == "__main__":
    result = verify_phase(sys.argv[1])
    sys.stdout.flush()
    print("\nWORKBOOK-RESULT " + json.dumps(result))
