"""Phase 07's tests run their small models on one CPU thread: faster and steadier for tensors
this size, especially on a busy machine (phase-00-foundations/code/threads.py explains why)."""

from collections.abc import Iterator

import pytest

from tests.conftest import one_torch_thread


@pytest.fixture(autouse=True, scope="package")
def _one_thread() -> Iterator[None]:
    yield from one_torch_thread()
