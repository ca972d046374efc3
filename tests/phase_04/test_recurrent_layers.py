"""RNN, LSTM and GRU: BPTT gradient-checked in float64 through several steps, from zero and
non-zero initial states, through the final state; the loop equals a step-by-step run; truncated
BPTT carries values; hand-worked numbers; clear errors for bad shapes."""

import numpy as np
import pytest

from phase02.gradcheck import TOLERANCE
from phase04.gru import GRU
from phase04.gru import one_step as gru_one_step
from phase04.lstm import LSTM
from phase04.lstm import one_step as lstm_one_step
from phase04.rnn import RNN, gradcheck_recurrent, scalar_bptt, scalar_rnn, spectral_radius

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "carried-state"])
def test_bptt_gradcheck(rng: np.random.Generator, cell: str, with_state: bool) -> None:
    layer = CELLS[cell](3, 4, rng)
    layer.params["b"] += rng.normal(size=layer.params["b"].shape) * 0.1  # no special values
    x = rng.normal(size=(2, 6, 3))  # 6 time steps: the blame crosses 5 step boundaries
    s0 = rng.normal(size=(2, layer.state_size)) * 0.5 if with_state else None
    errors = gradcheck_recurrent(layer, x, s0, rng)
    expected = {"W_x", "W_h", "b", "x"} | ({"s0"} if with_state else set())
    assert set(errors) == expected
    assert max(errors.values()) < TOLERANCE, errors


class TwoPartState(RNN):
    """A cell made for this test, whose state is 2H numbers, (h, c), like the LSTM's:
    c_t = x_t W_x + h_{t-1} W_h + b + 0.5 c_{t-1} and h_t = tanh(c_t). Its step and step
    backward are written here, so that only the loop over time (BPTT) is under test."""

    state_factor = 2

    def step(self, ax_t: np.ndarray, s_prev: np.ndarray) -> tuple:
        H = self.n_hidden
        h_prev, c_prev = s_prev[:, :H], s_prev[:, H:]
        c = ax_t + h_prev @ self.params["W_h"] + 0.5 * c_prev
        h = np.tanh(c)
        return h, np.concatenate([h, c], axis=1), (h_prev, h)

    def step_backward(self, ds: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray]:
        H = self.n_hidden
        h_prev, h = cache
        dc = ds[:, H:] + ds[:, :H] * (1.0 - h**2)
        self.grads["W_h"] += h_prev.T @ dc
        return dc, np.concatenate([dc @ self.params["W_h"].T, 0.5 * dc], axis=1)


def test_bptt_adds_the_outputs_blame_to_the_h_part_of_a_wider_state(
        rng: np.random.Generator) -> None:
    """An LSTM's state is (h, c): the output reads h only, so BPTT adds dL/dh_t to the first H
    numbers of the state's gradient, never to c's."""
    layer = TwoPartState(3, 4, rng)
    assert layer.state_size == 8
    x = rng.normal(size=(2, 6, 3))
    s0 = rng.normal(size=(2, 8)) * 0.5
    errors = gradcheck_recurrent(layer, x, s0, rng)
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_backward_twice_gives_the_same_gradients(rng: np.random.Generator, cell: str) -> None:
    """Each backward pass fills grads afresh: the steps add their shares of the shared W_h
    within one pass, but a second pass must not add onto the first (a training loop calls
    backward once per step and never zeroes the grads itself)."""
    layer = CELLS[cell](3, 4, rng)
    x = rng.normal(size=(2, 5, 3))
    dhs = rng.normal(size=(2, 5, 4))
    runs = []
    for _ in range(3):
        layer.forward(x)
        layer.backward(dhs)
        runs.append({k: g.copy() for k, g in layer.grads.items()})
    for k, g in runs[0].items():
        np.testing.assert_array_equal(runs[2][k], g, err_msg=f"grads[{k!r}] grew from pass "
                                                             f"to pass: set it, do not add")


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_backward_always_returns_the_input_and_initial_state_gradients(
        rng: np.random.Generator, cell: str) -> None:
    layer = CELLS[cell](2, 3, rng)
    x = rng.normal(size=(4, 5, 2))
    hs = layer.forward(x)
    assert hs.shape == (4, 5, 3) and layer.state.shape == (4, layer.state_size)
    dx_zeros, ds0_zeros = layer.backward(np.ones_like(hs))  # started from zeros: same pair
    layer.forward(x, layer.zero_state(4))
    dx, ds0 = layer.backward(np.ones_like(hs))
    assert dx.shape == x.shape and ds0.shape == (4, layer.state_size)
    # an explicit zero state is the implicit one: the same gradients either way
    np.testing.assert_array_equal(dx, dx_zeros)
    np.testing.assert_array_equal(ds0, ds0_zeros)
    assert layer.dL_dstate.shape == (4, 6, layer.state_size)
    np.testing.assert_array_equal(layer.dL_dstate[:, 0], ds0)  # step 0's entry is ds0 itself


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_chunks_with_carried_state_equal_one_pass(rng: np.random.Generator, cell: str) -> None:
    layer = CELLS[cell](3, 5, rng)
    x = rng.normal(size=(2, 9, 3))
    whole = layer.forward(x)
    first = layer.forward(x[:, :4])
    second = layer.forward(x[:, 4:], layer.state)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-12)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_the_loop_is_the_step_repeated(rng: np.random.Generator, cell: str) -> None:
    """forward() over T steps equals T calls of step(), one time step at a time."""
    layer = CELLS[cell](3, 4, rng)
    x = rng.normal(size=(2, 5, 3))
    hs = layer.forward(x)
    s = layer.zero_state(2)
    for t in range(5):
        h, s, _ = layer.step(x[:, t] @ layer.params["W_x"] + layer.params["b"], s)
        np.testing.assert_allclose(h, hs[:, t], atol=1e-12)


