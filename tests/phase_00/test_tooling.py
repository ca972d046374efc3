"""The environment checker and the corpus loader: offline behaviour, clear errors, no half files."""

import argparse
import os
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest

from phase00 import check_environment, corpus, flags
from phase00.figures import main as remake_figures
from phase00.figures import scratch_dir
from tests.conftest import REPO_ROOT


def test_python_version_check() -> None:
    assert check_environment.check_python((3, 12, 1))[0] == "OK"
    status, detail = check_environment.check_python((3, 10, 4))
    assert status == "FAIL" and "3.11" in detail


def test_missing_package_fails_and_missing_extra_warns() -> None:
    assert check_environment.check_package("numpy", "numpy")[0] == "OK"
    status, detail = check_environment.check_package("no-such-package-xyz", None)
    assert status == "FAIL" and "not installed" in detail
    assert check_environment.check_package("no-such-package-xyz", None, required=False)[0] == "WARN"


def test_checker_runs_offline_and_exits_zero_here(tmp_path: Path) -> None:
    """End to end, and each line arrives as its check finishes, not all at once at exit."""
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "phase-00-foundations/code/check_environment.py"),
         "--offline"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**__import__("os").environ, "TFS_DATA_DIR": str(tmp_path)})
    arrivals = []  # (time the line was read, line): a pipe buffers whatever is not flushed
    for line in process.stdout:
        arrivals.append((time.perf_counter(), line.rstrip("\n")))
    returncode = process.wait(timeout=300)
    lines = [line for _, line in arrivals]
    assert returncode == 0, "\n".join(lines) + process.stderr.read()
    for what in ("python", "numpy", "torch", "device cpu", "package phase00",
                 "corpus tinyshakespeare"):
        assert any(line.split(maxsplit=1)[-1].startswith(what) for line in lines), what
    assert "network check skipped" in "\n".join(lines)
    # The platform line comes at once; the last check waits for torch and transformers to import.
    assert arrivals[-1][0] - arrivals[0][0] > 0.5


def test_checker_prints_each_check_before_the_next_runs(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seen_before_devices = []

    def devices() -> list[tuple[str, str, str]]:
        seen_before_devices.append(capsys.readouterr().out)
        return [("OK", "device cpu", "a fake")]

    monkeypatch.setattr(check_environment, "REQUIRED", [("numpy", "numpy")])
    monkeypatch.setattr(check_environment, "DEV_EXTRAS", [])
    monkeypatch.setattr(check_environment, "check_devices", devices)
    assert check_environment.main(["--offline"]) == 0
    assert "python" in seen_before_devices[0] and "package phase00" in seen_before_devices[0]
    assert "OK    device cpu" in capsys.readouterr().out


def test_checker_exit_status_reflects_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check_environment, "REQUIRED",
                        [*check_environment.REQUIRED, ("no-such-package-xyz", None)])
    monkeypatch.setattr(check_environment, "check_devices", lambda: [])
    assert check_environment.main(["--offline"]) == 1


def test_corpus_cached_file_is_used(tmp_path: Path) -> None:
    (tmp_path / corpus.TINY_SHAKESPEARE_FILE).write_text("ROMEO:\nHello.\n", encoding="utf-8")
    text, source = corpus.load_text(data_dir=tmp_path, download=False)
    assert text == "ROMEO:\nHello.\n" and "cached" in source


def test_corpus_falls_back_to_stdlib_offline(tmp_path: Path, capsys) -> None:
    text, source = corpus.load_text(data_dir=tmp_path, download=False)
    assert "standard library" in source
    assert len(text) > 100_000 and "def " in text
    assert "not cached" in capsys.readouterr().out


