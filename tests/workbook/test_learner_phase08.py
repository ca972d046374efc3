"""A simulated learner in phase 08: HellaSwag's ending losses written with log_softmax and a
loop over the four rows pass the course's tests; the classic off-by-one (the mask not shifted
with the targets, so the last context token is scored and the ending's last token is not)
fails them, by name."""

from tests.workbook.conftest import solve_then_break

GATHER_THEN_LOOP = """
log_p = torch.log_softmax(model(tokens).float(), dim=-1)  # (4, L, vocab)
# position t predicts token t + 1: the log-probability each row gave to its next token
picked = log_p[:, :-1].gather(-1, tokens[:, 1:].unsqueeze(-1)).squeeze(-1)  # (4, L - 1)
sums, means = [], []
for surprise, in_ending in zip(-picked, mask[:, 1:].bool(), strict=True):
    sums.append(surprise[in_ending].sum())
    means.append(surprise[in_ending].mean())
return torch.stack(sums), torch.stack(means)
"""

MASK_NOT_SHIFTED = """
logits = model(tokens)
losses = F.cross_entropy(logits[:, :-1].float().flatten(0, 1), tokens[:, 1:].flatten(),
                         reduction="none").view(tokens.size(0), -1)
target_mask = mask[:, :-1].to(losses.dtype)  # off by one: should be mask[:, 1:]
total = (losses * target_mask).sum(dim=1)
return total, total / target_mask.sum(dim=1)
"""


def test_a_gather_loop_passes_and_an_unshifted_mask_fails(learner) -> None:
    solve_then_break(learner, "08.hellaswag-losses", GATHER_THEN_LOOP, MASK_NOT_SHIFTED)
