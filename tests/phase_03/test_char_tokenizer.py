"""The character tokenizer: round trips, the vocabulary, a readable file, and errors that say
what went wrong (phases 04 and 05 build their character models on it)."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phase03.char_tokenizer import CharTokenizer, main


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
