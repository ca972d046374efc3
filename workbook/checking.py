"""Run the course's tests on the learner's code and say, exercise by exercise, what they found.

The tests run in a separate `python -m pytest`, with WORKBOOK_MINE naming the phases whose
learner modules replace the course's (workbook/overlay.py); the plugin workbook/report.py writes
what happened to a JSON file that this module turns into a table.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from workbook.manifest import Exercise, all_exercises, module_file
from workbook.overlay import ENV_FOLDER, ENV_PHASES, REPO_ROOT
from workbook.report import ENV_SELECT, belongs
from workbook.stubs import stub_function, stubbed_module

STUB_MESSAGE = re.compile(r"exercise (\d\d\.[a-z0-9-]+) is yours to write")


class TooSlow(RuntimeError):
    """The tests did not finish in the time allowed (an endless loop, most often)."""


def run_tests(test_ids: list[str], phases: set[str], folder: Path,
              timeout: float | None = None) -> dict:
    """Run `test_ids` with the learner's modules of `phases` (found in `folder`) in place of the
    course's. Returns {"exitstatus", "tests": {nodeid: result}, "output"}."""
    env = os.environ.copy()
    env[ENV_PHASES] = ",".join(sorted(phases))
    env[ENV_FOLDER] = str(folder)
    env.setdefault("PYTHONHASHSEED", "0")
    with tempfile.TemporaryDirectory(prefix="workbook-") as tmp:
        report = Path(tmp) / "report.json"
        env["WORKBOOK_REPORT"] = str(report)
        # pytest is given the files and the plugin keeps the listed tests, so that a file that
        # does not import (a syntax error in one module) cannot stop the tests of the others.
        files = list(dict.fromkeys(t.split("::")[0] for t in test_ids))
        env.pop(ENV_SELECT, None)
        if any("::" in t for t in test_ids):  # not needed when whole files or folders are run
            env[ENV_SELECT] = json.dumps(test_ids)
        command = [sys.executable, "-m", "pytest", "-q", "--no-header", "-p", "workbook.report",
                   "-p", "no:cacheprovider", "--continue-on-collection-errors", *files]
        try:
            proc = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True,
                                  text=True, check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TooSlow(f"the tests did not finish in {timeout:.0f} s: is there a loop that "
                          "never ends? (--timeout gives them longer)") from None
        if not report.is_file():
            raise RuntimeError("the tests did not run:\n" + proc.stdout[-3000:]
                               + proc.stderr[-3000:])
        data = json.loads(report.read_text(encoding="utf-8"))
    data["output"] = proc.stdout + proc.stderr
    return data


def stub_ids(result: dict) -> list[str]:
    """The exercises whose stubs a failure ran into: its message, or for a group of failures
    (Hypothesis reports several at once) every line pytest marked."""
    text = "\n".join([result.get("message", ""), *result.get("explained", [])])
    return list(dict.fromkeys(STUB_MESSAGE.findall(text)))


@dataclass
class Outcome:
    """What the tests said about one exercise."""
    exercise: Exercise
    status: str = "passing"  # passing / not written / waiting / failing / does not import / not run
    passed: int = 0
    failures: list[tuple[str, dict]] = field(default_factory=list)
    waiting_on: str | None = None
    found: dict[str, int] = field(default_factory=dict)  # listed id -> results matched

    @property
    def ran(self) -> int:
        return self.passed + len(self.failures)


def judge(exercise: Exercise, results: dict[str, dict]) -> Outcome:
    """Sort a run's results into the exercise's verdict."""
    outcome = Outcome(exercise)
    seen: set[str] = set()
    for test_id in exercise.test_ids:
        matched = [(n, r) for n, r in results.items() if belongs(n, test_id)]
        outcome.found[test_id] = len(matched)
        for nodeid, result in matched:
            if nodeid in seen:  # a file that does not import fails each of its tests once
                continue
            seen.add(nodeid)
            if result["outcome"] == "passed":
                outcome.passed += 1
            elif result["outcome"] in ("failed", "error"):
                outcome.failures.append((nodeid, result))
    stubs = [i for _, r in outcome.failures for i in stub_ids(r)]
    real = [f for f in outcome.failures if not stub_ids(f[1])]
    if exercise.id in stubs:
        outcome.status = "not written"
    elif any(r["outcome"] == "error" and "::" not in n for n, r in real):
        outcome.status = "does not import"
    elif real:
        outcome.status = "failing"
    elif stubs:
        outcome.status, outcome.waiting_on = "waiting", stubs[0]
    elif outcome.passed == 0:
        outcome.status = "not run"
    return outcome


def check(exercises: list[Exercise], phases: set[str], folder: Path,
          full: bool = False, timeout: float | None = None) -> tuple[list[Outcome], dict]:
    """Run the tests of `exercises` (or, with full=True, their phases' whole test folders)."""
    ids: list[str] = []
    for e in exercises:
        ids.extend(t for t in e.test_ids if t not in ids)
    if full:
        ids = sorted({f"tests/phase_{e.phase}" for e in exercises})
    data = run_tests(ids, phases, folder, timeout)
    return [judge(e, data["tests"]) for e in exercises], data


