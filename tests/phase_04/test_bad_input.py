"""Bad input to phase 04's scripts: files that are not text, texts too short or of one
character, sizes that cannot fit or would run for hours, an --out that is a file, an empty
prompt. Each is a one-line error before any work, or a normal run where the input is usable."""

from collections.abc import Callable
from pathlib import Path

import pytest

from phase04 import char_rnn, clipping, compare_cells, gradient_flow, gru, lstm, rnn, seq2seq
from phase04.rnn import MAX_CHECK_SECONDS, gradcheck_seconds
from tests.phase_03.test_char_tokenizer import assert_one_line_error, bad_text_files

TEXT_SCRIPTS = {"char_rnn": char_rnn.main, "compare_cells": compare_cells.main}
SMALL = ["--hidden", "4", "--embed", "4", "--seq-len", "4", "--batch-size", "2", "--steps", "4",
         "--eval-every", "2"]


@pytest.fixture
def small_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine of 16 GiB, whatever runs the tests, so the memory refusals are the same
    everywhere."""
    monkeypatch.setattr("phase00.flags.machine_memory_bytes", lambda: 16 * 2**30)


@pytest.mark.parametrize("script", sorted(TEXT_SCRIPTS))
@pytest.mark.parametrize("kind", ["empty", "binary", "latin-1", "folder", "missing"])
def test_a_file_that_is_not_text_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                            script: str, kind: str) -> None:
    path = bad_text_files(tmp_path / "in")[kind]
    with pytest.raises(SystemExit) as stop:
        TEXT_SCRIPTS[script](["--path", str(path), *SMALL, "--out", str(tmp_path / "out")])
    assert_one_line_error(capsys, stop, path.name)


@pytest.mark.parametrize("script", sorted(TEXT_SCRIPTS))
@pytest.mark.parametrize(("text", "fragment"), [
    ("a" * 300, "single distinct character"),
    ("x", "single distinct character ('x', once)"),
    ("hello", "the text is too short: 5 characters"),
])
def test_a_degenerate_text_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                      script: str, text: str, fragment: str) -> None:
    corpus = tmp_path / "text.txt"
    corpus.write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        TEXT_SCRIPTS[script](["--path", str(corpus), *SMALL, "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, fragment)


def test_the_too_short_message_gives_the_sizes_needed(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "text.txt"
    corpus.write_text("abcd" * 25, encoding="utf-8")  # 90 to train on, 10 to validate
    with pytest.raises(SystemExit) as stop:
        char_rnn.main(["--path", str(corpus), "--batch-size", "8", "--seq-len", "10",
                       "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, "training split of 90", "validation split of 10",
                          "need 88 for one chunk", "16 for validation")


@pytest.mark.parametrize("script", sorted(TEXT_SCRIPTS))
def test_a_text_without_the_default_prompt_samples_from_its_first_character(
        tmp_path: Path, figures_dir: Path, capsys: pytest.CaptureFixture, script: str) -> None:
    corpus = tmp_path / "line.txt"  # no newline, and no "ROMEO:" or "KING"
    corpus.write_text("the cat sat on the mat " * 10, encoding="utf-8")
    flags = ["--cells", "rnn"] if script == "compare_cells" else []
    TEXT_SCRIPTS[script](["--path", str(corpus), *SMALL, *flags, "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "starting from 't'" in out or "after 't'" in out


@pytest.mark.parametrize("script", sorted(TEXT_SCRIPTS))
def test_an_empty_prompt_is_refused(text_file: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture, script: str) -> None:
    with pytest.raises(SystemExit) as stop:
        TEXT_SCRIPTS[script](["--path", str(text_file), *SMALL, "--prompt", "",
                              "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, "--prompt is empty")


@pytest.mark.parametrize("script", sorted(TEXT_SCRIPTS))
def test_sizes_that_cannot_fit_are_refused(text_file: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture, small_machine: None,
                                           script: str) -> None:
    with pytest.raises(SystemExit) as stop:
        TEXT_SCRIPTS[script](["--path", str(text_file), "--embed", "1000000000",
                              "--batch-size", "2", "--seq-len", "4", "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, "--embed 1000000000", "GiB", "16.0 GiB")


def test_char_rnn_refuses_a_hidden_size_that_cannot_fit(text_file: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture,
                                                        small_machine: None) -> None:
    with pytest.raises(SystemExit) as stop:
        char_rnn.main(["--path", str(text_file), "--hidden", "100000", "--batch-size", "2",
                       "--seq-len", "4", "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, "--hidden 100000", "GiB")


@pytest.mark.parametrize(("main", "flags", "fragment"), [
    (rnn.main, ["--batch", "1000000000"], "GiB"),
    (rnn.main, ["--hidden", "1000"], "the gradient check would take about"),
    (rnn.main, ["--seq-len", "100000"], "the gradient check would take about"),
    (gru.main, ["--hidden", "1000"], "the gradient check would take about"),
    (lstm.main, ["--batch", "100000"], "the gradient check would take about"),
    (lstm.main, ["--seq-len", "100000000"], "GiB"),
    (gradient_flow.main, ["--hidden", "100000"], "GiB"),
    (clipping.main, ["--seq-len", "1000000"], "minutes"),
    (seq2seq.main, ["--max-len", "100000000"], "GiB"),
    (seq2seq.main, ["--test-size", "1000000000"], "GiB"),
])
def test_sizes_that_cannot_fit_or_finish_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture, small_machine: None,
        main: Callable[[list[str]], None], flags: list[str], fragment: str) -> None:
    out = [] if main is gru.main else ["--out", str(tmp_path)]  # gru.py draws nothing
    with pytest.raises(SystemExit) as stop:
        main([*flags, *out])
    assert_one_line_error(capsys, stop, flags[0], fragment)


def test_the_default_gradient_checks_are_well_within_the_limit() -> None:
    assert gradcheck_seconds(4, 6, 1, 3, 5) < 1  # rnn.py
    assert gradcheck_seconds(3, 4, 3, 3, 5) < 1  # gru.py
    assert gradcheck_seconds(3, 4, 4, 3, 5) < 1  # lstm.py
    assert gradcheck_seconds(4, 1000, 1, 3, 5) > MAX_CHECK_SECONDS


