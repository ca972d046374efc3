"""A simulated learner in phase 02: a Value backward that collects the blame in a dictionary
first passes the course's tests; the classic bug (parent.grad = ... instead of +=, so a value
used twice keeps only its last share of blame) fails them, by name.

backward's tests build graphs with the operators and walk them in topological order, so the
learner has written those first.
"""

from tests.workbook.conftest import Learner, solve_then_break, solve_with_the_reference

BLAME_IN_A_DICT = """
order = self.topological_order()
blame = {node: 0.0 for node in order}  # Values hash by identity
blame[self] = 1.0
for node in order[::-1]:
    for i, parent in enumerate(node.parents):
        blame[parent] = blame[parent] + node.local_grads[i] * blame[node]
for node, g in blame.items():
    node.grad = g
"""

ASSIGNED_NOT_ACCUMULATED = """
order = self.topological_order()
for node in order:
    node.grad = 0.0
self.grad = 1.0
for node in reversed(order):
    for parent, local in zip(node.parents, node.local_grads, strict=True):
        parent.grad = local * node.grad
"""



def test_a_dictionary_of_blame_passes_and_a_forgotten_accumulation_fails(
        learner: Learner) -> None:
    solve_with_the_reference(learner, ["02.value-add", "02.value-mul", "02.value-tanh",
                                       "02.topological-order"])
    solve_then_break(learner, "02.value-backward", BLAME_IN_A_DICT, ASSIGNED_NOT_ACCUMULATED)