def test_corpus_falls_back_when_download_fails(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(corpus.urllib.request, "urlopen", no_network)
    text, source = corpus.load_text(data_dir=tmp_path, download=True)
    assert "fallback" in source
    assert not list(tmp_path.iterdir()), "a failed download must leave no file behind"


def test_corpus_falls_back_when_the_network_is_refused(tmp_path: Path) -> None:
    """The test suite's own guard (any connection to another machine raises RuntimeError) is
    one more way for a download to fail; it falls back like the others."""
    text, source = corpus.load_text(data_dir=tmp_path, download=True)
    assert "fallback" in source and "def " in text


def test_corrupt_download_is_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeResponse:
        def __enter__(self) -> "FakeResponse":
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return b"not shakespeare"

    monkeypatch.setattr(corpus.urllib.request, "urlopen", lambda *a, **k: FakeResponse())
    with pytest.raises(OSError, match="SHA-256"):
        corpus.download_tiny_shakespeare(tmp_path)
    assert not corpus.is_cached(tmp_path)


def test_corpus_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="valid names are tinyshakespeare, stdlib"):
        corpus.load_text("wikipedia", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="no text file at"):
        corpus.load_text(path=tmp_path / "missing.txt")


def test_write_atomically_writes_bytes_or_a_writer_and_makes_the_folder(tmp_path: Path) -> None:
    first = corpus.write_atomically(tmp_path / "new" / "a.bin", b"abc")
    assert first.read_bytes() == b"abc"
    corpus.write_atomically(first, lambda f: f.write(b"defg"))  # a writer, over the old file
    assert first.read_bytes() == b"defg" and os.listdir(first.parent) == ["a.bin"]


@pytest.mark.parametrize("stop", [OSError("disk full"), KeyboardInterrupt()])
def test_write_atomically_interrupted_keeps_the_old_file_and_no_temporary(
        tmp_path: Path, stop: BaseException) -> None:
    path = corpus.write_atomically(tmp_path / "model.npz", b"the old bytes")

    def half_then_stop(f: object) -> None:
        f.write(b"half of the n")
        raise stop

    with pytest.raises(type(stop)):
        corpus.write_atomically(path, half_then_stop)
    assert path.read_bytes() == b"the old bytes" and os.listdir(tmp_path) == ["model.npz"]


def test_local_file_is_read(tmp_path: Path, tiny_text: str) -> None:
    book = tmp_path / "book.txt"
    book.write_text(tiny_text, encoding="utf-8")
    assert corpus.load_text(path=book)[0] == tiny_text


def test_figures_remakes_every_blog_figure(figures_dir: Path) -> None:
    remake_figures(["--phase", "00", "--into", str(figures_dir)])
    made = {p.name for p in (figures_dir / "phase-00-foundations").glob("*.png")}
    shown = {p.name for p in (REPO_ROOT / "phase-00-foundations/blog/figures").glob("*.png")}
    assert len(made) >= 8
    assert shown <= made, "every figure in the blog folder is one BLOG_FIGURES makes"


def test_the_learners_runs_get_a_scratch_folder_of_their_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A script in my-code/phase05/, or any script run with the learner's code in use
    (WORKBOOK_MINE, set by `python -m workbook run`), writes to scratch/my-code/phase05/, so it
    never replaces what the course's own code made in scratch/phase-05-attention/."""
    course = REPO_ROOT / "phase-05-attention/code/train_transformer.py"
    monkeypatch.delenv("WORKBOOK_MINE", raising=False)
    assert scratch_dir(course).name == "phase-05-attention"
    mine = scratch_dir(Path("/anywhere/my-code/phase05/attention.py"))
    assert mine.parts[-2:] == ("my-code", "phase05")
    monkeypatch.setenv("WORKBOOK_MINE", "03,05")
    assert scratch_dir(course) == mine


def test_scratch_dir_is_outside_the_blog() -> None:
    script = REPO_ROOT / "phase-01-neural-networks/code/mlp.py"
    where = scratch_dir(script)
    assert where.name == "phase-01-neural-networks"
    assert "blog" not in where.parts
    assert "scratch/" in (REPO_ROOT / ".gitignore").read_text(), "scratch/ must be git-ignored"


