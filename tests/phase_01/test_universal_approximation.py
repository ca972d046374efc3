"""Hand-built one-hidden-layer networks approximate curves, at the rates the notes claim."""

import numpy as np
import pytest

from phase01.universal_approximation import (
    KINDS,
    TARGETS,
    approximator,
    hinge_network,
    main,
    max_error,
    plot_approximations,
    staircase_network,
)
from tests.scripts import refused


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_more_neurons_mean_smaller_error(kind: str, target: str) -> None:
    f, _ = TARGETS[target]
    # None of these n is a multiple of 3, so the kink of "abs" at 1/3 is never a grid point
    # (where a hinge would fit it exactly and the error would drop to 0).
    errors = [max_error(approximator(f, n, kind), f) for n in (10, 40, 160)]
    assert errors[0] > errors[1] > errors[2]


def test_relu_error_shrinks_like_one_over_n_squared_and_staircases_like_one_over_n() -> None:
    f, _ = TARGETS["sin"]  # smooth: the textbook rates apply
    relu = [max_error(hinge_network(f, n), f) for n in (40, 80)]
    stairs = [max_error(staircase_network(f, n, "step"), f) for n in (40, 80)]
    assert relu[0] / relu[1] == pytest.approx(4.0, rel=0.1)
    assert stairs[0] / stairs[1] == pytest.approx(2.0, rel=0.1)


def test_hinges_pass_exactly_through_the_grid_points() -> None:
    f, _ = TARGETS["wiggle"]
    n = 12
    x = np.linspace(0, 1, n + 1)[:, None]
    np.testing.assert_allclose(hinge_network(f, n).forward(x)[:, 0], f(x[:, 0]), atol=1e-12)


def test_step_staircase_is_exact_at_the_grid_points() -> None:
    f, _ = TARGETS["bump"]
    n = 9
    x = np.linspace(0, 1, n + 1)[:, None]
    np.testing.assert_allclose(staircase_network(f, n, "step").forward(x)[:, 0], f(x[:, 0]),
                               atol=1e-12)


def test_a_kink_on_the_grid_is_fitted_exactly() -> None:
    f, _ = TARGETS["abs"]  # |x - 1/3|: a knot at 1/3 when n is a multiple of 3
    assert max_error(hinge_network(f, 12), f) < 1e-12
    assert max_error(hinge_network(f, 10), f) > 1e-3


def test_a_straight_line_needs_one_hinge() -> None:
    def line(x: np.ndarray) -> np.ndarray:
        return 3 * x - 1

    assert max_error(hinge_network(line, 1), line) < 1e-12


def test_bad_arguments_are_refused() -> None:
    f, _ = TARGETS["sin"]
    with pytest.raises(ValueError, match="at least one hidden neuron"):
        hinge_network(f, 0)
    with pytest.raises(ValueError, match="'step' or 'sigmoid'"):
        staircase_network(f, 4, "relu")
    with pytest.raises(ValueError, match="choose one of"):
        approximator(f, 4, "tanh")
    with pytest.raises(ValueError, match="overflows 64-bit floats"):
        staircase_network(f, 4, "sigmoid", steepness=1e308)


def test_main_runs_and_writes_its_figure(figures_dir, capsys) -> None:
    main(["--out", str(figures_dir), "--target", "abs", "--neurons", "3", "6",
          "--activation", "relu"])
    out = capsys.readouterr().out
    assert "Activation(relu)" in out
    assert [p.name for p in figures_dir.iterdir()] == ["universal_approximation.png"]



def test_a_steepness_that_overflows_is_refused(figures_dir, capsys) -> None:
    last = refused(main, ["--out", str(figures_dir), "--steepness", "1e308"], capsys, 2)
    assert "--steepness 1e+308 with --neurons 40 overflows" in last
    assert not list(figures_dir.iterdir())


def test_more_neurons_than_memory_are_refused(figures_dir, capsys,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("phase00.flags.machine_memory_bytes", lambda: 16 * 2**30)
    argv = ["--out", str(figures_dir), "--neurons", "4", "100000000"]
    assert "--neurons 100000000 needs about" in refused(main, argv, capsys, 2)


def test_steepness_without_a_sigmoid_in_the_table_says_where_it_goes(figures_dir,
                                                                      capsys) -> None:
    main(["--out", str(figures_dir), "--activation", "relu", "--neurons", "3",
          "--steepness", "2"])
    assert "--steepness shapes only the sigmoid network" in capsys.readouterr().out


def test_the_figure_draws_every_size_asked_for() -> None:
    sizes = [2, 3, 4, 5, 6, 7, 8]
    fig = plot_approximations("sin", sizes, 10.0)
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels[0] == "target" and len(labels) == 1 + len(sizes)
        assert labels[-1].startswith("8 neurons")
