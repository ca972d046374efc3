"""The workbook's commands, as a learner meets them: start, check, list, hint, compare, reset,
run, and what each does with a mistake (an unknown id, an edited file, a reset not confirmed)."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.workbook.conftest import Learner
from workbook.manifest import find
from workbook.stubs import learner_function, reference_function, stub_of

SOFTMAX = """
z = np.asarray(z)
z = z.astype(np.float64) if not np.issubdtype(z.dtype, np.floating) else z
e = np.exp(z - z.max(axis=axis, keepdims=True))
return e / e.sum(axis=axis, keepdims=True)
"""


def statuses(learner: Learner, phase: str = "00") -> dict[str, str]:
    out = learner.run("list", phase).stdout
    return {m.group(1): m.group(2).strip()
            for m in re.finditer(r"^  (\d\d\.[a-z0-9-]+)\s+(\S+(?: \S+)?)\s{2,}", out, re.M)}


def test_an_untouched_workspace_fails_every_exercise_on_a_stub(learner) -> None:
    started = learner.run("start", "00")
    assert started.returncode == 0, started.stderr
    result = learner.run("check", "00")
    assert result.returncode == 1
    ids = [e.id for e in find("00")]
    for exercise_id in ids:  # its own stub, or an earlier exercise's stub it calls
        line = re.search(rf"^  {re.escape(exercise_id)}\s+(.+)$", result.stdout, re.M)
        assert line, result.stdout
        verdict = line.group(1).strip()
        waits = re.fullmatch(r"waiting on (\S+)", verdict)
        assert verdict == "not written" or (waits and ids.index(waits.group(1))
                                            < ids.index(exercise_id)), verdict
    assert "Next to write: 00.dot-product" in result.stdout


def test_the_reference_still_passes_with_the_workbook_off() -> None:
    """Nothing changes for the course's own tests unless the workbook is asked in."""
    import phase00
    assert phase00.__path__ == [str(REPO_ROOT / "phase-00-foundations" / "code")]


def test_start_never_overwrites_an_edited_file_and_refreshes_an_untouched_one(learner) -> None:
    learner.run("start", "00")
    path = learner.file("00.softmax")
    learner.write("00.softmax", SOFTMAX)
    edited = path.read_text()
    again = learner.run("start", "00")
    assert again.returncode == 0
    assert "kept" in again.stdout and "never overwrites" in again.stdout
    assert path.read_text() == edited
    untouched = learner.file("00.dot-product")
    untouched.write_text(untouched.read_text().replace("\n\n\ndef norm", "\n\n\n# old\ndef norm"))
    state = json.loads((learner.folder / ".workbook.json").read_text())
    from workbook.state import fingerprint
    state["written"]["phase00/vectors.py"] = fingerprint(untouched.read_text())
    (learner.folder / ".workbook.json").write_text(json.dumps(state))
    refreshed = learner.run("start", "00")
    assert "refreshed" in refreshed.stdout and "# old" not in untouched.read_text()


def test_list_follows_the_learner(learner) -> None:
    assert set(statuses(learner).values()) == {"not started"}
    learner.run("start", "00")
    assert statuses(learner)["00.softmax"] == "not started"
    learner.write("00.softmax", SOFTMAX)
    assert statuses(learner)["00.softmax"] == "edited"
    assert learner.run("check", "00.softmax").returncode == 0
    assert statuses(learner)["00.softmax"] == "passing"
    path = learner.file("00.softmax")
    path.write_text(path.read_text().replace("z - z.max(axis=axis, keepdims=True)", "z"))
    assert statuses(learner)["00.softmax"] == "edited"
    assert learner.run("check", "00.softmax").returncode == 1
    assert statuses(learner)["00.softmax"] == "failing"


def test_unknown_names_list_the_valid_ones(learner) -> None:
    result = learner.run("hint", "00.sofmax")
    assert result.returncode == 2 and result.stdout == ""
    assert "no exercise called '00.sofmax'" in result.stderr and "00.softmax" in result.stderr
    assert "Traceback" not in result.stderr
    assert "phase 42 has no exercises" in learner.run("start", "42").stderr
    assert "not started" in learner.run("check", "00").stderr  # nothing started yet


