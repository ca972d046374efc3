"""The perceptron learns AND and OR within the theorem's bound and never learns XOR."""

import numpy as np
import pytest

from phase01.perceptron import (
    GATES,
    SEPARATORS,
    X_GATE,
    main,
    margin,
    mistake_bound,
    perceptron_update,
    predict,
    train_perceptron,
)
from tests.scripts import refused


@pytest.mark.parametrize("gate", ["and", "or"])
def test_learns_separable_gates_within_the_convergence_bound(gate: str) -> None:
    y = GATES[gate]
    run = train_perceptron(X_GATE, y, lr=1.0, epochs=100)
    assert run.converged
    np.testing.assert_array_equal(predict(X_GATE, run.w, run.b), y)
    w_star, b_star = SEPARATORS[gate]
    assert sum(run.mistakes) <= mistake_bound(X_GATE, y, w_star, b_star)
    assert run.epochs <= 10
    assert run.mistakes[-1] == 0 and run.wrong_after[-1] == 0


def test_the_documented_runs() -> None:
    """The README and notes quote these runs: AND learns in 5 epochs, OR in 3 (+1 to check)."""
    assert train_perceptron(X_GATE, GATES["and"]).epochs == 6
    assert train_perceptron(X_GATE, GATES["or"]).epochs == 4
    run = train_perceptron(X_GATE, GATES["and"])
    np.testing.assert_array_equal(run.w, [2.0, 1.0])
    assert run.b == -2.0


def test_one_update_by_hand_leaves_the_callers_weights_alone() -> None:
    """The notes' first step (w = (0, 0), b = 0, x = (1, 1), y = 1, lr = 1: a missed 1), and
    the new w is a new array: a caller that keeps the old weights (a notebook, a plot of the
    path) must still have them."""
    w = np.zeros(2)
    new_w, new_b, error = perceptron_update(w, 0.0, np.array([1.0, 1.0]), 1.0, 1.0)
    assert error == 1.0 and new_b == 1.0
    np.testing.assert_array_equal(new_w, [1.0, 1.0])
    np.testing.assert_array_equal(w, [0.0, 0.0])
    same_w, same_b, error = perceptron_update(new_w, 1.0, np.array([1.0, 1.0]), 1.0, 1.0)
    assert error == 0.0 and same_b == 1.0
    np.testing.assert_array_equal(same_w, [1.0, 1.0])
    _, kept_b, error = perceptron_update(w, 0.5, np.array([1.0, 0.0]), 0.0, 0.5, use_bias=False)
    assert error == -1.0 and kept_b == 0.5


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("gate", ["and", "or"])
def test_learns_from_random_starts_and_orders(gate: str, seed: int) -> None:
    run = train_perceptron(X_GATE, GATES[gate], lr=0.3, epochs=200,
                           rng=np.random.default_rng(seed))
    assert run.converged
    np.testing.assert_array_equal(predict(X_GATE, run.w, run.b), GATES[gate])


@pytest.mark.parametrize("seed", [None, *range(6)])
@pytest.mark.parametrize("lr", [0.1, 1.0])
def test_never_learns_xor(seed: int | None, lr: float) -> None:
    rng = None if seed is None else np.random.default_rng(seed)
    run = train_perceptron(X_GATE, GATES["xor"], lr=lr, epochs=200, rng=rng)
    assert not run.converged
    assert min(run.wrong_after) >= 1  # not one epoch ended with all four right
    # From zero the loop is proven and the run stops; from a random start it runs every epoch.
    assert run.epochs == (3 if seed is None else 200)


def test_xor_run_falls_into_a_loop() -> None:
    run = train_perceptron(X_GATE, GATES["xor"], epochs=20)
    assert run.cycle == (3, 2)  # the weights after epoch 3 repeat those after epoch 2


def test_a_proven_loop_stops_the_run_however_many_epochs_are_allowed() -> None:
    run = train_perceptron(X_GATE, GATES["xor"], epochs=100_000_000)
    assert run.epochs == 3 and run.max_epochs == 100_000_000 and not run.converged


@pytest.mark.parametrize("lr", [1e-12, 1e-300, 1e307])
def test_tiny_and_huge_learning_rates_make_the_same_decisions(lr: float) -> None:
    """Weights lr times whole numbers: 1e-12 and 2e-12 must not be taken for one state (a false
    loop), and 1e307 still fits in a float."""
    for gate in GATES:
        run = train_perceptron(X_GATE, GATES[gate], lr=lr, epochs=12)
        same = train_perceptron(X_GATE, GATES[gate], lr=1.0, epochs=12)
        assert run.mistakes == same.mistakes and run.cycle == same.cycle


