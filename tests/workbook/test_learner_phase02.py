"""A simulated learner in phase 02: a Value backward that collects the blame in a dictionary
first passes the course's tests; the classic bug (parent.grad = ... instead of +=, so a value
used twice keeps only its last share of blame) fails them, by name.

backward's tests build graphs with the operators and walk them in topological order, so the
learner has written those first.
"""

from tests.workbook.conftest import Learner, solve_then_break
from workbook.manifest import find
from workbook.stubs import reference_function, replace_function

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


def solve_with_the_reference(learner: Learner, exercise_ids: list[str]) -> None:
    """Start the phase and put the reference where the stubs of `exercise_ids` are: the
    exercises the one under test leans on, written (correctly) before it."""
    assert learner.run("start", exercise_ids[0][:2]).returncode == 0
    for exercise_id in exercise_ids:
        e = find(exercise_id)[0]
        path = learner.file(exercise_id)
        source = path.read_text(encoding="utf-8")
        path.write_text(replace_function(source, e.qualname, reference_function(e)),
                        encoding="utf-8")


def test_a_dictionary_of_blame_passes_and_a_forgotten_accumulation_fails(
        learner: Learner) -> None:
    solve_with_the_reference(learner, ["02.value-add", "02.value-mul", "02.value-tanh",
                                       "02.topological-order"])
    solve_then_break(learner, "02.value-backward", BLAME_IN_A_DICT, ASSIGNED_NOT_ACCUMULATED)
