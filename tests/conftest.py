"""Fixtures shared by every phase's tests.

Tests never touch the network and never read anything outside the repository: text corpora
are made here, small and on the spot.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, settings

REPO_ROOT = Path(__file__).resolve().parents[1]
PHASE_DIRS = sorted(p for p in REPO_ROOT.glob("phase-[0-9][0-9]-*") if p.is_dir())

# `python -m workbook check` runs these tests on a learner's code (it sets WORKBOOK_MINE). There,
# a property test that fails reports its first failure only, with the input that caused it, and
# without Hypothesis's "explain" notes: one clear failure to read, not a group of them.
if os.environ.get("WORKBOOK_MINE"):
    settings.register_profile("workbook", report_multiple_bugs=False,
                              phases=[p for p in Phase if p is not Phase.explain])
    settings.load_profile("workbook")


# `pytest -n auto` (the pytest-xdist plugin) runs the tests in several processes at once. "auto"
# means one per CPU core this process may use, but no more than the memory holds: a worker that
# has imported PyTorch and run a notebook's kernel beside it holds up to about 2 GiB.
WORKER_MEMORY_BYTES = 2 * 2**30


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    from phase00.flags import machine_memory_bytes

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    memory = machine_memory_bytes()  # None where the system does not say (Windows)
    by_memory = memory // WORKER_MEMORY_BYTES if memory else cores
    return max(1, min(cores, by_memory))


def one_torch_thread() -> Iterator[None]:
    """PyTorch on one CPU thread while some tests run, then as before. Small models run faster
    and steadier so on a busy machine, and float sums come out the same every run
    (phase-00-foundations/code/threads.py explains why). Phase conftests make it a fixture."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so every random test is repeatable."""
    return np.random.default_rng(1234)


@pytest.fixture
def tiny_text() -> str:
    """A few hundred characters of text for tokenizer and language-model tests."""
    return (
        "To be, or not to be, that is the question:\n"
        "Whether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\n"
        "Or to take arms against a sea of troubles\n"
        "And by opposing end them. To die: to sleep;\n"
        "No more; and by a sleep to say we end\n"
        "The heart-ache and the thousand natural shocks\n"
        "That flesh is heir to.\n"
    )


@pytest.fixture
def figures_dir(tmp_path: Path) -> Path:
    """Where a test sends the figures of a script it runs, instead of blog/figures."""
    out = tmp_path / "figures"
    out.mkdir()
    return out


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach another machine in a test fails loudly (loopback is allowed:
    Jupyter kernels talk to the test over it)."""
    import socket

    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "localhost", "::1") and not isinstance(host, bytes):
            if self.family in (socket.AF_INET, socket.AF_INET6):
                raise RuntimeError(f"tests must not use the network (tried {address})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
