"""Phase 01's prose, beyond the checks every phase gets in tests/test_docs.py."""

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PHASE = REPO_ROOT / "phase-01-neural-networks"
POSTS = sorted((PHASE / "blog").glob("*.md"))


def test_readme_says_where_its_numbers_were_measured() -> None:
    assert "measured on a 2-core Linux x86_64 CPU" in (PHASE / "README.md").read_text("utf-8")


@pytest.mark.parametrize("post", POSTS, ids=[p.name for p in POSTS])
def test_posts_have_aha_moments_and_figures(post: Path) -> None:
    text = post.read_text(encoding="utf-8")
    assert text.count("> **Aha moment:**") >= 3
    assert len(re.findall(r"!\[[^\]]+\]\(figures/[\w-]+\.png\)", text)) >= 3
