"""A simulated learner in phase 03: the embedding table's gradient written as a loop over the
positions passes the course's tests; the classic fancy-indexing slip (grads[ids] += dout, which
keeps one of a repeated id's contributions instead of their sum) fails them, by name."""

from tests.workbook.conftest import solve_then_break

LOOP_OVER_POSITIONS = """
dW = np.zeros_like(self.params["W"])
flat_ids = self.ids.ravel()
flat_dout = dout.reshape(len(flat_ids), -1)
for position, token in enumerate(flat_ids):  # each use of a row sends its blame home
    dW[token] += flat_dout[position]
self.grads["W"][...] = dW
return None
"""

REPEATS_LOST = """
self.grads["W"][...] = 0.0
self.grads["W"][self.ids] += dout
return None
"""


def test_a_loop_passes_and_lost_repeats_fail(learner) -> None:
    solve_then_break(learner, "03.embedding-backward", LOOP_OVER_POSITIONS, REPEATS_LOST)
