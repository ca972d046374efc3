"""Phase 03's scripts answer bad input with one line, before any work.

Every script that reads a learner's text refuses a file that is not usable text (empty, binary,
Latin-1, a folder, a missing file) with one line that names the file, and draws nothing; the
language models refuse a text of one repeated character, and every script refuses a setting
whose arrays would not fit in memory, naming the flag that sets it.
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from phase03 import bigram, char_tokenizer, embeddings, mlp_lm, word2vec
from tests.phase_03.test_char_tokenizer import assert_one_line_error, bad_text_files

# main, and the flags that keep its run quiet (the progress bars of the longer trainings)
TEXT_SCRIPTS: dict[str, tuple[Callable[[list[str]], None], list[str]]] = {
    "bigram": (bigram.main, []),
    "char_tokenizer": (char_tokenizer.main, []),
    "embeddings": (embeddings.main, []),
    "mlp_lm": (mlp_lm.main, ["--no-progress"]),
    "word2vec": (word2vec.main, ["--no-progress"]),
}


@pytest.mark.parametrize("kind", ["empty", "binary", "latin-1", "folder", "missing"])
@pytest.mark.parametrize("script", sorted(TEXT_SCRIPTS))
def test_a_file_that_is_not_text_is_refused(script: str, kind: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    main, quiet = TEXT_SCRIPTS[script]
    path = bad_text_files(tmp_path / "in")[kind]
    with pytest.raises(SystemExit) as stop:
        main(["--path", str(path), *quiet, "--out", str(tmp_path / "out")])
    assert_one_line_error(capsys, stop, path.name)
    assert not list(tmp_path.glob("out/*")), "refused after some work: it wrote a file"


@pytest.mark.parametrize("script, fragments", [
    ("bigram", ["single distinct character", "nothing to learn"]),
    ("mlp_lm", ["single distinct character"]),
])
def test_a_text_of_one_repeated_character_is_refused(script: str, fragments: list[str],
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    main, quiet = TEXT_SCRIPTS[script]
    corpus = tmp_path / "a.txt"
    corpus.write_text("a" * 500, encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--path", str(corpus), *quiet, "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, *fragments)


@pytest.mark.parametrize("script, flags", [
    ("bigram", ["--batch", "1000000000"]),
    ("embeddings", ["--timing-dim", "100000000"]),
    ("word2vec", ["--min-count", "1", "--dim", "1000000000"]),
])
def test_sizes_that_cannot_fit_are_refused_by_name(script: str, flags: list[str], tmp_path: Path,
                                                   tiny_text: str,
                                                   capsys: pytest.CaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("phase00.flags.machine_memory_bytes", lambda: 16 * 2**30)
    main, quiet = TEXT_SCRIPTS[script]
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text, encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--path", str(corpus), *flags, *quiet, "--out", str(tmp_path)])
    assert_one_line_error(capsys, stop, f"{flags[-2]} {flags[-1]}", "GiB")


@pytest.mark.parametrize("script, flags", [
    ("bigram", ["--optimizer", "sgd", "--lr", "1e200", "--steps", "5", "--batch", "8"]),
    ("mlp_lm", ["--lr", "1e10", "--steps", "5", "--batch", "8", "--context", "3", "--dim", "2",
                "--hidden", "8"]),
    ("word2vec", ["--lr", "1e6", "--min-count", "1", "--subsample", "0", "--batch", "4",
                  "--epochs", "1", "--dim", "4"]),
])
def test_a_learning_rate_that_blows_the_loss_up_stops_the_run_in_one_line(
        script: str, flags: list[str], tmp_path: Path, tiny_text: str,
        capsys: pytest.CaptureFixture) -> None:
    """A loss that is no longer a number, or a hundred times a uniform guess's, ends the run
    with the step and the learning rate named: no traceback from a later step, no 200-digit
    losses printed as if training were going well."""
    main, quiet = TEXT_SCRIPTS[script]
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text * 4, encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--path", str(corpus), *flags, *quiet, "--out", str(tmp_path)])
    assert stop.value.code == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and last.startswith("error: the loss became ")
    assert "is too high for this model; try a smaller --lr" in last
