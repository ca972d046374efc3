"""Three GPT-2 tokenizers, one set of files: ours, tiktoken's and Hugging Face's give the same ids.

GPT-2's tokenizer is two files, `vocab.bpe` (the 50,000 merges, in the order they were learned)
and `encoder.json` (every token's id). Phase 03 loaded them into our own byte-level BPE
(`BPETokenizer`, pure Python) and into tiktoken (OpenAI's encoder, written in Rust). Hugging
Face's `GPT2TokenizerFast` (their `tokenizers` library, also Rust) is built here from the very
same two files, with no network. If the three agree on a text full of traps, the tokenizer is
understood: the split regex, the byte-to-character map, the merge order.

The default text has the traps: contractions ('s 't 're), runs of spaces and newlines, digits,
punctuation, code, accented letters, Chinese, emoji (four bytes each, split across tokens).
`<|endoftext|>` is a special token: each library keeps it out of ordinary text unless told
otherwise, so it is checked on its own.

Run:  python phase-09-comparison/code/tokenizers_compare.py
      python phase-09-comparison/code/tokenizers_compare.py --text "Hello world"
"""

import argparse
from pathlib import Path
from typing import Any

from transformers import GPT2TokenizerFast

from phase00.corpus import read_text_file
from phase00.flags import script_parser
from phase03.bpe import ENDOFTEXT, replace_lone_surrogates
from phase03.gpt2_tokenizer import (
    GPT2_VOCAB_SIZE,
    find_gpt2_files,
    gpt2_tiktoken,
    gpt2_tokenizer,
)

VARIED_TEXT = (
    "Hello world! It's 2024; we're testing GPT-2's tokenizer, aren't we?\n\n"
    "    def f(x):  # four spaces, then code\n        return x**2 + 3.14159\n"
    "Numbers: 1234567890, 3.0e-5, $19.99, 50%.   Spaces:     many.\t\tTabs.\n"
    "Accents: café, naïve, Zürich, São Paulo. Greek: αβγ. Cyrillic: Привет.\n"
    "中文测试，東京。한국어. Emoji: 🙂🚀👍🏽 (skin tone), and ZWJ: 👩‍💻.\n"
    "Punctuation!!! ??? ... --- ''' \"\"\" <html><b>bold</b></html>\n"
    "   leading spaces and trailing ones   \n\n\n"
)


def hf_gpt2_tokenizer(folder: Path | None = None) -> GPT2TokenizerFast:
    """Hugging Face's fast GPT-2 tokenizer from GPT-2's own two files (no network)."""
    folder = find_gpt2_files(download=False) if folder is None else Path(folder)
    # Positional on purpose: transformers 4 names these parameters vocab_file and merges_file,
    # transformers 5 names them vocab and merges (and silently ignores the old names, leaving
    # an empty tokenizer that turns every text into nothing). Both read the two paths.
    tokenizer = GPT2TokenizerFast(str(folder / "encoder.json"), str(folder / "vocab.bpe"))
    if len(tokenizer) != GPT2_VOCAB_SIZE:
        raise ValueError(f"Hugging Face's tokenizer built from {folder} has {len(tokenizer):,} "
                         f"tokens, expected {GPT2_VOCAB_SIZE:,}: the files were not read")
    tokenizer.model_max_length = 10**9  # we encode long texts, never feed them to a model here
    return tokenizer


def build_three(folder: Path | None = None) -> tuple[Any, Any, GPT2TokenizerFast]:
    """Our BPETokenizer, tiktoken's Encoding and GPT2TokenizerFast, from the same two files."""
    folder = find_gpt2_files(download=False) if folder is None else Path(folder)
    return gpt2_tokenizer(folder), gpt2_tiktoken(folder), hf_gpt2_tokenizer(folder)


def encoders_of(ours: Any, tik: Any, hf: GPT2TokenizerFast) -> dict[str, Any]:
    """name -> encode(text) -> ids, ordinary text only (no special tokens), for each one.

    Hugging Face reads "<|endoftext|>" written in a text as the special token unless told to
    split it (split_special_tokens), where the other two have encode_ordinary."""
    return {"ours (phase 03, Python)": ours.encode_ordinary,
            "tiktoken (Rust)": tik.encode_ordinary,
            "Hugging Face (Rust)": lambda text: hf.encode(text, add_special_tokens=False,
                                                          split_special_tokens=True)}


def three_tokenizers(folder: Path | None = None) -> dict[str, Any]:
    """name -> an object with encode(text) -> ids, all three built from the same files."""
    return encoders_of(*build_three(folder))


def first_difference(a: list[int], b: list[int]) -> int | None:
    """The first index where two id lists differ (or where one ends), None if equal."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.text == "":
        parser.error("--text is empty: give at least one character to encode (three empty "
                     "lists agree about nothing)")
    text = VARIED_TEXT if args.text is None else replace_lone_surrogates(args.text)
    if args.text is not None and text != args.text:
        print("note: --text holds lone surrogates (bytes of the command line that are not "
              "UTF-8); each is encoded as U+FFFD, the replacement character, as tiktoken does")
    if args.path is not None:
        try:
            text = read_text_file(args.path)  # the course's one rule: UTF-8 text, not empty
        except (FileNotFoundError, ValueError) as err:
            parser.exit(2, f"error: {err}\n")
    try:
        folder = find_gpt2_files(download=False)
    except FileNotFoundError as err:
        parser.exit(1, f"error: {err}\n")

    print(f"1. GPT-2's vocab.bpe and encoder.json from {folder}")
    ours, tik, hf = build_three(folder)
    ids = {name: encode(text) for name, encode in encoders_of(ours, tik, hf).items()}
    print(f"   text: {len(text):,} characters, {len(text.encode('utf-8')):,} bytes")
    reference = next(iter(ids.values()))
    print("\n| tokenizer | tokens | first ids | same ids as ours |")
    print("|---|---|---|---|")
    for name, found in ids.items():
        where = first_difference(reference, found)
        same = "yes" if where is None else f"NO (first difference at token {where})"
        print(f"| {name} | {len(found):,} | {found[:6]} | {same} |")
    all_same = all(found == reference for found in ids.values())
    print(f"\n   all three agree: {all_same}")

    pieces = [ours.decode([i]) for i in reference[:24]]
    print(f"   the first tokens: {pieces}")
    special = f"end{ENDOFTEXT}start"
    print(f"\n2. The special token, allowed explicitly: {special!r}")
    print(f"   ours:         {ours.encode(special, allowed_special={ENDOFTEXT})}")
    print(f"   tiktoken:     {tik.encode(special, allowed_special={ENDOFTEXT})}")
    print(f"   Hugging Face: {hf.encode(special)}")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Encode one text with our BPE, tiktoken and "
                           "Hugging Face's GPT-2 tokenizer; compare ids.")
    source = parser.add_mutually_exclusive_group()  # one text: both given is a usage error
    source.add_argument("--text", default=None, help="text to encode (default: a varied text)")
    source.add_argument("--path", type=Path, default=None, help="encode this text file instead")
    return parser


if __name__ == "__main__":
    main()
