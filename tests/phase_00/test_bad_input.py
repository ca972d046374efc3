"""Extreme settings end in one clear line, or in correct output: never a traceback, a nan
presented as a result, a number 300 digits long, or a run that prints nothing for hours."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import phase00
from phase00 import (
    corpus,
    derivatives,
    figures,
    flags,
    gradient_descent,
    linear_regression,
    probability,
)


def refusal(main, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run a script's main on argv; it must stop with a usage error. Return the error line."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def run_quietly(main, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run a script's main with every warning turned into an error; return what it printed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        main(argv)
    return capsys.readouterr().out


# derivatives.py

@pytest.mark.parametrize("argv, says", [
    (["--function", "exp", "--x", "708"], "overflows float64"),
    (["--function", "exp", "--x", "703"], "too near float64's largest"),
    (["--function", "cube", "--x", "1e103"], "overflows float64"),
    (["--h", "1e103"], "--h 1e+103 is too large"),
    (["--h", "1.5"], "needs x - h > 0"),
    (["--function", "sigmoid", "--x", "1e308"], "x + h rounds back to x"),
])
def test_derivatives_refuses_values_float64_cannot_hold(argv, says, figures_dir, capsys) -> None:
    assert says in refusal(derivatives.main, [*argv, "--out", str(figures_dir)], capsys)


def test_derivatives_prints_huge_and_tiny_values_in_scientific_notation(figures_dir,
                                                                        capsys) -> None:
    out = run_quietly(derivatives.main,
                      ["--function", "exp", "--x", "700", "--out", str(figures_dir)], capsys)
    assert "f(x)        = 1.0142320547e+304" in out
    assert max(len(digits) for digits in re.findall(r"\d+", out)) < 20, "no 300-digit number"
    out = run_quietly(derivatives.main,
                      ["--function", "sigmoid", "--x", "-710", "--out", str(figures_dir)], capsys)
    assert "analytic f'(x)      = 4.4762862257e-309" in out


def test_sigmoid_and_its_slope_never_overflow_and_keep_their_digits() -> None:
    f, df, _ = derivatives.FUNCTIONS["sigmoid"]
    with np.errstate(over="raise", invalid="raise"):  # an overflow would raise here
        assert f(-710.0) == pytest.approx(np.exp(-710.0), rel=1e-12)
        assert df(-710.0) == pytest.approx(np.exp(-710.0), rel=1e-12)
        assert df(40.0) == pytest.approx(np.exp(-40.0), rel=1e-12)  # f (1 - f) would give 0
        np.testing.assert_allclose(f(np.array([-2.0, 0.0, 3.0])),
                                   1 / (1 + np.exp([2.0, 0.0, -3.0])), rtol=1e-15)


# probability.py

@pytest.mark.parametrize("argv, says", [
    (["--samples", "100000000000"], "would take about"),
    (["--logits", "1e308", "1e308"], "--logits must lie within"),
    (["--logits", "1e306", "0", "--temperature", "1e-6"], "temperature 1e-06"),
])
def test_probability_refuses_settings_that_overflow_or_take_minutes(argv, says, figures_dir,
                                                                    capsys) -> None:
    assert says in refusal(probability.main, [*argv, "--out", str(figures_dir)], capsys)


def test_probability_refuses_samples_that_do_not_fit_in_memory(
        monkeypatch: pytest.MonkeyPatch, figures_dir, capsys) -> None:
    monkeypatch.setattr(flags, "machine_memory_bytes", lambda: 1_000_000)  # a 1 MB machine
    line = refusal(probability.main, ["--samples", "100000", "--out", str(figures_dir)], capsys)
    assert "--samples 100,000 needs about" in line


def test_probability_prints_small_values_unrounded_and_labels_the_naive_softmax(figures_dir,
                                                                                capsys) -> None:
    out = run_quietly(probability.main, ["--logits", "10", "0", "0", "0", "--samples", "100",
                                         "--out", str(figures_dir)], capsys)
    assert "softmax(z)          = [9.998638e-01 4.539375e-05" in out  # not 4.50000e-05
    assert "<- exp overflowed to inf" in out
    out = run_quietly(probability.main, ["--logits", "-1000", "-1001", "--samples", "100",
                                         "--out", str(figures_dir)], capsys)
    assert "[0.731059 0.268941]   <- no exp overflowed or underflowed here" in out
    out = run_quietly(probability.main, ["--logits", "-1800", "-1801", "--samples", "100",
                                         "--out", str(figures_dir)], capsys)
    assert "<- every exp underflowed to 0" in out


def test_a_certain_outcome_has_entropy_zero_not_minus_zero(figures_dir, capsys) -> None:
    out = run_quietly(probability.main, ["--logits", "1000", "0", "--samples", "100",
                                         "--out", str(figures_dir)], capsys)
    assert "-0.000" not in out
    assert "-log p = inf nats  (from logits: 1000.0000)" in out


# linear_regression.py

@pytest.mark.parametrize("argv, says", [
    (["--n-samples", "100000000000"], "GiB of memory"),
    (["--features", "100000000"], "GiB of memory"),
    (["--epochs", "100000000"], "--epochs 100,000,000 would take about"),
    (["--noise", "1e308"], "overflow float64"),
])
def test_linear_regression_refuses_sizes_that_cannot_run(argv, says, figures_dir,
                                                         capsys) -> None:
    assert says in refusal(linear_regression.main, [*argv, "--out", str(figures_dir)], capsys)


# gradient_descent.py

def test_gradient_descent_refuses_a_run_of_hours(figures_dir, capsys) -> None:
    line = refusal(gradient_descent.main, ["--steps", "100000000", "--out", str(figures_dir)],
                   capsys)
    assert "--steps 100,000,000 would take about" in line
    line = refusal(gradient_descent.main, ["--start", "1e200", "--out", str(figures_dir)],
                   capsys)
    assert "overflows float64" in line


def test_a_run_that_overflowed_is_called_diverged(figures_dir, capsys) -> None:
    out = run_quietly(gradient_descent.main,
                      ["--lr", "1.1", "--steps", "5000", "--out", str(figures_dir)], capsys)
    assert "x overflowed float64 at step 3880" in out
    assert "lr =  1.1: x overflowed to nan before step 5000: diverged" in out
    fig = gradient_descent.plot_1d([1.1], -4.0, 5000)
    assert fig.axes[0].get_title() == "lr = 1.1: diverges"  # not "x = nan"


# figures.py and corpus.py

def test_figures_needs_a_phase_or_all(capsys) -> None:
    line = refusal(figures.main, [], capsys)
    assert "--phase 00" in line and "--all" in line


def test_figures_counts_only_the_figures_it_wrote(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path, capsys) -> None:
    monkeypatch.setattr(phase00, "BLOG_FIGURES", [("vectors", [])])  # one quick script
    out = tmp_path / "phase-00-foundations"
    out.mkdir()
    (out / "old.png").write_bytes(b"a figure no script draws any more")
    figures.main(["--phase", "00", "--into", str(tmp_path)])
    printed = capsys.readouterr().out
    assert re.search(r"vectors\.py \.\.\. \d+\.\d s", printed), "progress, with its time"
    assert "1 figure written" in printed
    assert "not written by this run (left over from older scripts?): old.png" in printed


def test_corpus_refuses_a_data_dir_that_is_a_file(tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("not a folder", encoding="utf-8")
    for data_dir in (a_file, a_file / "below"):
        line = refusal(corpus.main, ["--data-dir", str(data_dir), "--offline"], capsys)
        assert f"{a_file} is a file, not a folder" in line
