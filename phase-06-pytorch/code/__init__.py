"""Phase 06, PyTorch: everything built by hand so far, rebuilt with torch and checked equal.

Importable as phase06 (see pyproject.toml).
"""

from phase00 import with_learner_code

# The blog's figures and the settings its post describes, as (script, flags): redrawn into
# blog/figures/ by `python phase-00-foundations/code/figures.py --phase 06`.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("tensors", []),
    ("autograd_torch", []),
    ("mlp_torch", []),
    ("optimizers_torch", []),
    ("parity", []),
    ("train_loop", []),
    ("benchmark", ["--threads", "1", "2"]),
]

# The learner's own modules, in front of these when `python -m workbook` asks (phase00 says how).
__path__ = with_learner_code(__path__, __name__)
