"""Phase 05, attention: every position looks back at all the others; a transformer in NumPy.

Importable as phase05 (see pyproject.toml).
"""

from phase00 import with_learner_code

# The blog's figures and the settings its post describes, as (script, flags): redrawn into
# blog/figures/ by `python phase-00-foundations/code/figures.py --phase 05`.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("attention", []),
    ("positional", []),
    ("layernorm", []),
    ("bahdanau", []),
    ("train_transformer", []),
    ("compare_rnn", []),
]

# The learner's own modules, in front of these when `python -m workbook` asks (phase00 says how).
__path__ = with_learner_code(__path__, __name__)
