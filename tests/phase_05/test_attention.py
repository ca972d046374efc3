"""Attention, LayerNorm, positions: hand-written backward passes checked by finite differences,
and the behaviour attention must have (rows sum to 1, causality, permutation equivariance)."""

import numpy as np
import pytest

from phase00.derivatives import numerical_gradient, relative_error
from phase02.gradcheck import check_gradients, gradcheck_layer
from phase02.layers import Activation
from phase05.attention import (
    MultiHeadAttention,
    attention_backward,
    attention_forward,
    causal_mask,
    dot_product_spread,
    softmax_backward,
)
from phase05.attention import main as attention_main
from phase05.layernorm import LayerNorm, deep_stack_gradients
from phase05.layernorm import main as layernorm_main
from phase05.positional import main as positional_main
from phase05.positional import sinusoidal_encoding
from tests.protocol import assert_backward_writes_in_place

TOL = 1e-6


def test_softmax_backward_matches_finite_differences(rng: np.random.Generator) -> None:
    from phase00.probability import softmax

    S, R = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    P = softmax(S, axis=-1)
    analytic = softmax_backward(P, R)
    numeric = numerical_gradient(lambda s: float(np.sum(softmax(s, axis=-1) * R)), S)
    assert relative_error(analytic, numeric) < TOL


@pytest.mark.parametrize("causal", [True, False])
def test_attention_gradcheck(rng: np.random.Generator, causal: bool) -> None:
    Q, K, V = (rng.normal(size=(2, 3, 5, 4)) for _ in range(3))
    R = rng.normal(size=(2, 3, 5, 4))
    out, P = attention_forward(Q, K, V, causal)
    dQ, dK, dV = attention_backward(R, Q, K, V, P)
    errors = check_gradients(lambda: float(np.sum(attention_forward(Q, K, V, causal)[0] * R)),
                             {"Q": Q, "K": K, "V": V}, {"Q": dQ, "K": dK, "V": dV})
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("causal, heads", [(True, 1), (True, 4), (False, 2)])
def test_multi_head_attention_gradcheck(rng: np.random.Generator, causal: bool,
                                        heads: int) -> None:
    mha = MultiHeadAttention(8, heads, rng, causal=causal)
    errors = gradcheck_layer(mha, rng.normal(size=(2, 5, 8)), rng)
    assert max(errors.values()) < TOL, errors
    assert set(errors) == {"c_attn.W", "c_attn.b", "c_proj.W", "c_proj.b", "x"}


def test_layernorm_and_gelu_gradcheck(rng: np.random.Generator) -> None:
    ln = LayerNorm(6)
    ln.params["g"] = rng.normal(size=6)
    ln.params["b"] = rng.normal(size=6)
    assert max(gradcheck_layer(ln, rng.normal(size=(3, 4, 6)), rng).values()) < TOL
    assert max(gradcheck_layer(Activation("gelu"), rng.normal(size=(3, 4, 6)), rng).values()) < TOL


def test_layernorm_forward_known_values(rng: np.random.Generator) -> None:
    """The notes' x = (1, 2, 3, 4); its scale and offset forgotten; the gain and bias applied
    after; every position of a batch normalised on its own, over its features."""
    ln = LayerNorm(4)
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(ln.forward(x), [[-1.3416355, -0.4472118, 0.4472118, 1.3416355]],
                               atol=1e-6)
    # what backward reads, as the statement asks: rstd (..., 1) = 1 / sqrt(1.25 + eps), x_hat
    assert ln.rstd.shape == (1, 1), f"keep rstd as (..., 1), got shape {ln.rstd.shape}"
    np.testing.assert_allclose(ln.rstd, [[0.8944236]], atol=1e-6)
    np.testing.assert_allclose(ln.x_hat, [[-1.3416355, -0.4472118, 0.4472118, 1.3416355]],
                               atol=1e-6)
    np.testing.assert_allclose(ln.forward(100 * x + 7), ln.forward(x), atol=1e-5)  # eps aside
    ln.params["g"] = np.array([1.0, 2.0, 0.5, -1.0])
    ln.params["b"] = np.array([0.0, 1.0, 0.0, 2.0])
    np.testing.assert_allclose(ln.forward(x), [[-1.3416355, 0.1055764, 0.2236059, 0.6583645]],
                               atol=1e-6)
    y = LayerNorm(4).forward(rng.normal(3.0, 5.0, size=(2, 3, 4)))
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1.0, atol=1e-5)


