"""The prose stays honest: code shown in the notes and the blog is the real code, and every
notes file follows the explanation pattern."""

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PHASE = REPO_ROOT / "phase-02-backprop"
DOCS = sorted((PHASE / "notes").glob("*.md")) + sorted((PHASE / "blog").glob("*.md"))
PATTERN = ["Motivation", "Intuition", "Mathematics", "Implementation", "Experimentation",
           "Reflection"]


def script_lines() -> set[str]:
    return {line.rstrip() for path in (PHASE / "code").glob("*.py")
            for line in path.read_text(encoding="utf-8").splitlines()}


@pytest.mark.parametrize("doc", DOCS, ids=[p.name for p in DOCS])
def test_code_snippets_are_copied_from_the_scripts(doc: Path) -> None:
    lines = script_lines()
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    for block in blocks:
        for line in block.splitlines():
            if line.strip():
                assert line.rstrip() in lines, f"{doc.name}: not in any script: {line!r}"


@pytest.mark.parametrize("doc", [p for p in DOCS if p.parent.name == "notes"
                                 and p.name != "05-papers.md"], ids=lambda p: p.name)
def test_notes_follow_the_explanation_pattern(doc: Path) -> None:
    headings = re.findall(r"^## (\w+)", doc.read_text(encoding="utf-8"), re.M)
    assert [h for h in headings if h in PATTERN] == PATTERN


def test_blog_ends_with_what_comes_next() -> None:
    for post in (PHASE / "blog").glob("*.md"):
        text = post.read_text(encoding="utf-8")
        assert re.findall(r"^## (.+)$", text, re.M)[-1] == "What comes next and why"
        assert "> **Aha moment:**" in text
