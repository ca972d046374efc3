"""Byte-level BPE: a hand-checked example, a pair's count against the tokens its merge saves,
naive == fast, round trips on any Unicode, our ids ==
tiktoken's on an Encoding built from our own ranks, save/load, long chunks in near-linear time,
and clear errors for bad input."""

import random
import time
from pathlib import Path

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from phase03.bpe import (
    ENDOFTEXT,
    GPT2_SPLIT_PATTERN,
    BPETokenizer,
    bpe_encode_chunk,
    bpe_encode_chunk_fast,
    count_pairs,
    main,
    merge_pair,
    pretokenize,
    replace_lone_surrogates,
    train_fast,
    train_naive,
)

TEXTS = {
    "hamlet": None,  # filled from the tiny_text fixture
    "repeats": "aaabdaaabac aaabdaaabac aaa aaaa aaaaa",
    "ties": "ab ab cd cd ef ef",
    "unicode": "café Café CAFÉ naïve 東京 東京都 🙂🙂 🙂 ünïcödé " * 3,
    "code": "def f(x):\n    return x ** 2  # square\n\n\nprint(f(3))\n" * 4,
}


TRAIN_TEXT = ("To be, or not to be, that is the question: whether 'tis nobler in the mind to "
              "suffer the slings and arrows of outrageous fortune, or to take arms against a sea "
              "of troubles, and by opposing end them.\n" * 2 + TEXTS["unicode"] + TEXTS["code"])


@pytest.fixture(scope="module")
def hamlet_tokenizer() -> BPETokenizer:
    """Shared by the property tests (hypothesis runs each many times with one fixture value):
    encoding never changes a tokenizer's merges, only its cache of chunks."""
    merges = train_fast(TRAIN_TEXT, 300)
    return BPETokenizer.from_merges([pair for pair, _ in merges])


def test_pretokenize_splits_like_gpt2() -> None:
    assert pretokenize("Hello world's end") == ["Hello", " world", "'s", " end"]
    assert pretokenize("x  = 12345!!") == ["x", " ", " =", " 12345", "!!"]
    assert pretokenize("a\n\nb") == ["a", "\n", "\n", "b"]  # the last newline stands alone


def test_count_pairs_by_hand() -> None:
    """The notes' example: in "aaabdaaabac" the pair aa is counted 4 times (every position,
    overlaps included), ab twice, the others once; a chunk that occurs 3 times in the text
    counts each of its pairs 3 times, and a one-byte chunk has no pair."""
    assert dict(count_pairs([list(b"aaabdaaabac")], [1])) == {
        (97, 97): 4, (97, 98): 2, (98, 100): 1, (100, 97): 1, (98, 97): 1, (97, 99): 1}
    assert dict(count_pairs([list(b" the"), list(b"he"), list(b"a")], [3, 2, 5])) == {
        (32, 116): 3, (116, 104): 3, (104, 101): 5}


def test_merge_pair_scans_left_to_right() -> None:
    word = [1, 2, 2, 2]
    assert merge_pair(word, (2, 2), 9) == [1, 9, 2]
    assert word == [1, 2, 2, 2], "merge_pair changed the list it was given: build a new one"
    assert merge_pair([1, 2, 1, 2], (1, 2), 7) == [7, 7]
    assert merge_pair([3, 4], (1, 2), 7) == [3, 4]


def test_hand_checked_example() -> None:
    """"aaabdaaabac" is one chunk. Pair counts: aa 4, ab 2, bd 1, da 1, ba 1, ac 1.
    Merge 1: aa -> 256, giving [256 a b d 256 a b a c]; now ab 2, 256a 2 (a tie, broken by the
    smaller ids: (97, 98) < (256, 97)). Merge 2: ab -> 257, giving [256 257 d 256 257 a c];
    now (256, 257) occurs twice, everything else once. Merge 3: (256, 257) -> 258 = "aaab"."""
    merges = train_naive("aaabdaaabac", 259, pattern=r"\S+")
    assert merges == [((97, 97), 4), ((97, 98), 2), ((256, 257), 2)]
    tokenizer = BPETokenizer.from_merges([p for p, _ in merges], pattern=r"\S+")
    assert tokenizer.decoder[258] == b"aaab"
    assert tokenizer.encode("aaabdaaabac") == [258, ord("d"), 258, ord("a"), ord("c")]


