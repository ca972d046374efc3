"""Turn text into token shards: the data a real training run reads, prepared once.

Phases 05 and 07 tokenised Tiny Shakespeare every time a script started: a million characters
take a second. GPT-2 small trains on billions of tokens; tokenising them takes hours, and they
do not fit in memory as Python lists. So tokenisation becomes a separate step, done once:

- Every token id is stored as an unsigned 16-bit integer (`uint16`, 2 bytes). GPT-2's 50,257
  ids fit below 2^16 = 65,536, so a billion tokens take 2 GB instead of the 28 GB of Python ints.
- The ids are written to flat binary files, "shards" (`train_000000.bin`, ...), of at most
  `--shard-tokens` tokens each. A flat file can be memory-mapped (loader.py): the operating
  system reads only the pages a batch touches, so a 20 GB dataset costs no RAM to "open".
- `meta.json` beside the shards records the tokenizer (and, for characters, the alphabet), the
  source, the token count of each split and a SHA-256 fingerprint of each shard. The loader
  trusts only shards listed there with the right size, and a checkpoint remembers which data it
  was trained on.
- A shard is written under a temporary name and renamed when complete (`os.replace` is atomic):
  an interrupted run leaves a `.tmp` file the loader ignores, never a half shard under a real
  name. `meta.json` is removed first and written last, so a folder being rewritten is never
  accepted either.
- Between documents goes GPT-2's `<|endoftext|>` token (id 50256), so the model learns where
  one text ends and an unrelated one begins (Radford et al. 2019 trained GPT-2 this way).
- Large sources are tokenised in parallel by several processes. A long document is cut into
  pieces only where the cut cannot change the tokens: after a newline that sits between two
  non-space characters, where GPT-2's pre-tokenising regex always splits anyway.

Two tokenizers: `gpt2`, tiktoken's fast Rust encoder built from GPT-2's own vocab.bpe and
encoder.json (phase 03's `gpt2_tiktoken`, no network needed), and `char`, phase 03's character
tokenizer, whose alphabet is stored in meta.json. Sources: Tiny Shakespeare (the default; offline
and not cached, the standard library's source instead, as phase 00's corpus does), the standard
library, local text files or folders (`--path`), and Hugging Face datasets streamed from the
Hub (`--hf-dataset`, e.g. FineWeb-Edu's sample-10BT), which needs a network.

The validation split is the last `--val-fraction` of the tokens of a local source (as in phases
05 and 07, so their losses compare), and the first `--val-tokens` tokens of a stream, whose end
is unknown.

Run:  python phase-08-training/code/prepare_data.py --tokenizer char
      python phase-08-training/code/prepare_data.py --tokenizer gpt2 --path my_texts/
      python phase-08-training/code/prepare_data.py --hf-dataset HuggingFaceFW/fineweb-edu \
          --hf-config sample-10BT --max-tokens 100000000
"""

import argparse
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from phase00.corpus import (
    CORPORA,
    DATA_DIR,
    NotTextError,
    load_text,
    read_text_file,
    stdlib_corpus,
    write_atomically,
)
from phase00.flags import fraction, output_folder, positive_int, script_parser
from phase03.bpe import ENDOFTEXT
from phase03.char_tokenizer import CharTokenizer
from phase03.gpt2_tokenizer import GPT2_VOCAB_SIZE, find_gpt2_files, gpt2_tiktoken

TOKENS_DIR = DATA_DIR / "tokens"  # git-ignored, like every data cache of the course
TOKENIZERS = ("gpt2", "char")
META_FILE = "meta.json"
FORMAT = "tfs-token-shards"
TOKEN_DTYPE = np.dtype(np.uint16)  # 2 bytes per token: ids 0..65535
SPLITS = ("train", "val")
SHARD_TOKENS = 100_000_000  # 200 MB per shard
# Each shard is a file the loader keeps memory-mapped, and each map holds one open file: macOS
# lets a process open 256 files by default. So a folder holds at most MAX_SHARDS shards, and a
# shard at least MIN_SHARD_TOKENS tokens (200 KB), below which a large source would become
# hundreds of thousands of files, each with its own costs to write, hash and open.
MIN_SHARD_TOKENS = 100_000
MAX_SHARDS = 200
VERIFY_FILE = "verified.json"  # the loader's record of the shards it hashed (loader.py)
PROGRESS_FILE = "progress.json"  # a stream's preparation so far: what a rerun continues from
PIECE_CHARS = 1_000_000  # a worker's unit of work: about a million characters
PARALLEL_MIN_CHARS = 4_000_000  # below this, starting worker processes costs more than it saves
TEXT_SUFFIXES = (".txt", ".md")
# A safe place to cut a text for GPT-2's tokenizer: right after a newline that has a non-space
# character on both sides. The pre-tokenising regex splits there whatever follows, so
# tokenising the two halves apart gives the same ids as tokenising the whole.
SAFE_CUT = re.compile(r"(?<=\S\n)(?=\S)")
CHAR_LIMIT = np.iinfo(TOKEN_DTYPE).max + 1  # ids 0..65535: at most 65,536 distinct characters