def test_hints_come_one_level_at_a_time(learner) -> None:
    levels = [learner.run("hint", "00.softmax").stdout for _ in range(4)]
    assert [re.search(r"Hint (\d) of 3", t).group(1) for t in levels] == ["1", "2", "3", "3"]
    assert "the math" in levels[1] and "last hint" in levels[3]
    assert "Hint 1 of 3" in learner.run("hint", "00.softmax", "--level", "1").stdout


def test_compare_waits_for_a_pass_unless_the_learner_gives_up(learner) -> None:
    learner.run("start", "00")
    refused = learner.run("compare", "00.softmax")
    assert refused.returncode == 2 and "not written" in refused.stderr
    gave_up = learner.run("compare", "00.softmax", "--give-up")
    assert gave_up.returncode == 0 and "z_shifted" in gave_up.stdout
    learner.write("00.softmax", SOFTMAX)
    shown = learner.run("compare", "00.softmax")
    assert shown.returncode == 0
    assert "yours" in shown.stdout and "ours" in shown.stdout
    assert "z_shifted" in shown.stdout and "e = np.exp(z - z.max" in shown.stdout


def test_reset_asks_first_and_keeps_a_backup(learner) -> None:
    learner.run("start", "00")
    learner.write("00.softmax", SOFTMAX)
    exercise = find("00.softmax")[0]
    mine = learner_function(learner.folder, exercise)
    no_answer = learner.run("reset", "00.softmax")  # nobody at the keyboard
    assert no_answer.returncode == 2 and "asks before" in no_answer.stderr
    assert learner.run("reset", "00.softmax", stdin="n\n").returncode == 1
    assert learner_function(learner.folder, exercise) == mine
    done = learner.run("reset", "00.softmax", stdin="y\n")
    assert done.returncode == 0, done.stderr
    assert learner_function(learner.folder, exercise) == stub_of(exercise)
    backups = list((learner.folder / ".backups").glob("00.softmax-*.py"))
    assert [b.read_text() for b in backups] == [mine]
    others = learner_function(learner.folder, find("00.logsumexp")[0])
    assert others == stub_of(find("00.logsumexp")[0])  # nothing else touched


def test_the_learners_own_module_runs_as_a_script_on_their_code(learner) -> None:
    learner.run("start", "00")
    env = {**os.environ, "WORKBOOK_DIR": str(learner.folder)}
    script = learner.file("00.softmax")
    failed = subprocess.run([sys.executable, str(script), "--out", str(learner.folder / "o")],
                            env=env, capture_output=True, text=True, check=False)
    assert re.search(r"NotImplementedError: exercise 00\.(softmax|logsumexp|cross-entropy|sample) "
                     r"is yours to write", failed.stderr), failed.stderr[-2000:]
    through_run = learner.run("run", "00", "vectors", "--out", str(learner.folder / "o"))
    assert through_run.returncode == 1 and "Traceback" not in through_run.stderr
    assert through_run.stderr.startswith("Not written yet in your code: 00.dot-product, ")
    assert ("vectors.py stopped where it calls exercise 00.dot-product, which you have not "
            "written yet") in through_run.stderr
    assert "1. " in through_run.stdout  # what the script printed before it got there


def test_the_stub_keeps_signature_docstring_and_guards() -> None:
    exercise = find("00.dot-product")[0]
    stub, ours = stub_of(exercise), reference_function(exercise)
    assert stub.splitlines()[:9] == ours.splitlines()[:9]  # def, docstring, conversion, guard
    assert "for a_i, b_i" not in stub and "for a_i, b_i" in ours
    assert 'raise NotImplementedError("exercise 00.dot-product is yours to write")' in stub
    assert "phase-00-foundations/notes/01-vectors-and-matrices.md" in stub


KEPT = '''
def f(x):
    """Doc."""
    x = float(x)
    if x < 0:
        raise ValueError("x")
    y = x * 2
    return y + 1
'''


