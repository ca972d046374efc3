"""A simulated learner in phase 00: a softmax written as a loop over rows passes the course's
tests; the classic bug (no max subtracted, so large scores overflow) fails them, by name."""

from tests.workbook.conftest import solve_then_break

LOOP_OVER_ROWS = """
z = np.asarray(z)
if not np.issubdtype(z.dtype, np.floating):
    z = z.astype(np.float64)
rows = np.moveaxis(z, axis, -1)
out = np.empty_like(rows)
for index in np.ndindex(rows.shape[:-1]):  # one row of scores at a time
    e = np.exp(rows[index] - rows[index].max())
    out[index] = e / e.sum()
return np.moveaxis(out, -1, axis)
"""

NO_MAX_SUBTRACTED = """
z = np.asarray(z, dtype=float)
e = np.exp(z)
return e / e.sum(axis=axis, keepdims=True)
"""


def test_a_loop_passes_and_an_overflow_fails(learner) -> None:
    solve_then_break(learner, "00.softmax", LOOP_OVER_ROWS, NO_MAX_SUBTRACTED)
