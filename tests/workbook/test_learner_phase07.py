"""A simulated learner in phase 07: causal attention whose mask is built by a loop, one query
row at a time, passes the course's tests; the classic off-by-one (a mask that lets each position
see the next one too) fails them, by name."""

from tests.workbook.conftest import solve_then_break

MASK_BY_A_LOOP = """
T, S = q.shape[2], k.shape[2]
scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
allowed = torch.zeros(T, S, dtype=torch.bool, device=q.device)
for i in range(T):  # query i sits at position past + i: it sees keys 0 .. past + i
    allowed[i, : past + i + 1] = True
weights = F.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
self.last_weights = weights.detach()
return F.dropout(weights, p_drop) @ v
"""

SEES_THE_NEXT_POSITION = """
T, S = q.shape[2], k.shape[2]
scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
allowed = torch.zeros(T, S, dtype=torch.bool, device=q.device)
for i in range(T):
    allowed[i, : past + i + 2] = True  # one too many: position t also sees t + 1
weights = F.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
self.last_weights = weights.detach()
return F.dropout(weights, p_drop) @ v
"""


def test_a_loop_built_mask_passes_and_a_peek_at_the_next_token_fails(learner) -> None:
    solve_then_break(learner, "07.causal-attention", MASK_BY_A_LOOP, SEES_THE_NEXT_POSITION)
