"""Phase 09's tests run their small models on one CPU thread: faster and steadier for tensors
this size, especially on a busy machine (phase-00-foundations/code/threads.py explains why)."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _one_thread() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