def test_a_pair_counted_c_times_saves_at_most_c_tokens() -> None:
    """Counting takes every position, so "aaa" holds aa twice; the merge scans left to right
    and replaces it once. In "aaabdaaabac" aa is counted 4 times and the merge saves 2."""
    naive_saved: list[int] = []
    fast_saved: list[int] = []
    merges = train_naive("aaabdaaabac", 259, pattern=r"\S+", saved=naive_saved)
    assert train_fast("aaabdaaabac", 259, pattern=r"\S+", saved=fast_saved) == merges
    assert [count for _, count in merges] == [4, 2, 2]
    assert naive_saved == fast_saved == [2, 2, 2]  # 11 bytes -> 5 tokens


@pytest.mark.parametrize("text", [TEXTS["repeats"], TEXTS["code"], "    " * 50 + "x\n" * 9])
def test_saved_tokens_add_up_to_the_encoded_length(text: str) -> None:
    """Bytes minus the tokens the merges removed is the length of the encoded text, while the
    counts add up to more wherever pairs overlap (runs of spaces, "aaaa")."""
    naive_saved: list[int] = []
    fast_saved: list[int] = []
    merges = train_naive(text, 290, saved=naive_saved)
    assert train_fast(text, 290, saved=fast_saved) == merges and naive_saved == fast_saved
    encoded = BPETokenizer.from_merges([pair for pair, _ in merges]).encode_ordinary(text)
    assert len(text.encode("utf-8")) - sum(fast_saved) == len(encoded)
    assert sum(count for _, count in merges) > sum(fast_saved)
    assert all(0 < removed <= count for (_, count), removed in zip(merges, fast_saved,
                                                                     strict=True))


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_naive_and_fast_give_the_same_merges(name: str, tiny_text: str) -> None:
    text = TEXTS[name] or tiny_text
    for vocab_size in (260, 300, 400):
        assert train_fast(text, vocab_size) == train_naive(text, vocab_size)


def test_training_stops_when_nothing_is_left_to_merge() -> None:
    merges = train_fast("ab ab", 1000)  # chunks "ab" and " ab": two merges make them tokens
    assert merges == train_naive("ab ab", 1000) == [((97, 98), 2), ((32, 256), 1)]


def test_no_two_tokens_share_bytes(tiny_text: str) -> None:
    tokenizer = BPETokenizer.from_merges([p for p, _ in train_fast(tiny_text * 3, 500)])
    assert len(set(tokenizer.decoder.values())) == len(tokenizer.decoder)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_round_trip_on_any_unicode(hamlet_tokenizer: BPETokenizer, s: str) -> None:
    assert hamlet_tokenizer.decode(hamlet_tokenizer.encode_ordinary(s)) == s


def tiktoken_from(tokenizer: BPETokenizer) -> tiktoken.Encoding:
    return tiktoken.Encoding(name="ours", pat_str=tokenizer.pattern,
                             mergeable_ranks=tokenizer.ranks,
                             special_tokens=tokenizer.special_tokens)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_same_ids_as_tiktoken_built_from_our_ranks(hamlet_tokenizer: BPETokenizer,
                                                   s: str) -> None:
    reference = tiktoken_from(hamlet_tokenizer)
    assert hamlet_tokenizer.encode_ordinary(s) == reference.encode_ordinary(s)


def test_same_ids_as_tiktoken_on_the_training_text(tiny_text: str) -> None:
    tokenizer = BPETokenizer.from_merges([p for p, _ in train_fast(tiny_text, 400)])
    reference = tiktoken_from(tokenizer)
    text = tiny_text + ENDOFTEXT + tiny_text.upper()
    assert tokenizer.encode(text, allowed_special="all") == reference.encode(
        text, allowed_special="all")


