"""A pytest plugin that writes each test's outcome to a JSON file for the workbook to read.

Loaded with `pytest -p workbook.report`; the file is named by WORKBOOK_REPORT. For a failure it
keeps the one-line reason (the exception and its message), the lines pytest marks with "E"
(the assertion, expected against got), where in the learner's folder it happened, and which of
the learner's exercises the test ran: a test of one exercise often calls others (a backward pass
runs the learner's forward first), and a mistake in one of those can fail it.
"""

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import CodeType, FrameType

import pytest

from workbook.overlay import ENV_PHASES, learner_folder

_results: dict[str, dict] = {}
ENV_SELECT = "WORKBOOK_SELECT"  # a JSON list of the test ids to keep; every other test is left out


def belongs(nodeid: str, test_id: str) -> bool:
    """Whether pytest's `nodeid` is the listed `test_id`, one of its parameters, a test of the
    listed file, or the listed file's own collection error."""
    return (nodeid == test_id or nodeid.startswith((test_id + "::", test_id + "["))
            or nodeid == test_id.split("::")[0])


def _summary(report: pytest.TestReport | pytest.CollectReport) -> dict:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = report.longreprtext or ""
    lines = text.splitlines()
    explained = textwrap.dedent("\n".join(line[2:] for line in lines if line.startswith("E ")))
    calls = [line[1:].strip() for line in lines if line.startswith(">")]
    mine = str(learner_folder())
    frames = []  # every frame inside the learner's folder, outermost first: [file, line]
    entries = getattr(getattr(report.longrepr, "reprtraceback", None), "reprentries", [])
    for entry in entries:
        loc = getattr(getattr(entry, "reprfileloc", None), "path", "")
        if loc and str(Path(loc).resolve()).startswith(mine):
            frames.append([str(Path(loc).resolve().relative_to(mine)), entry.reprfileloc.lineno])
    return {
        "message": crash.message if crash else text[-500:],
        "explained": explained.splitlines()[:200],
        "line": calls[-1] if calls else None,  # the test's line that failed
        "where": f"{frames[-1][0]}, line {frames[-1][1]}" if frames else None,
        "frames": frames,
    }


class ExerciseRecorder:
    """Notes which of the learner's exercise functions run while a test runs.

    A profile hook (sys.setprofile) sees every Python function call; a function counts when it
    is defined in the learner's copy of a module under the exercise's qualified name. Each code
    object is looked up once, so the hook costs one dictionary lookup per call.
    """

    def __init__(self, phases: set[str]) -> None:
        from workbook.manifest import all_exercises  # not needed where no learner code runs

        folder = learner_folder()
        self.targets = {(str(folder / f"phase{e.phase}" / f"{e.module}.py"), e.qualname): e.id
                        for e in all_exercises() if e.phase in phases}
        self.known: dict[CodeType, str | None] = {}
        self.ran: set[str] = set()

    def hook(self, frame: FrameType, event: str, arg: object) -> None:
        if event != "call":
            return
        code = frame.f_code
        try:
            exercise = self.known[code]
        except KeyError:
            exercise = self.known[code] = self.targets.get(
                (os.path.realpath(code.co_filename), code.co_qualname))
        if exercise is not None:
            self.ran.add(exercise)


_recorder: ExerciseRecorder | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _recorder
    phases = {p.strip().zfill(2) for p in os.environ.get(ENV_PHASES, "").split(",") if p.strip()}
    _recorder = ExerciseRecorder(phases) if phases else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Record the exercises each test runs, from its setup to its teardown."""
    if _recorder is None:
        yield
        return
    _recorder.ran = set()
    previous = sys.getprofile()
    sys.setprofile(_recorder.hook)
    try:
        yield
    finally:
        sys.setprofile(previous)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only the listed tests. The workbook names whole files to pytest and the tests here:
    pytest refuses a list of test ids outright when one of their files does not import, and a
    syntax error in one of the learner's modules must not hide the tests of the others."""
    wanted = json.loads(os.environ.get(ENV_SELECT) or "null")
    if wanted is None:
        return
    keep = [item for item in items if any(belongs(item.nodeid, t) for t in wanted)]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.failed or (report.skipped and report.when == "setup"):
        entry = {"outcome": report.outcome}
        if report.failed:
            entry.update(_summary(report))
            if _recorder is not None:
                entry["ran"] = sorted(_recorder.ran)
        if report.nodeid not in _results or report.failed:
            _results[report.nodeid] = entry


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:  # usually: a module of the learner's that does not import
        _results[report.nodeid] = {"outcome": "error", **_summary(report)}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("WORKBOOK_REPORT")
    if path:
        Path(path).write_text(json.dumps({"exitstatus": int(exitstatus), "tests": _results}),
                              encoding="utf-8")
