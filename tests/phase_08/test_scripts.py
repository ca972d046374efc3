"""The scripts as a learner runs them: the quickstart's smoke run, sampling, the loader's and
the config's printouts."""

import re
from pathlib import Path

import pytest

from phase08 import config, loader, pieces, quickstart, sample


def test_quickstart_smoke_runs_end_to_end(tmp_path: Path, book: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "book.txt"
    text.write_text(book, encoding="utf-8")
    run = tmp_path / "run"
    quickstart.main(["--smoke", "--path", str(text), "--data-dir", str(tmp_path / "tokens"),
                     "--run-dir", str(run), "--out", str(tmp_path / "figs"), "--device", "cpu",
                     "--samples", "1"])
    out = capsys.readouterr().out
    bigram = float(re.search(r"counting bigram .* validation (\d+\.\d+)", out).group(1))
    gpt = float(re.search(r"GPT \(.*\): validation (\d+\.\d+)", out).group(1))
    assert 0 < bigram < 4 and 0 < gpt < 4  # ln 40 = 3.69 would be knowing nothing
    assert "--- sample 1 ---" in out
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()
    assert (tmp_path / "figs" / "run_loss.png").is_file()

    sample.main(["--checkpoint", str(run / "best.pt"), "--prompt", "To be", "--tokens", "30",
                 "--top-k", "5", "--top-p", "0.9", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "step 40" in out and "\nTo be" in out


def test_sample_without_a_checkpoint_says_how_to_get_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        sample.main(["--checkpoint", str(tmp_path / "none.pt"), "--device", "cpu"])
    assert stop.value.code == 1
    assert "none.pt" in capsys.readouterr().err


def test_loader_and_config_explain_themselves(char_data: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    loader.main(["--data", str(char_data), "--steps", "1"])
    out = capsys.readouterr().out
    assert "step 0 rank 1: tokens [32, 64)" in out and "'position': 64" in out
    config.main(["--preset", "cpu-smoke", "--set", "lr=1e-3"])
    assert "lr                0.001  <- changed" in capsys.readouterr().out


def test_pieces_shows_each_piece(char_data: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    pieces.main(["--data", str(char_data), "--steps", "30", "--bad-step", "15", "--stop-at", "12",
                 "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "norm ratio 4.000000" in out and "lr 0.000060" in out
    assert "steps that differ: 0; largest difference 0.0" in out
    clipped = re.search(r"bad batch, clip 1 +: mean loss of the \d+ steps after it (\d\.\d+)", out)
    unclipped = re.search(r"bad batch, no clipping: mean loss of the \d+ steps after it (\d\.\d+)",
                          out)
    assert float(clipped.group(1)) < float(unclipped.group(1))
    assert (tmp_path / "training_pieces.png").is_file()


@pytest.mark.parametrize("script", ["benchmark", "device_checks"])
def test_an_unknown_device_in_the_environment_is_a_usage_error(
        script: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """TFS_DEVICE=banana stops the hardware scripts with a usage line, not a traceback."""
    import importlib
    module = importlib.import_module(f"phase08.{script}")
    monkeypatch.setenv("TFS_DEVICE", "banana")
    with pytest.raises(SystemExit) as stop:
        module.main([])
    assert stop.value.code == 2
    assert "unknown device 'banana'" in capsys.readouterr().err
