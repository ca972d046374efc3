"""The phase's prose stays true to its code: snippets are real, flags exist, the pattern is kept."""

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PHASE = REPO_ROOT / "phase-01-neural-networks"
SCRIPTS = sorted(p for p in (PHASE / "code").glob("*.py") if p.name != "__init__.py")
NOTES = sorted((PHASE / "notes").glob("*.md"))
POSTS = sorted((PHASE / "blog").glob("*.md"))
DOCS = [PHASE / "README.md", *NOTES, *POSTS]
PATTERN = ("Motivation", "Intuition", "Mathematics", "Implementation", "Experimentation",
           "Reflection")
# Every note that teaches a concept follows the pattern; the reading list does not.
LESSON_NOTES = [n for n in NOTES if n.name != "papers.md"]


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def script_lines() -> set[str]:
    return {line.strip() for s in SCRIPTS for line in s.read_text(encoding="utf-8").splitlines()}


@pytest.mark.parametrize("doc", NOTES + POSTS, ids=ids(NOTES + POSTS))
def test_python_snippets_are_copied_from_the_scripts(doc: Path) -> None:
    """A ```python block in a note or post is an excerpt of a script, line for line."""
    known = script_lines()
    for block in re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
        for line in block.splitlines():
            line = line.strip()
            if line and line != "...":
                assert line in known, f"{doc.name}: this line is in no script: {line!r}"


@pytest.mark.parametrize("doc", DOCS, ids=ids(DOCS))
def test_commands_use_flags_the_scripts_have(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    commands = re.findall(r"python phase-01-neural-networks/code/(\w+)\.py([^\n`|]*)", text)
    for name, args in commands:
        script = PHASE / "code" / f"{name}.py"
        assert script.is_file(), f"{doc.name} runs {name}.py, which does not exist"
        source = script.read_text(encoding="utf-8")
        for flag in re.findall(r"--[a-z][a-z-]*", args):
            assert f'"{flag}"' in source, f"{doc.name}: {name}.py has no flag {flag}"


def test_readme_shows_how_to_run_every_script() -> None:
    readme = (PHASE / "README.md").read_text(encoding="utf-8")
    for script in SCRIPTS:
        assert f"python phase-01-neural-networks/code/{script.name}" in readme, script.name
    assert "pytest tests/phase_01" in readme
    assert "measured on a 2-core Linux x86_64 CPU" in readme


@pytest.mark.parametrize("note", LESSON_NOTES, ids=ids(LESSON_NOTES))
def test_notes_follow_the_explanation_pattern(note: Path) -> None:
    headings = re.findall(r"^## (\w+)", note.read_text(encoding="utf-8"), re.M)
    found = [h for h in headings if h in PATTERN]
    assert found == list(PATTERN), f"{note.name}: sections {found}, expected {list(PATTERN)}"


@pytest.mark.parametrize("post", POSTS, ids=ids(POSTS))
def test_posts_have_aha_moments_and_figures(post: Path) -> None:
    text = post.read_text(encoding="utf-8")
    assert text.count("> **Aha moment:**") >= 3
    assert len(re.findall(r"!\[[^\]]+\]\(figures/[\w-]+\.png\)", text)) >= 3
