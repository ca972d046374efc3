"""Phase 04's tests multiply many small matrices in a row: one BLAS thread keeps them fast and
steady on a machine with few, shared cores (see phase00/threads.py)."""

from pathlib import Path

import pytest

from phase00.threads import limit_blas_threads


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread() -> None:
    limit_blas_threads()


@pytest.fixture
def text_file(tmp_path: Path, tiny_text: str) -> Path:
    """A small UTF-8 corpus for the character models (about 1,000 characters)."""
    path = tmp_path / "tiny.txt"
    path.write_text(tiny_text * 3, encoding="utf-8")
    return path