@dataclass
class Codec:
    """A tokenizer as the pipeline sees it: a plain-types description plus encode and decode.

    spec is what meta.json and every checkpoint store ({"name": "gpt2", "vocab_size": 50257,
    "eot": 50256, ...} or {"name": "char", "chars": [...], ...}); make_codec(spec) rebuilds the
    same tokenizer from it, in another process or on another day.
    """

    spec: dict
    encode: Callable[[str], list[int]]
    decode: Callable[[Sequence[int]], str]

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def vocab_size(self) -> int:
        return int(self.spec["vocab_size"])

    @property
    def eot(self) -> int | None:
        """The id put between documents (`<|endoftext|>`), or None (characters have none)."""
        return self.spec.get("eot")


def make_codec(spec: dict, download: bool = True) -> Codec:
    """Build the tokenizer a spec describes: {"name": "gpt2"} or {"name": "char", "chars": [...]}.

    For gpt2, spec may name the folder holding GPT-2's files ("files"); otherwise they are found
    as phase 03 finds them (cache, installed package, then download if allowed).
    """
    name = spec.get("name")
    if name == "gpt2":
        folder = Path(spec["files"]) if spec.get("files") else find_gpt2_files(download=download)
        enc = gpt2_tiktoken(folder)
        full = {"name": "gpt2", "vocab_size": GPT2_VOCAB_SIZE, "eot": GPT2_VOCAB_SIZE - 1,
                "files": str(folder),
                "built_from": "tiktoken Encoding built offline from GPT-2's vocab.bpe and "
                              "encoder.json (phase03.gpt2_tokenizer.gpt2_tiktoken)"}
        return Codec(full, enc.encode_ordinary, lambda ids: enc.decode(list(ids)))
    if name == "char":
        if not spec.get("chars"):
            raise ValueError("a char tokenizer spec needs its alphabet: {'name': 'char', "
                             "'chars': [...]}")
        tok = CharTokenizer.from_chars(spec["chars"], spec.get("source", "meta.json"))
        full = {"name": "char", "vocab_size": tok.vocab_size, "eot": None, "chars": tok.chars,
                "built_from": "phase03.char_tokenizer.CharTokenizer"}
        return Codec(full, tok.encode, lambda ids: tok.decode(list(ids)))
    raise ValueError(f"unknown tokenizer {name!r}; valid tokenizers are {list(TOKENIZERS)}")


def char_spec(documents: Sequence[str]) -> dict:
    """The spec of a character tokenizer whose alphabet is every character of the documents."""
    alphabet = set()
    for doc in documents:
        alphabet.update(doc)
    if len(alphabet) == 1:  # the course's rule (phase 03's training_tokenizer): nothing to learn
        raise ValueError(f"the text holds a single distinct character ({min(alphabet)!r}): its "
                         f"next character is always the same, so a model has nothing to learn. "
                         f"Use a text with at least 2 distinct characters")
    if len(alphabet) > CHAR_LIMIT:
        raise ValueError(f"the text has {len(alphabet):,} distinct characters, but a uint16 "
                         f"shard holds ids 0 to {CHAR_LIMIT - 1:,}, so at most {CHAR_LIMIT:,} "
                         f"characters: use --tokenizer gpt2, whose 50,257 ids cover any text")
    return {"name": "char", "chars": sorted(alphabet)}


def safe_pieces(text: str, piece_chars: int = PIECE_CHARS) -> list[str]:
    """Cut `text` into pieces of about piece_chars characters, only at SAFE_CUT positions.

    Joining the pieces gives the text back, and tokenising them one by one gives the same ids
    as tokenising the whole (a test checks it). A text without a safe cut stays whole.
    """
    pieces, start = [], 0
    while len(text) - start > piece_chars:
        cut = SAFE_CUT.search(text, start + piece_chars)
        if cut is None:
            break
        pieces.append(text[start:cut.start()])
        start = cut.start()
    pieces.append(text[start:])
    return pieces


# --- tokenising, serially or in worker processes -------------------------------------------

_WORKER_CODEC: Codec | None = None  # each worker process builds its own tokenizer once


def _init_worker(spec: dict) -> None:
    global _WORKER_CODEC
    _WORKER_CODEC = make_codec(spec, download=False)


