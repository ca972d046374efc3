"""The long-lag memory task: its data, its model's gradients, fair budgets, and the result the
phase rests on (the plain RNN at chance where the gated cells name the symbol)."""

import argparse
from pathlib import Path

import numpy as np
import pytest

from phase02.gradcheck import TOLERANCE, check_gradients
from phase04 import long_lag
from phase04.compare_cells import hidden_for_params, recurrent_params
from phase04.long_lag import LastStepClassifier, make_batch, show_sequence, train_one


def settings(**changes: object) -> argparse.Namespace:
    """train_one's settings: the --quick experiment's, with `changes`."""
    values = {"symbols": 4, "keep_bias": 3.0, "lr": 3e-3, "clip": 1.0, "batch_size": 32,
              "eval_every": 50, **long_lag.QUICK, **changes}
    return argparse.Namespace(**values)


def test_a_batch_marks_step_0_and_asks_for_its_symbol() -> None:
    x, y = make_batch(np.random.default_rng(0), batch=64, lag=7, n_symbols=5)
    assert x.shape == (64, 8, 6) and y.shape == (64,)
    assert np.all(x[:, :, :5].sum(axis=2) == 1.0)  # one symbol per step
    assert np.all(x[:, 0, 5] == 1.0) and np.all(x[:, 1:, 5] == 0.0)  # the mark: step 0 only
    assert np.array_equal(x[:, 0, :5].argmax(axis=1), y)
    assert set(np.unique(y)) == set(range(5))  # every symbol can be the answer
    # the distractors are the same alphabet, so a model cannot tell them apart by symbol
    assert set(np.unique(x[:, 1:, :5].argmax(axis=2))) == set(range(5))
    # every step draws from all k symbols, the answer included: it may come back as a distractor
    assert np.any(x[:, 1:, :5].argmax(axis=2) == y[:, None])
    assert x.dtype == np.float64, f"x is the network's input, floats, got {x.dtype}"
    assert show_sequence(x[0]).startswith("*") and show_sequence(x[0]).count("*") == 1


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_count_params_is_the_models_count(cell: str) -> None:
    model = LastStepClassifier(cell, 4, 7, 3.0, np.random.default_rng(0))
    assert model.n_params() == recurrent_params(cell, 5, 4, 7)


def test_budgets_are_equal_and_the_rnn_is_widest() -> None:
    budget = recurrent_params("rnn", 5, 4, 64)
    assert budget == 4740
    sizes = {cell: hidden_for_params(cell, budget, 5, 4) for cell in ("rnn", "lstm", "gru")}
    assert sizes == {"rnn": 64, "lstm": 31, "gru": 36}
    for cell, H in sizes.items():
        assert abs(recurrent_params(cell, 5, 4, H) - budget) < 0.02 * budget


def test_keep_bias_opens_the_gated_cells_valves_only() -> None:
    H = 6
    lstm = LastStepClassifier("lstm", 4, H, 2.5, np.random.default_rng(0))
    gru = LastStepClassifier("gru", 4, H, 2.5, np.random.default_rng(0))
    rnn = LastStepClassifier("rnn", 4, H, 2.5, np.random.default_rng(0))
    assert np.all(lstm.rnn.params["b"][H:2 * H] == 2.5)  # forget gate (blocks i, f, g, o)
    assert np.all(np.delete(lstm.rnn.params["b"], np.s_[H:2 * H]) == 0.0)
    assert np.all(gru.rnn.params["b"][H:2 * H] == 2.5)  # update gate (blocks r, z, n)
    assert np.all(np.delete(gru.rnn.params["b"], np.s_[H:2 * H]) == 0.0)
    assert np.all(rnn.rnn.params["b"] == 0.0)  # the plain RNN has no valve


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_last_step_classifier_gradients(cell: str) -> None:
    """The blame enters at the last step only and reaches every weight through BPTT."""
    model = LastStepClassifier(cell, 3, 4, 1.0, np.random.default_rng(1))
    x, y = make_batch(np.random.default_rng(2), batch=3, lag=5, n_symbols=3)

    def loss() -> float:
        return model.loss(x, y)

    loss()
    model.backward()
    grads = {name: g.copy() for name, g in model.grads.items()}
    assert np.abs(grads["rnn.W_x"][:, :]).max() > 0  # step 0's input reached
    errors = check_gradients(loss, model.params, grads)
    assert max(errors.values()) < TOLERANCE, errors


def test_the_plain_rnn_forgets_where_the_gated_cells_remember() -> None:
    """Lag 30, equal budgets (RNN H = 32, LSTM 15, GRU 18), 300 steps at most: the RNN stays
    near chance (0.25), the LSTM and the GRU name the symbol. At lag 3 all three do."""
    args = settings()
    for lag, expect_rnn in ((3, "learns"), (30, "forgets")):
        runs = {cell: train_one(cell, H, lag, 0, args)
                for cell, H in (("rnn", 32), ("lstm", 15), ("gru", 18))}
        assert runs["lstm"]["final"] >= 0.95 and runs["gru"]["final"] >= 0.95, lag
        if expect_rnn == "learns":
            assert runs["rnn"]["final"] >= 0.95
        else:
            assert runs["rnn"]["final"] < 0.35 and runs["rnn"]["to_target"] is None
            assert runs["rnn"]["steps"][-1] == 300  # it used every step it was given
            # the blame that reaches the marked step at the start: far less for the RNN
            assert runs["rnn"]["blame"] < 0.02 < 0.2 < runs["lstm"]["blame"]
        assert runs["lstm"]["to_target"] is not None and runs["lstm"]["steps"][-1] < 300


def test_main_prints_the_tables_and_draws_the_figure(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    long_lag.main(["--quick", "--lags", "2", "4", "--steps", "4", "--hidden", "6",
                   "--eval-every", "2", "--eval-size", "16", "--seeds", "2",
                   "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "at most 4 steps, seeds [0, 1]" in out  # explicit flags win over --quick
    assert "RNN  H =   6: 100 parameters" in out
    for part in ("4. Final held-out accuracy", "5. Steps until", "6. At the first step"):
        assert part in out
    assert (tmp_path / "long_lag.png").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--symbols", "1"], "at least 2 symbols"),
    (["--lags", "100000000"], "memory"),
])
def test_main_refuses_what_cannot_run(argv: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        long_lag.main([*argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing drawn


def test_a_diverging_run_stops_and_says_so() -> None:
    run = train_one("rnn", 8, 3, 0, settings(lr=1e308, clip=0.0, steps=20, eval_size=16))
    assert run["diverged"] == 2 and run["steps"][-1] == 2  # step 1's update broke the weights


def test_a_run_that_could_take_hours_is_refused_with_the_estimate(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Memory is not the only limit: lag 5000 fits, but its runs could take hours."""
    with pytest.raises(SystemExit) as stop:
        long_lag.main(["--lags", "5000"])
    assert stop.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "could take about" in last and "hours" in last and "at most 2 hours" in last
