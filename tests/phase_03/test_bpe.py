"""Byte-level BPE: a hand-checked example, naive == fast, round trips on any Unicode, our ids ==
tiktoken's on an Encoding built from our own ranks, save/load, and clear errors."""

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
    main,
    merge_pair,
    pretokenize,
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


def test_merge_pair_scans_left_to_right() -> None:
    assert merge_pair([1, 2, 2, 2], (2, 2), 9) == [1, 9, 2]
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


def test_pattern_is_gpt2s() -> None:
    assert GPT2_SPLIT_PATTERN.startswith("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+")
