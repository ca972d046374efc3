"""The text every later phase trains on: where it comes from, where it is cached, what if offline.

Tooling, not a lesson. The default corpus is Tiny Shakespeare (about 1.1 million characters of
the plays, collected by Andrej Karpathy in 2015 for his char-rnn experiments). It is downloaded
once into the git-ignored `data/` folder at the root of the repository and read from there
afterwards. Without a network the programs say so and fall back to a corpus every machine has:
the source code of Python's own standard library, read from the running interpreter. Any local
text file works too (`--path my_book.txt`).

The files the course saves that must never be found half written (this cache, a tokenizer, a
model, a checkpoint, the run log) go through `write_atomically`, here, the first place it is
needed. Phase 08's token shards spell the same steps out in `write_shard`, where they are the
lesson.

Run:  python phase-00-foundations/code/corpus.py              (download if needed, show stats)
      python phase-00-foundations/code/corpus.py --offline    (never touch the network)
"""

import argparse
import hashlib
import os
import sysconfig
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from phase00.flags import script_parser

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("TFS_DATA_DIR", REPO_ROOT / "data"))

TINY_SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
TINY_SHAKESPEARE_FILE = "tinyshakespeare.txt"
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
CORPORA = ("tinyshakespeare", "stdlib")


def tiny_shakespeare_path(data_dir: Path = DATA_DIR) -> Path:
    """Where the cached copy of Tiny Shakespeare lives (it may not exist yet)."""
    return Path(data_dir) / TINY_SHAKESPEARE_FILE


def is_cached(data_dir: Path = DATA_DIR) -> bool:
    """True when Tiny Shakespeare is already in the cache."""
    return tiny_shakespeare_path(data_dir).is_file()


def is_downloadable(url: str = TINY_SHAKESPEARE_URL, timeout: float = 5.0) -> bool:
    """Ask the server for the file's headers only (no download): can we reach it?"""
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def download_tiny_shakespeare(data_dir: Path = DATA_DIR, url: str = TINY_SHAKESPEARE_URL,
                              timeout: float = 30.0) -> Path:
    """Download Tiny Shakespeare into the cache, check its fingerprint, and return its path.

    The file is written to a temporary name and renamed only once complete and verified, so an
    interrupted download never leaves a half file that looks like a cached corpus.
    """
    target = tiny_shakespeare_path(data_dir)
    with urllib.request.urlopen(url, timeout=timeout) as response:
        payload = response.read()
    digest = hashlib.sha256(payload).hexdigest()
    if url == TINY_SHAKESPEARE_URL and digest != TINY_SHAKESPEARE_SHA256:
        raise OSError(f"downloaded {len(payload)} bytes from {url} but their SHA-256 is "
                      f"{digest}, not the expected {TINY_SHAKESPEARE_SHA256}; not caching it")
    return write_atomically(target, payload)


def write_atomically(path: Path | str, data: bytes | Callable[[BinaryIO], object]) -> Path:
    """Write a file whole or not at all; return its path.

    `data`, bytes or a function that writes into an open binary file (torch.save, np.savez),
    fills a temporary file beside `path`, named for this process (two processes
    writing at once never share one). Its bytes are forced to disk, then it is renamed to
    `path`. A rename within one folder is atomic, so `path` holds all of its old bytes or all
    of the new ones, never half. On any failure, Ctrl-C included, the temporary file is
    removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as file:
            if isinstance(data, bytes):
                file.write(data)
            else:
                data(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def stdlib_corpus(max_chars: int = 1_100_000) -> str:
    """About a million characters of Python's standard library source, always available.

    Files are read in sorted order, so the corpus is the same on every run of one Python.
    """
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    pieces, total = [], 0
    for path in sorted(stdlib.glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        pieces.append(text)
        total += len(text)
        if total >= max_chars:
            break
    if not pieces:
        raise FileNotFoundError(f"found no readable .py files in {stdlib}")
    return "".join(pieces)[:max_chars]


class NotTextError(ValueError):
    """A file handed to a script as text that is not usable text (empty, binary, not UTF-8)."""


def read_text_file(path: Path | str) -> str:
    """Read a learner's own text file, or refuse it with one sentence that says what to do.

    The one rule of the whole course for `--path` files: the text must be UTF-8 (plain ASCII is
    UTF-8 too) and not empty. Nothing is replaced silently: a file that would need replacing
    (a Latin-1 file, a program, an image) is refused, with the first bad byte's position, so a
    model is never trained on garbage that looked like a corpus. Raises FileNotFoundError for a
    missing path and NotTextError (a ValueError) for a file that is not usable text.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no text file at {path}: pass the path of an existing UTF-8 "
                                f"text file, or leave --path out to use a built-in corpus "
                                f"({', '.join(CORPORA)})")
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file (a device, a pipe, ...)"
        raise NotTextError(f"{path} is {what}, not a text file: pass the path of one file")
    data = path.read_bytes()
    if not data:
        raise NotTextError(f"{path} is empty: a language model needs text to learn from")
    if b"\0" in data:
        raise NotTextError(f"{path} looks like a binary file (it contains NUL bytes at offset "
                           f"{data.index(0):,}), not text: pass a UTF-8 text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise NotTextError(
            f"{path} is not UTF-8 text: byte 0x{data[err.start]:02x} at offset {err.start:,} "
            f"(line {line}) cannot be decoded. If it is Latin-1 or Windows-1252, convert it "
            f"first, e.g.  iconv -f latin1 -t utf-8 {path.name} > {path.stem}-utf8.txt"
        ) from None
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write is not text
    if not text:
        raise NotTextError(f"{path} holds no text after its byte-order mark: a language model "
                           f"needs text to learn from")
    return text


