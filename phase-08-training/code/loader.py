"""Reading token shards: memory-mapped, in order, shared by several processes, resumable.

prepare_data.py wrote each split as uint16 shards. This file reads them back for training:

- Memory mapping (`np.memmap`): the operating system maps a shard file into the address space
  and reads from disk only the pages a batch touches. Opening 20 GB of tokens is instant and
  costs no RAM; the operating system's page cache does the rest.
- A split is ONE long stream of tokens, shard after shard. A window that crosses the end of a
  shard simply continues in the next one, so no token is wasted at shard ends; a window that
  runs past the end of the split continues at its beginning (the next pass, or "epoch").
- A batch of B sequences of T tokens needs B*T + 1 tokens: inputs x are tokens [0, B*T) and
  targets y are tokens [1, B*T + 1), each target the token after its input. The next batch
  starts where this one's inputs stopped, so every token is an input exactly once per pass.
- Several processes ("ranks", numbered 0..world-1, as in part 2's DDP training) share the
  stream: each step, the world reads the next world*B*T tokens, and rank r takes the r-th
  slice of B*T of them. No two ranks read the same input token, and together they read
  everything in order (the tests check both).
- The whole state of the loader is ONE integer, `position`: how many input tokens the world has
  consumed. A checkpoint stores it, and a resumed run reads exactly the batches the
  uninterrupted run would have read. It counts tokens, not batches, so a run may even resume
  with another batch size or number of ranks and still continue where it stopped.

Why in order, not random windows as in phase 07? At GPT-2's scale a run sees each token about
once, and reading in order is the simplest way to be sure of that; it is also what a disk does
best. But in order, one batch is one long passage, and consecutive batches are neighbouring
passages: on a small corpus read many times, the model drifts towards whatever part of the text
it read last. So `shuffle=n` cuts the split into its whole sequences of T tokens (a pass: the
N // T sequences; the last N mod T tokens, fewer than one sequence, are never an input when
shuffled), deals out each window of n of them in a random order, and keeps every window inside
its pass: a window larger than a pass is one whole pass, and the last window of a pass is
shorter. So every sequence of the pass is read exactly once per pass, whatever n is. On Tiny
Shakespeare (shakespeare-char, 1,200 steps) the validation loss ended at 1.876 read in order and
at 1.663 with windows of 16,384 sequences, which at a context of 64 is one whole pass (15,685).

Checks, so that training never runs on damaged data: every shard must have exactly the size
meta.json gives it (always); its SHA-256 is compared with meta.json's the first time the folder
is used, and again only when the shard's size or modification time changes (verify="once", the
default, remembered in verified.json); and every token read must be a valid id of the tokenizer,
which stops an out-of-range id from a shard damaged without changing its size or time at the
batch that reads it.

Run:  python phase-08-training/code/loader.py --data data/tokens/tinyshakespeare-char
"""

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from phase00.corpus import write_atomically
from phase00.flags import check_fits_in_memory, nonnegative_int, positive_int, script_parser
from phase08.prepare_data import FORMAT, META_FILE, TOKEN_DTYPE, TOKENS_DIR, VERIFY_FILE, make_codec


def read_meta(folder: Path) -> dict:
    """meta.json of a prepared folder, with errors that say what is wrong and what to do."""
    folder = Path(folder)
    path = folder / META_FILE
    if not path.is_file():
        why = ("it is a file, not a folder" if folder.is_file() else "the folder does not "
               "exist" if not folder.is_dir() else f"it has no {META_FILE}; a preparation "
               f"that did not finish leaves none")
        raise FileNotFoundError(
            f"no prepared tokens at {folder} ({why}). Prepare them with: python "
            f"phase-08-training/code/prepare_data.py --tokenizer char   (or --tokenizer gpt2, "
            f"--path your_texts/)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}): prepare the data again") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("dtype") != "uint16":
        raise ValueError(f"{path} does not describe token shards written by prepare_data.py "
                         f"(expected format {FORMAT!r} with dtype uint16)")
    return meta


VERIFY_MODES = ("size", "once", "always")


class ShardError(ValueError):
    """A shard that is missing, incomplete, changed, or holds ids its tokenizer does not have."""