@pytest.mark.parametrize("line, says", [("doc = 3", "doc is the docstring"),
                                         ("doc = \"  \"", "doc is the docstring"),
                                         ("keep = 2", "keep is the first line")])
def test_a_manifest_with_a_doc_or_keep_of_the_wrong_kind_is_refused(tmp_path, line: str,
                                                                    says: str) -> None:
    from workbook.manifest import ManifestError, _read_manifest

    text = (REPO_ROOT / "workbook/exercises/phase00.toml").read_text(encoding="utf-8")
    bad = tmp_path / "phase00.toml"
    bad.write_text(text.replace('id = "00.dot-product"', f'id = "00.dot-product"\n{line}', 1)
                   .replace("keep = 'if a.ndim != 1 or a.shape != b.shape:'\n", "", 1),
                   encoding="utf-8")
    with pytest.raises(ManifestError, match=says):
        _read_manifest(bad)


def test_a_stub_can_show_a_docstring_that_does_not_give_the_answer() -> None:
    """softmax_backward's own docstring holds the formula the exercise asks for; its stub shows
    the manifest's doc instead, and the reference keeps its own."""
    exercise = find("05.softmax-backward")[0]
    assert "sum_i dP_i P_i" in reference_function(exercise)
    stub = stub_of(exercise)
    assert "sum_i dP_i P_i" not in stub and "given dL/dP" in stub
    assert 'raise NotImplementedError("exercise 05.softmax-backward' in stub


def test_a_module_docstring_that_gives_the_answer_is_redacted_in_the_stubs_file() -> None:
    """layers.py's own docstring writes the dense layer's three backward products; the file
    `start` writes says what they make, and the reference keeps its text."""
    from workbook.manifest import module_file
    from workbook.stubs import stubbed_module

    reference = module_file("02", "layers").read_text(encoding="utf-8")
    assert "dL/dW = x.T @ delta" in reference and "(softmax(z) - onehot(y)) / B" in reference
    stubbed = stubbed_module("02", "layers")
    assert "x.T @ delta" not in stubbed.split("def plot_backward_shapes")[0]
    assert "onehot(y)) / B" not in stubbed
    assert "dL/dW   (n_in, n_out), the shape of W" in stubbed
    assert "exercise 02.dense-backward is yours to write" in stubbed


@pytest.mark.parametrize("old, new, says", [
    ("Not in the module at all.", "x", "stands 0 times"),
    ("total += a_i * b_i", "total -= a_i * b_i", "changes code"),
    ("Dot product", "Dot", "redact is a list"),
])
def test_a_redaction_that_is_missing_or_changes_code_is_refused(tmp_path, old: str, new: str,
                                                                says: str) -> None:
    """A redaction changes a docstring or a comment, never what the module does; its old text
    must stand in the module exactly once."""
    import dataclasses

    from workbook.manifest import ManifestError, _read_manifest
    from workbook.stubs import stubbed_module

    if says == "redact is a list":
        text = (REPO_ROOT / "workbook/exercises/phase00.toml").read_text(encoding="utf-8")
        bad = tmp_path / "phase00.toml"
        bad.write_text(text.replace('id = "00.dot-product"',
                                    f'id = "00.dot-product"\nredact = ["{old}"]', 1),
                       encoding="utf-8")
        with pytest.raises(ManifestError, match=says):
            _read_manifest(bad)
        return
    exercise = dataclasses.replace(find("00.dot-product")[0], redact=((old, new),))
    with pytest.raises(ManifestError, match=says):
        stubbed_module("00", "vectors", only=exercise)


