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
it read last. So `shuffle=n` deals out each window of n sequences in a random order, and every
token is still read once per pass. On Tiny Shakespeare (shakespeare-char, 1,200 steps) the
validation loss ended at 1.876 read in order and at 1.680 with windows of 16,384 sequences,
which at a context of 64 is one whole pass.

Run:  python phase-08-training/code/loader.py --data data/tokens/tinyshakespeare-char
"""

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from phase00.flags import nonnegative_int, positive_int
from phase08.prepare_data import FORMAT, META_FILE, TOKEN_DTYPE, TOKENS_DIR, make_codec


def read_meta(folder: Path) -> dict:
    """meta.json of a prepared folder, with errors that say what is wrong and what to do."""
    folder = Path(folder)
    path = folder / META_FILE
    if not path.is_file():
        why = "the folder does not exist" if not folder.is_dir() else f"it has no {META_FILE}"
        raise FileNotFoundError(
            f"no prepared tokens at {folder} ({why}; a preparation that did not finish leaves "
            f"no {META_FILE}). Prepare them with: python phase-08-training/code/"
            f"prepare_data.py --tokenizer char   (or --tokenizer gpt2, --path your_texts/)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}): prepare the data again") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("dtype") != "uint16":
        raise ValueError(f"{path} does not describe token shards written by prepare_data.py "
                         f"(expected format {FORMAT!r} with dtype uint16)")
    return meta


class TokenShards:
    """One split of a prepared folder, memory-mapped, seen as one long array of N tokens.

    verify=True also recomputes every shard's SHA-256 (reads every byte once); without it,
    each shard is checked by size, which catches a truncated or half-written file.
    """

    def __init__(self, folder: Path, split: str = "train", verify: bool = False) -> None:
        self.folder, self.split = Path(folder), split
        self.meta = read_meta(self.folder)
        if split not in self.meta["splits"]:
            raise ValueError(f"{self.folder} has no split {split!r}; it has "
                             f"{sorted(self.meta['splits'])}")
        self.maps: list[np.memmap] = []
        sizes = []
        for shard in self.meta["splits"][split]["shards"]:
            path = self.folder / shard["file"]
            expected = shard["tokens"] * TOKEN_DTYPE.itemsize
            found = path.stat().st_size if path.is_file() else None
            if found != expected:
                state = "is missing" if found is None else f"holds {found:,} bytes"
                raise ValueError(f"shard {path} {state}, but {META_FILE} says {shard['tokens']:,}"
                                 f" tokens ({expected:,} bytes): it is incomplete or from another"
                                 f" preparation. Prepare the data again.")
            if verify and hashlib.sha256(path.read_bytes()).hexdigest() != shard["sha256"]:
                raise ValueError(f"shard {path} has the right size but not the SHA-256 recorded "
                                 f"in {META_FILE}: it was changed. Prepare the data again.")
            self.maps.append(np.memmap(path, dtype=TOKEN_DTYPE, mode="r"))
            sizes.append(shard["tokens"])
        if not sizes:
            raise ValueError(f"the {split} split of {self.folder} holds no tokens")
        self.starts = np.concatenate([[0], np.cumsum(sizes)])  # shard k holds [starts[k], +1)
        self.n_tokens = int(self.starts[-1])
        digests = "".join(s["sha256"] for s in self.meta["splits"][split]["shards"])
        self.fingerprint = hashlib.sha256(digests.encode()).hexdigest()[:16]

    @property
    def tokenizer(self) -> dict:
        return self.meta["tokenizer"]

    def __len__(self) -> int:
        return self.n_tokens

    def read(self, start: int, length: int) -> np.ndarray:
        """Tokens start, start+1, ..., start+length-1 of the endless stream (positions wrap
        around the split), as int64, crossing shard ends and the split's end as needed."""
        out = np.empty(length, dtype=np.int64)
        filled, pos = 0, start % self.n_tokens
        while filled < length:
            k = int(np.searchsorted(self.starts, pos, side="right")) - 1  # the shard holding pos
            take = min(length - filled, int(self.starts[k + 1]) - pos)
            offset = pos - int(self.starts[k])
            out[filled:filled + take] = self.maps[k][offset:offset + take]
            filled += take
            pos = (pos + take) % self.n_tokens
        return out


