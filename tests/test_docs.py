"""The prose of every phase stays true to its code.

Notes, blog posts and READMEs quote code and commands; these tests make sure the quotes are
real: a ```python excerpt is made of lines that exist in the scripts, a command names a script
that exists and flags it accepts, every script has its command in the README, and the notes keep
the explanation pattern.
"""

import re
from pathlib import Path

import pytest

from tests.conftest import PHASE_DIRS, REPO_ROOT
from tests.scripts import flag_names

PATTERN = ("Motivation", "Intuition", "Mathematics", "Implementation", "Experimentation",
           "Reflection")
# Notes that are reading lists or paper summaries rather than lessons need not follow the pattern.
NOT_LESSONS = ("papers", "reading")

NOTES = [n for d in PHASE_DIRS for n in sorted((d / "notes").glob("*.md"))]
POSTS = [p for d in PHASE_DIRS for p in sorted((d / "blog").glob("*.md"))]
READMES = [d / "README.md" for d in PHASE_DIRS if (d / "README.md").is_file()]
LESSON_NOTES = [n for n in NOTES if not any(word in n.stem for word in NOT_LESSONS)]


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(REPO_ROOT)) for p in paths]


def phase_of(path: Path) -> Path:
    return next(d for d in PHASE_DIRS if path.is_relative_to(d))


def script_lines(up_to_phase: Path) -> set[str]:
    """Every line (trailing spaces dropped) of the scripts of this phase and earlier ones."""
    lines: set[str] = set()
    for d in PHASE_DIRS:
        if d.name <= up_to_phase.name:
            for script in (d / "code").glob("*.py"):
                lines |= {ln.rstrip() for ln in script.read_text(encoding="utf-8").splitlines()}
    return lines


@pytest.mark.parametrize("doc", NOTES + POSTS, ids=ids(NOTES + POSTS))
def test_python_excerpts_are_real_code(doc: Path) -> None:
    """A ```python block in a note or post is an excerpt of a script, line for line."""
    known = script_lines(phase_of(doc))
    for block in re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
        lines = [ln.rstrip() for ln in block.splitlines()
                 if ln.strip() and ln.strip() not in ("...", "# ...")]
        # An excerpt may be shifted left as a whole, but its own indentation must be the code's.
        if not any(all(" " * k + ln in known for ln in lines) for k in range(0, 17, 4)):
            missing = [ln for ln in lines if not any(" " * k + ln in known for k in range(17))]
            assert not missing, f"{doc.name}: these lines are in no script: {missing}"
            raise AssertionError(f"{doc.name}: an excerpt's indentation differs from the "
                                 f"script's:\n{block}")


@pytest.mark.parametrize("doc", READMES + NOTES + POSTS, ids=ids(READMES + NOTES + POSTS))
def test_commands_name_real_scripts_and_flags(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for folder, name, args in re.findall(r"python (phase-\d\d-[\w-]+)/code/(\w+)\.py([^\n`|]*)",
                                         text):
        script = REPO_ROOT / folder / "code" / f"{name}.py"
        assert script.is_file(), f"{doc.name} runs {folder}/code/{name}.py, which does not exist"
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", args):
            assert flag in flag_names(script), f"{doc.name}: {name}.py has no flag {flag}"


@pytest.mark.parametrize("readme", READMES, ids=ids(READMES))
def test_readme_shows_the_command_of_every_script(readme: Path) -> None:
    text = readme.read_text(encoding="utf-8")
    phase = readme.parent
    for script in sorted((phase / "code").glob("*.py")):
        if script.name != "__init__.py":
            assert f"python {phase.name}/code/{script.name}" in text, (
                f"{readme.relative_to(REPO_ROOT)} never shows how to run {script.name}")
    assert f"pytest tests/phase_{phase.name[6:8]}" in text, "say how to run the phase's tests"


@pytest.mark.parametrize("note", LESSON_NOTES, ids=ids(LESSON_NOTES))
def test_notes_follow_the_explanation_pattern(note: Path) -> None:
    headings = re.findall(r"^## (\w+)", note.read_text(encoding="utf-8"), re.M)
    found = [h for h in headings if h in PATTERN]
    assert found == list(PATTERN), f"{note.name}: sections {found}, expected {list(PATTERN)}"


@pytest.mark.parametrize("post", POSTS, ids=ids(POSTS))
def test_posts_have_aha_moments_and_figures(post: Path) -> None:
    text = post.read_text(encoding="utf-8")
    assert "> **Aha moment:**" in text, f"{post.name} needs at least one '> **Aha moment:**'"
    assert re.search(r"!\[[^\]]+\]\(figures/[\w-]+\.png\)", text), (
        f"{post.name} should show at least one figure from blog/figures")


@pytest.mark.parametrize("post", POSTS, ids=ids(POSTS))
def test_posts_end_with_experiments_reflection_and_what_comes_next(post: Path) -> None:
    """A post follows the explanation pattern too: it closes with experiments to run, a
    reflection on where it breaks, then "What comes next and why"; and it links to its notes."""
    text = post.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings and headings[-1] == "What comes next and why", (
        f"{post.name}: the last section must be '## What comes next and why'")
    words = [h.split()[0].rstrip(":") for h in headings]
    for part in ("Experimentation", "Reflection"):
        assert part in words, f"{post.name} needs a '## {part}' section"
    assert words.index("Experimentation") < words.index("Reflection") < len(words) - 1, (
        f"{post.name}: Experimentation, then Reflection, then What comes next")
    assert "](../notes/" in text, f"{post.name} should link to the notes for the derivations"