def sigma(u: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-u))


def formula_step(cell: str, x_t: np.ndarray, s: np.ndarray, W_x: np.ndarray, W_h: np.ndarray,
                 b: np.ndarray, H: int) -> tuple[np.ndarray, np.ndarray]:
    """One step of each cell written straight from the notes' formulas: (h_t, new state)."""
    def block(k: int) -> slice:
        return slice(k * H, (k + 1) * H)

    if cell == "rnn":
        h = np.tanh(x_t @ W_x + s @ W_h + b)
        return h, h
    if cell == "lstm":  # blocks i, f, g, o; the state is [h, c]
        h_prev, c_prev = s[:, :H], s[:, H:]
        z = x_t @ W_x + h_prev @ W_h + b
        i, f, g, o = sigma(z[:, block(0)]), sigma(z[:, block(1)]), np.tanh(z[:, block(2)]), \
            sigma(z[:, block(3)])
        c = f * c_prev + i * g
        h = o * np.tanh(c)
        return h, np.concatenate([h, c], axis=1)
    r = sigma(x_t @ W_x[:, block(0)] + s @ W_h[:, block(0)] + b[block(0)])  # GRU: r, z, n
    z = sigma(x_t @ W_x[:, block(1)] + s @ W_h[:, block(1)] + b[block(1)])
    n = np.tanh(x_t @ W_x[:, block(2)] + (r * s) @ W_h[:, block(2)] + b[block(2)])
    h = z * s + (1.0 - z) * n
    return h, h


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_forward_follows_the_cells_formulas(rng: np.random.Generator, cell: str) -> None:
    """The layer's forward pass against each cell's formulas written out step by step, with
    several units (so a transposed W_h or a gate block taken from the wrong columns shows) and
    a non-zero initial state."""
    H = 4
    layer = CELLS[cell](3, H, rng)
    layer.params["b"] += rng.normal(size=layer.params["b"].shape) * 0.5
    x = rng.normal(size=(2, 5, 3))
    s = rng.normal(size=(2, layer.state_size)) * 0.5
    hs = layer.forward(x, s)
    W_x, W_h, b = (layer.params[k] for k in ("W_x", "W_h", "b"))
    for t in range(5):
        h, s = formula_step(cell, x[:, t], s, W_x, W_h, b, H)
        np.testing.assert_allclose(hs[:, t], h, atol=1e-12)
    np.testing.assert_allclose(layer.state, s, atol=1e-12)


def test_scalar_example_by_hand() -> None:
    """The one-unit RNN of the notes: h_1 = tanh(0.5) = 0.4621, then 0.3537, 0.2757, 0.2170."""
    x = np.array([1.0, 0.0, 0.0, 0.0])
    hs = scalar_rnn(x, 0.5, 0.8, 0.0)
    np.testing.assert_allclose(hs, [0.4621, 0.3537, 0.2757, 0.2170], atol=5e-5)
    assert hs[1] == pytest.approx(np.tanh(0.8 * np.tanh(0.5)))
    g = scalar_bptt(x, hs, 0.8, 1.0)
    assert g["dh"][-1] == pytest.approx(hs[-1] - 1.0)
    assert g["dh"][2] == pytest.approx(g["dh"][3] * (1 - hs[3] ** 2) * 0.8)
    layer = RNN(1, 1)
    layer.params["W_x"][...], layer.params["W_h"][...] = 0.5, 0.8
    out = layer.forward(x.reshape(1, 4, 1))
    dhs = np.zeros_like(out)
    dhs[0, -1, 0] = out[0, -1, 0] - 1.0
    layer.backward(dhs)
    assert layer.grads["W_h"].item() == pytest.approx(g["dw_h"])
    assert layer.grads["W_x"].item() == pytest.approx(g["dw_x"])
    assert layer.grads["b"].item() == pytest.approx(g["db"])


