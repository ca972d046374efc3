"""Phase 06's tests run many small PyTorch operations: one CPU thread keeps them fast and steady
on a machine with few, shared cores (phase06/device.py measures why)."""

from collections.abc import Iterator

import pytest
import torch

from phase06.device import limit_cpu_threads


@pytest.fixture(autouse=True, scope="session")
def _one_cpu_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    limit_cpu_threads(1)
    yield
    torch.set_num_threads(before)
