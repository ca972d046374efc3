"""The character tokenizer: round trips, the vocabulary, a readable file, and errors that say
what went wrong (phases 04 and 05 build their character models on it)."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phase03.char_tokenizer import CharTokenizer, main, sample_start, training_tokenizer


def test_vocabulary_is_the_sorted_distinct_characters(tiny_text: str) -> None:
    tok = CharTokenizer(tiny_text)
    assert tok.chars == sorted(set(tiny_text))
    assert tok.vocab_size == len(set(tiny_text))
    assert tok.encode(tok.chars[0] + tok.chars[-1]) == [0, tok.vocab_size - 1]


def test_round_trip(tiny_text: str) -> None:
    tok = CharTokenizer(tiny_text)
    ids = tok.encode(tiny_text)
    assert len(ids) == len(tiny_text)
    assert all(isinstance(i, int) for i in ids)
    assert tok.decode(ids) == tiny_text
    assert tok.decode(np.array(ids)) == tiny_text  # NumPy arrays of ids work too
    assert tok.decode([]) == ""


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # tiny_text never changes
@given(st.data())
def test_round_trip_of_any_text_over_the_vocabulary(tiny_text: str, data: st.DataObject) -> None:
    tok = CharTokenizer(tiny_text)
    text = data.draw(st.text(alphabet=tok.chars, max_size=60))
    assert tok.decode(tok.encode(text)) == text


def test_unknown_character_names_it_and_the_source(tiny_text: str) -> None:
    tok = CharTokenizer(tiny_text, source="the tiny test text")
    with pytest.raises(ValueError, match=r"'€'.*the tiny test text"):
        tok.encode("To be €")


@pytest.mark.parametrize("bad", [-1, 10_000])
def test_unknown_id_gives_the_valid_range(tiny_text: str, bad: int) -> None:
    tok = CharTokenizer(tiny_text)
    with pytest.raises(ValueError, match=rf"{bad} is out of range.*0 to {tok.vocab_size - 1}"):
        tok.decode([0, bad])


def test_decode_refuses_non_integer_ids(tiny_text: str) -> None:
    with pytest.raises(ValueError, match="integer ids"):
        CharTokenizer(tiny_text).decode([0.5, 1.0])


def test_empty_text_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer("")


def test_save_and_load(tmp_path: Path, tiny_text: str) -> None:
    tok = CharTokenizer(tiny_text, source="the tiny test text")
    path = tok.save(tmp_path / "tok.json")
    record = json.loads(path.read_text(encoding="utf-8"))  # readable JSON
    assert record["chars"] == tok.chars and record["vocab_size"] == tok.vocab_size
    again = CharTokenizer.load(path)
    assert again.chars == tok.chars and again.source == "the tiny test text"
    assert again.encode(tiny_text) == tok.encode(tiny_text)


def test_truncated_file_is_a_clear_error(tmp_path: Path, tiny_text: str) -> None:
    path = CharTokenizer(tiny_text).save(tmp_path / "tok.json")
    path.write_text(path.read_text(encoding="utf-8")[:40], encoding="utf-8")
    with pytest.raises(ValueError, match="not valid UTF-8 JSON.*truncated or corrupt"):
        CharTokenizer.load(path)


def test_binary_garbage_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "tok.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not a character-tokenizer file"):
        CharTokenizer.load(path)


@pytest.mark.parametrize("record", [
    {"kind": "bpe", "merges": []},                                  # another kind of file
    [1, 2, 3],                                                      # not an object
    {"kind": "char-tokenizer", "vocab_size": 3, "chars": ["a", "b"]},   # a character lost
    {"kind": "char-tokenizer", "vocab_size": 2, "chars": ["b", "a"]},   # not sorted
    {"kind": "char-tokenizer", "vocab_size": 2, "chars": ["ab", "c"]},  # not single characters
    {"kind": "char-tokenizer", "vocab_size": 2, "chars": [1, 2]},       # not strings
])
def test_wrong_content_is_a_clear_error(tmp_path: Path, record: object) -> None:
    path = tmp_path / "tok.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(ValueError, match="not a character-tokenizer file"):
        CharTokenizer.load(path)


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="save"):
        CharTokenizer.load(tmp_path / "nowhere.json")


def test_main_runs(tmp_path: Path, tiny_text: str, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text, encoding="utf-8")
    main(["--path", str(corpus), "--text", "To be", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "equal to the input: True" in out
    assert (tmp_path / "char_tokenizer.json").is_file()


# Bad input. The helpers below make the files a learner may hand a script by mistake; the other
# phase 03 and phase 04 test files import them.

def bad_text_files(folder: Path) -> dict[str, Path]:
    """Files that are not usable text: each must be refused with a one-line error."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"empty": folder / "empty.txt", "binary": folder / "program",
             "latin-1": folder / "latin1.txt", "folder": folder / "a-folder",
             "missing": folder / "missing.txt"}
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 4)
    files["latin-1"].write_bytes("café, naïve\n".encode("latin-1") * 20)
    files["folder"].mkdir(exist_ok=True)
    return files


