"""Phase 07, GPT: the GPT-2 architecture written by hand in PyTorch. Importable as phase07."""

# The blog's figures, and the exact settings the post describes: (script, flags).
# `python phase-00-foundations/code/figures.py --phase 07` redraws them into blog/figures/;
# any other run of a script writes to the git-ignored scratch/ folder instead.
BLOG_FIGURES: list[tuple[str, list[str]]] = [("train_char", ["--eval-every", "85"])]

# `python -m workbook` can put the learner's own modules (my-code/phaseXX/) in front of these;
# it never does unless asked (workbook/overlay.py says when). An install made before the
# workbook existed lacks it until `pip install -e ".[dev]"` is run again: the course still works.
try:
    from workbook.overlay import overlay_path
except ModuleNotFoundError:
    pass
else:
    __path__ = overlay_path(__path__, __name__)
