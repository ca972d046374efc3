"""Phase 08's data side refuses what would train on nonsense: damaged shards, tokens outside the
vocabulary, text that is not text, and it keeps the promise of one pass (every sequence once)."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import phase08.loader as loader_module
import phase08.prepare_data as prep
from phase08.loader import BatchLoader, ShardError, TokenShards
from phase08.prepare_data import META_FILE, VERIFY_FILE, local_documents, write_token_folder

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


# --- prepare_data.py: what it refuses, and a stream that continues where it stopped ----------

def prepare(tmp_path: Path, *args: str) -> None:
    prep.main([*args, "--data-dir", str(tmp_path / "tokens"), "--offline"])


@pytest.mark.parametrize("content, tokenizer, expected", [
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "gpt2", "binary file"),  # the start of /bin/ls
    ("café\n".encode("latin-1"), "gpt2", "not UTF-8 text: byte 0xe9 at offset 3"),
    (b"", "char", "is empty"),
    (b"aaaa", "char", "a single distinct character ('a')"),
    (b"ab", "char", "only 2 token(s): too few"),
    (b"Hi", "gpt2", "only 2 token(s): too few"),  # <|endoftext|> and "Hi"
])
def test_prepare_refuses_text_it_cannot_use_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, tokenizer: str,
        expected: str) -> None:
    path = tmp_path / "input.txt"
    path.write_bytes(content)
    with pytest.raises(SystemExit) as stop:
        prepare(tmp_path, "--path", str(path), "--tokenizer", tokenizer)
    err = capsys.readouterr().err
    assert stop.value.code == 1 and expected in err
    assert err.strip().count("\n") == 0 and err.startswith("error: ")
    assert not list((tmp_path / "tokens").rglob(META_FILE))  # nothing that looks prepared


def test_too_many_characters_for_uint16_are_refused_with_the_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alphabet.txt"
    path.write_text("".join(map(chr, range(0x10000, 0x10000 + 70_000))), encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        prepare(tmp_path, "--path", str(path), "--tokenizer", "char")
    err = capsys.readouterr().err
    assert stop.value.code == 1
    assert "70,000 distinct characters" in err and "--tokenizer gpt2" in err


@pytest.mark.parametrize("args, expected", [
    (["--shard-tokens", "1"], "at least 100,000"),
    (["--name", "../elsewhere"], "plain name"),
    (["--hf-dataset", "x/y", "--max-tokens", "10", "--val-tokens", "10"], "larger than"),
    # a stream's flags with a local source (or the reverse) would be silently ignored
    (["--source", "stdlib", "--max-tokens", "5000"],
     "--max-tokens applies to a streamed --hf-dataset only"),
    (["--val-tokens", "10", "--hf-split", "test"], "--hf-split and --val-tokens apply to"),
    (["--hf-dataset", "x/y", "--val-fraction", "0.2"], "--val-fraction cuts a local source"),
])
def test_prepare_refuses_bad_settings_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
        expected: str) -> None:
    with pytest.raises(SystemExit) as stop:
        prep.main(["--tokenizer", "gpt2", *args, "--data-dir", str(tmp_path / "tokens")])
    assert stop.value.code == 2 and expected in capsys.readouterr().err
    assert not (tmp_path / "tokens").exists()


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tokens").write_text("not a folder")
    with pytest.raises(SystemExit) as stop:
        prepare(tmp_path, "--source", "stdlib")
    assert stop.value.code == 2 and "is a file, not a folder" in capsys.readouterr().err


def test_too_many_shards_are_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"more than the 200 .* --shard-tokens 5,026 or more"):
        write_token_folder(tmp_path / "many", {"train": np.zeros(1_000_000), "val": np.zeros(5)},
                           RAW, "zeros", shard_tokens=1_000)
    assert not (tmp_path / "many").exists()


def test_a_folder_of_texts_passes_over_empty_files(tmp_path: Path, book: str) -> None:
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text(book, encoding="utf-8")
    (texts / "b.md").write_text("", encoding="utf-8")  # nothing to learn from, nothing lost
    docs, source, name = local_documents("tinyshakespeare", [texts], offline=True)
    assert docs == [book] and name == "texts" and source.startswith("1 local file(s)")


def documents(n: int) -> Iterator[str]:
    """n made-up documents of different lengths."""
    for i in range(n):
        yield f"Document {i}: plants make sugar from light, water and air.\n" * (1 + i % 5)


def never_read() -> Iterator[str]:
    raise AssertionError("a finished preparation must not read its stream again")
    yield ""


def test_a_stream_continues_shard_by_shard_after_an_interruption(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {"source": "made-up documents", "val_tokens": 100, "max_tokens": 2_000,
                "shard_tokens": 256, "verbose": False, "download": False}
    whole = prep.prepare_stream(documents(200), tmp_path / "whole", **settings)
    folder = tmp_path / "parts"
    writes = []

    def ctrl_c_at_the_fifth_shard(f: object, data: bytes) -> None:
        writes.append(len(data))
        if len(writes) == 5:  # the validation shard and three training shards are written
            raise KeyboardInterrupt
        f.write(data)

    with monkeypatch.context() as patch:
        patch.setattr(prep, "_write_bytes", ctrl_c_at_the_fifth_shard)
        with pytest.raises(KeyboardInterrupt):
            prep.prepare_stream(documents(200), folder, **settings)
    assert not (folder / META_FILE).exists()  # not a dataset yet: the loader refuses it
    progress = json.loads((folder / prep.PROGRESS_FILE).read_text())
    kept = {s["file"]: (folder / s["file"]).stat().st_mtime_ns for s in progress["train"]}
    assert len(kept) == 3 and progress["val"]["tokens"] >= 100
    again = prep.prepare_stream(documents(200), folder, **settings)
    for file, mtime in kept.items():
        assert (folder / file).stat().st_mtime_ns == mtime  # kept, not written again
    for key in ("splits", "documents", "tokenizer", "val_rule"):
        assert again[key] == whole[key]  # the same shards, byte for byte (their SHA-256)
    for split in ("train", "val"):
        a, b = TokenShards(tmp_path / "whole", split), TokenShards(folder, split)
        assert np.array_equal(a.read(0, len(a)), b.read(0, len(b)))
    finished = prep.prepare_stream(never_read(), folder, **settings)  # nothing left to do
    assert finished["splits"] == whole["splits"]
    with pytest.raises(ValueError, match="other settings: shard_tokens 256"):
        prep.prepare_stream(never_read(), folder, **{**settings, "shard_tokens": 512})


def test_the_fineweb_folder_follows_tfs_data_dir(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    code = "from phase08.prepare_data import FINEWEB_FOLDER; print(FINEWEB_FOLDER)"
    env = {**os.environ, "TFS_DATA_DIR": str(tmp_path / "elsewhere")}
    printed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
    assert Path(printed) == tmp_path / "elsewhere" / "tokens" / "fineweb-edu_sample-10BT-gpt2"
    # and the command that prepares FineWeb-Edu writes exactly there (a fake stream, offline)
    monkeypatch.setattr(prep, "hf_documents", lambda *args: documents(30))
    prep.main(["--hf-dataset", "HuggingFaceFW/fineweb-edu", "--hf-config", "sample-10BT",
               "--val-tokens", "100", "--max-tokens", "500", "--shard-tokens", "100000",
               "--data-dir", str(tmp_path / "tokens"), "--workers", "1"])
    assert (tmp_path / "tokens" / prep.FINEWEB_FOLDER.name / META_FILE).is_file()
