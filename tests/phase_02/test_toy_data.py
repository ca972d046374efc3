"""The toy sets: shapes, balance, repeatability, clear errors."""

import numpy as np
import pytest

from phase02.toy_data import DATASETS, main, make_dataset, make_spirals, plot_decision_boundary


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_shapes_balance_and_seed(name: str) -> None:
    X, y = make_dataset(name, 101, 0.1, np.random.default_rng(5))
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and set(np.unique(y)) == {0, 1}
    assert abs(int((y == 0).sum()) - int((y == 1).sum())) <= 1
    X2, y2 = make_dataset(name, 101, 0.1, np.random.default_rng(5))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(y[:20], np.sort(y[:20]))  # shuffled


def test_noiseless_moons_lie_on_their_arcs() -> None:
    X, y = make_dataset("moons", 200, 0.0, np.random.default_rng(0))
    upper = X[y == 0] + np.array([0.5, 0.25])  # undo the centring
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    lower = X[y == 1] + np.array([0.5, 0.25]) - np.array([1.0, 0.5])
    np.testing.assert_allclose(np.hypot(*lower.T), 1.0)


def test_spirals_with_more_classes() -> None:
    X, y = make_spirals(90, 0.0, np.random.default_rng(0), n_classes=3)
    assert np.bincount(y).tolist() == [30, 30, 30]
    assert np.all(np.hypot(*X.T) <= 1.0 + 1e-12)


def test_errors_list_the_choices() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        make_dataset("circles", 10, 0.1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least"):
        make_spirals(1, 0.1, np.random.default_rng(0))


def test_decision_boundary_plot_reports_accuracy() -> None:
    X, y = make_dataset("moons", 50, 0.1, np.random.default_rng(0))

    def always_class_one(P: np.ndarray) -> np.ndarray:
        return np.tile([0.2, 0.8], (len(P), 1))

    fig = plot_decision_boundary(always_class_one, X, y, "t", "x.png", None, resolution=20)
    assert "50.0%" in fig.axes[0].get_title()


def test_main_runs(figures_dir) -> None:
    main(["--out", str(figures_dir)])
    assert (figures_dir / "toy_datasets.png").is_file()
