"""The memory-mapped loader: every token once per pass, ranks disjoint, resumable position."""

from pathlib import Path

import numpy as np
import pytest
import torch

from phase08.loader import BatchLoader, ShardError, TokenShards
from phase08.prepare_data import write_token_folder

SPEC = {"name": "positions", "vocab_size": 2**16}  # any tokenizer: these tests read raw ids


def positions_folder(tmp_path: Path, n_train: int, shard_tokens: int) -> Path:
    """A split whose token at position i is i itself: every batch shows where it read."""
    folder = tmp_path / f"positions-{n_train}"
    write_token_folder(folder, {"train": np.arange(n_train), "val": np.arange(50)}, SPEC,
                       "positions", shard_tokens)
    return folder


def test_one_pass_covers_every_token_once_with_two_disjoint_ranks(tmp_path: Path) -> None:
    B, T, W, N = 3, 10, 2, 1200  # 60 tokens a step: a pass is exactly 20 steps
    shards = TokenShards(positions_folder(tmp_path, N, shard_tokens=97))  # 13 uneven shards
    assert len(shards.maps) == 13
    ranks = [BatchLoader(shards, B, T, rank, W) for rank in range(W)]
    seen = [[], []]
    for _ in range(N // (W * B * T)):
        for rank, loader in enumerate(ranks):
            x, y = loader.next_batch()
            assert x.shape == y.shape == (B, T) and x.dtype == torch.int64
            assert torch.equal(y, (x + 1) % N)  # targets: the next token, across shard ends
            seen[rank] += x.flatten().tolist()
    assert not set(seen[0]) & set(seen[1])  # no token read by both ranks
    assert sorted(seen[0] + seen[1]) == list(range(N))  # every token exactly once
    assert ranks[0].epoch == ranks[1].epoch == 1.0


def test_the_world_reads_the_stream_in_order_and_wraps(tmp_path: Path) -> None:
    B, T, W, N = 2, 7, 2, 500  # 28 tokens a step, which does not divide 500
    shards = TokenShards(positions_folder(tmp_path, N, shard_tokens=64))
    ranks = [BatchLoader(shards, B, T, rank, W) for rank in range(W)]
    stream = []
    for _ in range(40):  # more than two passes
        for loader in ranks:
            stream += loader.next_batch()[0].flatten().tolist()
    assert stream == [i % N for i in range(40 * W * B * T)]  # no gap, no repeat, no waste


def test_a_read_crosses_shard_ends_and_wraps_at_the_end_of_the_split(tmp_path: Path) -> None:
    shards = TokenShards(positions_folder(tmp_path, 500, shard_tokens=64))  # 7 x 64, then 52
    assert shards.read(60, 10).tolist() == list(range(60, 70))  # across the end of shard 0
    assert shards.read(0, 500).tolist() == list(range(500))  # the whole split, every shard
    assert shards.read(490, 30).tolist() == [*range(490, 500), *range(20)]  # the next pass
    assert shards.read(1003, 5).tolist() == list(range(3, 8))  # positions are taken mod N
    assert shards.read(7, 3).dtype == np.int64
    small = tmp_path / "small-vocab"  # ids must stay below the vocabulary: 70 is not
    write_token_folder(small, {"train": [1, 2, 3, 70, 4], "val": [1, 2]},
                       {"name": "tiny", "vocab_size": 50}, "made up", shard_tokens=2)
    assert TokenShards(small).read(0, 3).tolist() == [1, 2, 3]
    with pytest.raises(ShardError, match=r"train_000001\.bin holds the token id 70 at token 1"):
        TokenShards(small).read(1, 3)


def test_position_is_the_whole_state(tmp_path: Path) -> None:
    shards = TokenShards(positions_folder(tmp_path, 300, shard_tokens=50))
    a = BatchLoader(shards, 4, 8)
    for _ in range(5):
        a.next_batch()
    b = BatchLoader(shards, 4, 8)
    b.load_state_dict(a.state_dict())
    for _ in range(3):
        assert all(torch.equal(u, v) for u, v in zip(a.next_batch(), b.next_batch(),
                                                     strict=True))


def test_other_data_is_refused_on_resume(tmp_path: Path) -> None:
    a = BatchLoader(TokenShards(positions_folder(tmp_path, 300, 50)), 2, 4)
    b = BatchLoader(TokenShards(positions_folder(tmp_path, 301, 50)), 2, 4)
    with pytest.raises(ValueError, match="other data"):
        b.load_state_dict(a.state_dict())


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="prepare_data.py"):
        TokenShards(tmp_path / "nowhere")
    shards = TokenShards(positions_folder(tmp_path, 20, 50))
    with pytest.raises(ValueError, match="context"):
        BatchLoader(shards, 1, 32)
    with pytest.raises(ValueError, match="no split"):
        TokenShards(positions_folder(tmp_path, 20, 50), "test")