def _encode_in_worker(piece: str) -> np.ndarray:
    return np.asarray(_WORKER_CODEC.encode(piece), dtype=TOKEN_DTYPE)


def batches(documents: Iterable[str], batch_chars: int) -> Iterator[list[str]]:
    """Group documents into lists of about batch_chars characters (the last may be smaller)."""
    batch, size = [], 0
    for doc in documents:
        batch.append(doc)
        size += len(doc)
        if size >= batch_chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def encode_documents(documents: Iterable[str], codec: Codec, workers: int = 1,
                     batch_chars: int = 16 * PIECE_CHARS,
                     parallel_min_chars: int = PARALLEL_MIN_CHARS, piece_chars: int = PIECE_CHARS,
                     progress: tqdm | None = None) -> Iterator[np.ndarray]:
    """Yield the uint16 tokens of each document, `<|endoftext|>` first when the tokenizer has it.

    Documents are gathered into batches of about batch_chars characters, long ones cut into
    safe pieces, and a batch of at least parallel_min_chars characters is tokenised by
    `workers` processes (results kept in order). Batches keep memory bounded for an endless
    stream.
    """
    eot = [] if codec.eot is None else [np.array([codec.eot], dtype=TOKEN_DTYPE)]
    pool = None
    try:
        for batch in batches(documents, batch_chars):
            pieces = [safe_pieces(doc, piece_chars) for doc in batch]
            flat = [p for doc_pieces in pieces for p in doc_pieces]
            if workers > 1 and len(flat) > 1 and sum(map(len, batch)) >= parallel_min_chars:
                if pool is None:  # spawn: the same behaviour on Linux, macOS and Windows
                    pool = multiprocessing.get_context("spawn").Pool(
                        workers, initializer=_init_worker, initargs=(codec.spec,))
                encoded = pool.map(_encode_in_worker, flat, chunksize=1)
            else:
                encoded = [np.asarray(codec.encode(p), dtype=TOKEN_DTYPE) for p in flat]
            i = 0
            for doc_pieces in pieces:
                yield np.concatenate(eot + encoded[i:i + len(doc_pieces)])
                i += len(doc_pieces)
                if progress is not None:
                    progress.update(sum(map(len, doc_pieces)))
    finally:
        if pool is not None:
            pool.close()
            pool.join()


# --- writing shards atomically --------------------------------------------------------------

def _write_bytes(f: object, data: bytes) -> None:
    """The one place bytes reach a shard file (a test interrupts it halfway)."""
    f.write(data)


