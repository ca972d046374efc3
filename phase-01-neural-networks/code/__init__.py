"""Phase 01, neural networks: from one neuron to a forward pass. Importable as phase01."""

from phase00 import with_learner_code

# The blog's figures and the settings its post describes, as (script, flags): redrawn into
# blog/figures/ by `python phase-00-foundations/code/figures.py --phase 01`.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("perceptron", []),
    ("activations", []),
    ("logistic_regression", []),
    ("mlp", []),
    ("universal_approximation", []),
]

# The learner's own modules, in front of these when `python -m workbook` asks (phase00 says how).
__path__ = with_learner_code(__path__, __name__)