def test_special_tokens(hamlet_tokenizer: BPETokenizer) -> None:
    eot = hamlet_tokenizer.special_tokens[ENDOFTEXT]
    assert eot == hamlet_tokenizer.vocab_size - 1 == 300
    ids = hamlet_tokenizer.encode("to be" + ENDOFTEXT + "or not", allowed_special="all")
    assert ids.count(eot) == 1
    assert hamlet_tokenizer.decode(ids) == "to be" + ENDOFTEXT + "or not"
    assert eot not in hamlet_tokenizer.encode_ordinary("x" + ENDOFTEXT)
    with pytest.raises(ValueError, match="special token"):
        hamlet_tokenizer.encode("x" + ENDOFTEXT)
    with pytest.raises(ValueError, match="not special tokens"):
        hamlet_tokenizer.encode("x", allowed_special={"<|nope|>"})


def test_chunk_encoding_prefers_earliest_merge() -> None:
    ranks = {bytes([b]): b for b in range(256)} | {b"bc": 256, b"ab": 257}
    assert bpe_encode_chunk(b"abc", ranks) == [ord("a"), 256]


def test_save_and_load(hamlet_tokenizer: BPETokenizer, tmp_path: Path, tiny_text: str) -> None:
    path = hamlet_tokenizer.save(tmp_path / "tok.txt")
    again = BPETokenizer.load(path)
    assert again.ranks == hamlet_tokenizer.ranks
    assert again.special_tokens == hamlet_tokenizer.special_tokens
    assert again.encode(tiny_text) == hamlet_tokenizer.encode(tiny_text)
    assert '# 256 = "' in path.read_text(encoding="utf-8"), "a person can read the merges"


