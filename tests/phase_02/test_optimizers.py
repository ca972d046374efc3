"""Optimizers: exact numbers for single steps, the AdamW-versus-L2 difference, and convergence
on a quadratic bowl."""

import numpy as np
import pytest

from phase02.optimizers import (
    OPTIMIZERS,
    SGD,
    Adam,
    AdamW,
    Momentum,
    RMSProp,
    Rosenbrock,
    main,
    make_optimizer,
    steps_on_a_ramp,
)


class Holder:
    """One parameter array and its gradient: the smallest thing that follows the protocol."""

    def __init__(self, p: list[float], g: list[float]) -> None:
        self.params = {"p": np.array(p, dtype=np.float64)}
        self.grads = {"p": np.array(g, dtype=np.float64)}


def test_sgd_step_is_exact() -> None:
    h = Holder([1.0, -2.0], [0.5, -4.0])
    SGD([h], lr=0.1).step()
    np.testing.assert_array_equal(h.params["p"], [1.0 - 0.05, -2.0 + 0.4])


def test_momentum_two_steps_by_hand() -> None:
    h = Holder([0.0], [1.0])
    opt = Momentum([h], lr=0.1, beta=0.9)
    opt.step()  # v = 1, p = -0.1
    opt.step()  # v = 0.9 + 1 = 1.9, p = -0.1 - 0.19
    assert h.params["p"][0] == pytest.approx(-0.29, abs=1e-15)


def test_rmsprop_first_step() -> None:
    """s = 0.1 g^2, so the first step is lr * g / (sqrt(0.1) |g|): lr / sqrt(0.1) per entry."""
    h = Holder([0.0, 0.0], [3.0, -0.02])
    RMSProp([h], lr=0.01, decay=0.9, eps=0.0).step()
    np.testing.assert_allclose(h.params["p"], [-0.01 / np.sqrt(0.1), 0.01 / np.sqrt(0.1)],
                               rtol=1e-12)


def test_adam_first_step_is_lr_times_sign() -> None:
    """With bias correction m_hat = g and v_hat = g^2 at t = 1: the step is lr g / (|g| + eps)."""
    h = Holder([1.0, 1.0, 1.0], [0.5, -2.0, 1e-3])
    Adam([h], lr=0.1).step()
    np.testing.assert_allclose(h.params["p"], [0.900000002, 1.0999999995, 0.90000099999],
                               rtol=1e-12)


def test_adam_second_step_by_the_formula() -> None:
    h = Holder([0.0], [2.0])
    opt = Adam([h], lr=0.01)
    opt.step()
    h.grads["p"][:] = -1.0
    opt.step()
    m = 0.9 * (0.1 * 2.0) + 0.1 * -1.0  # 0.08
    v = 0.999 * (0.001 * 4.0) + 0.001 * 1.0  # 0.004996
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    expected = -0.01 * 2.0 / (2.0 + 1e-8) - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    assert h.params["p"][0] == pytest.approx(expected, rel=1e-12)


def test_adamw_decay_on_a_weight_with_no_gradient() -> None:
    """p = 1, loss gradient 0, wd = 0.1, lr = 0.01, one step.

    Adam + L2 feeds g = wd * p = 0.1 through Adam, whose first step is lr * sign: p = 0.99,
    ten times the intended decay. AdamW shrinks p by lr * wd * p = 0.001: p = 0.999.
    """
    l2, decoupled = Holder([1.0], [0.0]), Holder([1.0], [0.0])
    Adam([l2], lr=0.01, weight_decay=0.1).step()
    AdamW([decoupled], lr=0.01, weight_decay=0.1).step()
    assert l2.params["p"][0] == pytest.approx(1 - 0.01 * 0.1 / (0.1 + 1e-8), abs=1e-15)
    assert decoupled.params["p"][0] == pytest.approx(0.999, abs=1e-15)


def test_adamw_decay_is_not_rescaled_by_the_adaptive_denominator() -> None:
    """Two weights, p = 1 each, one with a large loss gradient (10) and one with none (0).

    The decay's own effect = (step with decay) - (step of plain Adam). Loshchilov & Hutter's
    point: with AdamW it is exactly -lr * wd * p for both; with Adam + L2 it is divided by
    sqrt(v_hat), so it all but vanishes where gradients are large and is amplified where they
    are small.
    """
    lr, wd = 0.01, 0.1
    plain, l2, decoupled = (Holder([1.0, 1.0], [10.0, 0.0]) for _ in range(3))
    Adam([plain], lr=lr).step()
    Adam([l2], lr=lr, weight_decay=wd).step()
    AdamW([decoupled], lr=lr, weight_decay=wd).step()
    effect_adamw = decoupled.params["p"] - plain.params["p"]
    effect_l2 = l2.params["p"] - plain.params["p"]
    np.testing.assert_allclose(effect_adamw, [-lr * wd, -lr * wd], atol=1e-15)
    assert abs(effect_l2[0]) < 1e-9  # large gradient: the decay is normalised away
    assert effect_l2[1] == pytest.approx(-lr, rel=1e-6)  # no gradient: decay becomes a full step


BOWL = np.array([1.0, 10.0])  # f(p) = 1/2 sum a (p - c)^2, ten times steeper along p[1]