def test_keep_names_the_last_kept_line_so_an_added_line_moves_nothing() -> None:
    """keep is the text of the last statement the stub keeps: a line added above it is kept
    too, and the answer below it is still cut; a keep line no longer in the code is an error."""
    import dataclasses

    from workbook.manifest import ManifestError
    from workbook.stubs import stub_function

    exercise = dataclasses.replace(find("00.dot-product")[0], target="m.f",
                                   keep="if x < 0:")
    stub = stub_function(KEPT, exercise)
    assert "raise ValueError" in stub and "y = x * 2" not in stub and "return" not in stub
    grown = stub_function(KEPT.replace("    x = float(x)\n", "    x = float(x)\n    z = 0\n"),
                          exercise)
    assert "z = 0" in grown and "if x < 0:" in grown and "y = x * 2" not in grown
    with pytest.raises(ManifestError, match="0 statements whose first line is 'if x <= 0:'"):
        stub_function(KEPT, dataclasses.replace(exercise, keep="if x <= 0:"))


@pytest.mark.parametrize("argv", [["check"], ["reset"], ["frobnicate"]])
def test_a_malformed_command_gets_usage_not_a_traceback(learner, argv) -> None:
    result = learner.run(*argv)
    assert result.returncode == 2 and "usage:" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_overlay_puts_each_named_phase_of_the_learner_in_front(tmp_path) -> None:
    for phase in ("00", "01"):
        (tmp_path / f"phase{phase}").mkdir()
    code = "import phase00, phase01, phase02; print(phase00.__path__[0], phase01.__path__[0], " \
           "phase02.__path__[0])"
    env = {**os.environ, "WORKBOOK_DIR": str(tmp_path), "WORKBOOK_MINE": "0,01,02"}
    # Run from the repository (as the workbook does): run inside the learner's folder, Python
    # would take its phaseNN/ folders for namespace packages before the overlay ever ran.
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=REPO_ROOT).stdout.split()
    assert out[:2] == [str(tmp_path / "phase00"), str(tmp_path / "phase01")]
    assert out[2] == str(REPO_ROOT / "phase-02-backprop" / "code")  # not started: the course's


def test_mine_needs_the_earlier_phase_started(learner) -> None:
    learner.run("start", "00")
    result = learner.run("check", "00", "--mine", "01")
    assert result.returncode == 2
    assert "phase 01 is not started" in result.stderr and "workbook start 01" in result.stderr


def test_update_brings_the_courses_code_around_the_learners_exercises(learner) -> None:
    learner.run("start", "00")
    learner.write("00.softmax", SOFTMAX)
    path = learner.file("00.softmax")
    old = path.read_text().replace("def softmax_naive(", "# an old line\ndef softmax_naive(")
    path.write_text(old)
    mine = learner_function(learner.folder, find("00.softmax")[0])
    result = learner.run("update", "00")
    assert result.returncode == 0, result.stderr
    assert "keeping your 00.softmax" in result.stdout
    assert learner_function(learner.folder, find("00.softmax")[0]) == mine
    assert "# an old line" not in path.read_text()
    backups = list((learner.folder / ".backups").glob("phase00-probability-*.py"))
    assert [b.read_text() for b in backups] == [old]
    assert learner.run("check", "00.softmax").returncode == 0
    again = learner.run("update", "00")
    assert "updated" not in again.stdout and "up to date" in again.stdout


def test_mine_runs_a_later_phase_on_the_learners_earlier_code(learner) -> None:
    """Phase 06's autograd test compares PyTorch with the learner's own Value engine."""
    from tests.workbook.conftest import solve_with_the_reference
    learner.run("start", "02")
    solve_with_the_reference(learner, ["06.torch-neuron"])
    assert learner.run("check", "06.torch-neuron").returncode == 0  # the course's phase 02
    theirs = learner.run("check", "06.torch-neuron", "--mine", "02")
    assert theirs.returncode == 1
    assert re.search(r"06\.torch-neuron\s+waiting on 02\.", theirs.stdout), theirs.stdout
    assert "my-code/phase02/" in theirs.stdout or "phase02/" in theirs.stdout