def test_corrupt_or_truncated_file_is_refused(hamlet_tokenizer: BPETokenizer,
                                              tmp_path: Path) -> None:
    path = hamlet_tokenizer.save(tmp_path / "tok.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    (tmp_path / "cut.txt").write_text("\n".join(lines[:20]), encoding="utf-8")
    with pytest.raises(ValueError, match="expected 44 merges and a final 'end' line, found 15"):
        BPETokenizer.load(tmp_path / "cut.txt")
    (tmp_path / "bad.txt").write_text("\n".join(lines[:7] + ["12 x"] + lines[8:]),
                                      encoding="utf-8")
    with pytest.raises(ValueError, match="line 8: expected two token ids"):
        BPETokenizer.load(tmp_path / "bad.txt")
    (tmp_path / "other.txt").write_text("hello\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        BPETokenizer.load(tmp_path / "other.txt")
    with pytest.raises(FileNotFoundError, match="no tokenizer file"):
        BPETokenizer.load(tmp_path / "missing.txt")


def test_clear_errors(hamlet_tokenizer: BPETokenizer) -> None:
    with pytest.raises(ValueError, match="valid ids are 0 to 300"):
        hamlet_tokenizer.decode([5000])
    with pytest.raises(ValueError, match="must be >= 256"):
        train_fast("abc", 255)
    with pytest.raises(ValueError, match="must be >= 256"):
        train_naive("abc", 100)
    with pytest.raises(ValueError, match="256 single bytes"):
        BPETokenizer({b"a": 0})


def test_vocab_size_below_256_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--vocab-size", "200"])
    assert stop.value.code == 2


def test_main_runs(tmp_path: Path, tiny_text: str, capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text(tiny_text * 5, encoding="utf-8")
    main(["--path", str(book), "--vocab-size", "300", "--out", str(tmp_path),
          "--save", str(tmp_path / "tok.txt")])
    out = capsys.readouterr().out
    assert "decode gives the text back: True" in out and "same ids True" in out
    assert (tmp_path / "bpe_compression.png").is_file() and (tmp_path / "tok.txt").is_file()
    assert "the pair 'aa' is counted 4 times" in out and "it saves 2" in out


def test_pattern_is_gpt2s() -> None:
    assert GPT2_SPLIT_PATTERN.startswith("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab c", max_size=60))
def test_naive_and_fast_agree_on_repetitive_text(s: str) -> None:
    """Runs like "aaaa" are where a left-to-right merge and position-by-position updates could
    part ways ((a, a) must merge twice in "aaaa", once in "aaa")."""
    assert train_fast(s, 300) == train_naive(s, 300)


def test_fast_trainer_on_one_long_chunk() -> None:
    """A text that is one 20,000-letter word: the fast trainer updates only the positions a
    merge touches (rewriting the whole chunk at each merge took 26 s for 256 merges of a
    100,000-letter word), and still learns the naive trainer's merges."""
    rng = random.Random(0)
    word = "".join(rng.choices("abcd", k=20_000))
    start = time.process_time()
    merges = train_fast(word, 400)
    assert time.process_time() - start < 1.0
    assert merges == train_naive(word, 400)


def test_fast_chunk_encoder_equals_the_simple_loop(hamlet_tokenizer: BPETokenizer) -> None:
    ranks = hamlet_tokenizer.ranks
    rng = random.Random(1)
    for _ in range(500):
        chunk = bytes(rng.choices(b"aeht o\xc3\xa9", k=rng.randint(1, 40)))
        assert bpe_encode_chunk_fast(chunk, ranks) == bpe_encode_chunk(chunk, ranks), chunk
    equal_ranks = {bytes([b]): b for b in range(256)} | {b"aa": 256, b"aaa": 257}
    for n in range(1, 9):  # ties of one rank go to the leftmost pair
        assert (bpe_encode_chunk_fast(b"a" * n, equal_ranks)
                == bpe_encode_chunk(b"a" * n, equal_ranks))
    assert bpe_encode_chunk_fast(b"aaaaa", equal_ranks) == [256, 257]


def test_a_long_chunk_encodes_in_well_under_a_second(hamlet_tokenizer: BPETokenizer) -> None:
    reference = tiktoken_from(hamlet_tokenizer)
    rng = random.Random(2)
    for text in ("a" * 100_000, "".join(rng.choices("tobenqusi", k=100_000))):
        start = time.process_time()
        ids = hamlet_tokenizer.encode_ordinary(text)
        assert time.process_time() - start < 1.0
        assert ids == reference.encode_ordinary(text)


@pytest.mark.parametrize("text", ["\udcff", "a\udcffb", "x \ud83d y", "\ud83d\ude42",
                                  "\ude42\ud83d", "ok \udced\udcb3\udcbf " + ENDOFTEXT])
def test_lone_surrogates_become_u_fffd_as_in_tiktoken(hamlet_tokenizer: BPETokenizer,
                                                      text: str) -> None:
    reference = tiktoken_from(hamlet_tokenizer)
    assert hamlet_tokenizer.encode_ordinary(text) == reference.encode_ordinary(text)
    assert (hamlet_tokenizer.encode(text, allowed_special="all")
            == reference.encode(text, allowed_special="all"))
    assert replace_lone_surrogates("a\udcffb") == "a\ufffdb"
    assert replace_lone_surrogates("\ud83d\ude42") == "🙂"  # a pair is the character it encodes
    assert replace_lone_surrogates("plain") == "plain"


def test_main_with_a_lone_surrogate_and_a_special_token_in_text(
        tmp_path: Path, tiny_text: str, capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.txt"
    book.write_text(tiny_text, encoding="utf-8")
    main(["--path", str(book), "--vocab-size", "260", "--out", str(tmp_path),
          "--text", "a\udcffb" + ENDOFTEXT])
    out = capsys.readouterr().out
    assert "replacement character" in out and "decode gives the text back: True" in out
    assert "|a|<EF>|<BF>|<BD>|b|<|endoftext|>|" in out  # U+FFFD's three bytes, then the special


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run main(argv), expecting exit status 2 and a one-line error; return that line."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "is empty"), (b"\xef\xbb\xbf", "holds no text"), (b"\x7fELF\x02\x00\x00", "binary"),
    (b"caf\xe9\n", "not UTF-8"), (None, "is a folder")])
def test_a_path_that_is_not_text_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            content: bytes | None, expected: str) -> None:
    path = tmp_path / "input"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    err = one_line_error(capsys, ["--path", str(path), "--out", str(tmp_path / "figs"),
                                  "--save", str(tmp_path / "tok.txt")])
    assert expected in err
    assert not (tmp_path / "tok.txt").exists() and not (tmp_path / "figs").exists()


