"""Cut an exercise out of the reference code, and find it again in the learner's file.

Everything works on source text, by line numbers that Python's own parser (`ast`) gives, so the
rest of a module (its comments, its other functions, its script part) is copied exactly.
"""

import ast
import textwrap
from pathlib import Path

from workbook.manifest import Exercise, ManifestError, all_exercises, module_file


def find_function(tree: ast.Module, qualname: str) -> ast.FunctionDef:
    """The def of `qualname` ("softmax" or "Value.__add__") at the module's top level."""
    scope: list[ast.stmt] = tree.body
    node: ast.AST | None = None
    for part in qualname.split("."):
        node = next((n for n in scope if isinstance(n, ast.FunctionDef | ast.ClassDef)
                     and n.name == part), None)
        if node is None:
            raise LookupError(f"no '{qualname}' in this module")
        scope = node.body
    if not isinstance(node, ast.FunctionDef):
        raise LookupError(f"'{qualname}' is a class, not a function")
    return node


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _is_guard(stmt: ast.stmt) -> bool:
    """An assert, or `if <bad input>: raise ...`: the checks a stub keeps for the learner."""
    if isinstance(stmt, ast.Assert):
        return True
    return (isinstance(stmt, ast.If) and not stmt.orelse
            and all(isinstance(s, ast.Raise) for s in stmt.body))


def function_span(source: str, qualname: str) -> tuple[int, int, int]:
    """(first line of the def or its decorators, first line of the body to cut, last line),
    1-based, for the function in `source`. The body to cut starts after the docstring and the
    leading guards."""
    fn = find_function(ast.parse(source), qualname)
    first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    return first, fn.lineno, fn.end_lineno or fn.lineno


def _cut_point(fn: ast.FunctionDef, keep: str | None, lines: list[str]) -> int:
    """Index of the first body statement the stub replaces.

    `keep` names the last statement kept by its first line's text, not by a count: a statement
    added to or removed from the top of the reference function then moves nothing, and a
    `keep` line that is no longer there is an error, never a stub cut in the wrong place."""
    body = fn.body
    start = 1 if body and _is_docstring(body[0]) else 0
    if keep is not None:
        firsts = [lines[stmt.lineno - 1].strip() for stmt in body[start:]]
        if firsts.count(keep) != 1:
            raise ManifestError(f"'{fn.name}' has {firsts.count(keep)} statements whose first "
                                f"line is {keep!r}; keep names exactly one, the last line the "
                                f"stub keeps")
        cut = start + firsts.index(keep) + 1
    else:
        cut = start
        while cut < len(body) - 1 and _is_guard(body[cut]):
            cut += 1
    if cut >= len(body):
        raise ManifestError(f"'{fn.name}' would keep its whole body: nothing left to write")
    return cut


def stub_body(exercise: Exercise, indent: str) -> list[str]:
    """The lines that stand where the exercise's code was."""
    title = textwrap.wrap(f"Exercise {exercise.id}: {exercise.title}", 96 - len(indent))
    return [
        *(f"{indent}# {line}" for line in title),
        f"{indent}# Taught in {exercise.notes_path}",
        f"{indent}# python -m workbook hint {exercise.id}   |   "
        f"python -m workbook check {exercise.id}",
        f'{indent}raise NotImplementedError("exercise {exercise.id} is yours to write")',
    ]