def test_lstm_one_step_known_values() -> None:
    s = lstm_one_step(1.0, 0.5, 0.8, np.array([0.5, -0.3, 0.9, 0.4]),
                      np.array([0.2, 0.6, -0.4, 0.1]), np.array([0.0, 1.0, 0.0, 0.0]))
    assert s["f"] == pytest.approx(1 / (1 + np.exp(-1.0)))  # sigmoid(1) = 0.7311
    assert s["c"] == pytest.approx(s["f"] * 0.8 + s["i"] * s["g"])
    assert s["h"] == pytest.approx(0.4585, abs=1e-4)
    layer = LSTM(1, 1)
    layer.params["W_x"][...] = [0.5, -0.3, 0.9, 0.4]
    layer.params["W_h"][...] = [0.2, 0.6, -0.4, 0.1]
    layer.params["b"][...] = [0.0, 1.0, 0.0, 0.0]
    layer.forward(np.ones((1, 1, 1)), np.array([[0.5, 0.8]]))
    np.testing.assert_allclose(layer.state[0], [s["h"], s["c"]])
    # one step called directly (ax = x W_x + b): the cache holds what step_backward unpacks
    _, _, cache = layer.step(np.array([[0.5, 0.7, 0.9, 0.4]]), np.array([[0.5, 0.8]]))
    np.testing.assert_allclose([float(np.squeeze(a)) for a in cache],
                               [0.5, 0.8, s["i"], s["f"], s["g"], s["o"], np.tanh(s["c"])],
                               err_msg="cache must be (h_prev, c_prev, i, f, g, o, tanh_c)")


def test_rnn_step_known_values_and_its_cache() -> None:
    """The notes' pulse through one unit (w_x = 0.5, w_h = 0.8, b = 0): h_1 = tanh(0.5) =
    0.4621, h_2 = tanh(0.8 x 0.4621) = 0.3537; each step returns h twice (output and state) and
    the cache (h_prev, h) that step_backward reads."""
    layer = RNN(1, 1)
    layer.params["W_h"][...] = 0.8
    h1, s1, cache1 = layer.step(np.array([[0.5]]), np.zeros((1, 1)))
    h2, s2, cache2 = layer.step(np.array([[0.0]]), s1)
    np.testing.assert_allclose([h1[0, 0], s1[0, 0], h2[0, 0], s2[0, 0]],
                               [0.4621, 0.4621, 0.3537, 0.3537], atol=1e-4)
    np.testing.assert_allclose([float(np.squeeze(a)) for a in cache2], [h1[0, 0], h2[0, 0]],
                               err_msg="cache must be (h_prev, h)")


def test_gru_one_step_known_values() -> None:
    s = gru_one_step(1.0, 0.5, np.array([0.5, -0.3, 0.9]), np.array([0.2, 0.6, -0.4]),
                     np.zeros(3))
    assert s["z"] == pytest.approx(0.5)  # sigmoid(-0.3 + 0.6 * 0.5) = sigmoid(0)
    assert s["h"] == pytest.approx(0.5 * 0.5 + 0.5 * s["n"])
    layer = GRU(1, 1)
    layer.params["W_x"][...], layer.params["W_h"][...] = [0.5, -0.3, 0.9], [0.2, 0.6, -0.4]
    layer.forward(np.ones((1, 1, 1)), np.array([[0.5]]))
    assert layer.state[0, 0] == pytest.approx(s["h"])


def test_lstm_forget_bias_and_gate_layout(rng: np.random.Generator) -> None:
    layer = LSTM(3, 5, rng, forget_bias=2.0)
    assert layer.params["W_x"].shape == (3, 20) and layer.params["W_h"].shape == (5, 20)
    np.testing.assert_array_equal(layer.params["b"][5:10], 2.0)  # the f block (order i f g o)
    np.testing.assert_array_equal(layer.params["b"][:5], 0.0)
    assert layer.state_size == 10


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_spectral_radius_rescaling(rng: np.random.Generator, cell: str) -> None:
    layer = CELLS[cell](2, 8, rng, spectral_radius=0.7)
    H = 8
    for k in range(layer.n_gates):
        assert spectral_radius(layer.params["W_h"][:, k * H:(k + 1) * H]) == pytest.approx(0.7)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_wrong_shapes_name_the_expected_shape(rng: np.random.Generator, cell: str) -> None:
    layer = CELLS[cell](3, 4, rng)
    with pytest.raises(ValueError, match=r"\(B, T, D\) = \(batch, time, 3\)"):
        layer.forward(rng.normal(size=(2, 3)))
    with pytest.raises(ValueError, match=r"\(batch, time, 3\), got \(2, 5, 4\)"):
        layer.forward(rng.normal(size=(2, 5, 4)))
    with pytest.raises(ValueError, match=rf"\(2, {layer.state_size}\), got \(2, 1\)"):
        layer.forward(rng.normal(size=(2, 5, 3)), np.zeros((2, 1)))
    layer.forward(rng.normal(size=(2, 5, 3)))
    with pytest.raises(ValueError, match=r"\(B, T, H\) = \(2, 5, 4\)"):
        layer.backward(np.zeros((2, 4, 4)))


def test_backward_before_forward_says_so() -> None:
    with pytest.raises(RuntimeError, match="forward"):
        RNN(2, 2).backward(np.zeros((1, 1, 2)))


def test_spectral_radius_needs_a_square_matrix() -> None:
    with pytest.raises(ValueError, match="square"):
        spectral_radius(np.zeros((2, 3)))
