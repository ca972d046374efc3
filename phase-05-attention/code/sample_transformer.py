"""Sample text from a NumPy transformer saved by train_transformer.py.

A trained model is just its numbers: the .npz file holds every array by its GPT-2 name plus the
config, and the .chars.json file beside it holds the characters of its vocabulary. Loading them
rebuilds exactly the model that was saved (the tests check identical logits), so you can train
once and sample as often as you like, at any temperature:

- temperature 1 samples from the model's own probabilities;
- below 1 sharpens them (safer, more repetitive text); above 1 flattens them (wilder text);
- top-k keeps only the k most likely characters at each step.

Run:  python phase-05-attention/code/sample_transformer.py --temperature 0.8 --prompt "ROMEO:"
"""

import argparse
from pathlib import Path

import numpy as np

from phase00.figures import scratch_dir
from phase00.flags import add_seed_flag, positive_int, script_parser, temperature
from phase03.char_tokenizer import CharTokenizer
from phase05.transformer import Transformer

DEFAULT_MODEL = scratch_dir(__file__) / "transformer.npz"
MAX_CHARS = 100_000


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.prompt == "":
        parser.error("--prompt must hold at least one character: the model continues a text")
    if args.chars > MAX_CHARS:  # one forward pass a character: a million take hours
        parser.error(f"--chars {args.chars:,}: at most {MAX_CHARS:,} (each character is one "
                     f"forward pass of the model, a few milliseconds each)")
    chars_file = args.model.with_suffix(".chars.json")
    try:
        model = Transformer.load(args.model)
        tokenizer = CharTokenizer.load(chars_file)
        if args.prompt is None:  # a newline starts a new line of the play, if there were any
            args.prompt = "\n" if "\n" in tokenizer.stoi else tokenizer.chars[0]
        prompt = tokenizer.encode(args.prompt)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    if tokenizer.vocab_size != model.config.vocab_size:
        parser.exit(2, f"error: {chars_file} has {tokenizer.vocab_size} characters but the "
                       f"model expects {model.config.vocab_size}: they were not saved together\n")
    print(f"model {args.model}: {model.n_params:,} parameters, context {model.config.context}")
    print(f"temperature {args.temperature}, top-k {args.top_k or 'all'}, seed {args.seed}\n")
    out = model.generate(prompt, args.chars, args.temperature, args.top_k,
                         np.random.default_rng(args.seed))
    print(tokenizer.decode(out))


def add_temperature_and_top_k_flags(parser: argparse.ArgumentParser) -> None:
    """Give a script the two knobs of how each next token is drawn: the softmax `--temperature`
    and `--top-k`, which keeps only the k most likely tokens (all of them by default)."""
    parser.add_argument("--temperature", type=temperature, default=0.8, help="softmax temperature")
    parser.add_argument("--top-k", type=positive_int, default=None,
                        help="sample only among the k most likely tokens (default: all)")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Sample from a saved NumPy transformer.")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="the .npz written by train_transformer.py")
    parser.add_argument("--prompt", default=None,
                        help="text to continue (default: a newline, or the vocabulary's first "
                             "character if the text had no newline)")
    parser.add_argument("--chars", type=positive_int, default=400, help="characters to generate")
    add_temperature_and_top_k_flags(parser)
    add_seed_flag(parser)
    return parser


if __name__ == "__main__":
    main()
