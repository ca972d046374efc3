"""Phase 05, attention: every position looks back at all the others; a transformer in NumPy.

Importable as phase05 (see pyproject.toml).
"""

import argparse
import os
from pathlib import Path

# The blog's figures, and the exact settings the post describes: (script, flags).
# `python phase-00-foundations/code/figures.py --phase 05` redraws them into blog/figures/;
# any other run of a script writes to the git-ignored scratch/ folder instead.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("attention", []),
    ("positional", []),
    ("layernorm", []),
    ("bahdanau", []),
    ("train_transformer", []),
]


# ---- output paths, checked before any work -----------------------------------------------------
# argparse types for the flags that name where a script writes: argparse calls them while it
# reads the command line, so a folder given as --save or a file given as --out is refused with a
# one-line usage error before a single step of training, not after it.

def _output_path_problem(path: Path, folder: bool) -> str | None:
    """Why `path` cannot be written as a folder (folder=True) or a file, or None if it can."""
    if folder and path.exists() and not path.is_dir():
        return f"{path} is a file, not a folder: pass a folder (it is created if missing)"
    if not folder and path.is_dir():
        return f"{path} is a folder, not a file: pass the name of a file to write"
    parent = path if folder else path.parent
    existing = next(p for p in (parent.absolute(), *parent.absolute().parents) if p.exists())
    if not existing.is_dir():
        return f"cannot write {path}: {existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write {path}: no permission to write in {existing}"
    return None


def output_folder(text: str) -> Path:
    """argparse type for a folder a script writes into (--out): refuse a file in its place."""
    problem = _output_path_problem(Path(text), folder=True)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return Path(text)


def output_file(text: str) -> Path:
    """argparse type for a file a script writes (--save): refuse a folder in its place."""
    problem = _output_path_problem(Path(text), folder=False)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return Path(text)
