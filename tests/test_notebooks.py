"""Every notebook in the repository runs top to bottom in a fresh kernel, on the CPU.

Notebooks are where a learner experiments, so a broken one is a broken lesson. Each runs with
its own folder as the working directory, exactly as `jupyter lab` would open it.
"""

from pathlib import Path

import nbclient
import nbformat
import pytest

from tests.conftest import PHASE_DIRS, REPO_ROOT

NOTEBOOKS = [p for d in PHASE_DIRS for p in sorted((d / "code").glob("*.ipynb"))]


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS,
                         ids=[str(p.relative_to(REPO_ROOT)) for p in NOTEBOOKS])
def test_notebook_runs(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(notebook.parent)}})
    client.execute()  # raises CellExecutionError, with the failing cell, on any error