def load_text(corpus: str = "tinyshakespeare", path: Path | None = None,
              data_dir: Path = DATA_DIR, download: bool = True) -> tuple[str, str]:
    """Return (text, where it came from) for a corpus name or a local file.

    path: a local UTF-8 text file; when given, `corpus` is ignored.
    download: if False, never use the network (Tiny Shakespeare must then be cached, else
    the standard-library corpus is used instead).
    """
    if path is not None:
        path = Path(path)
        return read_text_file(path), f"local file {path}"
    if corpus not in CORPORA:
        raise ValueError(f"unknown corpus {corpus!r}; valid names are {', '.join(CORPORA)}")
    if corpus == "stdlib":
        return stdlib_corpus(), "Python standard library source"
    cached = tiny_shakespeare_path(data_dir)
    if cached.is_file():
        return cached.read_text(encoding="utf-8"), f"Tiny Shakespeare (cached at {cached})"
    if download:
        try:
            fresh = download_tiny_shakespeare(data_dir)
            return fresh.read_text(encoding="utf-8"), f"Tiny Shakespeare (downloaded to {fresh})"
        except Exception as err:  # no network, a proxy, a firewall, a damaged download: all
            # mean the same here, so every one of them falls back instead of stopping the lesson
            print(f"Could not download Tiny Shakespeare ({type(err).__name__}: {err}).")
    print(f"Tiny Shakespeare is not cached at {cached}; using Python's standard library source "
          f"instead. To get it later, run: python phase-00-foundations/code/corpus.py")
    return stdlib_corpus(), "Python standard library source (fallback: no Tiny Shakespeare)"


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    existing = next(p for p in (args.data_dir, *args.data_dir.absolute().parents) if p.exists())
    if not existing.is_dir():  # the folder, or one above it, is a file: nothing can be cached
        parser.error(f"--data-dir {args.data_dir}: {existing} is a file, not a folder; pass the "
                     f"folder that holds (or will hold) {TINY_SHAKESPEARE_FILE}")
    try:
        text, source = load_text(args.corpus, args.path, args.data_dir, not args.offline)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    vocab = sorted(set(text))
    print(f"source:            {source}")
    print(f"characters:        {len(text):,}")
    print(f"distinct chars:    {len(vocab)}")
    print(f"lines:             {text.count(chr(10)):,}")
    print("first 200 characters:")
    print(text[:200])


def add_corpus_flags(parser: argparse.ArgumentParser, purpose: str = "") -> None:
    """Give a script the two flags that choose its text, as load_text takes them: `--corpus`, a
    built-in one, or `--path`, a learner's own file (which wins when given).

    purpose: what the script does with the text, if saying it helps (" to take the vocabulary
    from"); it ends the help of --corpus.
    """
    parser.add_argument("--corpus", choices=CORPORA, default="tinyshakespeare",
                        help=f"built-in corpus{purpose} (default: tinyshakespeare)")
    parser.add_argument("--path", type=Path, default=None,
                        help="a local UTF-8 text file instead of a built-in corpus")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Fetch, cache and describe the text corpus.")
    add_corpus_flags(parser)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="cache folder")
    parser.add_argument("--offline", action="store_true", help="never use the network")
    return parser


if __name__ == "__main__":
    main()