@pytest.mark.parametrize("make, text, expected", [
    (flags.positive_float, "0.5", 0.5), (flags.finite_float, "-3", -3.0),
    (flags.nonnegative_float, "0", 0.0), (flags.unit_float, "0.9", 0.9),
    (flags.fraction, "0.1", 0.1), (flags.positive_int, "7", 7), (flags.nonnegative_int, "0", 0)])
def test_flag_types_accept_good_values(make, text: str, expected: float) -> None:
    assert make(text) == expected


@pytest.mark.parametrize("make, text", [
    (flags.positive_float, "0"), (flags.positive_float, "-1"), (flags.positive_float, "inf"),
    (flags.finite_float, "nan"), (flags.finite_float, "abc"), (flags.nonnegative_float, "-0.1"),
    (flags.unit_float, "1"), (flags.unit_float, "-0.5"), (flags.positive_int, "0"),
    (flags.positive_int, "2.5"), (flags.nonnegative_int, "-1"), (flags.fraction, "0"),
    (flags.fraction, "1"), (flags.fraction, "nan")])
def test_flag_types_refuse_nonsense(make, text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected"):
        make(text)


def test_limit_blas_threads_sets_one_thread() -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    from phase00.threads import limit_blas_threads, time_product

    with threadpool_limits():  # restore the original settings afterwards
        limited = limit_blas_threads(1)
        blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
        assert len(limited) == len(blas)
        assert all(i["num_threads"] == 1 for i in blas)
    assert time_product(64, 32, 16, threads=1, repeats=2) > 0


def test_bad_flag_is_a_usage_error_not_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "phase-00-foundations/code/linear_regression.py"),
         "--lr", "-1"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "usage:" in result.stderr and "expected a number > 0" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty"),
    (b"\xef\xbb\xbf", "holds no text after its byte-order mark"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary file"),
    ("caf\u00e9 au lait\n".encode("latin-1"), "not UTF-8 text: byte 0xe9 at offset 3 \\(line 1\\)"),
])
def test_a_file_that_is_not_text_is_refused_with_the_reason(tmp_path: Path, content: bytes,
                                                             expected: str) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    with pytest.raises(corpus.NotTextError, match=expected):
        corpus.load_text(path=bad)
    with pytest.raises(corpus.NotTextError, match="is a folder"):
        corpus.load_text(path=tmp_path)


def test_a_device_is_not_called_a_folder() -> None:
    with pytest.raises(corpus.NotTextError, match="not a regular file"):
        corpus.load_text(path=Path(os.devnull))


def test_utf8_text_is_read_as_written_and_a_byte_order_mark_dropped(tmp_path: Path) -> None:
    book = tmp_path / "book.txt"
    book.write_bytes("\ufeffna\u00efve caf\u00e9 \u2014 \U0001f600\n".encode("utf-8"))
    assert corpus.read_text_file(book) == "na\u00efve caf\u00e9 \u2014 \U0001f600\n"


def test_thread_count_stops_at_the_machines_cores() -> None:
    import argparse
    import os

    assert flags.thread_count("1") == 1
    assert flags.thread_count(str(os.cpu_count())) == os.cpu_count()
    with pytest.raises(argparse.ArgumentTypeError, match="CPU cores"):
        flags.thread_count(str((os.cpu_count() or 1) + 1))


def test_a_setting_too_large_for_memory_is_refused_with_the_estimate() -> None:
    flags.check_fits_in_memory(1e6, "--context")  # a megabyte fits anywhere
    with pytest.raises(ValueError, match=r"--context 100000 needs about [\d,.]+ GiB of memory "
                                         r"and this machine has"):
        flags.check_fits_in_memory(1e15, "--context 100000")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_output_file_where_no_file_can_be_created_is_refused_at_once() -> None:
    """Permissions can say yes where the file system says no (/proc, a read-only disk): the
    flag tries to create a file there, so a run is refused before its work, not after."""
    from phase00.flags import output_file

    # as root the permissions allow it and the probe refuses; as anyone else the permissions do
    with pytest.raises(argparse.ArgumentTypeError,
                       match="does not take new files|no permission to write"):
        output_file("/proc/model.pt")
