"""Fixtures of phase 08's tests: a small made-up corpus, prepared into shards in tmp_path."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from phase08.prepare_data import prepare_local
from tests.conftest import one_torch_thread


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    yield from one_torch_thread()


@pytest.fixture
def book(tiny_text: str) -> str:
    """About 13,000 characters of made-up text: enough for a smoke run and its validation."""
    return tiny_text * 40


@pytest.fixture
def char_data(tmp_path: Path, book: str) -> Path:
    """The book as character shards (small shards, so batches cross shard ends)."""
    folder = tmp_path / "tokens" / "book-char"
    prepare_local([book], "char", folder, "a made-up book", shard_tokens=5000, verbose=False)
    return folder
