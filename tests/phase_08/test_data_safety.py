"""Phase 08's data side refuses what would train on nonsense: damaged shards, tokens outside the
vocabulary, text that is not text, and it keeps the promise of one pass (every sequence once)."""

import os
from pathlib import Path

import numpy as np
import pytest

import phase08.loader as loader_module
from phase08.loader import VERIFY_FILE, BatchLoader, ShardError, TokenShards
from phase08.prepare_data import write_token_folder

RAW = {"name": "raw ids", "vocab_size": 2**16}  # a tokenizer that accepts every uint16


def flip_keeping_time(path: Path, byte: int, mask: int) -> None:
    """Flip bits of one byte and put the modification time back, as silent damage would."""
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[byte] ^= mask
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_shards_are_hashed_once_then_only_when_changed(char_data: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = []
    real_hash = loader_module._shard_hash
    monkeypatch.setattr(loader_module, "_shard_hash",
                        lambda path: hashed.append(path.name) or real_hash(path))
    n_train = len(list(char_data.glob("train_*.bin")))
    TokenShards(char_data)
    assert len(hashed) == n_train and (char_data / VERIFY_FILE).is_file()  # the first use
    TokenShards(char_data)
    assert len(hashed) == n_train  # the second start hashes nothing
    shard = char_data / "train_000001.bin"
    os.utime(shard, ns=(shard.stat().st_atime_ns, shard.stat().st_mtime_ns + 10**9))
    TokenShards(char_data)
    assert hashed[n_train:] == ["train_000001.bin"]  # only the shard whose time changed
    TokenShards(char_data, verify="always")
    assert len(hashed) == 2 * n_train + 1
    with pytest.raises(ValueError, match="verify"):
        TokenShards(char_data, verify="sometimes")


def test_silent_damage_is_stopped_at_read_time_naming_the_shard(char_data: Path) -> None:
    TokenShards(char_data)  # hashed and recorded
    shard = char_data / "train_000001.bin"
    flip_keeping_time(shard, byte=2 * 17 + 1, mask=0x80)  # token 17 of the shard: id + 32,768
    shards = TokenShards(char_data)  # same size, same time: the record vouches for it
    start = int(shards.starts[1])
    assert shards.read(start, 17).max() < shards.vocab_size  # the tokens before it are fine
    with pytest.raises(ShardError, match=r"train_000001\.bin holds the token id \d+ at token 17"
                                         r".*Prepare the data again"):
        shards.read(start, 18)
    with pytest.raises(ShardError, match="prepare|Prepare"):
        BatchLoader(shards, 8, 32, position=start - 5).next_batch()  # as training reads it
    with pytest.raises(ShardError, match="SHA-256"):
        TokenShards(char_data, verify="always")  # a full check finds it too


@pytest.mark.parametrize("world", [1, 2])
def test_a_shuffled_pass_at_the_defaults_reads_every_sequence_once(tmp_path: Path,
                                                                   world: int) -> None:
    # shakespeare-char: Tiny Shakespeare's 1,003,855 training characters, context 64,
    # micro-batches of 32, windows of 16,384 sequences: more than the 15,685 of a pass
    N, B, T, shuffle = 1_003_855, 32, 64, 16_384
    folder = tmp_path / "zeros"
    write_token_folder(folder, {"train": np.zeros(N), "val": np.zeros(100)}, RAW, "zeros",
                       shard_tokens=300_000)
    shards = TokenShards(folder)
    ranks = [BatchLoader(shards, B, T, rank, world, shuffle=shuffle, seed=1337)
             for rank in range(world)]
    S = N // T
    assert ranks[0].sequences_per_pass == S == 15_685
    read = []  # every sequence start, in the order the world reads them
    while len(read) < 2 * S + 5 * B:  # two whole passes and a little of the third
        for loader in ranks:  # what next_batch reads, without reading the zeros
            read.append(loader.sequence_starts())
            loader.position += loader.tokens_per_step
    order = np.concatenate(read)
    every = np.arange(S) * T
    first, second = order[:S], order[S:2 * S]
    assert np.array_equal(np.sort(first), every)  # the first pass: each sequence once
    assert np.array_equal(np.sort(second), every)  # and the second
    assert not np.array_equal(first, second)  # in another order
    assert not np.array_equal(first[:B], every[:B])  # not in order
    assert order.max() + T <= S * T  # no sequence runs into the last N mod T = 15 tokens
    assert ranks[0].epoch == pytest.approx(len(order) / S)