# --- The proof that every exercise is covered -------------------------------------------------

def verify_exercise(exercise: Exercise) -> list[str]:
    """Problems with one exercise: its stub, alone in an otherwise complete workspace, must fail
    at least one of its tests with its own message, and every listed test must exist."""
    with tempfile.TemporaryDirectory(prefix="workbook-verify-") as tmp:
        folder = Path(tmp)
        target = folder / f"phase{exercise.phase}" / f"{exercise.module}.py"
        target.parent.mkdir()
        target.write_text(stubbed_module(exercise.phase, exercise.module, only=exercise),
                          encoding="utf-8")
        data = run_tests(exercise.test_ids, {exercise.phase}, folder)
    outcome = judge(exercise, data["tests"])
    problems = [f"{exercise.id}: no test called {t}" for t, n in outcome.found.items() if n == 0]
    if outcome.status != "not written":
        problems.append(f"{exercise.id}: its stub passes every listed test ({outcome.passed} "
                        f"passed): none of them checks it")
    return problems


def verify_reference(phase: str) -> list[str]:
    """Problems with the reference run through the workbook: each exercise module copied,
    unchanged, into a workspace must pass every test the phase's exercises list."""
    exercises = [e for e in all_exercises() if e.phase == phase]
    with tempfile.TemporaryDirectory(prefix="workbook-verify-") as tmp:
        folder = Path(tmp)
        (folder / f"phase{phase}").mkdir()
        for module in {e.module for e in exercises}:
            reference = module_file(phase, module).read_text(encoding="utf-8")
            (folder / f"phase{phase}" / f"{module}.py").write_text(reference, encoding="utf-8")
        outcomes, _ = check(exercises, {phase}, folder)
    return [f"{o.exercise.id}: the reference fails {nodeid}: {r.get('message', '')}"
            for o in outcomes for nodeid, r in o.failures]


def untouched_problems(outcomes: list[Outcome]) -> list[str]:
    """On a folder just started, every exercise must fail on its own stub or wait on an EARLIER
    exercise's: a learner working in order is never sent ahead."""
    order = [o.exercise.id for o in outcomes]
    problems = []
    for o in outcomes:
        earlier = o.waiting_on in order and order.index(o.waiting_on) < order.index(o.exercise.id)
        if not (o.status == "not written" or (o.status == "waiting" and earlier)):
            problems.append(f"{o.exercise.id}: on a fresh start it is '{o.status}'"
                            + (f" on {o.waiting_on}" if o.waiting_on else "")
                            + ", not 'not written' or waiting on an earlier exercise")
    return problems


def verify_in_one_process(phase: str) -> list[str]:
    """Each stub alone, then all of them, in one process (workbook/inprocess.py)."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV_PHASES, ENV_FOLDER)}
    proc = subprocess.run([sys.executable, "-m", "workbook.inprocess", phase], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, check=False)
    marker = "WORKBOOK-RESULT "
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(marker)]
    if not lines:
        return [f"phase {phase}: the in-process proof did not finish:\n"
                + proc.stdout[-2000:] + proc.stderr[-2000:]]
    return json.loads(lines[-1].removeprefix(marker))["problems"]


def verify_in_order(exercise: Exercise) -> list[str]:
    """With every earlier exercise of its phase written (ours) and every later one a stub, the
    exercise written (ours) must pass: its tests never need a later exercise."""
    exercises = [e for e in all_exercises() if e.phase == exercise.phase]
    later = exercises[exercises.index(exercise) + 1:]
    with tempfile.TemporaryDirectory(prefix="workbook-verify-") as tmp:
        folder = Path(tmp)
        (folder / f"phase{exercise.phase}").mkdir()
        for module in {e.module for e in exercises}:
            source = module_file(exercise.phase, module).read_text(encoding="utf-8")
            for e in sorted((e for e in later if e.module == module),
                            key=lambda e: -source.index(f"def {e.qualname.split('.')[-1]}(")):
                source = stub_function(source, e)
            (folder / f"phase{exercise.phase}" / f"{module}.py").write_text(source,
                                                                            encoding="utf-8")
        outcomes, _ = check([exercise], {exercise.phase}, folder)
    o = outcomes[0]
    if o.status == "passing":
        return []
    return [f"{exercise.id}: with only the earlier exercises written it is '{o.status}'"
            + (f" on {o.waiting_on}" if o.waiting_on else "")]


def verify(phase: str, workers: int = 2, in_order: bool = False) -> list[str]:
    """Every problem with a phase's exercises (empty when all of them are sound). in_order adds
    the slower proof that no exercise's tests need a later exercise."""
    exercises = [e for e in all_exercises() if e.phase == phase]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = [pool.submit(verify_in_one_process, phase), pool.submit(verify_reference, phase)]
        if in_order:
            jobs.extend(pool.submit(verify_in_order, e) for e in exercises)
        return [problem for job in jobs for problem in job.result()]
