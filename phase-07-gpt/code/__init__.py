"""Phase 07, GPT: the GPT-2 architecture written by hand in PyTorch. Importable as phase07."""

from phase00 import with_learner_code

# The blog's figures and the settings its post describes, as (script, flags): redrawn into
# blog/figures/ by `python phase-00-foundations/code/figures.py --phase 07`.
BLOG_FIGURES: list[tuple[str, list[str]]] = [("train_char", ["--eval-every", "85"])]

# The learner's own modules, in front of these when `python -m workbook` asks (phase00 says how).
__path__ = with_learner_code(__path__, __name__)
