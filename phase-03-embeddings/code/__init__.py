"""Phase 03, embeddings: tokenizers, one-hot vs lookup, bigram models, word2vec, an MLP LM.

Importable as phase03 (see pyproject.toml).
"""

# The blog's figures, and the exact settings the post describes: (script, flags).
# `python phase-00-foundations/code/figures.py --phase 03` redraws them into blog/figures/.
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

# `python -m workbook` can put the learner's own modules (my-code/phaseXX/) in front of these;
# it never does unless asked (workbook/overlay.py says when). An install made before the
# workbook existed lacks it until `pip install -e ".[dev]"` is run again: the course still works.
try:
    from workbook.overlay import overlay_path
except ModuleNotFoundError:
    pass
else:
    __path__ = overlay_path(__path__, __name__)