def test_shuffled_windows_still_cover_every_token_once(tmp_path: Path) -> None:
    B, T, W, N = 3, 10, 2, 1200  # 6 sequences a step; windows of 45: not a whole step
    shards = TokenShards(positions_folder(tmp_path, N, shard_tokens=97))
    ranks = [BatchLoader(shards, B, T, rank, W, shuffle=45, seed=7) for rank in range(W)]
    seen = [[], []]
    for _ in range(45 * 2 // (W * B)):  # two windows: 900 tokens, each read once
        for rank, loader in enumerate(ranks):
            x, y = loader.next_batch()
            assert torch.equal(y, (x + 1) % N)
            seen[rank] += x.flatten().tolist()
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(900))
    first_rows = [row[0] for row in np.array(seen[0]).reshape(-1, T)[:B]]
    assert first_rows != [0, T, 2 * T]  # not in order: the first batch mixes the window
    again = BatchLoader(shards, B, T, 0, W, position=ranks[0].position - W * B * T,
                        shuffle=45, seed=7)  # resumed one step back: the same last batch
    assert again.next_batch()[0].flatten().tolist() == seen[0][-B * T:]
    with pytest.raises(ValueError, match="same context"):
        BatchLoader(shards, B, T, 0, W, position=7, shuffle=45).next_batch()


def test_every_pass_of_a_shuffled_run_reads_each_sequence_once(tmp_path: Path) -> None:
    """1,200 tokens hold S = 120 sequences of 10; windows of 45 do not divide them (45, 45, 30).
    Over two whole passes, two ranks of 3: each pass reads every sequence exactly once, in
    another order the second time. (Numbering the windows across the run instead of within each
    pass reads 111 of the 120 in the first pass, 9 of them twice.)"""
    B, T, W, N = 3, 10, 2, 1200
    shards = TokenShards(positions_folder(tmp_path, N, shard_tokens=97))
    ranks = [BatchLoader(shards, B, T, rank, W, shuffle=45, seed=7) for rank in range(W)]
    starts: list[int] = []
    for _ in range(2 * (N // T) // (W * B)):  # two passes of 20 steps
        for loader in ranks:
            starts += loader.next_batch()[0][:, 0].tolist()
    first, second = starts[:N // T], starts[N // T:]
    assert sorted(first) == list(range(0, N, T)), "the first pass missed or repeated a sequence"
    assert sorted(second) == list(range(0, N, T)), "the second pass missed or repeated one"
    assert first != second


def test_shuffled_order_does_not_depend_on_the_micro_batch(tmp_path: Path) -> None:
    shards = TokenShards(positions_folder(tmp_path, 1200, shard_tokens=97))
    one = BatchLoader(shards, 8, 10, shuffle=30, seed=3).next_batch()[0]
    four = BatchLoader(shards, 2, 10, shuffle=30, seed=3)
    assert torch.equal(one, torch.cat([four.next_batch()[0] for _ in range(4)]))
