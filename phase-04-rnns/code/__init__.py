"""Phase 04, RNNs: memory, backprop through time, and why the memory fades.

Importable as phase04.
"""

from phase00 import with_learner_code

# The blog's figures and the settings its post describes, as (script, flags): redrawn into
# blog/figures/ by `python phase-00-foundations/code/figures.py --phase 04`.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("rnn", []),
    ("char_rnn", []),
    ("gradient_flow", []),
    ("clipping", []),
    ("lstm", []),
    ("compare_cells", []),
    ("long_lag", []),
    ("seq2seq", []),
]

# The learner's own modules, in front of these when `python -m workbook` asks (phase00 says how).
__path__ = with_learner_code(__path__, __name__)