def test_layernorm_backward_known_values() -> None:
    ln = LayerNorm(4)
    y = ln.forward(np.array([[1.0, 2.0, 3.0, 4.0]]))
    np.testing.assert_allclose(y, [[-1.3416355, -0.4472118, 0.4472118, 1.3416355]], atol=1e-6)
    dx = ln.backward(np.array([[1.0, 0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(dx, [[0.2683, -0.3578, -0.0894, 0.1789]], atol=1e-4)


def test_layernorm_backward_writes_its_grads_in_place(rng: np.random.Generator) -> None:
    ln = LayerNorm(4)
    x, dout = rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 5, 4))
    assert_backward_writes_in_place(ln, lambda: ln.forward(x), dout)


def test_split_heads_gives_each_head_its_own_slice_of_the_features() -> None:
    """d = 8, H = 2: head 0 holds features 0-3 of every position and head 1 features 4-7 (not
    every other feature), and merge_heads puts them back."""
    mha = MultiHeadAttention(8, 2, np.random.default_rng(0))
    x = np.arange(2 * 3 * 8, dtype=float).reshape(2, 3, 8)
    heads = mha.split_heads(x)
    assert heads.shape == (2, 2, 3, 4)
    np.testing.assert_array_equal(heads[0, 0, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(heads[0, 1, 0], [4, 5, 6, 7])
    np.testing.assert_array_equal(heads[1, 1, 2], x[1, 2, 4:])
    np.testing.assert_array_equal(mha.merge_heads(heads), x)


def test_attention_keeps_float32_as_float32() -> None:
    """A float32 model must stay float32: dividing by np.sqrt(d_k), a float64 number, would
    quietly turn every score into float64 (math.sqrt gives a Python float, which does not)."""
    rng = np.random.default_rng(0)
    Q, K, V = (rng.normal(size=(2, 5, 4)).astype(np.float32) for _ in range(3))
    for causal in (False, True):
        O, P = attention_forward(Q, K, V, causal)
        assert O.dtype == np.float32 and P.dtype == np.float32, (O.dtype, P.dtype)


def test_attention_known_values() -> None:
    """The notes' example: the query (3, 0) against the keys (1, 0), (0, 1), (-1, 0), d_k = 2,
    asked at three positions; with the mask, position i sees keys 0 to i only."""
    Q = np.array([[3.0, 0.0]] * 3)
    K = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    V = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0]])
    O, P = attention_forward(Q, K, V, causal=False)
    np.testing.assert_allclose(P, [[0.8816, 0.1057, 0.0127]] * 3, atol=1e-4)
    np.testing.assert_allclose(O, [[8.6898, 1.0569]] * 3, atol=1e-4)
    O, P = attention_forward(Q, K, V, causal=True)
    np.testing.assert_allclose(P, [[1.0, 0.0, 0.0], [0.8930, 0.1070, 0.0],
                                   [0.8816, 0.1057, 0.0127]], atol=1e-4)
    np.testing.assert_allclose(O, [[10.0, 0.0], [8.9296, 1.0704], [8.6898, 1.0569]], atol=1e-4)
    # values of another width than the keys: the scale is 1 / sqrt(d_k), the keys' width
    O, P = attention_forward(Q, K, np.array([[10.0], [0.0], [-10.0]]), causal=False)
    np.testing.assert_allclose(P, [[0.8816, 0.1057, 0.0127]] * 3, atol=1e-4)
    np.testing.assert_allclose(O, [[8.6898]] * 3, atol=1e-4)


def test_attention_survives_large_scores() -> None:
    """Scores of 40^2 / sqrt(2) = 1131: exp overflows unless each row's largest score is
    subtracted first, as phase 00's softmax does."""
    Q = K = np.array([[40.0, 0.0], [0.0, 1.0]])
    with np.errstate(over="raise", invalid="raise"):
        O, P = attention_forward(Q, K, np.eye(2), causal=True)
    np.testing.assert_allclose(P, [[1.0, 0.0], [0.3302, 0.6698]], atol=1e-4)


def test_attention_rows_sum_to_one_and_never_look_ahead(rng: np.random.Generator) -> None:
    Q, K, V = (rng.normal(size=(4, 7, 3)) for _ in range(3))
    _, P = attention_forward(Q, K, V, causal=True)
    np.testing.assert_allclose(P.sum(axis=-1), 1.0)
    assert np.all(P[:, causal_mask(7)] == 0.0)


def test_causality(rng: np.random.Generator) -> None:
    """Changing the input at position t + 1 never changes an output at positions <= t."""
    mha = MultiHeadAttention(8, 2, rng, causal=True)
    x = rng.normal(size=(1, 6, 8))
    base = mha.forward(x)
    for t in range(5):
        x2 = x.copy()
        x2[0, t + 1:] += rng.normal(size=(5 - t, 8))
        np.testing.assert_allclose(mha.forward(x2)[0, :t + 1], base[0, :t + 1], atol=1e-12)


def test_permutation_equivariance_without_positions(rng: np.random.Generator) -> None:
    mha = MultiHeadAttention(8, 2, rng, causal=False)
    x = rng.normal(size=(1, 6, 8))
    perm = rng.permutation(6)
    np.testing.assert_allclose(mha.forward(x[:, perm]), mha.forward(x)[:, perm], atol=1e-12)


def test_width_not_divisible_by_heads_is_refused() -> None:
    with pytest.raises(ValueError, match="divisible by n_heads"):
        MultiHeadAttention(10, 3)


def test_wrong_input_shape_is_refused(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match=r"\(B, T, 8\)"):
        MultiHeadAttention(8, 2, rng).forward(rng.normal(size=(5, 8)))


def test_scaling_keeps_scores_at_unit_spread(rng: np.random.Generator) -> None:
    spread = dot_product_spread([4, 64, 256], 200, rng)
    for d_k, r in spread.items():
        assert r["std_raw"] == pytest.approx(np.sqrt(d_k), rel=0.1)
        assert r["std_scaled"] == pytest.approx(1.0, rel=0.1)
    assert spread[256]["max_p_raw"] > 0.85 > 0.3 > spread[256]["max_p_scaled"]


def test_sinusoidal_encoding() -> None:
    pe = sinusoidal_encoding(50, 16)
    assert pe.shape == (50, 16)
    assert pe.dtype == np.float64, f"float64 (phase 06 checks parity against it), got {pe.dtype}"
    np.testing.assert_allclose(pe[0], [0, 1] * 8, atol=1e-12)
    np.testing.assert_allclose((pe ** 2).sum(axis=1), 8.0)
    with pytest.raises(ValueError, match="even d"):
        sinusoidal_encoding(10, 7)


def test_sinusoidal_known_values() -> None:
    """The notes' table for d = 32: pair i turns at 10000^(-2i/d) radians per position."""
    pe = sinusoidal_encoding(64, 32)
    np.testing.assert_allclose(pe[1, :6], [0.841, 0.540, 0.533, 0.846, 0.311, 0.950], atol=1e-3)
    np.testing.assert_allclose(pe[10, :6], [-0.544, -0.839, -0.613, 0.790, -0.021, -1.000],
                               atol=1e-3)
    slowest = 10000 ** (-30 / 32)  # the last pair, features 30 and 31
    np.testing.assert_allclose(pe[:, 30], np.sin(np.arange(64) * slowest), atol=1e-12)
    np.testing.assert_allclose(pe[:, 31], np.cos(np.arange(64) * slowest), atol=1e-12)


def test_residuals_keep_the_gradient_alive() -> None:
    rng = np.random.default_rng(0)
    _, plain = deep_stack_gradients(30, 32, False, False, 0.5, rng)
    _, residual = deep_stack_gradients(30, 32, True, True, 0.5, np.random.default_rng(0))
    assert plain[0] < 1e-5 * plain[-1]  # fades to almost nothing at block 1
    assert residual[0] > residual[-1]   # arrives at block 1 at least as large


@pytest.mark.parametrize("main", [attention_main, layernorm_main, positional_main])
def test_scripts_run(main, figures_dir, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    main(["--out", str(figures_dir)])
    assert "wrote" in capsys.readouterr().out
    assert list(figures_dir.glob("*.png"))