def test_no_line_in_a_large_grid_computes_xor() -> None:
    """Brute force agrees with the proof: try 61^3 lines, none gets all four XOR corners."""
    v = np.linspace(-3, 3, 61)
    W1, W2, B = np.meshgrid(v, v, v, indexing="ij")
    lines = np.stack([W1.ravel(), W2.ravel(), B.ravel()], axis=1)  # (61^3, 3)
    X1 = np.column_stack([X_GATE, np.ones(4)])  # (4, 3)
    outputs = (lines @ X1.T > 0).astype(float)  # (61^3, 4)
    correct = (outputs == GATES["xor"]).sum(axis=1)
    assert correct.max() == 3
    assert (outputs == GATES["and"]).all(axis=1).any()  # while AND has many solutions


def test_learning_rate_does_not_matter_from_a_zero_start() -> None:
    """From w = 0 every weight is lr times an integer, and step(lr z) = step(z)."""
    slow = train_perceptron(X_GATE, GATES["and"], lr=0.01)
    fast = train_perceptron(X_GATE, GATES["and"], lr=1.0)
    assert slow.mistakes == fast.mistakes
    np.testing.assert_allclose(slow.w * 100, fast.w)


def test_without_bias_and_fails_but_or_succeeds() -> None:
    assert not train_perceptron(X_GATE, GATES["and"], epochs=50, use_bias=False).converged
    run = train_perceptron(X_GATE, GATES["or"], epochs=50, use_bias=False)
    assert run.converged and run.b == 0.0


def test_margin_and_bound_by_hand() -> None:
    w, b = SEPARATORS["and"]
    # closest points (1,0), (0,1) and (1,1) all score 0.5 away: 0.5 / |(1, 1, -1.5)|
    assert margin(X_GATE, GATES["and"], w, b) == pytest.approx(0.5 / np.sqrt(4.25))
    assert mistake_bound(X_GATE, GATES["and"], w, b) == pytest.approx(3 * 4.25 / 0.25)  # 51
    w, b = SEPARATORS["or"]
    # the OR line x1 + x2 = 0.5: every corner scores at least 0.5, and |(1, 1, -0.5)| = 1.5
    assert margin(X_GATE, GATES["or"], w, b) == pytest.approx(1 / 3)
    assert mistake_bound(X_GATE, GATES["or"], w, b) == pytest.approx(27)
    with pytest.raises(ValueError, match="does not separate"):
        mistake_bound(X_GATE, GATES["xor"], w, b)


def test_bad_shapes_are_named() -> None:
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        train_perceptron(X_GATE, np.zeros(3))
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
        predict(np.zeros((4, 3)), np.zeros(2), 0.0)


def test_main_runs_and_writes_its_figures(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--epochs", "8"])
    out = capsys.readouterr().out
    assert "converged: epoch 6 made no mistake" in out  # AND
    assert "not linearly separable" in out
    assert "(epochs 4 to 8 would only repeat it, so the run stops here)" in out  # XOR
    assert "did not converge, and never will" in out
    assert {p.name for p in figures_dir.iterdir()} == {"perceptron_boundaries.png",
                                                       "perceptron_mistakes.png"}


def test_main_with_one_gate_and_flags(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--gate", "and", "--no-bias", "--lr", "0.5",
          "--seed", "1", "--epochs", "5"])
    out = capsys.readouterr().out
    assert "AND" in out and "XOR" not in out
    assert "must pass through (0,0)" in out



def test_a_learning_rate_that_overflows_the_weights_is_one_line(figures_dir, capsys) -> None:
    last = refused(main, ["--out", str(figures_dir), "--lr", "1e308"], capsys, 1)
    assert last.startswith("error: in epoch 1") and "try a smaller --lr" in last
    assert not list(figures_dir.iterdir())
    with pytest.raises(FloatingPointError, match="overflow 64-bit floats"):
        train_perceptron(X_GATE, GATES["and"], lr=1e308)


def test_an_endless_random_start_run_is_refused_with_its_time(figures_dir, capsys) -> None:
    last = refused(main, ["--out", str(figures_dir), "--gate", "xor", "--seed", "1",
                          "--epochs", "100000000"], capsys, 2)
    assert "would take about 167 minutes" in last and "at most 3,000,000 epochs" in last


def test_zero_start_runs_any_number_of_epochs_at_once(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--gate", "xor", "--epochs", "100000000"])
    assert "(epochs 4 to 100000000 would only repeat it" in capsys.readouterr().out


def test_a_long_run_prints_its_first_and_last_epochs(figures_dir, capsys,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = []
    monkeypatch.setattr("matplotlib.axes.Axes.contour", lambda self, *a, **k: drawn.append(1))
    main(["--out", str(figures_dir), "--gate", "xor", "--seed", "1", "--epochs", "300"])
    out = capsys.readouterr().out
    epochs = [line for line in out.splitlines() if line.startswith("   epoch")]
    assert len(epochs) == 11 and epochs[-1].startswith("   epoch 300:")
    assert "(epochs 11 to 299 not printed)" in out
    assert len(drawn) <= 20  # the boundaries of the last 20 epochs, not all 300
