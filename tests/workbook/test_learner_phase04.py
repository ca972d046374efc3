"""A simulated learner in phase 04: the LSTM's step written with np.split and a sigmoid of its
own passes the course's tests; the classic slip of showing the memory without squashing it
(h = o * c instead of o * tanh(c)) fails them, by name."""

from tests.workbook.conftest import solve_then_break

SPLIT_INTO_GATES = """
H = self.n_hidden
h_prev, c_prev = np.split(s_prev, 2, axis=1)
z = ax_t + h_prev @ self.params["W_h"]
z_i, z_f, z_g, z_o = np.split(z, 4, axis=1)  # blocks in the order i, f, g, o
i, f, o = (1.0 / (1.0 + np.exp(-z_k)) for z_k in (z_i, z_f, z_o))
g = np.tanh(z_g)
c = f * c_prev + i * g
tanh_c = np.tanh(c)
h = o * tanh_c
return h, np.hstack([h, c]), (h_prev, c_prev, i, f, g, o, tanh_c)
"""

MEMORY_NOT_SQUASHED = """
H = self.n_hidden
h_prev, c_prev = s_prev[:, :H], s_prev[:, H:]
z = ax_t + h_prev @ self.params["W_h"]
i, f = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H])
g, o = np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
c = f * c_prev + i * g
h = o * c
return h, np.concatenate([h, c], axis=1), (h_prev, c_prev, i, f, g, o, np.tanh(c))
"""


def test_np_split_passes_and_an_unsquashed_memory_fails(learner) -> None:
    solve_then_break(learner, "04.lstm-step", SPLIT_INTO_GATES, MEMORY_NOT_SQUASHED)
