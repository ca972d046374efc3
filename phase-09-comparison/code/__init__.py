"""Phase 09, comparison: our GPT against Hugging Face, PyTorch and tiktoken. Importable as phase09.

The only phase that imports Hugging Face's `transformers`: to compare with it, never to build.
"""

from phase00 import with_learner_code

# The blog's figures and the settings its post describes, as (script, flags): redrawn into
# blog/figures/ by `python phase-00-foundations/code/figures.py --phase 09`.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("numpy_to_gpt2", []),
    ("after_gpt2", ["--newton-schulz"]),  # a few seconds: what Muon does to a real gradient
    # 50 minutes on a 2-core machine (30 runs of 680 steps, two at a time): the run the post and
    # note 04 report; --threads 1 gives the same losses in about two hours, and --jobs N with
    # more cores sooner (the equal-time row rests on a timing, which moves from run to run)
    ("after_gpt2", ["--jobs", "2"]),
]

# The learner's own modules, in front of these when `python -m workbook` asks (phase00 says how).
__path__ = with_learner_code(__path__, __name__)
