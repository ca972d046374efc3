"""Phase 03, embeddings: tokenizers, one-hot vs lookup, bigram models, word2vec, an MLP LM.

Importable as phase03 (see pyproject.toml).
"""

from phase00 import with_learner_code

# The blog's figures and the settings its post describes, as (script, flags): redrawn into
# blog/figures/ by `python phase-00-foundations/code/figures.py --phase 03`.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("bpe", []),
    ("embeddings", []),
    ("bigram", []),
    ("word2vec", ["--no-progress"]),
    # The character map comes from a 2-D embedding; the default run comes after it, so that
    # its loss curve is the mlp_lm_training.png the blog keeps.
    ("mlp_lm", ["--dim", "2", "--map", "--no-progress"]),
    ("mlp_lm", ["--no-progress"]),
]

# The learner's own modules, in front of these when `python -m workbook` asks (phase00 says how).
__path__ = with_learner_code(__path__, __name__)
