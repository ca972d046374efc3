"""A simulated learner in phase 09: with the config written, the way to Hugging Face's layout
written as a loop passes the course's tests; the classic bug (the square attn.c_proj left
untransposed, since its shape cannot tell) fails them, by name."""

from tests.workbook.conftest import solve_then_break, solve_with_the_reference

A_LOOP = """
converted = {}
for name, w in state.items():
    w = w.detach()
    if any(name.endswith(suffix) for suffix in CONV1D_WEIGHTS):
        w = w.transpose(0, 1)  # nn.Linear's (out, in) -> Conv1D's (in, out)
    converted[name] = w.clone()
return converted
"""

SQUARE_ONE_FORGOTTEN = """
rectangular = ("attn.c_attn.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
return {name: (w.t() if name.endswith(rectangular) else w).detach().clone()
        for name, w in state.items()}
"""


def test_a_loop_passes_and_an_untransposed_square_matrix_fails(learner) -> None:
    solve_with_the_reference(learner, ["09.hf-config"])  # the exercise before it, done
    solve_then_break(learner, "09.to-hf-state", A_LOOP, SQUARE_ONE_FORGOTTEN)
