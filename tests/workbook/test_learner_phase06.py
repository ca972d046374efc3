"""A simulated learner in phase 06: a training step that clears each .grad and clips the
gradient by hand passes the course's tests; the classic bug (no zero_grad, so every step uses
the sum of all the gradients so far) fails them, by name. The step trains phase 06's PyTorch
transformer, so the learner has written its attention first, as the exercises' order asks."""

from tests.workbook.conftest import solve_then_break

BY_HAND = """
with autocast if autocast is not None else contextlib.nullcontext():
    loss = model.loss(x, y)
params = [p for p in model.parameters() if p.requires_grad]
for p in params:
    p.grad = None  # what zero_grad does
loss.backward()
if clip > 0:
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params if p.grad is not None))
    if norm > clip:
        for p in params:
            if p.grad is not None:
                p.grad.mul_(clip / norm)
opt.step()
return loss
"""

ATTENTION = """
B, T, d = x.shape
H, dh = self.n_heads, self.d_head
q, k, v = (a.view(B, T, H, dh).transpose(1, 2) for a in self.c_attn(x).split(d, dim=-1))
S = q @ k.transpose(-2, -1) / math.sqrt(dh)
if self.causal:
    S = S.masked_fill(torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
P = torch.softmax(S, dim=-1)
self.P = P.detach()
return self.c_proj((P @ v).transpose(1, 2).reshape(B, T, d))
"""

NO_ZERO_GRAD = """
with autocast if autocast is not None else contextlib.nullcontext():
    loss = model.loss(x, y)
loss.backward()
if clip > 0:
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
opt.step()
return loss
"""


def test_clipping_by_hand_passes_and_a_missing_zero_grad_fails(learner) -> None:
    assert learner.run("start", "06").returncode == 0
    learner.write("06.torch-attention", ATTENTION)
    solve_then_break(learner, "06.train-step", BY_HAND, NO_ZERO_GRAD)
