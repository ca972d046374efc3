"""Phase 08, training: token shards, a resumable training loop, sampling. Importable as phase08."""

import tempfile
from pathlib import Path

# The blog's quickstart run goes to a folder of its own (named quickstart, which names the
# figure), never into the learner's runs/quickstart/, which the quickstart would refuse to reuse.
BLOG_RUN = Path(tempfile.gettempdir()) / "tfs-blog-figures" / "quickstart"
BLOG_TRANSFER_RUNS = Path(tempfile.gettempdir()) / "tfs-blog-figures" / "transfer"

# The blog's figures, and the exact settings the post describes: (script, flags).
# `python phase-00-foundations/code/figures.py --phase 08` redraws them into blog/figures/;
# any other run of a script writes to the git-ignored scratch/ folder instead.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("pieces", []),  # training_pieces.png: schedule, one bad batch, stop and resume (~15 s)
    # quickstart_loss.png: the README's main run (about 5 minutes)
    ("quickstart", ["--run-dir", str(BLOG_RUN), "--overwrite"]),
    ("budget", []),  # budget_tokens.png: tokens against days at 5,000 tokens/s (blog 02)
    # transfer_curves.png: pretrain on the stdlib, fine-tune on Shakespeare, against random
    # weights (blog 03; about 15 minutes)
    ("transfer", ["--run-dir", str(BLOG_TRANSFER_RUNS), "--overwrite"]),
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
