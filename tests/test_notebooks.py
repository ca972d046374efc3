"""Every notebook in the repository runs top to bottom in a fresh kernel, on the CPU.

Notebooks are where a learner experiments, so a broken one is a broken lesson. Each runs with
its own folder as the working directory, exactly as `jupyter lab` would open it.

Each notebook runs in a process of its own, two at a time: a notebook's kernel keeps one core
busy (the notebooks ask PyTorch and NumPy for small work), so on a two-core machine two side by
side take about half the time of one after the other.
"""

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import PHASE_DIRS, REPO_ROOT

NOTEBOOKS = [p for d in PHASE_DIRS for p in sorted((d / "code").glob("*.ipynb"))]

# Executes one notebook in a fresh kernel, in its own folder; on an error, prints nbclient's
# report (the failing cell and its traceback) and exits 1.
RUNNER = """
import sys
from pathlib import Path
import nbclient, nbformat
path = Path(sys.argv[1])
nb = nbformat.read(path, as_version=4)
client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                 resources={"metadata": {"path": str(path.parent)}})
try:
    client.execute()
except Exception as error:
    print(f"{type(error).__name__}: {error}")
    sys.exit(1)
"""


def execute(notebook: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUNNER, str(notebook)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="session")
def notebook_runs(request: pytest.FixtureRequest) -> Iterator[dict[Path, Future]]:
    """The selected notebooks, started in order, two at a time, when the first is needed."""
    selected = [item.callspec.params["notebook"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_notebook_runs"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {notebook: pool.submit(execute, notebook) for notebook in selected}
        pool.shutdown(cancel_futures=True)


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS,
                         ids=[str(p.relative_to(REPO_ROOT)) for p in NOTEBOOKS])
def test_notebook_runs(notebook: Path, notebook_runs: dict[Path, Future]) -> None:
    result = notebook_runs[notebook].result()
    name = notebook.relative_to(REPO_ROOT)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout[-6000:]}{result.stderr[-3000:]}"