class BatchLoader:
    """Batches (x, y) of shape (batch, context) for rank `rank` of `world`, in stream order.

    position: input tokens the whole world has consumed so far (the loader's entire state).
    shuffle: 0 reads the sequences in order. n > 0 cuts the stream of sequences into windows
    of n and deals each window out in a random order (seeded by `seed` and the window's
    number), so a batch holds pieces of text far apart instead of one long passage, while every
    token is still read once per pass and by one rank only. The order depends on the sequences
    consumed, not on how they are grouped: 4 micro-batches of 2 read what 1 batch of 8 reads.
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
    def epoch(self) -> float:
        """Passes over the split so far (1.0 = every token seen once as an input)."""
        return self.position / self.shards.n_tokens

    def sequence_starts(self) -> np.ndarray:
        """Where in the stream this rank's B sequences of the next batch begin.

        Sequence g of the endless stream is tokens [g*T, g*T + T). In order, this rank reads
        the next B of them after the ranks before it. Shuffled, the sequences of each window
        of `shuffle` (g // shuffle = window k) are dealt out by a permutation seeded by (seed, k).
        """
        B, T = self.batch, self.context
        g = self.position // T + self.rank * B + np.arange(B)  # this rank's sequence numbers
        if not self.shuffle:
            return self.position + self.rank * B * T + T * np.arange(B)
        if self.position % T:
            raise ValueError(f"position {self.position} is not a whole number of sequences of "
                             f"{T} tokens: resume a shuffled run with the same context")
        window, slot = np.divmod(g, self.shuffle)
        starts = np.empty(B, dtype=np.int64)
        for k in np.unique(window):
            if self._order[0] != k:  # one permutation per window, drawn when first needed
                self._order = (k, np.random.default_rng([self.seed, int(k)])
                               .permutation(self.shuffle))
            here = window == k
            starts[here] = (k * self.shuffle + self._order[1][slot[here]]) * T
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
    parser = argparse.ArgumentParser(description="Read batches from token shards, as two ranks "
                                                 "would.")
    parser.add_argument("--data", type=Path, default=TOKENS_DIR / "tinyshakespeare-char",
                        help="a folder written by prepare_data.py (default: "
                             "data/tokens/tinyshakespeare-char)")
    parser.add_argument("--batch", type=positive_int, default=2, help="sequences per batch "
                                                                     "(default: 2)")
    parser.add_argument("--context", type=positive_int, default=16,
                        help="tokens per sequence (default: 16)")
    parser.add_argument("--world", type=positive_int, default=2,
                        help="ranks sharing the data (default: 2)")
    parser.add_argument("--steps", type=positive_int, default=2, help="batches to show "
                                                                     "(default: 2)")
    parser.add_argument("--position", type=nonnegative_int, default=0,
                        help="start here, as a resumed run would (default: 0)")
    args = parser.parse_args(argv)
    try:
        train = TokenShards(args.data, "train", verify=True)
        val = TokenShards(args.data, "val")
    except (FileNotFoundError, ValueError) as err:
        parser.exit(1, f"error: {err}\n")
    codec = make_codec(train.tokenizer, download=False)
    print(f"1. {args.data}: {train.meta['source']}")
    print(f"   tokenizer {codec.name} ({codec.vocab_size:,} ids); train {len(train):,} tokens "
          f"in {len(train.maps)} shard(s), val {len(val):,}; every shard's SHA-256 verified")
    print(f"   memory-mapped: {type(train.maps[0]).__name__} of dtype {train.maps[0].dtype}, "
          f"{train.maps[0].nbytes:,} bytes on disk, read only when touched")

    B, T, W = args.batch, args.context, args.world
    loaders = [BatchLoader(train, B, T, rank, W, args.position) for rank in range(W)]
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


if __name__ == "__main__":
    main()
