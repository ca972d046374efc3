"""A simulated learner in phase 09: with the config written, the way to Hugging Face's layout
written as a loop passes the course's tests; the classic bug (the square attn.c_proj left
untransposed, since its shape cannot tell) fails them, by name."""

from tests.workbook.conftest import solve_then_break

HF_CONFIG = """
last = config.vocab_size - 1
return GPT2Config(vocab_size=config.vocab_size, n_positions=config.context,
                  n_embd=config.n_embd, n_layer=config.n_layer, n_head=config.n_head,
                  n_inner=None, activation_function="gelu_new", layer_norm_epsilon=1e-5,
                  resid_pdrop=config.dropout, embd_pdrop=config.dropout,
                  attn_pdrop=config.dropout, tie_word_embeddings=True,
                  scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False,
                  reorder_and_upcast_attn=False, bos_token_id=last, eos_token_id=last,
                  attn_implementation=attn_implementation)
"""

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
    assert learner.run("start", "09").returncode == 0
    learner.write("09.hf-config", HF_CONFIG)  # the exercise before it, done
    solve_then_break(learner, "09.to-hf-state", A_LOOP, SQUARE_ONE_FORGOTTEN)
