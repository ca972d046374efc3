"""Phase 04's tests multiply many small matrices in a row: one BLAS thread keeps them fast and
steady on a machine with few, shared cores (see phase00/threads.py)."""

import pytest

from phase00.threads import limit_blas_threads


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread() -> None:
    limit_blas_threads()
