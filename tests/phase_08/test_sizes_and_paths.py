"""Sizes that cannot fit and output folders of the wrong kind are refused before any work, in
benchmark.py, budget.py, pieces.py and loader.py."""

from pathlib import Path

import pytest

from phase08 import benchmark, budget, loader, pieces


def usage_error(main: object, args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err
    return err.splitlines()[-1]


def test_the_memory_estimate_of_a_training_step_by_hand() -> None:
    shape = budget.Shape("tiny", n_layer=1, n_head=1, n_embd=2, context=4, vocab_size=3)
    assert shape.n_params() == 3 * 2 + (12 * 4 + 13 * 2) + 2 * 2 + 4 * 2 == 92
    # 16 bytes per parameter; 4 tokens x (24 x 1 x 2 + 3 x 3) values of 4 bytes
    assert shape.training_bytes(1) == 16 * 92 + 4 * 4 * (24 * 2 + 3 * 3) == 2384
    # the hand path also keeps 3 maps of 4 x 4 per head and layer
    assert shape.training_bytes(1, hand_attention=True) == 2384 + 4 * 3 * 16
    assert shape.training_bytes(10) > 10 * (shape.training_bytes(1) - 16 * 92)  # grows with B


@pytest.mark.parametrize("args, expected", [
    (["--quick", "--context", "100000"], "needs about"),
    (["--quick", "--micro-batch", "1000000000"], "needs about"),
    (["--quick", "--pad-vocab", "1000000000"], "vocabulary 1,000,000,000"),
    (["--quick", "--threads", "100000"], "CPU cores"),
])
def test_benchmark_refuses_what_cannot_run(capsys: pytest.CaptureFixture[str],
                                           args: list[str], expected: str) -> None:
    assert expected in usage_error(benchmark.main, [*args, "--device", "cpu"], capsys)


def test_wrong_output_folders_are_refused_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a-file.png"
    a_file.write_bytes(b"")
    for main in (budget.main, pieces.main):
        assert "is a file, not a folder" in usage_error(main, ["--out", str(a_file)], capsys)
        assert "cannot write" in usage_error(main, ["--out", str(a_file / "figs")], capsys)
    assert "--data-dir" in usage_error(pieces.main, ["--data-dir", str(a_file)], capsys)
    assert not list(tmp_path.glob("*.tmp")) and a_file.read_bytes() == b""


@pytest.mark.parametrize("args, expected", [
    (["--tokens-per-s", "1e-300"], "between 1 and 10^12"),
    (["--hours", "24", "1e300"], "above 100,000"),
])
def test_budget_refuses_rates_and_hours_that_plan_nothing(
        capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    assert expected in usage_error(budget.main, args, capsys)


def test_loader_demo_refuses_a_batch_that_cannot_fit(capsys: pytest.CaptureFixture[str]) -> None:
    assert "GiB of memory" in usage_error(loader.main, ["--batch", "1000000000"], capsys)
