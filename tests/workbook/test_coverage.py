"""The proof that every exercise is checked: each stub, alone in an otherwise complete copy of
its module, fails at least one of its listed tests with its own message; every listed test
exists; and the reference, copied into a learner's folder unchanged, passes them all.

A test listed for an exercise that does not exercise it (so it could never fail) shows up here.
"""

import ast
import re

import pytest

from tests.conftest import REPO_ROOT
from workbook.checking import verify
from workbook.manifest import all_exercises, module_file, phase_folder, phases
from workbook.stubs import find_function, stub_of


def test_every_phase_has_at_least_six_exercises_and_seventy_in_all() -> None:
    counts = {p: sum(e.phase == p for e in all_exercises()) for p in phases()}
    assert sorted(counts) == [f"{n:02d}" for n in range(10)], counts
    assert min(counts.values()) >= 6, counts
    assert sum(counts.values()) >= 70, counts


@pytest.mark.parametrize("exercise", all_exercises(), ids=lambda e: e.id)
def test_each_exercise_points_at_real_code_notes_and_tests(exercise) -> None:
    source = module_file(exercise.phase, exercise.module).read_text(encoding="utf-8")
    find_function(ast.parse(source), exercise.qualname)  # raises if the target is gone
    notes = (phase_folder(exercise.phase) / exercise.notes).read_text(encoding="utf-8")
    headings = {m.group(1).strip() for m in re.finditer(r"^#+ (.+)$", notes, re.M)}
    assert exercise.section in headings, f"{exercise.notes} has no section '{exercise.section}'"
    for test in exercise.tests:
        assert (REPO_ROOT / "tests" / test.split("::")[0]).is_file(), test
    stub = stub_of(exercise)
    assert f'"exercise {exercise.id} is yours to write"' in stub
    assert exercise.qualname.split(".")[-1] in stub.splitlines()[0] or "@" in stub


@pytest.mark.parametrize("phase", phases())
def test_each_phase_readme_lists_its_exercises(phase: str) -> None:
    readme = (phase_folder(phase) / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Build it yourself\n(.*?)(?=^## )", readme, re.S | re.M)
    assert section, f"phase {phase}'s README has no 'Build it yourself' section"
    listed = re.findall(r"^- `(\d\d\.[a-z0-9-]+)`", section.group(1), re.M)
    assert listed == [e.id for e in all_exercises() if e.phase == phase], (
        "list every exercise of the phase, in order, as '- `NN.name`: ...'")
    assert f"python -m workbook start {phase}" in section.group(1)


@pytest.mark.parametrize("phase", phases())
def test_every_stub_fails_its_tests_and_the_reference_passes_them(phase: str) -> None:
    assert verify(phase) == []
