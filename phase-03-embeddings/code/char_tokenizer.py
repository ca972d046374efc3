"""A character tokenizer: the simplest way to turn text into the integers a model can read.

A neural network computes with numbers, not letters. Before anything else we need a fixed,
reversible code: every distinct character of the training text gets an integer id, in sorted
order, and a text becomes the list of its characters' ids. Tiny Shakespeare has 65 distinct
characters, so "hi" becomes [46, 47] and a model chooses among 65 possible next characters.

This is the oldest code in the field. Claude Shannon's "A Mathematical Theory of
Communication" (1948) treated English as a stream of symbols from a 27-letter alphabet (26
letters and the space) and generated text letter by letter from the statistics of letter pairs
and triples: the first character-level language models. The models of this course (the bigram
and the MLP here, the RNNs of phase 04, the transformer of phase 05) predict the next character
from the previous ones with the same alphabet-sized vocabulary.

The price of a tiny vocabulary is long sequences: a word of 6 letters costs 6 predictions.
Byte-pair encoding (bpe.py) merges frequent neighbours into longer tokens to buy shorter
sequences with a larger vocabulary; GPT-2 uses 50,257 tokens.

A tokenizer is saved as a small JSON file a person can read: the characters, in id order.

Run:  python phase-03-embeddings/code/char_tokenizer.py --text "To be, or not to be"
"""

import argparse
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from phase00.corpus import add_corpus_flags, load_text
from phase00.figures import add_out_flag
from phase00.flags import script_parser

FILE_KIND = "char-tokenizer"  # written into every saved file, checked when one is loaded
WRITER = "python phase-03-embeddings/code/char_tokenizer.py"  # the command that writes one
DEFAULT_TEXT = "To be, or not to be"


class CharTokenizer:
    """Ids 0..V-1 for the V distinct characters of a text, in sorted (Unicode) order.

    tok = CharTokenizer(text)             the vocabulary of `text`
    tok.encode("hi") -> [46, 47]          characters to ids
    tok.decode([46, 47]) -> "hi"          ids to characters
    tok.save(path); CharTokenizer.load(path)

    `source` is a few words saying which text the vocabulary came from; the error for an
    unknown character repeats it, because that is where the missing character should have been.
    """

    def __init__(self, text: str, source: str = "the text it was given") -> None:
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer is built from a str, got {type(text).__name__}")
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text: it has no characters")
        self.source = source
        self.chars: list[str] = sorted(set(text))  # id i is the i-th character in sorted order
        self.stoi: dict[str, int] = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        """V, the number of distinct characters: the size of every one-hot vector and softmax."""
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """The id of every character of `text`, in order."""
        try:
            return [self.stoi[ch] for ch in text]
        except KeyError:
            unknown = list(dict.fromkeys(ch for ch in text if ch not in self.stoi))  # in order
            where = text.index(unknown[0])
            raise ValueError(
                f"character {unknown[0]!r} (first seen at position {where}) is not in the "
                f"vocabulary: its {self.vocab_size} characters were built from {self.source}. "
                f"Unknown characters in this text: {unknown[:10]}"
                f"{' ...' if len(unknown) > 10 else ''}. Build the tokenizer from a text that "
                f"contains them."
            ) from None

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """The characters of a sequence of ids, joined into a string."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids)
        if ids.size == 0:
            return ""
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"decode expects a flat sequence of integer ids, got an array of "
                             f"shape {ids.shape} and dtype {ids.dtype}")
        bad = ids[(ids < 0) | (ids >= self.vocab_size)]
        if bad.size:
            raise ValueError(f"token id {int(bad[0])} is out of range: valid ids are 0 to "
                             f"{self.vocab_size - 1} (this vocabulary has {self.vocab_size} "
                             f"characters)")
        return "".join(self.chars[i] for i in ids.tolist())

    def save(self, path: Path | str) -> Path:
        """Write the vocabulary as readable JSON: the characters, in id order."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"kind": FILE_KIND, "source": self.source, "vocab_size": self.vocab_size,
                  "chars": self.chars}
        path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n",
                        encoding="utf-8")
        return path

    @classmethod
    def from_chars(cls, chars: Sequence[str], source: str) -> "CharTokenizer":
        """A tokenizer whose ids are exactly the positions of `chars` (which must be sorted)."""
        if list(chars) != sorted(set(chars)) or not all(len(c) == 1 for c in chars):
            raise ValueError("chars must be distinct single characters in sorted order")
        return cls("".join(chars), source)

    @classmethod
    def load(cls, path: Path | str) -> "CharTokenizer":
        """Read a file written by save(); a damaged or foreign file gets an error saying why."""
        path = Path(path)
        how = f"write one with CharTokenizer(text).save(path) or `{WRITER}`"
        if path.is_dir():
            raise ValueError(f"{path} is a folder, not a character-tokenizer file: {how}")
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer file at {path}: {how}")
        what = f"{path} is not a character-tokenizer file"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{what}: it is not valid UTF-8 JSON ({err}); it may be "
                             f"truncated or corrupt, save the tokenizer again ({how})") from None
        if not isinstance(record, dict) or record.get("kind") != FILE_KIND:
            kind = record.get("kind") if isinstance(record, dict) else type(record).__name__
            raise ValueError(f"{what}: expected a JSON object with \"kind\": \"{FILE_KIND}\", "
                             f"found kind {kind!r} ({how})")
        chars, size = record.get("chars"), record.get("vocab_size")
        if not isinstance(chars, list) or not all(isinstance(c, str) for c in chars):
            raise ValueError(f"{what}: \"chars\" must be a list of one-character strings")
        if size != len(chars):
            raise ValueError(f"{what}: it says vocab_size {size} but lists {len(chars)} "
                             f"characters; it may be truncated or edited ({how})")
        try:
            return cls.from_chars(chars, str(record.get("source", path)))
        except ValueError as err:
            raise ValueError(f"{what}: {err}") from None

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def training_tokenizer(text: str, source: str) -> CharTokenizer:
    """The tokenizer of a text a language model will learn from; refuses a text with nothing
    to learn.

    A text of one repeated character ("aaaa") has a single possible next character: every model
    predicts it with certainty from the first step, the loss is 0 and nothing is learned. That
    is almost always the wrong file, so it is refused (ValueError) with what was found.
    """
    tok = CharTokenizer(text, source)
    if tok.vocab_size < 2:
        times = "once" if len(text) == 1 else f"{len(text):,} times"
        raise ValueError(f"{source} holds a single distinct character ({tok.chars[0]!r}, "
                         f"{times}): its next character is always the same, so a "
                         f"model has nothing to learn. Use a text with at least 2 distinct "
                         f"characters")
    return tok


