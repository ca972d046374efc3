"""Inputs that used to end in a traceback, a hang or a silent nonsense run now get one clear
line: a usage error (exit 2) before anything runs, or a one-line stop (exit 1) when training
blows up. Each case is refused or stopped within a second or so."""

import warnings
from pathlib import Path

import numpy as np
import pytest

from phase02 import (
    autograd,
    gradcheck,
    initialization,
    layers,
    mlp_numpy,
    optimizers,
    toy_data,
    value_mlp,
)
from phase02.mlp_numpy import make_problem, train
from phase02.toy_data import make_dataset


def stops(main, argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    """Run main(argv), expect SystemExit(code); return the last line of stderr."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "Traceback" not in err[-1]
    return err[-1]


@pytest.mark.parametrize("argv", [["--y", "1e200"], ["--w", "1e308", "--x", "10"]])
def test_the_neuron_demo_refuses_numbers_that_overflow(argv: list[str], capsys) -> None:
    assert "between -1000 and 1000" in stops(autograd.main, argv, capsys)


@pytest.mark.parametrize("main, argv", [
    (mlp_numpy.main, ["--hidden", "10000000"]),
    (initialization.main, ["--hidden", "100000000"]),
    (gradcheck.main, ["--batch", "100000000000"]),
], ids=["mlp_numpy", "initialization", "gradcheck"])
def test_sizes_that_do_not_fit_in_memory_are_refused(main, argv: list[str], capsys) -> None:
    assert "memory" in stops(main, argv, capsys)


def test_a_gradient_check_whose_cost_grows_with_the_square_of_the_batch(capsys) -> None:
    assert "minutes" in stops(gradcheck.main, ["--batch", "100000"], capsys)


def test_a_finite_difference_step_too_wide_to_mean_anything(capsys) -> None:
    """h = 1e10 used to be accepted, and correct layers were then called WRONG."""
    assert "at most 0.1" in stops(gradcheck.main, ["--h", "1e10"], capsys)


def test_failures_without_a_planted_bug_are_blamed_on_h(figures_dir: Path, capsys) -> None:
    gradcheck.main(["--h", "1e-13", "--out", str(figures_dir)])
    assert "No bug is planted" in capsys.readouterr().out


def test_the_backward_figure_refuses_more_numbers_than_it_can_write(capsys) -> None:
    """--hidden 100000000 used to allocate for minutes, then draw every entry as text."""
    assert "at most 1024" in stops(layers.main, ["--hidden", "100000000"], capsys)


def test_the_value_engine_refuses_a_run_of_hours(capsys) -> None:
    """--hidden 300 is 18 million Python objects per epoch: refused, with the estimate."""
    message = stops(value_mlp.main, ["--hidden", "300"], capsys)
    assert "minutes" in message and "mlp_numpy.py" in message


def test_the_node_count_estimate_is_the_real_count(rng: np.random.Generator) -> None:
    X, _ = make_dataset("spirals", 7, 0.1, rng)
    y = np.arange(7) % 3
    sizes = [2, 4, 3, 3]
    model = value_mlp.MLP([(rng.normal(size=(a, b)), rng.normal(size=b))
                           for a, b in zip(sizes[:-1], sizes[1:], strict=True)], "tanh")
    loss, _ = value_mlp.loss_and_accuracy(model, X, y)
    assert value_mlp.nodes_per_epoch(sizes, 7) == len(loss.topological_order())
    assert value_mlp.nodes_per_epoch([2, 8, 8, 2], 100) == 23_917  # the default run's count


@pytest.mark.parametrize("main, argv", [
    (mlp_numpy.main, ["--optimizer", "sgd", "--lr", "1e6", "--epochs", "5"]),
    (value_mlp.main, ["--lr", "1e6", "--epochs", "3", "--n-samples", "10"]),
], ids=["mlp_numpy", "value_mlp"])
def test_a_loss_that_blows_up_stops_the_run(main, argv: list[str], figures_dir: Path,
                                            capsys) -> None:
    """It used to train on at a loss of millions (or print one 100 digits long)."""
    message = stops(main, [*argv, "--out", str(figures_dir)], capsys, code=1)
    assert "the loss became" in message and "--lr" in message


def test_train_stops_above_the_ceiling_only_when_asked() -> None:
    with pytest.raises(FloatingPointError):
        train(optimizer="sgd", lr=1e6, epochs=3, verbose=False, ceiling=100.0)
    with np.errstate(all="ignore"):  # without a ceiling it goes on (initialization.py's nan)
        assert len(train(optimizer="sgd", lr=1e6, epochs=3, verbose=False)["losses"]) == 4


def test_a_batch_larger_than_the_data_is_refused(capsys) -> None:
    """--batch-size 500 with 200 points used to train full batch while printing 500."""
    assert "larger than the 200 points" in stops(mlp_numpy.main, ["--batch-size", "500"], capsys)


@pytest.mark.parametrize("main", [mlp_numpy.main, toy_data.main, value_mlp.main])
def test_noise_that_buries_the_data_is_refused(main, capsys) -> None:
    """--noise 1e300 used to run, saturate every unit and report the check as "ok"."""
    assert "between 0 and 10" in stops(main, ["--noise", "1e300"], capsys)
    assert "between 0 and 10" in stops(main, ["--noise", "11"], capsys)


def test_a_huge_learning_rate_prints_short_numbers_and_no_warnings(figures_dir: Path,
                                                                   capsys) -> None:
    """--lr 1e300 used to print moves 300 digits long, and RuntimeWarnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizers.main(["--lr", "1e300", "--steps", "5", "--epochs", "3",
                         "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) < 130
    assert "blown up" in out


def test_training_takes_one_forward_pass_per_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loss and the accuracy come from the same forward pass (there used to be two)."""
    calls = []
    original = layers.MLP.forward

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(layers.MLP, "forward", counting)
    result = train(epochs=3, verbose=False)
    assert len(calls) == 4 + 3  # one evaluation per epoch (and after the last), one step each
    X, y, _ = make_problem("moons", 200, 0.1, 16, 2, "tanh", "xavier", 0)
    assert result["accuracies"][-1] == mlp_numpy.accuracy(result["model"], X, y)


def test_the_backward_figure_reuses_the_backward_pass(figures_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = layers.Dense.backward

    def counting(self, dout):
        calls.append(1)
        return original(self, dout)

    monkeypatch.setattr(layers.Dense, "backward", counting)
    layers.main(["--out", str(figures_dir)])
    assert len(calls) == 2 + 2  # the 2-2-1 network's two Dense layers, then the 2-4-3 MLP's


@pytest.mark.parametrize("final, acc, expected", [
    (0.6914, 0.815, "partly"),  # sigmoid + He: sorts 81.5% with a loss near ln 2
    (0.6931, 0.50, "stuck at chance"),
    (0.0100, 1.00, "learned"),
    (float("nan"), 0.50, "diverged (nan)"),
])
def test_stuck_at_chance_needs_a_coin_toss_accuracy_too(final: float, acc: float,
                                                        expected: str) -> None:
    assert initialization.training_verdict(final, acc) == expected
