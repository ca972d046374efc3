"""The exercises: read from one small manifest per phase (workbook/exercises/phaseXX.toml).

An exercise names a function or method of the reference code (its `target`), the section of the
notes that teaches it, three hints, and the course tests that check it. The exercise's stub is
cut from that function (workbook/stubs.py), so nothing is written twice.
"""

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from workbook.overlay import REPO_ROOT

MANIFESTS = Path(__file__).resolve().parent / "exercises"
TESTS = REPO_ROOT / "tests"
ID_PATTERN = re.compile(r"(\d\d)\.[a-z0-9]+(?:-[a-z0-9]+)*")


class ManifestError(ValueError):
    """A manifest that does not describe real code, notes and tests."""


@dataclass(frozen=True)
class Exercise:
    id: str            # "02.value-add": the phase, then a short name
    title: str         # one line: what the learner writes
    target: str        # "autograd.Value.__add__": module of the phase, then the qualified name
    notes: str         # "notes/02-autograd.md": the notes file, inside the phase folder
    section: str       # the heading of the section that teaches it, as written there
    statement: str     # what, why, shapes: the task as the learner reads it
    hints: tuple[str, ...]  # intuition, then the math, then the shape of the code
    tests: tuple[str, ...]  # pytest ids under tests/: "phase_02/test_autograd.py::test_add"
    keep: str | None   # the first line of the last body statement the stub keeps, as written
                       # (None: the leading asserts and guards)
    doc: str | None = None  # the stub's docstring, where the reference's gives the answer away
    # (old text, new text) pairs for the docstrings and comments elsewhere in the module (the
    # module's or a class's docstring) that state the answer: the stub's file shows the new text
    redact: tuple[tuple[str, str], ...] = ()

    @property
    def phase(self) -> str:
        return self.id[:2]

    @property
    def module(self) -> str:
        return self.target.split(".", 1)[0]

    @property
    def qualname(self) -> str:
        return self.target.split(".", 1)[1]

    @property
    def notes_path(self) -> str:
        """The notes file, as a path from the repository's root, and the section."""
        return f'{phase_folder(self.phase).name}/{self.notes}, "{self.section}"'

    @property
    def test_ids(self) -> list[str]:
        """The pytest ids as pytest takes them from the repository's root."""
        return [f"tests/{t}" for t in self.tests]


def phase_folder(phase: str) -> Path:
    """phase-02-backprop/ for "02"."""
    found = sorted(REPO_ROOT.glob(f"phase-{phase}-*"))
    if not found:
        raise ManifestError(f"there is no phase {phase}")
    return found[0]


def module_file(phase: str, module: str) -> Path:
    """The reference file of a module: phase-02-backprop/code/autograd.py."""
    return phase_folder(phase) / "code" / f"{module}.py"


@cache
def all_exercises() -> tuple[Exercise, ...]:
    """Every exercise of every phase, in the order the course teaches them."""
    exercises: list[Exercise] = []
    for path in sorted(MANIFESTS.glob("phase*.toml")):
        exercises.extend(_read_manifest(path))
    ids = [e.id for e in exercises]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ManifestError(f"exercise ids used twice: {', '.join(duplicated)}")
    return tuple(exercises)


def _read_manifest(path: Path) -> list[Exercise]:
    phase = path.stem.removeprefix("phase")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    exercises = []
    for entry in data.get("exercise", []):
        where = f"{path.name}, exercise {entry.get('id', '?')}"
        required = {"id", "title", "target", "notes", "section", "statement", "hints", "tests"}
        missing = required - set(entry)
        unknown = set(entry) - required - {"keep", "doc", "redact"}
        if missing or unknown:
            raise ManifestError(f"{where}: missing {sorted(missing)}, unknown {sorted(unknown)}")
        if not ID_PATTERN.fullmatch(entry["id"]) or entry["id"][:2] != phase:
            raise ManifestError(f"{where}: an id is '{phase}.' then lowercase words joined by '-'")
        if "." not in entry["target"]:
            raise ManifestError(f"{where}: target is 'module.function' or 'module.Class.method'")
        if len(entry["hints"]) != 3:
            raise ManifestError(f"{where}: three hints (intuition, math, code shape)")
        if not entry["tests"]:
            raise ManifestError(f"{where}: list the tests that check it")
        if not isinstance(entry.get("doc", ""), str) or entry.get("doc", "x").strip() == "":
            raise ManifestError(f"{where}: doc is the docstring the stub shows, a non-empty "
                                f"string")
        if not isinstance(entry.get("keep", ""), str):
            raise ManifestError(f"{where}: keep is the first line of the last statement the stub "
                                f"keeps, as written in the code (a string, not a count)")
        redact = entry.get("redact", [])
        if not isinstance(redact, list) or not all(
                isinstance(r, dict) and set(r) == {"old", "new"}
                and all(isinstance(v, str) and v.strip() for v in r.values()) for r in redact):
            raise ManifestError(f"{where}: redact is a list of {{old, new}} tables, each a "
                                f"non-empty string: the text as the module writes it, then what "
                                f"the stub's file shows instead")
        exercises.append(Exercise(
            id=entry["id"], title=entry["title"].strip(), target=entry["target"],
            notes=entry["notes"], section=entry["section"], statement=entry["statement"].strip(),
            hints=tuple(h.strip() for h in entry["hints"]), tests=tuple(entry["tests"]),
            keep=entry.get("keep"), doc=entry.get("doc"),
            redact=tuple((r["old"], r["new"]) for r in redact)))
    return exercises


def phases() -> list[str]:
    """The phases that have exercises, in order."""
    return sorted({e.phase for e in all_exercises()})


def normalise_phase(text: str) -> str | None:
    """"2", "02", "phase02", "phase-02" and "phase-02-backprop" all mean "02"; else None."""
    m = re.fullmatch(r"(?:phase-?)?(\d{1,2})(?:-[a-z-]+)?", text.strip().lower())
    return m.group(1).zfill(2) if m else None


def find(target: str) -> list[Exercise]:
    """The exercises a command names: a phase ("02") or one exercise ("02.value-add").

    Raises KeyError with the valid choices when `target` names neither."""
    exercises = all_exercises()
    if (phase := normalise_phase(target)) is not None:
        chosen = [e for e in exercises if e.phase == phase]
        if chosen:
            return chosen
        raise KeyError(f"phase {phase} has no exercises; phases with exercises: "
                       f"{', '.join(phases())}")
    wanted = target.strip().lower()
    if re.match(r"\d\.", wanted):  # "2.value-add" is "02.value-add"
        wanted = "0" + wanted
    for e in exercises:
        if e.id == wanted:
            return [e]
    phase = wanted[:2]
    same_phase = [e.id for e in exercises if e.phase == phase]
    listed = same_phase or [e.id for e in exercises]
    raise KeyError(f"no exercise called '{target}'. "
                   + ("Phase " + phase + "'s: " if same_phase else "Exercises: ")
                   + ", ".join(listed))