def sample_start(text: str) -> str:
    """The character a sample starts from: a newline, like the start of a line of the text, or
    the text's first character when it has no newline (every text has its first character)."""
    return "\n" if "\n" in text else text[0]


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    saved = args.out / "char_tokenizer.json"
    if saved.is_dir():
        parser.error(f"{saved} is a folder, so the tokenizer file cannot be written there: "
                     f"remove it or pass another --out")
    try:
        text, source = load_text(args.corpus, args.path)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")

    print(f"1. The vocabulary of {source}")
    tok = CharTokenizer(text, source)
    print(f"   {len(text):,} characters, {tok.vocab_size:,} distinct: vocab_size = "
          f"{tok.vocab_size:,}")
    shown = min(tok.vocab_size, 200)  # a table of 70,000 characters would bury the rest
    print("   id: character" + (f" (the first {shown} of {tok.vocab_size:,})"
                                if shown < tok.vocab_size else ""))
    for start in range(0, shown, 10):
        print("   " + "  ".join(f"{i:2d}:{tok.chars[i]!r:5s}"
                                for i in range(start, min(start + 10, shown))))
    if args.text is None:  # the default sentence, or the corpus's own start if it cannot spell it
        args.text = DEFAULT_TEXT
        if not set(DEFAULT_TEXT) <= set(tok.stoi):
            args.text = text[:len(DEFAULT_TEXT)]
            print(f"   (this text lacks some characters of {DEFAULT_TEXT!r}: the round trip "
                  f"uses its first {len(args.text)} characters instead)")

    print(f"\n2. A round trip: {args.text!r}")
    try:
        ids = tok.encode(args.text)
    except ValueError as err:
        parser.exit(2, f"error: {err}\n")
    print(f"   encode -> {ids}   ({len(ids)} ids for {len(args.text)} characters)")
    back = tok.decode(ids)
    print(f"   decode -> {back!r}   equal to the input: {back == args.text}")
    all_ids = np.array(tok.encode(text))
    assert all_ids.shape == (len(text),)
    print(f"   the whole corpus as an array: shape {all_ids.shape}, dtype {all_ids.dtype}, "
          f"first ten ids {all_ids[:10].tolist()}")

    print("\n3. Saved and loaded again")
    path = tok.save(saved)
    again = CharTokenizer.load(path)
    print(f"   wrote {path} ({path.stat().st_size:,} bytes); loaded: {again!r}, same ids: "
          f"{again.encode(args.text) == ids}")

    print("\n4. What it refuses, and why")
    for bad, call in (("an unknown character", lambda: tok.encode("naïve €")),
                      ("an id out of range", lambda: tok.decode([0, tok.vocab_size]))):
        try:
            call()
        except ValueError as err:
            print(f"   {bad}: {err}")
        else:
            print(f"   {bad}: none here (this vocabulary knows every character tried)")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Build a character tokenizer from a corpus, "
                           "show its vocabulary and a round trip.")
    add_corpus_flags(parser, " to take the vocabulary from")
    parser.add_argument("--text", default=None,
                        help=f"the text to encode and decode (default: {DEFAULT_TEXT!r}, or the "
                             f"corpus's first characters if it lacks some of those)")
    add_out_flag(parser, __file__, "the saved tokenizer")
    return parser


if __name__ == "__main__":
    main()
