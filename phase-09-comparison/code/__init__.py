"""Phase 09, comparison: our GPT against Hugging Face, PyTorch and tiktoken. Importable as phase09.

The only phase that imports Hugging Face's `transformers`: to compare with it, never to build.
"""

# The blog's figures, and the exact settings the post describes: (script, flags).
# `python phase-00-foundations/code/figures.py --phase 09` redraws them into blog/figures/;
# any other run of a script writes to the git-ignored scratch/ folder instead.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("numpy_to_gpt2", []),
    ("after_gpt2", ["--newton-schulz"]),  # a few seconds: what Muon does to a real gradient
    # 50 minutes on a 2-core machine (30 runs of 680 steps, two at a time): the run the post and
    # note 04 report; --threads 1 gives the same losses in about two hours, and --jobs N with
    # more cores sooner (the equal-time row rests on a timing, which moves from run to run)
    ("after_gpt2", ["--jobs", "2"]),
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
