"""sequential_cost.py: the recurrence and the one product compute what they say, with the same
FLOPs, and the script prints its table and refuses settings that cannot fit or would take hours."""

import numpy as np
import pytest

from phase05.sequential_cost import chain, flops, main, measure, one_product


def test_the_chain_is_the_recurrence_step_by_step() -> None:
    W = np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32)
    X = np.array([[[1.0, 0.0]], [[0.0, 1.0]]], dtype=np.float32)  # T = 2, B = 1, H = 2
    h1 = np.tanh(X[0])  # the state starts at 0
    h2 = np.tanh(X[1] + h1 @ W)
    np.testing.assert_allclose(chain(X, W), h2, rtol=1e-6)
    assert chain(X, W).dtype == np.float32


def test_the_one_product_treats_every_row_alike_and_stays_float32() -> None:
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 3)).astype(np.float32)
    X = rng.normal(size=(4, 2, 3)).astype(np.float32)
    out = one_product(X, W)
    assert out.shape == (8, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[5], np.tanh(X[2, 1] + X[2, 1] @ W), rtol=1e-5)


def test_both_forms_do_the_same_products() -> None:
    # T * B rows, each (1 x H) @ (H x H): 64 * 32 * 128 * 128 multiply-adds, 2 FLOPs each
    assert flops(64, 32, 128) == 2 * 64 * 32 * 128 * 128 == 67_108_864
    t_chain, t_one = measure(3, 2, 4, threads=1, repeats=2)
    assert t_chain > 0 and t_one > 0


def test_the_script_prints_its_table_and_conclusions(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--steps", "4", "--batch", "1", "2", "--width", "4", "8", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "chain / one" in out
    assert "one thread, batch 1, width 8: the chain takes" in out
    assert "(1 row per product against 4)" in out and "(2 rows per product against 8)" in out


@pytest.mark.parametrize("args, says", [
    (["--width", "10000000"], "GiB of memory and this machine has"),
    (["--steps", "2000", "--width", "2048", "--repeats", "100"], "could take about"),
])
def test_settings_that_cannot_fit_or_would_take_hours_are_refused(
        args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and says in err and "Traceback" not in err
