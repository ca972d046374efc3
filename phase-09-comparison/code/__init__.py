"""Phase 09, comparison: our GPT against Hugging Face, PyTorch and tiktoken. Importable as phase09.

The only phase that imports Hugging Face's `transformers`: to compare with it, never to build.
"""

# The blog's figures, and the exact settings the post describes: (script, flags).
# `python phase-00-foundations/code/figures.py --phase 09` redraws them into blog/figures/;
# any other run of a script writes to the git-ignored scratch/ folder instead.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("numpy_to_gpt2", []),
    ("after_gpt2", ["--newton-schulz"]),  # a few seconds: what Muon does to a real gradient
    # about two hours on a busy 2-core laptop (30 runs of 680 steps): the run the post and note
    # 04 report; the same losses come faster with --jobs N on a machine with N cores
    ("after_gpt2", ["--threads", "1"]),
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
