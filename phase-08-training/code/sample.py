"""Text from a checkpoint: load it as data, rebuild the model, and sample.

A checkpoint written by train.py carries everything needed to talk to the model again: the
weights, the model's shape (`model_config`) and the tokenizer (`tokenizer`: GPT-2's, or the
alphabet of a character model). It is read with `torch.load(..., weights_only=True)`, which
accepts only tensors and plain Python values: a checkpoint someone sends you cannot run code on
your machine, as a full pickle could.

Three knobs shape the text (phase 07's `generate` does the work):
- `--temperature` divides the logits: below 1 the likely tokens get likelier (safer, duller),
  above 1 the distribution flattens (livelier, more mistakes);
- `--top-k` keeps only the k most likely tokens;
- `--top-p` keeps the smallest set of tokens whose probabilities add up to p (nucleus sampling,
  Holtzman et al. 2019, "The Curious Case of Neural Text Degeneration").

Run:  python phase-08-training/code/sample.py --checkpoint runs/quickstart/best.pt
      python phase-08-training/code/sample.py --prompt "ROMEO:" --temperature 0.6 --top-k 10
"""

import argparse
from pathlib import Path

import torch

from phase00.flags import nonnegative_int, positive_float, positive_int, unit_float
from phase06.device import DEVICE_CHOICES, pick_device
from phase07.model import GPT, GPTConfig
from phase08.prepare_data import Codec, make_codec
from phase08.train import RUNS_DIR, CheckpointError, load_checkpoint, sample_text

DEFAULT_CHECKPOINT = RUNS_DIR / "quickstart" / "best.pt"


def load_for_sampling(path: Path, device: torch.device) -> tuple[GPT, Codec, dict]:
    """(model in eval mode, tokenizer, the checkpoint) from a train.py checkpoint."""
    checkpoint = load_checkpoint(path, map_location=device)
    model = GPT(GPTConfig(**checkpoint["model_config"])).to(device)
    model.load_state_dict(checkpoint["model"])
    codec = make_codec(checkpoint["tokenizer"], download=False)
    return model.eval(), codec, checkpoint


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sample text from a train.py checkpoint.")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                        help="a checkpoint (default: runs/quickstart/best.pt)")
    parser.add_argument("--prompt", default="", help="text to continue (default: a new "
                                                     "document)")
    parser.add_argument("--tokens", type=positive_int, default=300,
                        help="tokens to generate per sample (default: 300)")
    parser.add_argument("--samples", type=positive_int, default=1,
                        help="how many samples (default: 1)")
    parser.add_argument("--temperature", type=positive_float, default=0.8,
                        help="below 1 safer, above 1 wilder (default: 0.8)")
    parser.add_argument("--top-k", type=nonnegative_int, default=0,
                        help="keep the k most likely tokens; 0 = all (default: 0)")
    parser.add_argument("--top-p", type=unit_float, default=0.0,
                        help="keep the smallest set with this much probability; 0 = off "
                             "(default: 0)")
    parser.add_argument("--seed", type=nonnegative_int, default=1337,
                        help="random seed (default: 1337)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                        help="where to compute (default: auto = mps, cuda, then cpu)")
    args = parser.parse_args(argv)
    try:
        device = pick_device(args.device)
        model, codec, checkpoint = load_for_sampling(args.checkpoint, device)
        if args.prompt:
            codec.encode(args.prompt)  # a character the alphabet lacks: say so now
    except (FileNotFoundError, CheckpointError, ValueError, RuntimeError) as err:
        parser.exit(1, f"error: {err}\n")

    val = checkpoint.get("val_loss")
    print(f"1. {args.checkpoint}: step {checkpoint['step']:,}, "
          f"{model.n_params():,} parameters, {codec.name} tokens ({codec.vocab_size:,}), "
          f"validation loss {'n/a' if val is None else f'{val:.4f}'}")
    print(f"   temperature {args.temperature}, top-k {args.top_k or 'off'}, "
          f"top-p {args.top_p or 'off'}, on {device}")
    for i in range(args.samples):
        text = sample_text(model, codec, args.tokens, device, args.seed + i, args.temperature,
                           args.top_k, args.top_p or None, args.prompt)
        print(f"\n2.{i + 1} ---\n{text}")


if __name__ == "__main__":
    main()
