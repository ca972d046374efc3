"""Phase 07, GPT: the GPT-2 architecture written by hand in PyTorch. Importable as phase07."""

# The blog's figures, and the exact settings the post describes: (script, flags).
# `python phase-00-foundations/code/figures.py --phase 07` redraws them into blog/figures/;
# any other run of a script writes to the git-ignored scratch/ folder instead.
BLOG_FIGURES: list[tuple[str, list[str]]] = [("train_char", ["--eval-every", "85"])]