def _shard_hash(path: Path) -> str:
    """SHA-256 of a file, read in pieces of 16 MB (a shard may be larger than memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def _read_verified(folder: Path) -> dict:
    """verified.json's records ({file: {"bytes", "mtime_ns", "sha256"}}), or {} if unusable."""
    try:
        record = json.loads((folder / VERIFY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write_verified(folder: Path, record: dict) -> None:
    """Write verified.json atomically, under a temporary name of this process's own (several
    ranks may verify at once). A read-only folder is no error: the shards are then hashed again
    at the next start."""
    try:
        write_atomically(folder / VERIFY_FILE, (json.dumps(record, indent=1) + "\n").encode())
    except OSError:
        pass


class TokenShards:
    """One split of a prepared folder, memory-mapped, seen as one long array of N tokens.

    What is checked when it opens, by `verify`:
    - always: every shard meta.json lists exists and holds exactly 2 bytes per token it lists
      (catches a missing, truncated or half-written shard);
    - "once" (the default): each shard's SHA-256 is compared with meta.json's, but a shard is
      hashed only if verified.json (beside meta.json) has no record of it with the same size,
      modification time (st_mtime_ns) and SHA-256: the first time a folder is used, and after a
      shard was rewritten. Later starts cost one stat() per shard;
    - "always" (or True): every shard is hashed now (reads every byte once);
    - "size" (or False): sizes only.
    And at every read: no token id may reach the tokenizer's vocabulary size. A shard changed
    without changing its size or modification time (a flipped bit, the time put back) passes the
    checks above; this one stops it at the first batch that reads an id out of range (a flipped
    bit in the high byte of a character id always gives one; a GPT-2 id, when the flip takes it
    to 50,257 or more), naming the shard, instead of an "index out of range" deep in the model.
    """

    def __init__(self, folder: Path, split: str = "train", verify: str | bool = "once") -> None:
        verify = {True: "always", False: "size"}.get(verify, verify)
        if verify not in VERIFY_MODES:
            raise ValueError(f"verify must be one of {VERIFY_MODES}, got {verify!r}")
        self.folder, self.split = Path(folder), split
        self.meta = read_meta(self.folder)
        if split not in self.meta["splits"]:
            raise ValueError(f"{self.folder} has no split {split!r}; it has "
                             f"{sorted(self.meta['splits'])}")
        shards = self.meta["splits"][split]["shards"]
        self.paths = [self.folder / shard["file"] for shard in shards]
        for shard, path in zip(shards, self.paths, strict=True):
            expected = shard["tokens"] * TOKEN_DTYPE.itemsize
            found = path.stat().st_size if path.is_file() else None
            if found != expected:
                state = "is missing" if found is None else f"holds {found:,} bytes"
                raise ShardError(f"shard {path} {state}, but {META_FILE} says {shard['tokens']:,}"
                                 f" tokens ({expected:,} bytes): it is incomplete or from another"
                                 f" preparation. Prepare the data again.")
        if verify != "size":
            self._verify_hashes(shards, recheck_all=verify == "always")
        self.maps = [np.memmap(path, dtype=TOKEN_DTYPE, mode="r") for path in self.paths]
        sizes = [shard["tokens"] for shard in shards]
        if not sizes or not sum(sizes):
            raise ValueError(f"the {split} split of {self.folder} holds no tokens")
        self.starts = np.concatenate([[0], np.cumsum(sizes)])  # shard k holds [starts[k], +1)
        self.n_tokens = int(self.starts[-1])
        digests = "".join(s["sha256"] for s in shards)
        self.fingerprint = hashlib.sha256(digests.encode()).hexdigest()[:16]
        spec = self.meta["tokenizer"]
        self.vocab_size: int | None = spec.get("vocab_size") or (len(spec["chars"]) if
                                                                 spec.get("chars") else None)

    def _verify_hashes(self, shards: list[dict], recheck_all: bool) -> None:
        """Compare shards' SHA-256 with meta.json's, skipping those verified.json vouches for."""
        record = _read_verified(self.folder)
        changed = False
        for shard, path in zip(shards, self.paths, strict=True):
            stat = path.stat()
            seen = {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": shard["sha256"]}
            if not recheck_all and record.get(shard["file"]) == seen:
                continue  # hashed before, and neither its size nor its time changed since
            if _shard_hash(path) != shard["sha256"]:
                raise ShardError(f"shard {path} has the right size but not the SHA-256 "
                                 f"recorded in {META_FILE}: it was changed. Prepare the data "
                                 f"again.")
            record[shard["file"]], changed = seen, True
        if changed:
            _write_verified(self.folder, record)

    @property
    def tokenizer(self) -> dict:
        return self.meta["tokenizer"]

    def __len__(self) -> int:
        return self.n_tokens

    def read(self, start: int, length: int) -> np.ndarray:
        """Tokens start, start+1, ..., start+length-1 of the endless stream (positions wrap
        around the split), as int64, crossing shard ends and the split's end as needed.

        Raises ShardError if an id is not below the tokenizer's vocabulary size (_check_ids,
        on every piece before it is copied)."""
        out = np.empty(length, dtype=np.int64)
        filled, pos = 0, start % self.n_tokens
        while filled < length:
            k = int(np.searchsorted(self.starts, pos, side="right")) - 1  # the shard holding pos
            take = min(length - filled, int(self.starts[k + 1]) - pos)
            offset = pos - int(self.starts[k])
            piece = self.maps[k][offset:offset + take]
            self._check_ids(piece, k, offset)
            out[filled:filled + take] = piece
            filled += take
            pos = (pos + take) % self.n_tokens
        return out

    def _check_ids(self, piece: np.ndarray, k: int, offset: int) -> None:
        """Raise ShardError, naming the shard and the position, if `piece` (tokens offset,
        offset+1, ... of shard k) holds an id the tokenizer does not have. The one max() per
        piece read is cheap next to the copy."""
        if self.vocab_size is not None and int(piece.max()) >= self.vocab_size:
            bad = offset + int(np.argmax(piece >= self.vocab_size))
            raise ShardError(
                f"shard {self.paths[k]} holds the token id {int(self.maps[k][bad])} at "
                f"token {bad:,}, but its tokenizer has only {self.vocab_size:,} ids: the "
                f"shard is damaged. Prepare the data again (prepare_data.py).")


class BatchLoader:
    """Batches (x, y) of shape (batch, context) for rank `rank` of `world`, in stream order.

    position: input tokens the whole world has consumed so far (the loader's entire state).
    shuffle: 0 reads the stream in order: every token is an input exactly once per pass of N
    tokens. n > 0 reads whole sequences instead: a pass is the N // T sequences of the split,
    cut into windows of n sequences (the last window of a pass is shorter; a window larger
    than a pass is the whole pass), and each window is dealt out in a random order (seeded by
    `seed` and the window's number), so a batch holds pieces of text far apart instead of one
    long passage, while every sequence of the pass is read exactly once per pass, by one rank
    only. The last N mod T tokens of the split (fewer than T) are never an input when shuffled.
    The order depends on the sequences consumed, not on how they are grouped: 4 micro-batches
    of 2 read what 1 batch of 8 reads.
    """

    def __init__(self, shards: TokenShards, batch: int, context: int, rank: int = 0,
                 world: int = 1, position: int = 0, shuffle: int = 0, seed: int = 0) -> None:
        if not 0 <= rank < world:
            raise ValueError(f"rank must be in 0..{world - 1}, got {rank}")
        if shards.n_tokens < context + 1:
            raise ValueError(f"the {shards.split} split of {shards.folder} has "
                             f"{shards.n_tokens:,} tokens, fewer than one sequence of "
                             f"context + 1 = {context + 1}: use a shorter context or more text")
        self.shards, self.batch, self.context = shards, batch, context
        self.rank, self.world, self.position = rank, world, position
        self.shuffle, self.seed = shuffle, seed
        self._order: tuple[int, np.ndarray | None] = (-1, None)  # (window, its permutation)

    @property
    def tokens_per_step(self) -> int:
        """Input tokens the world consumes per batch: world * batch * context."""
        return self.world * self.batch * self.context

    @property
    def sequences_per_pass(self) -> int:
        """Whole sequences of T tokens in the split: a shuffled pass reads each of them once."""
        return self.shards.n_tokens // self.context

    @property
    def tokens_per_pass(self) -> int:
        """Input tokens of one pass: all N in order, the whole sequences' when shuffled."""
        if not self.shuffle:
            return self.shards.n_tokens
        return self.sequences_per_pass * self.context

    @property
    def epoch(self) -> float:
        """Passes over the split so far (1.0 = every token, or every sequence, read once)."""
        return self.position / self.tokens_per_pass

    def sequence_starts(self) -> np.ndarray:
        """Where in the split this rank's B sequences of the next batch begin.

        In order, this rank reads the next B * T tokens of the stream after the ranks before
        it. Shuffled, sequence number g (counted from the start of the run) is place
        i = g mod S of pass g // S, where S = N // T; place i lies in window j = i // n of the
        pass, and the permutation of that window, seeded by (seed, the window's number since
        the start), says which of the window's sequences is read there.
        """
        B, T = self.batch, self.context
        if self.shuffle and self.position % T:
            raise ValueError(f"position {self.position} is not a whole number of sequences of "
                             f"{T} tokens: resume a shuffled run with the same context")
        if not self.shuffle:
            return self.position + self.rank * B * T + T * np.arange(B)
        S = self.sequences_per_pass
        n = min(self.shuffle, S)  # a window never reaches into the next pass
        windows_per_pass = -(-S // n)  # the last one holds what is left: S - (that - 1) * n
        g = self.position // T + self.rank * B + np.arange(B)  # this rank's sequence numbers
        pass_number, place = np.divmod(g, S)
        window, slot = np.divmod(place, n)
        number = pass_number * windows_per_pass + window  # windows since the start of the run
        starts = np.empty(B, dtype=np.int64)
        for k in np.unique(number):
            here = number == k
            j = int(window[here][0])
            if self._order[0] != k:  # one permutation per window, drawn when first needed
                size = min(n, S - j * n)
                self._order = (int(k), np.random.default_rng([self.seed, int(k)])
                               .permutation(size))
            starts[here] = (j * n + self._order[1][slot[here]]) * T
        return starts

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        B, T = self.batch, self.context
        starts = self.sequence_starts()
        if self.shuffle:  # B separate reads of T + 1 tokens
            rows = torch.from_numpy(np.stack([self.shards.read(s, T + 1) for s in starts]))
            x, y = rows[:, :-1], rows[:, 1:]
        else:  # one read of B * T + 1 tokens: the rows are consecutive
            window = torch.from_numpy(self.shards.read(int(starts[0]), B * T + 1))
            x, y = window[:-1].view(B, T), window[1:].view(B, T)
        self.position += self.tokens_per_step
        assert x.shape == y.shape == (B, T)  # y: each the token after its input in x
        return x, y

    def state_dict(self) -> dict:
        """Plain types for a checkpoint: where we are, and which data this position is in."""
        return {"position": self.position, "split": self.shards.split,
                "tokens": self.shards.n_tokens, "fingerprint": self.shards.fingerprint}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a checkpoint's position; refuse if the data is not the same."""
        if (state.get("fingerprint"), state.get("tokens")) != (self.shards.fingerprint,
                                                                self.shards.n_tokens):
            raise ValueError(
                f"the checkpoint was trained on other data ({state.get('tokens')} tokens, "
                f"fingerprint {state.get('fingerprint')}) than the {self.shards.split} split of "
                f"{self.shards.folder} ({self.shards.n_tokens} tokens, fingerprint "
                f"{self.shards.fingerprint}): resuming on it would not continue the same run")
        self.position = int(state["position"])


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    B, T, W = args.batch, args.context, args.world
    try:  # each rank's batch: B * T + 1 tokens as int64, then inputs and targets beside them
        check_fits_in_memory(W * (B * T + 1) * 8 * 3, f"--batch {B} x --context {T} x "
                                                      f"--world {W}")
    except ValueError as err:
        parser.error(str(err))
    try:
        train = TokenShards(args.data, "train", verify="always")
        val = TokenShards(args.data, "val")
        loaders = [BatchLoader(train, B, T, rank, W, args.position) for rank in range(W)]
    except (FileNotFoundError, ValueError) as err:
        parser.exit(1, f"error: {err}\n")
    codec = make_codec(train.tokenizer, download=False)
    print(f"1. {args.data}: {train.meta['source']}")
    print(f"   tokenizer {codec.name} ({codec.vocab_size:,} ids); train {len(train):,} tokens "
          f"in {len(train.maps)} shard(s), val {len(val):,}; every shard's SHA-256 verified")
    print(f"   memory-mapped: {type(train.maps[0]).__name__} of dtype {train.maps[0].dtype}, "
          f"{train.maps[0].nbytes:,} bytes on disk, read only when touched")

    print(f"\n2. {W} ranks, batches of {B} x {T}: each step the world reads {W * B * T} tokens")
    for step in range(args.steps):
        for loader in loaders:
            start = loader.position + loader.rank * B * T
            x, y = loader.next_batch()
            print(f"   step {step} rank {loader.rank}: tokens [{start}, {start + B * T}) "
                  f"x {tuple(x.shape)}  first row {codec.decode(x[0].tolist())!r}")
            print(f"   {'':16s}targets = inputs moved by one: "
                  f"{bool((x[0, 1:] == y[0, :-1]).all())}")
    state = loaders[0].state_dict()
    print(f"\n3. The state a checkpoint keeps: {state}")
    print(f"   epoch {loaders[0].epoch:.6f}: {loaders[0].position:,} of {len(train):,} tokens "
          f"read once")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("Read batches from token shards, as two ranks would.")
    parser.add_argument("--data", type=Path, default=TOKENS_DIR / "tinyshakespeare-char",
                        help="a folder written by prepare_data.py (default: "
                             "data/tokens/tinyshakespeare-char)")
    parser.add_argument("--batch", type=positive_int, default=2, help="sequences per batch")
    parser.add_argument("--context", type=positive_int, default=16, help="tokens per sequence")
    parser.add_argument("--world", type=positive_int, default=2, help="ranks sharing the data")
    parser.add_argument("--steps", type=positive_int, default=2, help="batches to show")
    parser.add_argument("--position", type=nonnegative_int, default=0,
                        help="start here, as a resumed run would")
    return parser


if __name__ == "__main__":
    main()
