"""Our BPE with GPT-2's merges, tiktoken's GPT-2 encoding and Hugging Face's GPT2TokenizerFast,
all built offline from the same two files, give the same ids; bad input gets one line."""

from pathlib import Path

import pytest

from phase03.bpe import ENDOFTEXT
from phase09 import bench_bpe
from phase09.tokenizers_compare import VARIED_TEXT, first_difference, main, three_tokenizers


def test_three_tokenizers_agree_on_a_varied_text(tiny_text: str) -> None:
    encoders = three_tokenizers()
    assert len(encoders) == 3
    for text in (VARIED_TEXT, tiny_text, "Hello world", "   \n\n\t x", "🙂🚀 東京 café",
                 f"written in a text: {ENDOFTEXT}", "z" * 20_000):
        results = [encode(text) for encode in encoders.values()]
        assert all(r == results[0] for r in results), text
    assert encoders["tiktoken (Rust)"]("Hello world") == [15496, 995]


def test_special_token_when_allowed() -> None:
    from phase03.gpt2_tokenizer import gpt2_tiktoken, gpt2_tokenizer
    from phase09.tokenizers_compare import hf_gpt2_tokenizer

    text = f"a{ENDOFTEXT}b"
    expected = gpt2_tiktoken().encode(text, allowed_special={ENDOFTEXT})
    assert 50256 in expected
    assert gpt2_tokenizer().encode(text, allowed_special={ENDOFTEXT}) == expected
    assert hf_gpt2_tokenizer().encode(text) == expected


def test_first_difference() -> None:
    assert first_difference([1, 2, 3], [1, 2, 3]) is None
    assert first_difference([1, 2, 3], [1, 5, 3]) == 1
    assert first_difference([1, 2], [1, 2, 3]) == 2


def test_main_on_a_lone_surrogate_and_a_long_piece(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    main(["--text", "a\udcffb"])
    out = capsys.readouterr().out
    assert "replacement character" in out and "all three agree: True" in out
    (tmp_path / "long.txt").write_text("a" * 200_000, encoding="utf-8")
    main(["--path", str(tmp_path / "long.txt")])  # was quadratic in our encoder: never ended
    assert "all three agree: True" in capsys.readouterr().out


@pytest.mark.parametrize("script", [main, bench_bpe.main])
@pytest.mark.parametrize(("content", "expected"), [
    (b"", "is empty"), (b"\x7fELF\x02\x00\x00", "binary"), (b"caf\xe9\n", "not UTF-8"),
    (None, "is a folder")])
def test_a_path_that_is_not_text_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            script, content: bytes | None,  # noqa: ANN001
                                            expected: str) -> None:
    path = tmp_path / "input"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(SystemExit) as stop:
        script(["--path", str(path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and expected in err


def test_an_empty_text_is_refused_like_an_empty_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--text", ""])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--text is empty" in err and "all three agree" not in capsys.readouterr().out