def test_a_text_that_cannot_reach_the_vocab_size_stops_early(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text, merges in (("a", 0), ("aaaaaaaaaa", 4)):
        (tmp_path / "one.txt").write_text(text, encoding="utf-8")
        main(["--path", str(tmp_path / "one.txt"), "--vocab-size", "300", "--out", str(tmp_path),
              "--save", str(tmp_path / "tok.txt")])
        out = capsys.readouterr().out
        assert f"stopped early: after {merges} merges" in out
        assert f"the vocabulary has {256 + merges} tokens, not 300" in out
        assert BPETokenizer.load(tmp_path / "tok.txt").vocab_size == 256 + merges + 1


@pytest.mark.parametrize("flag", ["--save", "--out"])
def test_output_paths_of_the_wrong_kind_are_refused_before_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str) -> None:
    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    (tmp_path / "a_folder").mkdir()
    wrong = {"--save": ["a_folder", "a_file/tok.txt"], "--out": ["a_file", "a_file/figs"]}
    for name in wrong[flag]:
        argv = ["--path", "/nonexistent/never/read", "--out", str(tmp_path / "figs"),
                "--save", str(tmp_path / "tok.txt"), flag, str(tmp_path / name)]
        with pytest.raises(SystemExit) as stop:
            main(argv)  # the path is checked first: the missing --path is never reached
        assert stop.value.code == 2
        assert f"{flag}: " in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "a_folder"]


def test_save_leaves_no_temporary_file(hamlet_tokenizer: BPETokenizer, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(OSError):
        hamlet_tokenizer.save(tmp_path / "taken")  # a folder cannot be replaced by a file
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    hamlet_tokenizer.save(tmp_path / "tok.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken", "tok.txt"]


def test_a_file_that_is_not_a_tokenizer_is_refused_clearly(hamlet_tokenizer: BPETokenizer,
                                                          tmp_path: Path) -> None:
    good = hamlet_tokenizer.save(tmp_path / "tok.txt").read_text(encoding="utf-8").splitlines()
    cases = {
        "binary": (b"\x7fELF\x02\x01\x01\x00\xff\xfe", "line 1: byte 0xff is not UTF-8"),
        "empty": (b"", "expected the header"),
        "no_name": ("\n".join([good[0], "nom x", *good[2:]]), "line 2: expected a line starting"),
        "bad_pattern": ("\n".join([good[0], good[1], 'pattern "(unclosed"', *good[3:]]),
                        r"missing \) at position 9"),
        "pattern_not_text": ("\n".join([good[0], good[1], "pattern 5", *good[3:]]),
                             "JSON string"),
        "specials_list": ("\n".join([*good[:3], 'specials ["<|x|>"]', *good[4:]]),
                          "JSON object"),
        "special_clash": ("\n".join([*good[:3], 'specials {"<|x|>": 5}', *good[4:]]),
                          "already ordinary tokens"),
        "future_ids": ("\n".join([*good[:5], "9999 1", *good[6:]]), "only ids below"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content + "\n", encoding="utf-8")
        with pytest.raises(ValueError, match=expected):
            BPETokenizer.load(path)
    with pytest.raises(ValueError, match="is a folder"):
        BPETokenizer.load(tmp_path)


def test_benchmark_quick_honours_the_flags_it_is_given(tmp_path: Path, tiny_text: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """--quick picks smaller defaults; a flag typed next to it is used as typed, not overridden."""
    from phase03.bpe_benchmark import main as benchmark

    book = tmp_path / "book.txt"
    book.write_text(tiny_text, encoding="utf-8")
    benchmark(["--quick", "--path", str(book), "--vocab-size", "270", "--naive-vocab-size", "260",
               "--repeats", "1"])
    out = capsys.readouterr().out
    assert "median of 1 runs" in out
    assert "| naive (recount all pairs) | 260 |" in out and "| 260 |" in out
    assert "| fast (incremental counts) | 270 |" in out and "our 270-token BPE" in out
    assert out.count("| yes |") == 3  # same merges; same ids for both vocabularies
