"""Phase 06, PyTorch: everything built by hand so far, rebuilt with torch and checked equal.

Importable as phase06 (see pyproject.toml).
"""

# The blog's figures, and the exact settings the post describes: (script, flags).
# `python phase-00-foundations/code/figures.py --phase 06` redraws them into blog/figures/;
# any other run of a script writes to the git-ignored scratch/ folder instead.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("tensors", []),
    ("autograd_torch", []),
    ("mlp_torch", []),
    ("optimizers_torch", []),
    ("parity", []),
    ("train_loop", []),
    ("benchmark", ["--threads", "1", "2"]),
]
