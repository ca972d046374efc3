"""Phase 08, training: token shards, a resumable training loop, sampling. Importable as phase08."""

import tempfile
from pathlib import Path

from phase00 import with_learner_code

# The blog's quickstart run goes to a folder of its own (named quickstart, which names the
# figure), never into the learner's runs/quickstart/, which the quickstart would refuse to reuse.
BLOG_RUN = Path(tempfile.gettempdir()) / "tfs-blog-figures" / "quickstart"
BLOG_TRANSFER_RUNS = Path(tempfile.gettempdir()) / "tfs-blog-figures" / "transfer"

# The blog's figures and the settings its post describes, as (script, flags): redrawn into
# blog/figures/ by `python phase-00-foundations/code/figures.py --phase 08`.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("pieces", []),  # training_pieces.png: schedule, one bad batch, stop and resume (~15 s)
    # quickstart_loss.png: the README's main run (about 5 minutes)
    ("quickstart", ["--run-dir", str(BLOG_RUN), "--overwrite"]),
    ("budget", []),  # budget_tokens.png: tokens against days at 5,000 tokens/s (blog 02)
    # transfer_curves.png: pretrain on the stdlib, fine-tune on Shakespeare, against random
    # weights (blog 03; about 15 minutes)
    ("transfer", ["--run-dir", str(BLOG_TRANSFER_RUNS), "--overwrite"]),
]

# The learner's own modules, in front of these when `python -m workbook` asks (phase00 says how).
__path__ = with_learner_code(__path__, __name__)
