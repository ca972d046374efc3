"""A simulated learner in phase 05: attention written with its own lower-triangle mask and
einsum products passes the course's tests; the classic off-by-one mask (the diagonal hidden
too, so position 0 may look at nothing) fails them, by name."""

from tests.workbook.conftest import solve_then_break

OWN_MASK_AND_EINSUM = """
T, d_k = Q.shape[-2], Q.shape[-1]
S = np.einsum("...ic,...jc->...ij", Q, K) / math.sqrt(d_k)  # query i against key j
if causal:
    allowed = np.tril(np.ones((T, T), dtype=bool))  # key j <= query i
    S = np.where(allowed, S, -np.inf)
e = np.exp(S - S.max(axis=-1, keepdims=True))
P = e / e.sum(axis=-1, keepdims=True)
return np.einsum("...ij,...jc->...ic", P, V), P
"""

DIAGONAL_HIDDEN_TOO = """
T, d_k = Q.shape[-2], Q.shape[-1]
S = Q @ np.swapaxes(K, -1, -2) / math.sqrt(d_k)
if causal:
    S = np.where(np.triu(np.ones((T, T), dtype=bool)), -np.inf, S)  # k=1 forgotten
P = softmax(S, axis=-1)
return P @ V, P
"""


def test_einsum_passes_and_an_off_by_one_mask_fails(learner) -> None:
    solve_then_break(learner, "05.attention-forward", OWN_MASK_AND_EINSUM, DIAGONAL_HIDDEN_TOO)