def write_shard(path: Path, tokens: np.ndarray) -> dict:
    """Write tokens to `path` as raw uint16, atomically; return {"file", "tokens", "sha256"}.

    The bytes go to a hidden temporary file in the same folder, are flushed to disk, and only
    then renamed to `path`: the name appears with all its bytes or not at all. It is phase 00's
    write_atomically, spelled out here because this is where the course teaches it.
    """
    data = np.ascontiguousarray(tokens, dtype=TOKEN_DTYPE).tobytes()
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            _write_bytes(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on the same file system
    except BaseException:  # KeyboardInterrupt too: never leave the temporary file behind
        tmp.unlink(missing_ok=True)
        raise
    return {"file": path.name, "tokens": len(data) // TOKEN_DTYPE.itemsize,
            "sha256": hashlib.sha256(data).hexdigest()}


class ShardWriter:
    """Collect the tokens of one split and write them as shards of shard_tokens tokens each."""

    def __init__(self, folder: Path, split: str, shard_tokens: int = SHARD_TOKENS,
                 kept: Sequence[dict] = ()) -> None:
        """kept: shards already written by an earlier run; the new ones are numbered after."""
        self.folder, self.split, self.shard_tokens = Path(folder), split, shard_tokens
        self.buffer = np.empty(shard_tokens, dtype=TOKEN_DTYPE)
        self.fill = 0
        self.shards: list[dict] = [dict(shard) for shard in kept]

    @property
    def tokens(self) -> int:
        return sum(s["tokens"] for s in self.shards) + self.fill

    @property
    def room(self) -> int:
        """Tokens the current shard still takes before it is written."""
        return self.shard_tokens - self.fill

    def add(self, tokens: np.ndarray) -> None:
        """Append tokens; every time the buffer is full, it becomes a shard (no token is lost)."""
        i = 0
        while i < len(tokens):
            take = min(len(tokens) - i, self.shard_tokens - self.fill)
            self.buffer[self.fill:self.fill + take] = tokens[i:i + take]
            self.fill += take
            i += take
            if self.fill == self.shard_tokens:
                self._flush()

    def _flush(self) -> None:
        name = f"{self.split}_{len(self.shards):06d}.bin"
        self.shards.append(write_shard(self.folder / name, self.buffer[:self.fill]))
        self.fill = 0

    def close(self) -> dict:
        """Write what is left; return the split's record for meta.json."""
        if self.fill:
            self._flush()
        return {"tokens": sum(s["tokens"] for s in self.shards), "shards": self.shards}


def write_json_atomic(path: Path, record: dict) -> None:
    """Write a small JSON file whole or not at all, leaving no temporary file either way."""
    write_atomically(path, (json.dumps(record, ensure_ascii=False, indent=1) + "\n").encode())


def start_folder(folder: Path) -> None:
    """Make the folder and remove its meta.json: until the new one is written, the folder is
    not a dataset the loader would accept."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / META_FILE).unlink(missing_ok=True)
    (folder / VERIFY_FILE).unlink(missing_ok=True)


def finish_folder(folder: Path, meta: dict) -> None:
    """Delete shards the new meta does not list (left from an earlier preparation), then write
    meta.json: the moment the folder becomes valid."""
    listed = {s["file"] for split in meta["splits"].values() for s in split["shards"]}
    for old in folder.glob("*.bin"):
        if old.name not in listed:
            old.unlink()
    write_json_atomic(folder / META_FILE, meta)


def write_token_folder(folder: Path, splits: dict[str, np.ndarray], codec_spec: dict,
                       source: str, shard_tokens: int = SHARD_TOKENS, **extra: object) -> dict:
    """Write token arrays (one per split) as shards plus meta.json; return the meta."""
    folder = Path(folder)
    check_shard_count(sum(map(len, splits.values())), shard_tokens, len(splits))
    start_folder(folder)
    (folder / PROGRESS_FILE).unlink(missing_ok=True)  # a stream's record does not describe these
    records = {}
    for split, tokens in splits.items():
        writer = ShardWriter(folder, split, shard_tokens)
        writer.add(np.asarray(tokens))
        records[split] = writer.close()
    meta = make_meta(codec_spec, source, records, **extra)
    finish_folder(folder, meta)
    return meta


def check_shard_count(n_tokens: int, shard_tokens: int, n_splits: int = 2) -> None:
    """Refuse, before writing, a folder of more than MAX_SHARDS shards (see MAX_SHARDS)."""
    n_shards = -(-n_tokens // shard_tokens) + n_splits - 1  # each split's last shard may be short
    if n_shards > MAX_SHARDS:
        needed = -(-n_tokens // (MAX_SHARDS - n_splits + 1))
        raise ValueError(f"{n_tokens:,} tokens in shards of {shard_tokens:,} make about "
                         f"{n_shards:,} files, more than the {MAX_SHARDS} the loader can keep "
                         f"open at once on every system: use --shard-tokens {needed:,} or more")


def make_meta(codec_spec: dict, source: str, splits: dict[str, dict], **extra: object) -> dict:
    return {"format": FORMAT, "version": 1, "dtype": "uint16", "tokenizer": codec_spec,
            "source": source, "splits": splits, **extra}


# --- where the text comes from --------------------------------------------------------------

def text_files(paths: Sequence[Path], suffixes: Sequence[str] = TEXT_SUFFIXES) -> list[Path]:
    """The files named, and the non-empty text files (by suffix) inside the folders named, sorted.

    An empty file inside a folder adds nothing and is passed over; a file named on its own must
    be text (read_documents refuses it otherwise).
    """
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in suffixes
                            and p.stat().st_size)
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise NotTextError(f"{path} is not a regular file (a device or a pipe): pass text "
                               f"files or folders to --path")
        else:
            raise FileNotFoundError(f"no file or folder at {path}: pass existing text files or "
                                    f"folders to --path")
    if not found:
        raise FileNotFoundError(f"no non-empty {'/'.join(suffixes)} files in "
                                f"{', '.join(map(str, paths))}")
    return found


def local_documents(source: str, paths: Sequence[Path] | None,
                    offline: bool) -> tuple[list[str], str, str]:
    """(documents, a description of the source, a short name) for a built-in corpus or files.

    Files follow the course's one rule for a learner's text (phase 00's read_text_file): UTF-8,
    not empty, not binary, or refused with the reason; nothing is replaced silently.
    Tiny Shakespeare offline and not cached falls back to the standard library (phase 00's
    load_text says so); the short name then says "stdlib", so the folder is honest about it.
    """
    if paths:
        files = text_files(paths)
        docs = [read_text_file(f) for f in files]
        name = (Path(paths[0]).resolve().stem or "local") if len(paths) == 1 else "local"
        return docs, f"{len(files)} local file(s) under {', '.join(map(str, paths))}", name
    if source == "stdlib":
        return [stdlib_corpus()], "Python standard library source", "stdlib"
    text, described = load_text(source, download=not offline)
    name = "tinyshakespeare" if described.startswith("Tiny Shakespeare") else "stdlib"
    return [text], described, name


def hf_documents(dataset: str, config: str | None, split: str,
                 text_field: str) -> Iterator[str]:
    """The texts of a Hugging Face dataset, streamed (nothing is downloaded whole).

    Needs a network. Any failure to reach the Hub becomes a ConnectionError that says what to
    do offline.
    """
    try:
        from datasets import load_dataset

        stream = iter(load_dataset(dataset, config, split=split, streaming=True))
        first = next(stream)
    except Exception as err:  # the Hub's errors vary by version; all mean "could not stream"
        reason = (str(err).splitlines() or [""])[0]
        raise ConnectionError(
            f"could not stream {dataset!r} (config {config!r}, split {split!r}) from the "
            f"Hugging Face Hub: {type(err).__name__}: {reason}"
            f". Streaming needs a network (and the dataset's exact name and config). Offline, "
            f"prepare local text instead: --path your_texts/ or --source stdlib") from None
    if text_field not in first:
        raise KeyError(f"the rows of {dataset!r} have no field {text_field!r}; their fields are "
                       f"{sorted(first)}: pass one with --hf-text-field")
    yield first[text_field]
    for row in stream:
        yield row[text_field]


def dataset_folder(name: str, tokenizer: str, data_dir: Path = TOKENS_DIR) -> Path:
    """Where a prepared dataset lives: data/tokens/<name>-<tokenizer>/."""
    return Path(data_dir) / f"{name}-{tokenizer}"


def stream_name(dataset: str, config: str | None) -> str:
    """The default name of a streamed dataset's folder: its last path part and its config."""
    return re.sub(r"[^\w.-]+", "_", dataset.split("/")[-1] + (f"_{config}" if config else ""))


# Where `--hf-dataset HuggingFaceFW/fineweb-edu --hf-config sample-10BT` writes its tokens:
# under TOKENS_DIR, so it follows TFS_DATA_DIR like every data folder of the course.
FINEWEB_FOLDER = dataset_folder(stream_name("HuggingFaceFW/fineweb-edu", "sample-10BT"), "gpt2")


# --- the two ways of preparing --------------------------------------------------------------

def prepare_local(documents: list[str], tokenizer: str, folder: Path, source: str,
                  val_fraction: float = 0.1, shard_tokens: int = SHARD_TOKENS, workers: int = 1,
                  download: bool = True, verbose: bool = True) -> dict:
    """Tokenise documents held in memory; the last val_fraction of the tokens is validation."""
    if not documents or not any(documents):
        raise ValueError(f"{source} holds no text to tokenise")
    start = time.perf_counter()
    spec = char_spec(documents) if tokenizer == "char" else {"name": tokenizer}
    codec = make_codec(spec, download=download)
    n_chars = sum(map(len, documents))
    if verbose:
        print(f"   tokenizer: {codec.name}, {codec.vocab_size:,} ids; {codec.spec['built_from']}")
    with tqdm(total=n_chars, unit="char", unit_scale=True, desc="tokenising",
              disable=not verbose, leave=False, delay=1) as bar:  # after 1 s; closed on errors
        parts = list(encode_documents(documents, codec, workers, progress=bar))
    tokens = np.concatenate(parts)
    n_val = max(1, round(len(tokens) * val_fraction))
    if len(tokens) - n_val < 2:
        raise ValueError(f"{source} gives only {len(tokens)} token(s): too few to split into "
                         f"train and validation. A language model needs a longer text "
                         f"(Tiny Shakespeare has about a million characters)")
    meta = write_token_folder(folder, {"train": tokens[:-n_val], "val": tokens[-n_val:]},
                              codec.spec, source, shard_tokens, documents=len(documents),
                              characters=n_chars,
                              val_rule=f"the last {val_fraction:g} of the tokens",
                              seconds=round(time.perf_counter() - start, 3))
    return meta


def _kept_progress(folder: Path, settings: dict) -> dict:
    """What an interrupted preparation of this stream into `folder` left: the validation split
    once complete, and the training shards written, each with the point of the stream right
    after it ({"documents": consumed, "doc_tokens": of the next document, already written}).

    A shard that is missing or of the wrong size ends what is kept (the stream continues from
    the shard before it). Other settings than this run's are refused: continuing would mix two
    preparations.
    """
    path = folder / PROGRESS_FILE
    if not path.is_file():
        return {"val": None, "train": []}
    try:
        progress = json.loads(path.read_text(encoding="utf-8"))
        recorded = progress["settings"]
    except (ValueError, KeyError, TypeError):
        return {"val": None, "train": []}  # unreadable: start over, rewriting every shard
    if recorded != settings:
        differ = ", ".join(f"{k} {recorded.get(k)!r} (now {v!r})" for k, v in settings.items()
                           if recorded.get(k) != v)
        raise ValueError(f"{folder} holds a preparation made with other settings: {differ}. "
                         f"Rerun with those settings to continue it, or choose another --name "
                         f"(or delete the folder) to start over")

    def intact(shard: dict) -> bool:
        file = folder / shard["file"]
        return file.is_file() and file.stat().st_size == shard["tokens"] * TOKEN_DTYPE.itemsize

    val = progress.get("val")
    if val is None or not all(map(intact, val["shards"])):
        return {"val": None, "train": []}
    train = []
    for shard in progress.get("train", []):
        if not intact(shard):
            break
        train.append(shard)
    return {"val": val, "train": train}


def _save_progress(folder: Path, settings: dict, val: dict, train: list[dict]) -> None:
    write_json_atomic(folder / PROGRESS_FILE, {"settings": settings, "val": val, "train": train})


def prepare_stream(documents: Iterable[str], folder: Path, source: str, val_tokens: int,
                   max_tokens: int, shard_tokens: int = SHARD_TOKENS, workers: int = 1,
                   download: bool = True, verbose: bool = True) -> dict:
    """Tokenise a stream with GPT-2's tokenizer: the first val_tokens tokens are validation,
    the rest training, until max_tokens in all (documents are not cut: the last may overrun).

    Resumable shard by shard: after each shard, progress.json records the shards so far and
    where in the stream the next token comes from. Run again with the same source and settings,
    it keeps those shards, skips the documents they hold (the stream is read again up to there,
    but not tokenised) and continues; a larger max_tokens continues a finished preparation.
    """
    start = time.perf_counter()
    folder = Path(folder)
    if max_tokens <= val_tokens:
        raise ValueError(f"--max-tokens ({max_tokens:,}) must be larger than --val-tokens "
                         f"({val_tokens:,}): the training split would be empty")
    check_shard_count(max_tokens, shard_tokens)
    codec = make_codec({"name": "gpt2"}, download=download)
    settings = {"source": source, "tokenizer": codec.name, "val_tokens": val_tokens,
                "shard_tokens": shard_tokens}
    kept = _kept_progress(folder, settings)
    start_folder(folder)
    val_record = kept["val"]
    writers = {"val": ShardWriter(folder, "val", shard_tokens),
               "train": ShardWriter(folder, "train", shard_tokens, kept["train"])}
    if kept["train"]:
        skip, offset = kept["train"][-1]["documents"], kept["train"][-1]["doc_tokens"]
    else:
        skip, offset = (val_record["documents"], 0) if val_record else (0, 0)
    kept_tokens = (val_record["tokens"] if val_record else 0) + writers["train"].tokens
    if verbose and kept_tokens:
        print(f"   continuing an earlier preparation: {len(kept['train'])} training shard(s), "
              f"{kept_tokens:,} tokens and {skip:,} documents kept")
    n_docs = skip
    bar = tqdm(total=max_tokens, initial=kept_tokens, unit="tok", unit_scale=True,
               desc="tokenising", disable=not verbose, leave=False, delay=1)
    encoded = encode_documents(itertools.islice(documents, skip, None), codec, workers)
    for tokens in encoded if kept_tokens < max_tokens else ():
        if val_record is None and writers["val"].tokens >= val_tokens:
            val_record = {**writers["val"].close(), "documents": n_docs}  # complete: keep it
            _save_progress(folder, settings, val_record, [])
        if val_record is None:
            writers["val"].add(tokens)
        else:  # shard by shard, recording after each where the stream stands
            train = writers["train"]
            while offset < len(tokens):
                take = min(len(tokens) - offset, train.room)
                train.add(tokens[offset:offset + take])
                offset += take
                if train.fill == 0:  # that filled a shard, which is now on disk
                    train.shards[-1].update(documents=n_docs, doc_tokens=offset)
                    _save_progress(folder, settings, val_record, train.shards)
        offset = 0
        n_docs += 1
        bar.update(len(tokens))
        total = ((val_record["tokens"] if val_record else writers["val"].tokens)
                 + writers["train"].tokens)
        if total >= max_tokens:
            break
    encoded.close()  # stops the worker processes now, not whenever the generator is collected
    bar.close()
    if val_record is None:
        val_record = {**writers["val"].close(), "documents": n_docs}
    train_record = writers["train"].close()
    if not train_record["tokens"]:
        raise ValueError(f"{source} ran out after {val_record['tokens']} tokens, all of "
                         f"them validation: lower --val-tokens")
    if writers["train"].shards and "documents" not in writers["train"].shards[-1]:
        writers["train"].shards[-1].update(documents=n_docs, doc_tokens=0)  # the last, short
    _save_progress(folder, settings, val_record, writers["train"].shards)
    records = {"val": {"tokens": val_record["tokens"], "shards": val_record["shards"]},
               "train": {"tokens": train_record["tokens"],
                         "shards": [{k: shard[k] for k in ("file", "tokens", "sha256")}
                                    for shard in train_record["shards"]]}}
    meta = make_meta(codec.spec, source, records, documents=n_docs,
                     val_rule=f"the first {val_tokens:,} tokens of the stream",
                     seconds=round(time.perf_counter() - start, 3))
    finish_folder(folder, meta)
    return meta


def check_folder(folder: Path) -> Path:
    """The dataset folder, if it can be one: refuse a path that is a file, before any work."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file, not a folder: choose another --name or --data-dir")
    return folder


def describe(meta: dict, folder: Path) -> None:
    """Print what was written: splits, shards, fingerprints."""
    for split in SPLITS:
        record = meta["splits"][split]
        print(f"   {split:5s} {record['tokens']:>12,} tokens in {len(record['shards'])} shard(s)")
        for shard in record["shards"][:3]:
            print(f"         {shard['file']}  {shard['tokens']:>12,} tokens  sha256 "
                  f"{shard['sha256'][:16]}...")
        if len(record["shards"]) > 3:
            print(f"         ... and {len(record['shards']) - 3} more")
    print(f"   {folder / META_FILE}")


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.hf_dataset and args.tokenizer != "gpt2":
        parser.error("--hf-dataset needs --tokenizer gpt2: a character alphabet cannot be known "
                     "before the whole stream is read")
    if args.hf_dataset and args.offline:
        parser.error("--hf-dataset streams from the Hugging Face Hub and needs a network; "
                     "offline, use --path or --source")
    if args.shard_tokens < MIN_SHARD_TOKENS:
        parser.error(f"--shard-tokens must be at least {MIN_SHARD_TOKENS:,}: every shard is a "
                     f"file the loader keeps open, and tiny ones make a large source thousands "
                     f"of files (got {args.shard_tokens:,})")
    check_split_flags(parser, args)
    if args.hf_dataset and args.max_tokens <= args.val_tokens:
        parser.error(f"--max-tokens ({args.max_tokens:,}) must be larger than --val-tokens "
                     f"({args.val_tokens:,}): the training split would be empty")
    if args.name is not None and not re.fullmatch(r"\w[\w.-]*", args.name):
        parser.error(f"--name must be a plain name (letters, digits, _ . -), not a path: got "
                     f"{args.name!r}; --data-dir says where the folder goes")

    start = time.perf_counter()
    print(f"1. Source and tokenizer ({args.tokenizer})")
    folder = None
    try:
        if args.hf_dataset:
            name = args.name or stream_name(args.hf_dataset, args.hf_config)
            folder = check_folder(dataset_folder(name, args.tokenizer, args.data_dir))
            source = (f"Hugging Face {args.hf_dataset} ({args.hf_config or 'default'}, "
                      f"{args.hf_split}), streamed")
            print(f"   {source}, up to {args.max_tokens:,} tokens")
            docs = hf_documents(args.hf_dataset, args.hf_config, args.hf_split,
                                args.hf_text_field)
            meta = prepare_stream(docs, folder, source, args.val_tokens, args.max_tokens,
                                  args.shard_tokens, args.workers, download=True)
        else:
            docs, source, name = local_documents(args.source, args.path, args.offline)
            folder = check_folder(dataset_folder(args.name or name, args.tokenizer,
                                                 args.data_dir))
            print(f"   {source}: {len(docs):,} document(s), {sum(map(len, docs)):,} characters")
            meta = prepare_local(docs, args.tokenizer, folder, source, args.val_fraction,
                                 args.shard_tokens, args.workers, download=not args.offline)
    except (OSError, ValueError, KeyError, ConnectionError) as err:
        parser.exit(1, f"error: {err.args[0] if isinstance(err, KeyError) else err}\n")
    except KeyboardInterrupt:
        kept = ("the shards written so far are kept: run the same command again to continue"
                if args.hf_dataset else "run the command again to prepare it")
        parser.exit(130, f"\ninterrupted: {folder or 'the folder'} is not a finished dataset; "
                         f"{kept}\n")

    n = sum(meta["splits"][s]["tokens"] for s in SPLITS)
    print(f"\n2. Wrote {n:,} tokens to {folder}/ in {time.perf_counter() - start:.1f} s")
    if meta.get("characters"):
        print(f"   {meta['characters'] / n:.2f} characters per token")
    describe(meta, folder)
    codec = make_codec(meta["tokenizer"], download=False)
    first = np.fromfile(folder / meta["splits"]["train"]["shards"][0]["file"],
                        dtype=TOKEN_DTYPE, count=24)
    print(f"\n3. The first {len(first)} training tokens: {first.tolist()}")
    print(f"   decoded: {codec.decode(first.tolist())!r}")
    if codec.eot is not None:
        print(f"   ({ENDOFTEXT} = {codec.eot} opens every document)")
    print("\nTrain on it: python phase-08-training/code/train.py --preset shakespeare-"
          f"{args.tokenizer} --data {folder}")


# The flags that say how a streamed --hf-dataset is read and cut, with their defaults (None in
# the parser, so that main() can tell a flag the learner gave from one left alone).
STREAM_DEFAULTS = {"hf_split": "train", "hf_text_field": "text", "max_tokens": 100_000_000,
                   "val_tokens": 1_000_000}
LOCAL_DEFAULTS = {"val_fraction": 0.1}  # how a local source (--source, --path) is cut


def check_split_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse a flag that does not apply to the source chosen (a stream's --max-tokens with a
    local file would be silently ignored), then fill in the defaults of those that do."""
    wrong = LOCAL_DEFAULTS if args.hf_dataset else {**STREAM_DEFAULTS, "hf_config": None}
    given = [f"--{name.replace('_', '-')}" for name in wrong if getattr(args, name) is not None]
    if given and args.hf_dataset:
        parser.error("--val-fraction cuts a local source (--source, --path); a stream "
                     "keeps its first --val-tokens for validation and stops at --max-tokens")
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        parser.error(f"{' and '.join(given)} {verb} to a streamed --hf-dataset only; a local "
                     f"source (--source, --path) is read whole and its last --val-fraction kept "
                     f"for validation")
    for name, value in {**STREAM_DEFAULTS, **LOCAL_DEFAULTS}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def add_data_dir_flag(parser: argparse.ArgumentParser) -> None:
    """Give a script `--data-dir`: the folder that holds the prepared datasets, one sub-folder
    <name>-<tokenizer>/ each (TOKENS_DIR unless told otherwise)."""
    parser.add_argument("--data-dir", type=output_folder, default=TOKENS_DIR,
                        help="where prepared datasets live")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Tokenise text into uint16 shards + meta.json.")
    parser.add_argument("--tokenizer", choices=TOKENIZERS, default="gpt2",
                        help="gpt2 (tiktoken, 50,257 ids) or char")
    parser.add_argument("--source", choices=CORPORA, default="tinyshakespeare",
                        help="built-in corpus")
    parser.add_argument("--path", type=Path, nargs="+", default=None,
                        help="local text files or folders (their .txt/.md files) instead")
    parser.add_argument("--hf-dataset", default=None,
                        help="a Hugging Face dataset to stream, e.g. HuggingFaceFW/fineweb-edu "
                             "(needs a network; gpt2 tokens only)")
    parser.add_argument("--hf-config", default=None, help="its config, e.g. sample-10BT")
    parser.add_argument("--hf-split", default=None, help="its split (default: train)")
    parser.add_argument("--hf-text-field", default=None,
                        help="the field holding the text (default: text)")
    parser.add_argument("--max-tokens", type=positive_int, default=None,
                        help="stop a stream after this many tokens (default: 100,000,000)")
    parser.add_argument("--val-tokens", type=positive_int, default=None,
                        help="a stream's first tokens kept for validation (default: 1,000,000)")
    parser.add_argument("--val-fraction", type=fraction, default=None,
                        help="share of a local source's tokens, at its end, kept for validation "
                             "(default: 0.1)")
    parser.add_argument("--shard-tokens", type=positive_int, default=SHARD_TOKENS,
                        help=f"tokens per shard file, at least {MIN_SHARD_TOKENS:,} (default: "
                             f"{SHARD_TOKENS:,} = 200 MB)")
    parser.add_argument("--workers", type=positive_int, default=min(8, os.cpu_count() or 1),
                        help="processes that tokenise large sources (default: CPU cores, up to "
                             "8)")
    parser.add_argument("--name", default=None,
                        help="dataset name (default: from the source), written to "
                             "<data-dir>/<name>-<tokenizer>/")
    add_data_dir_flag(parser)
    parser.add_argument("--offline", action="store_true", help="never use the network")
    return parser


if __name__ == "__main__":
    main()
