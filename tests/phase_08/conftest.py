"""Fixtures of phase 08's tests: a small made-up corpus, prepared into shards in tmp_path."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from phase08.prepare_data import prepare_local


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One CPU thread: steadier timings on a shared machine, and the same float sums every run."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
