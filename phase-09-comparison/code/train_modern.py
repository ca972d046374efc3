"""Phase 08's train.py, training the modern recipe of after_gpt2.py instead of GPT-2.

after_gpt2.py measures each post-2019 change in a loop of its own. A recipe worth keeping must
also work in the real pipeline: checkpoints, exact resume, evaluation, samples. This script
registers the "modern" architecture with phase 08 (every change of after_gpt2.py: RoPE,
RMSNorm, QK-norm, squared ReLU, an untied head, no biases, and Muon for the hidden matrices)
and the presets `modern-char` and `modern-gpt2` (phase 08's shakespeare-char and
shakespeare-gpt2 with that model), then hands over to phase 08's train.py: every flag of
train.py works the same here.

Run:  python phase-09-comparison/code/train_modern.py --preset modern-char
      python phase-09-comparison/code/train_modern.py --preset modern-char --resume
      python phase-09-comparison/code/train_modern.py --preset modern-gpt2
      python phase-09-comparison/code/train_modern.py --preset cpu-smoke --set architecture=modern \
          --set bias=false          (any phase 08 preset, with the modern model: no biases is one
                                     of its changes, so bias=false must be set with it)
"""

import argparse

from phase00.figures import scratch_dir
from phase08 import train
from phase09.after_gpt2 import register_modern


def build_parser() -> argparse.ArgumentParser:
    """Phase 08's train.py parser, with the modern architecture and its preset known."""
    register_modern()
    parser = train.build_parser()
    parser.description = ("Train the modern recipe (after_gpt2.py's changes and Muon) with "
                          "phase 08's pipeline. " + (parser.description or ""))
    parser.set_defaults(out=scratch_dir(__file__))  # this phase's scratch folder for the plot
    return parser


def main(argv: list[str] | None = None) -> None:
    train.main(argv, build_parser())


if __name__ == "__main__":
    main()
