"""Dot products, matrix-vector products and transformations against NumPy and known values."""

import numpy as np
import pytest

from phase00.vectors import (
    cosine_similarity,
    dot_by_hand,
    main,
    matvec_by_hand,
    norm,
    transform_points,
)


def test_dot_by_hand_matches_numpy(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=7), rng.normal(size=7)
    assert dot_by_hand(a, b) == pytest.approx(a @ b)
    assert dot_by_hand(np.array([1, 2, 3]), np.array([4, 5, 6])) == 32.0


def test_cosine_similarity_known_values() -> None:
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([5.0, 0.0])) == pytest.approx(1.0)
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([0.0, 2.0])) == pytest.approx(0.0)
    assert cosine_similarity(np.array([1.0, 1.0]), np.array([-1.0, -1.0])) == pytest.approx(-1)
    # 45 degrees apart: cos 45 = 1 / sqrt(2)
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(
        0.7071067811865475)
    assert norm(np.array([3.0, 4.0])) == 5.0
    with pytest.raises(ValueError, match="zero vector"):
        cosine_similarity(np.zeros(2), np.ones(2))


def test_matvec_3x2_example() -> None:
    W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    y = matvec_by_hand(W, np.array([10.0, -1.0]))
    assert isinstance(y, np.ndarray) and y.shape == (3,), "return a NumPy array of shape (3,)"
    np.testing.assert_array_equal(y, [8, 26, 44])
    np.testing.assert_array_equal(matvec_by_hand(np.array([[0.5, 0.25]]), np.ones(2)), [0.75])


def test_matvec_verbose_prints_each_row(capsys: pytest.CaptureFixture[str]) -> None:
    matvec_by_hand(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([10.0, -1.0]), verbose=True)
    assert capsys.readouterr().out.splitlines() == ["   row 0: 1*10 + 2*-1 = 8",
                                                    "   row 1: 3*10 + 4*-1 = 26"]


def test_shape_mismatch_names_expected_shape() -> None:
    with pytest.raises(ValueError, match=r"x must have shape \(2,\)"):
        matvec_by_hand(np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="same length"):
        dot_by_hand(np.ones(2), np.ones(3))


def test_transform_points_is_matrix_times_each_point(rng: np.random.Generator) -> None:
    M, P = rng.normal(size=(2, 2)), rng.normal(size=(10, 2))
    expected = np.array([M @ p for p in P])
    np.testing.assert_allclose(transform_points(M, P), expected)
    # the columns of M are where the basis vectors land
    np.testing.assert_allclose(transform_points(M, np.eye(2)), M.T)


def test_main_runs_and_writes_figure(figures_dir, capsys) -> None:
    main(["--matrix", "2", "0", "0", "0.5", "--out", str(figures_dir)])
    assert "W @ x = [ 8. 26. 44.]" in capsys.readouterr().out
    assert (figures_dir / "matrix_transformation.png").is_file()