def stub_function(source: str, exercise: Exercise) -> str:
    """`source` with the exercise's function body replaced by its stub."""
    lines = source.splitlines(keepends=True)
    fn = find_function(ast.parse(source), exercise.qualname)
    cut = _cut_point(fn, exercise.keep, [line.rstrip("\n") for line in lines])
    first_cut = fn.body[cut]
    start = first_cut.lineno
    if start == fn.lineno:
        raise ManifestError(f"{exercise.id}: the body of '{fn.name}' must start on its own line")
    while start - 2 > fn.lineno - 1 and lines[start - 2].strip().startswith("#"):
        start -= 1  # the comments just above the first cut line go with it
    if cut > 0:  # cut from the line after the last kept statement, comments included
        start = (fn.body[cut - 1].end_lineno or start) + 1
    end = fn.end_lineno or first_cut.lineno
    body_line = lines[first_cut.lineno - 1]
    indent = body_line[: len(body_line) - len(body_line.lstrip())]
    stub = [line + "\n" for line in stub_body(exercise, indent)]
    head = lines[: start - 1]
    if exercise.doc is not None:  # the reference's docstring gives the answer: show this one
        if not _is_docstring(fn.body[0]):
            raise ManifestError(f"{exercise.id}: doc replaces a docstring, and '{fn.name}' has "
                                f"none")
        first, last = fn.body[0].lineno, fn.body[0].end_lineno or fn.body[0].lineno
        doc = exercise.doc.strip().splitlines()
        text = [f'{indent}"""{doc[0]}'] + [f"{indent}{line}".rstrip() for line in doc[1:]]
        text[-1] += '"""' if len(doc) == 1 else f'\n{indent}"""'
        head = head[: first - 1] + [line + "\n" for line in text] + head[last:]
    return "".join(head + stub + lines[end:])


def function_source(source: str, qualname: str) -> str:
    """The text of one function (decorators included), as written in `source`."""
    first, _, last = function_span(source, qualname)
    return "".join(source.splitlines(keepends=True)[first - 1:last])


def replace_function(source: str, qualname: str, new_function: str) -> str:
    """`source` with the function `qualname` replaced by the text `new_function`."""
    first, _, last = function_span(source, qualname)
    lines = source.splitlines(keepends=True)
    return "".join(lines[: first - 1]) + new_function + "".join(lines[last:])


def _without_docstrings(tree: ast.AST) -> str:
    """The module's code as the parser sees it, docstrings left out (comments never appear)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and body and _is_docstring(body[0])):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def redact(source: str, exercise: Exercise) -> str:
    """`source` with the exercise's redactions made: text of a docstring or a comment outside
    the exercise's function (the module's docstring, a class's) that would give the answer away.

    Each old text must stand in the module exactly once, and the result must be the same code
    (docstrings and comments aside): a redaction can never change what the module does."""
    for old, new in exercise.redact:
        if source.count(old) != 1:
            raise ManifestError(f"{exercise.id}: redact's old text stands "
                                f"{source.count(old)} times in {exercise.module}.py, not once: "
                                f"{old[:60]!r}")
        changed = source.replace(old, new)
        if _without_docstrings(ast.parse(changed)) != _without_docstrings(ast.parse(source)):
            raise ManifestError(f"{exercise.id}: redact may change docstrings and comments "
                                f"only; this one changes code: {old[:60]!r}")
        source = changed
    return source


def exercises_in_module(phase: str, module: str) -> list[Exercise]:
    return [e for e in all_exercises() if e.phase == phase and e.module == module]


def stubbed_module(phase: str, module: str, only: Exercise | None = None) -> str:
    """The reference module with its exercises (or just `only`) replaced by stubs.

    Stubs are cut from the bottom of the file up, so earlier line numbers stay valid."""
    source = module_file(phase, module).read_text(encoding="utf-8")
    chosen = [only] if only else exercises_in_module(phase, module)
    for exercise in chosen:
        source = redact(source, exercise)
    tree = ast.parse(source)
    chosen.sort(key=lambda e: find_function(tree, e.qualname).lineno, reverse=True)
    for exercise in chosen:
        source = stub_function(source, exercise)
    return source


def reference_function(exercise: Exercise) -> str:
    source = module_file(exercise.phase, exercise.module).read_text(encoding="utf-8")
    return function_source(source, exercise.qualname)


def stub_of(exercise: Exercise) -> str:
    """The exercise's function as `start` writes it: signature, docstring, guards, stub."""
    return function_source(stubbed_module(exercise.phase, exercise.module, only=exercise),
                           exercise.qualname)


def learner_function(folder: Path, exercise: Exercise) -> str | None:
    """The learner's version of the exercise, or None when their file or function is missing
    (or their file does not parse yet)."""
    path = folder / f"phase{exercise.phase}" / f"{exercise.module}.py"
    if not path.is_file():
        return None
    try:
        return function_source(path.read_text(encoding="utf-8"), exercise.qualname)
    except (SyntaxError, LookupError, UnicodeDecodeError, ValueError):
        return None  # not Python yet, or not UTF-8 text: `check` says which
