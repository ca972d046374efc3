"""Is this machine ready for the course? One line per check: OK, WARN or FAIL.

Run this first, and paste its output into any bug report:

    python phase-00-foundations/code/check_environment.py

It checks the Python version, every package the course needs (and the `dev` extras that run
the tests), that the phase packages are installed (`pip install -e ".[dev]"`), which devices
PyTorch can use (Apple's MPS, NVIDIA's CUDA, always the CPU), and whether the default corpus is
cached or can be downloaded. It exits with status 1 if anything FAILs.

Tooling, not a lesson: this is the one file of phases 00-05 allowed to import torch, and only to
ask which devices it sees.
"""

import argparse
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import sys
from collections.abc import Iterator
from pathlib import Path

from phase00 import corpus
from phase00.flags import script_parser

MIN_PYTHON = (3, 11)
# (distribution name on PyPI, module name to import)
REQUIRED = [("numpy", "numpy"), ("matplotlib", "matplotlib"), ("seaborn", "seaborn"),
            ("torch", "torch"), ("tiktoken", "tiktoken"), ("datasets", "datasets"),
            ("tqdm", "tqdm"), ("jupyter", None)]
DEV_EXTRAS = [("pytest", "pytest"), ("pytest-xdist", "xdist"), ("hypothesis", "hypothesis"),
              ("nbclient", "nbclient"), ("ipykernel", "ipykernel"), ("ruff", None),
              ("transformers", "transformers")]
REPO_ROOT = Path(__file__).resolve().parents[2]


def status_line(status: str, what: str, detail: str = "") -> str:
    """Format one result as 'OK    what  detail' so the columns line up."""
    return f"{status:<5} {what:<28} {detail}".rstrip()


def check_python(version: tuple[int, ...] = tuple(sys.version_info)) -> tuple[str, str]:
    """FAIL below Python 3.11 (the code uses its syntax and typing features)."""
    text = ".".join(map(str, version[:3]))
    if tuple(version[:2]) >= MIN_PYTHON:
        return "OK", f"{text} ({sys.executable})"
    return "FAIL", f"{text}: need {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer"


def check_package(dist: str, module: str | None, required: bool = True) -> tuple[str, str]:
    """Is the package installed (and importable)? Missing required ones FAIL, extras WARN."""
    missing = "FAIL" if required else "WARN"
    hint = 'pip install -e ".[dev]"' if not required else 'pip install -e "."'
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return missing, f"not installed ({hint})"
    if module is not None:
        try:
            importlib.import_module(module)
        except Exception as err:  # an installed package can still fail to import
            return missing, f"{version} installed but `import {module}` fails: {err}"
    return "OK", version


def check_phase_packages() -> list[tuple[str, str, str]]:
    """Every phase-XX-name/code folder must be importable as phaseXX (the editable install)."""
    results = []
    for phase_dir in sorted(REPO_ROOT.glob("phase-[0-9][0-9]-*")):
        name = "phase" + phase_dir.name.split("-")[1]
        found = importlib.util.find_spec(name) is not None
        detail = "importable" if found else 'not importable: run pip install -e ".[dev]"'
        results.append(("OK" if found else "FAIL", f"package {name}", detail))
    return results


def check_devices() -> list[tuple[str, str, str]]:
    """Ask PyTorch which devices it can use. A missing GPU is not a failure: the CPU works."""
    try:
        import torch  # the single torch import allowed in phases 00-05: device discovery
    except Exception as err:
        return [("FAIL", "torch devices", f"cannot import torch: {err}")]
    results = [("OK", "device cpu", f"{os.cpu_count()} logical cores, torch {torch.__version__}")]
    if torch.backends.mps.is_available():
        results.append(("OK", "device mps", "Apple GPU available (phases 06+ use it)"))
    elif torch.backends.mps.is_built():
        results.append(("WARN", "device mps", "built into torch but unavailable "
                                              "(needs Apple silicon and macOS 12.3+)"))
    else:
        results.append(("--", "device mps", "not on this machine (Apple silicon only)"))
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        results.append(("OK", "device cuda", f"{torch.cuda.device_count()} GPU(s): {names}"))
    else:
        results.append(("--", "device cuda", "no NVIDIA GPU visible"))
    if os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") == "1":
        results.append(("WARN", "PYTORCH_ENABLE_MPS_FALLBACK=1",
                        "ops missing on MPS will silently run on the CPU (slower)"))
    return results


def check_corpus(offline: bool, data_dir: Path = corpus.DATA_DIR) -> tuple[str, str]:
    """Cached is best; downloadable is fine; neither means the stdlib fallback will be used."""
    if corpus.is_cached(data_dir):
        return "OK", f"cached at {corpus.tiny_shakespeare_path(data_dir)}"
    if offline:
        return "WARN", "not cached (network check skipped: --offline)"
    if corpus.is_downloadable():
        return "OK", "not cached yet, downloadable (the first script that needs it fetches it)"
    return "WARN", ("not cached and not downloadable: scripts fall back to Python's own "
                    "source files, or pass --path to a text file")


def iter_checks(offline: bool = False,
                data_dir: Path = corpus.DATA_DIR) -> Iterator[tuple[str, str, str]]:
    """Every check in order, each (status, what, detail) yielded as soon as it is known.

    Importing torch, datasets and transformers takes seconds each, so a caller that prints as
    the results arrive shows progress instead of a silent wait followed by everything at once.
    """
    yield "OK", "platform", f"{platform.system()} {platform.release()} ({platform.machine()})"
    py_status, py_detail = check_python()
    yield py_status, "python", py_detail
    for dist, module in REQUIRED:
        status, detail = check_package(dist, module, required=True)
        yield status, dist, detail
    for dist, module in DEV_EXTRAS:
        status, detail = check_package(dist, module, required=False)
        yield status, f"{dist} (dev)", detail
    yield from check_phase_packages()
    yield from check_devices()
    status, detail = check_corpus(offline, data_dir)
    yield status, "corpus tinyshakespeare", detail


def run_checks(offline: bool = False,
               data_dir: Path = corpus.DATA_DIR) -> list[tuple[str, str, str]]:
    """All checks in order, as (status, what, detail) triples."""
    return list(iter_checks(offline, data_dir))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    results = []
    for status, what, detail in iter_checks(offline=args.offline):
        print(status_line(status, what, detail), flush=True)  # flush: show each line now
        results.append((status, what, detail))
    failures = [what for status, what, _ in results if status == "FAIL"]
    print()
    if failures:
        print(f"{len(failures)} check(s) FAILED: {', '.join(failures)}")
        return 1
    print("All required checks passed. WARN lines are worth reading; '--' means not present.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Check that this machine is ready for the "
                           "course (OK / WARN / FAIL per line).")
    parser.add_argument("--offline", action="store_true",
                        help="skip the network check for the corpus")
    return parser


if __name__ == "__main__":
    sys.exit(main())