def run_on_bowl(name: str, lr: float, center: np.ndarray, steps: int) -> tuple[float, np.ndarray]:
    h = Holder([3.0, -2.0], [0.0, 0.0])
    opt = make_optimizer(name, [h], lr)

    def f() -> float:
        return float(0.5 * np.sum(BOWL * (h.params["p"] - center) ** 2))

    f0 = f()
    for _ in range(steps):
        h.grads["p"][:] = BOWL * (h.params["p"] - center)
        opt.step()
    return f() / f0, h.params["p"]


@pytest.mark.parametrize(("name", "lr"), [("sgd", 0.1), ("momentum", 0.05),
                                          ("rmsprop", 0.01), ("adam", 0.1), ("adamw", 0.1)])
def test_every_optimizer_converges_on_a_quadratic(name: str, lr: float) -> None:
    ratio, p = run_on_bowl(name, lr, np.zeros(2), 500)
    assert ratio < 1e-5, f"{name}: loss only fell to {ratio:.1e} of its start"


def test_adamw_settles_closer_to_zero_than_the_minimum() -> None:
    """Weight decay changes the problem: the point AdamW settles at is pulled towards 0."""
    center = np.array([1.0, -0.5])
    _, p_adam = run_on_bowl("adam", 0.1, center, 500)
    _, p_adamw = run_on_bowl("adamw", 0.1, center, 500)
    np.testing.assert_allclose(p_adam, center, atol=1e-6)
    assert np.all(np.abs(p_adamw) < np.abs(center) - 1e-4)


def test_zero_grad_and_state_per_array() -> None:
    a, b = Holder([1.0], [5.0]), Holder([1.0], [-5.0])
    opt = Adam([a, b], lr=0.1)
    opt.step()
    assert a.params["p"][0] < 1.0 < b.params["p"][0]  # each array keeps its own m and v
    assert set(opt.state) == {(0, "p"), (1, "p")}
    grad_array = a.grads["p"]
    opt.zero_grad()
    assert a.grads["p"] is grad_array and not grad_array.any()  # zeroed in place


def test_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        make_optimizer("adagrad", [], 0.1)
    with pytest.raises(ValueError, match="> 0"):
        SGD([], lr=0.0)
    bad = Holder([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="must match"):
        SGD([bad], lr=0.1).step()
    assert sorted(OPTIMIZERS) == ["adam", "adamw", "momentum", "rmsprop", "sgd"]


def test_rosenbrock_gradient() -> None:
    problem = Rosenbrock([-1.2, 1.0])
    f = problem.loss_and_grad()
    assert f == pytest.approx(24.2)
    np.testing.assert_allclose(problem.grads["p"], [-215.6, -88.0])


def test_main_runs(figures_dir, capsys) -> None:
    main(["--steps", "200", "--epochs", "20", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "Adam + L2: after 10 steps" in out and "Rosenbrock race" in out
    assert (figures_dir / "optimizers_race.png").is_file()


def test_main_says_rmsprops_first_step_is_larger_than_lr(figures_dir, capsys) -> None:
    """With no bias correction RMSProp's first step is lr / sqrt(0.1), not about lr."""
    main(["--optimizer", "rmsprop", "--optimizers", "sgd", "--steps", "10", "--epochs", "2",
          "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "p moved by [-0.316228, 0.316228, -0.316218]" in out
    assert "3.16 lr" in out and "no bias correction" in out


def test_the_worked_example_on_a_ramp() -> None:
    """Three steps with a gradient that stays 2, lr 0.1: every number can be redone by hand."""
    np.testing.assert_allclose(steps_on_a_ramp("sgd", 0.1), [-0.2, -0.2, -0.2])
    # momentum: v = 2, then 0.9 * 2 + 2 = 3.8, then 0.9 * 3.8 + 2 = 5.42
    np.testing.assert_allclose(steps_on_a_ramp("momentum", 0.1), [-0.2, -0.38, -0.542])
    # RMSProp: s = 0.4, 0.76, 1.084, and the step is 0.1 * 2 / sqrt(s)
    np.testing.assert_allclose(steps_on_a_ramp("rmsprop", 0.1),
                               [-0.2 / np.sqrt(s) for s in (0.4, 0.76, 1.084)], rtol=1e-7)
    # Adam: with both corrections, a steady gradient gives steps of exactly lr
    np.testing.assert_allclose(steps_on_a_ramp("adam", 0.1), [-0.1, -0.1, -0.1], rtol=1e-7)


def test_adam_needs_the_correction_of_v_too(figures_dir, capsys) -> None:
    """Without dividing v by 1 - beta2 = 0.001 the first step would be lr / sqrt(0.001)."""
    holder = Holder([1.0], [0.5])
    opt = Adam([holder], lr=0.1)
    opt.step()
    m, v = opt.state[(0, "p")]["m"], opt.state[(0, "p")]["v"]
    uncorrected_v_step = 0.1 * (m / (1 - 0.9)) / np.sqrt(v)
    assert uncorrected_v_step[0] == pytest.approx(0.1 / np.sqrt(0.001))  # 31.6 lr
    assert 1.0 - holder.params["p"][0] == pytest.approx(0.1)  # the real step: lr
    main(["--steps", "10", "--epochs", "2", "--optimizers", "sgd", "--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "the first step would be 31.6 lr" in out
    adam_row = next(line for line in out.splitlines() if line.split()[:1] == ["adam"])
    assert adam_row.split()[1:] == ["-0.100000", "-0.100000", "-0.100000", "0.700000"]
