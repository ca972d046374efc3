"""Phase 02, backprop: the chain rule, an autograd engine, optimizers. Importable as phase02."""

from phase00 import with_learner_code

# The blog's figures and the settings its post describes, as (script, flags): redrawn into
# blog/figures/ by `python phase-00-foundations/code/figures.py --phase 02`.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("chain_rule", []),
    ("autograd", []),
    ("toy_data", []),
    ("value_mlp", []),
    ("layers", []),
    ("gradcheck", []),
    ("mlp_numpy", []),
    ("optimizers", []),
    ("initialization", []),
]

# The learner's own modules, in front of these when `python -m workbook` asks (phase00 says how).
__path__ = with_learner_code(__path__, __name__)
