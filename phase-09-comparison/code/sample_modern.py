"""Phase 08's sample.py, for a checkpoint of train_modern.py (the modern recipe).

Phase 08's sample.py rebuilds a checkpoint's model from the architecture named inside it, and
phase 08 knows only GPT-2's: it refuses a "modern" checkpoint in one line. This script teaches
it after_gpt2.py's "modern" architecture (RoPE, RMSNorm, QK-norm, squared ReLU, an untied head,
no biases), exactly as train_modern.py does for training, then hands over to sample.py: the
same flags, the same checks (a file that is not a checkpoint, weights that are not finite), the
same kind of text. GPT-2 checkpoints work here too.

Run:  python phase-09-comparison/code/sample_modern.py                        (runs/modern-char/)
      python phase-09-comparison/code/sample_modern.py --prompt "ROMEO:" --temperature 0.6
      python phase-09-comparison/code/sample_modern.py --checkpoint runs/modern-gpt2/best.pt
"""

import argparse

from phase08 import sample
from phase09.after_gpt2 import register_modern


def build_parser() -> argparse.ArgumentParser:
    """Phase 08's sample.py parser, with the modern architecture known and its run the default."""
    register_modern()
    parser = sample.build_parser(run="modern-char")
    parser.description = ("Sample text from a checkpoint of train_modern.py (the modern recipe), "
                          "with phase 08's sample.py.")
    return parser


def main(argv: list[str] | None = None) -> None:
    sample.main(argv, build_parser())


if __name__ == "__main__":
    main()
