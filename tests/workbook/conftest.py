"""What the workbook's tests share: a learner's folder of their own, and a learner's hands.

Every test works in a temporary folder named by WORKBOOK_DIR, never in my-code/.
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


class Learner:
    """Types the workbook's commands and edits the files, as a learner would."""

    def __init__(self, folder: Path):
        self.folder = folder

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "WORKBOOK_DIR": str(self.folder)}
        env.pop("WORKBOOK_MINE", None)
        return subprocess.run([sys.executable, "-m", "workbook", *args], cwd=REPO_ROOT,
                              env=env, input=stdin, capture_output=True, text=True,
                              timeout=600, check=False)

    def file(self, exercise_id: str) -> Path:
        from workbook.manifest import find
        e = find(exercise_id)[0]
        return self.folder / f"phase{e.phase}" / f"{e.module}.py"

    def write(self, exercise_id: str, body: str) -> None:
        """Put `body` (a function body, written flush left) where the exercise's stub is."""
        path = self.file(exercise_id)
        source = path.read_text(encoding="utf-8")
        stub = re.compile(
            rf"([ \t]*# Exercise {re.escape(exercise_id)}:.*\n(?:[ \t]*# .*\n)*?)"
            rf"([ \t]*)raise NotImplementedError\(\"exercise {re.escape(exercise_id)} "
            rf"is yours to write\"\)\n")
        match = stub.search(source)
        assert match, f"the stub of {exercise_id} is not in {path}"
        indent = match.group(2)
        new = textwrap.indent(textwrap.dedent(body).strip("\n") + "\n", indent)
        path.write_text(source[: match.start()] + new + source[match.end():], encoding="utf-8")


@pytest.fixture
def learner(tmp_path: Path) -> Learner:
    return Learner(tmp_path / "my-code")


def solve_with_the_reference(learner: Learner, exercise_ids: list[str]) -> None:
    """Start the phase and put the reference where the stubs of `exercise_ids` are: the
    exercises the one under test leans on, written (correctly) before it."""
    from workbook.manifest import find
    from workbook.stubs import reference_function, replace_function

    assert learner.run("start", exercise_ids[0][:2]).returncode == 0
    for exercise_id in exercise_ids:
        e = find(exercise_id)[0]
        path = learner.file(exercise_id)
        source = path.read_text(encoding="utf-8")
        path.write_text(replace_function(source, e.qualname, reference_function(e)),
                        encoding="utf-8")


def solve_then_break(learner: Learner, exercise_id: str, solution: str, bug: str) -> None:
    """The simulated learner of one phase: start it, write `solution` (written differently
    from the reference) and see it pass; in a copy of the same folder, plant `bug` and see it
    fail, by name. The two checks run side by side (two processes on two cores)."""
    phase = exercise_id[:2]
    assert learner.run("start", phase).returncode == 0
    twin = Learner(learner.folder.with_name(learner.folder.name + "-with-a-bug"))
    shutil.copytree(learner.folder, twin.folder)
    learner.write(exercise_id, solution)
    twin.write(exercise_id, bug)
    with ThreadPoolExecutor(max_workers=2) as pool:
        done, broken = pool.map(lambda who: who.run("check", exercise_id), (learner, twin))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(rf"{re.escape(exercise_id)}\s+passing", done.stdout), done.stdout
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert re.search(rf"{re.escape(exercise_id)}\s+failing", broken.stdout), broken.stdout
    assert f"First failure: {exercise_id}" in broken.stdout