def test_a_learner_file_that_is_not_text_or_is_a_folder_gets_one_line(learner) -> None:
    learner.run("start", "00")
    path = learner.file("00.dot-product")
    path.write_bytes(bytes(range(256)) * 4)
    for argv in (["start", "00"], ["reset", "00.dot-product", "--yes"], ["update", "00"]):
        result = learner.run(*argv)
        assert result.returncode == 2 and "is not UTF-8 text" in result.stderr, argv
        assert "Traceback" not in result.stderr
    checked = learner.run("check", "00.dot-product")
    assert checked.returncode == 1 and "Traceback" not in checked.stdout + checked.stderr
    assert "does not import" in checked.stdout
    path.unlink()
    path.mkdir()
    result = learner.run("start", "00")
    assert result.returncode == 2 and "is a folder where the workbook keeps a file" in result.stderr


def test_a_module_that_does_not_import_hides_no_other_modules_exercises(learner) -> None:
    """A syntax error in autograd.py marks its own exercises; the layers, the gradient check and
    Adam, which live in other files, are still tested (pytest alone would stop at the first file
    it cannot import)."""
    from tests.workbook.conftest import solve_with_the_reference
    solve_with_the_reference(learner, ["02.dense-backward"])
    path = learner.file("02.value-add")
    path.write_text(path.read_text(encoding="utf-8") + "\ndef broken(:\n", encoding="utf-8")
    result = learner.run("check", "02")
    assert result.returncode == 1
    assert re.search(r"02\.value-add\s+does not import", result.stdout), result.stdout
    assert re.search(r"02\.dense-backward\s+passing", result.stdout), result.stdout
    assert re.search(r"02\.adam\s+not written", result.stdout), result.stdout
    assert "not run" not in result.stdout


def test_an_error_raised_in_what_the_exercise_called_is_shown_at_the_learners_line(
        learner) -> None:
    """A Value built from a Value (not a number) fails inside Value.__init__, a course part of
    the same file: the report points at the learner's line in __add__ first."""
    learner.run("start", "02")
    learner.write("02.value-add", "return Value(self, (self, as_value(other)), (1.0, 1.0), '+')")
    result = learner.run("check", "02.value-add")
    assert result.returncode == 1
    source = learner.file("02.value-add").read_text(encoding="utf-8").splitlines()
    mine = next(i for i, line in enumerate(source, 1) if "Value(self, (self, as_value" in line)
    init = next(i for i, line in enumerate(source, 1) if "self.data = float(data)" in line)
    assert (f"where: your phase02/autograd.py, line {mine} (in Value.__add__; the error was "
            f"raised in what it called, phase02/autograd.py, line {init})") in result.stdout, \
        result.stdout


def test_a_failure_report_names_the_workbooks_flag_not_pytests(
        capsys: pytest.CaptureFixture[str]) -> None:
    from workbook.__main__ import explain
    from workbook.checking import Outcome

    exercise = find("09.rms-norm")[0]
    failure = {"outcome": "failed", "message": "AssertionError",
               "explained": ["assert [0.8485] == [0.8461]", "Use -v to get more diff"]}
    explain(Outcome(exercise, status="failing", failures=[("tests/x.py::test_y", failure)]))
    out = capsys.readouterr().out
    assert "--verbose shows more of the difference" in out and "Use -v" not in out


def test_a_failure_names_the_other_exercises_its_test_ran(learner) -> None:
    """A merge_pair that misses a pair at the end of a word passes nothing on to bpe-train but
    wrong words: the report of bpe-train's failure names merge-pair (and count-pairs, which
    its tests also run), and leaves out the exercises they never call."""
    from tests.workbook.conftest import solve_with_the_reference

    solve_with_the_reference(learner, ["03.bpe-count-pairs", "03.bpe-train", "03.bigram-counts"])
    learner.write("03.bpe-merge-pair", """
        out, i = [], 0
        while i < len(word):
            if i + 2 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
                out.append(new_id)
                i += 2
            else:
                out.append(word[i])
                i += 1
        return out
    """)
    result = learner.run("check", "03.bpe-train")
    assert result.returncode == 1
    text = " ".join(result.stdout.split())
    assert "03.bpe-train failing" in text, result.stdout
    assert ("This test also ran your 03.bpe-count-pairs and 03.bpe-merge-pair. If train_naive "
            "looks right, look there") in text, result.stdout
    assert "bigram" not in text.split("First failure")[1]