def many_characters(n: int) -> str:
    """n distinct characters from U+4E00 on (CJK, then others), skipping the surrogates, which
    are not characters a file can hold."""
    codes = (c for c in range(0x4E00, 0x110000) if not 0xD800 <= c <= 0xDFFF)
    return "".join(chr(next(codes)) for _ in range(n))


def assert_one_line_error(capsys: pytest.CaptureFixture, stop: pytest.ExceptionInfo,
                          *fragments: str) -> str:
    """The script stopped with status 2 and a single error line that contains `fragments`."""
    assert stop.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and "error:" in last
    for fragment in fragments:
        assert fragment in last, last
    return last


def test_main_uses_the_texts_own_start_when_it_cannot_spell_the_default(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "one.txt"
    corpus.write_text("x", encoding="utf-8")  # one character, no newline, no "To be"
    main(["--path", str(corpus), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "A round trip: 'x'" in out and "equal to the input: True" in out


def test_main_keeps_refusing_an_explicit_text_it_cannot_spell(
        tmp_path: Path, tiny_text: str, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text, encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--path", str(corpus), "--text", "Zoom in 2024", "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, "'2'", "not in the vocabulary")


def test_main_shows_the_start_of_a_huge_vocabulary(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "many.txt"
    corpus.write_text(many_characters(500), encoding="utf-8")
    main(["--path", str(corpus), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "the first 200 of 500" in out and "199:" in out and "200:" not in out


def test_main_refuses_an_out_that_is_a_file_before_reading(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    out_file = tmp_path / "out.txt"
    out_file.write_text("keep me", encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--path", str(tmp_path / "missing.txt"), "--out", str(out_file)])
    assert_one_line_error(capsys, stop, "--out", "pass a folder")
    assert out_file.read_text(encoding="utf-8") == "keep me"


def test_main_refuses_a_folder_where_the_tokenizer_file_goes(
        tmp_path: Path, tiny_text: str, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "char_tokenizer.json").mkdir()
    with pytest.raises(SystemExit) as stop:
        main(["--text", "To be", "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, "is a folder")


def test_load_of_a_folder_or_a_foreign_file_names_the_command_that_writes_one(
        tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a folder.*char_tokenizer.py"):
        CharTokenizer.load(tmp_path)
    foreign = tmp_path / "bpe.json"
    foreign.write_text(json.dumps({"kind": "bpe-tokenizer", "merges": []}), encoding="utf-8")
    with pytest.raises(ValueError, match="found kind 'bpe-tokenizer'.*char_tokenizer.py"):
        CharTokenizer.load(foreign)


def test_training_tokenizer_refuses_a_text_of_one_character() -> None:
    with pytest.raises(ValueError, match=r"single distinct character \('a', 4 times\)"):
        training_tokenizer("aaaa", "a test text")
    assert training_tokenizer("ab", "a test text").vocab_size == 2


def test_sample_start_is_a_newline_or_the_first_character() -> None:
    assert sample_start("ab\ncd") == "\n"
    assert sample_start("xyz") == "x"
