"""Data preparation: tokens round-trip, shards are checked, and an interrupted write leaves
nothing the loader would accept."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

import phase08.prepare_data as prep
from phase08.loader import TokenShards
from phase08.prepare_data import (
    META_FILE,
    encode_documents,
    make_codec,
    prepare_local,
    safe_pieces,
)


def all_tokens(folder: Path) -> np.ndarray:
    return np.concatenate([TokenShards(folder, split).read(0, len(TokenShards(folder, split)))
                           for split in ("train", "val")])


def test_char_preparation_round_trips(tmp_path: Path, book: str) -> None:
    folder = tmp_path / "book-char"
    meta = prepare_local([book], "char", folder, "a made-up book", val_fraction=0.1,
                         shard_tokens=3000, verbose=False)
    codec = make_codec(meta["tokenizer"])
    assert meta["tokenizer"]["chars"] == sorted(set(book))
    assert codec.decode(all_tokens(folder).tolist()) == book
    n_val = meta["splits"]["val"]["tokens"]
    assert n_val == round(0.1 * len(book))
    assert meta["splits"]["train"]["tokens"] + n_val == len(book)
    assert len(meta["splits"]["train"]["shards"]) == 4  # 11,664 train tokens, 3,000 a shard
    for split in meta["splits"].values():  # each shard: uint16, and the recorded SHA-256
        for shard in split["shards"]:
            data = (folder / shard["file"]).read_bytes()
            assert len(data) == 2 * shard["tokens"]
            assert hashlib.sha256(data).hexdigest() == shard["sha256"]


def test_gpt2_preparation_round_trips_with_endoftext(tmp_path: Path) -> None:
    docs = ["Hello world", "Second document,\nwith café and 🙂."]
    meta = prepare_local(docs, "gpt2", tmp_path / "g", "two documents", val_fraction=0.2,
                         verbose=False)
    assert meta["tokenizer"]["vocab_size"] == 50257 and meta["tokenizer"]["eot"] == 50256
    tokens = all_tokens(tmp_path / "g")
    assert tokens[:3].tolist() == [50256, 15496, 995]  # <|endoftext|> "Hello" " world"
    codec = make_codec(meta["tokenizer"])
    assert codec.decode(tokens.tolist()) == "".join("<|endoftext|>" + d for d in docs)


def test_safe_pieces_tokenise_like_the_whole() -> None:
    codec = make_codec({"name": "gpt2"})
    text = ("First line.\nSecond  line\n\n\nThird:\n  indented\nx\n" * 30
            + "'tis\n's\n123\n456\n \n\t\nend")
    pieces = safe_pieces(text, piece_chars=40)
    assert len(pieces) > 10 and "".join(pieces) == text
    joined = [t for p in pieces for t in codec.encode(p)]
    assert joined == codec.encode(text)


def test_parallel_tokenising_equals_serial() -> None:
    codec = make_codec({"name": "gpt2"})
    docs = [f"Document {i}.\nIt has lines,\nand more lines.\n" * (5 + i) for i in range(6)]
    serial = list(encode_documents(docs, codec, workers=1))
    parallel = list(encode_documents(docs, codec, workers=2, batch_chars=10**9,
                                     parallel_min_chars=0, piece_chars=60))
    assert len(serial) == len(parallel) == 6
    assert all(np.array_equal(a, b) for a, b in zip(serial, parallel, strict=True))


def test_a_shard_is_two_bytes_a_token_and_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "train_000000.bin"
    record = prep.write_shard(path, np.array([1, 2, 50_256, 65_535]))
    data = path.read_bytes()
    assert data == np.array([1, 2, 50_256, 65_535], dtype=np.uint16).tobytes()  # 8 bytes
    assert record == {"file": "train_000000.bin", "tokens": 4,
                      "sha256": hashlib.sha256(data).hexdigest()}
    assert [p.name for p in tmp_path.iterdir()] == ["train_000000.bin"]  # no temporary left


def test_a_shard_reaches_the_disk_before_its_name_appears(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Atomic and durable: the bytes are written to a temporary file in the SAME folder (a
    rename across file systems is not atomic), fsync'ed, and only then renamed."""
    events: list[tuple[str, ...]] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(prep.os, "fsync", lambda fd: (events.append(("fsync",)), real_fsync(fd)))
    monkeypatch.setattr(prep.os, "replace", lambda a, b: (
        events.append(("replace", str(Path(a).parent), str(Path(b).parent))), real_replace(a, b)))
    prep.write_shard(tmp_path / "train_000000.bin", np.array([1, 2, 3]))
    assert events == [("fsync",), ("replace", str(tmp_path), str(tmp_path))], events


def test_interrupted_shard_write_leaves_no_half_file(tmp_path: Path, book: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "old-char"  # a valid folder, about to be prepared again
    prepare_local([book], "char", old, "a made-up book", shard_tokens=3000, verbose=False)
    assert TokenShards(old).n_tokens == len(book) - round(0.1 * len(book))
    calls = {"n": 0}

    def write_half_then_stop(f: object, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] % 2 == 0:  # every second shard: half its bytes, then Ctrl-C
            f.write(data[:len(data) // 2])
            raise KeyboardInterrupt
        f.write(data)

    monkeypatch.setattr(prep, "_write_bytes", write_half_then_stop)
    new = tmp_path / "new-char"
    for folder in (new, old):
        with pytest.raises(KeyboardInterrupt):
            prepare_local([book + "more"], "char", folder, "a longer book", shard_tokens=3000,
                          verbose=False)
        assert not (folder / META_FILE).exists()  # removed first, written last
        left = [p.name for p in folder.iterdir() if "tmp" in p.name]
        assert not left, f"a temporary file was left behind: {left}"  # hidden or not
        with pytest.raises(FileNotFoundError, match="meta.json"):
            TokenShards(folder)  # an unfinished preparation is never accepted
    assert [p.name for p in new.glob("*.bin")] == ["train_000000.bin"]  # written in full...
    assert (new / "train_000000.bin").stat().st_size == 2 * 3000  # ...and no half of the next


def test_truncated_shard_is_refused(char_data: Path) -> None:
    shard = sorted(char_data.glob("train_*.bin"))[1]
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(ValueError, match=shard.name):
        TokenShards(char_data)


def test_changed_shard_is_caught_by_its_hash(char_data: Path) -> None:
    shard = sorted(char_data.glob("train_*.bin"))[0]
    data = bytearray(shard.read_bytes())
    data[0] ^= 1
    shard.write_bytes(bytes(data))
    TokenShards(char_data, verify="size")  # the size is right: accepted by sizes alone
    with pytest.raises(ValueError, match="SHA-256"):
        TokenShards(char_data)  # the default hashes a shard it has no record of


def test_main_writes_a_folder_from_a_path(tmp_path: Path, book: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "book.txt"
    text.write_text(book, encoding="utf-8")
    prep.main(["--tokenizer", "char", "--path", str(text), "--data-dir", str(tmp_path / "d"),
               "--offline"])
    out = capsys.readouterr().out
    assert f"{len(book):,} tokens" in out
    assert (tmp_path / "d" / "book-char" / META_FILE).is_file()


def test_streaming_offline_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        prep.main(["--hf-dataset", "HuggingFaceFW/fineweb-edu", "--offline"])
    assert stop.value.code == 2
    assert "needs a network" in capsys.readouterr().err
