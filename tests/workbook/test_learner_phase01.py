"""A simulated learner in phase 01: logistic regression's gradient written as a loop over the
examples passes the course's tests; the classic sign slip (y - p, the direction of the
perceptron's update, instead of the gradient's p - y) fails them, by name.

The gradient's tests also use the sigmoid and the loss, so the learner has written those first.
"""

from tests.workbook.conftest import Learner, solve_then_break
from workbook.manifest import find
from workbook.stubs import reference_function, replace_function

LOOP_OVER_EXAMPLES = """
N = X.shape[0]
dL_dw = np.zeros(X.shape[1])
dL_db = 0.0
for x_n, y_n in zip(X, y):  # one example's share of the blame at a time
    p_n = float(sigmoid(np.array(x_n @ w + b)))
    dL_dw += (p_n - y_n) * x_n / N
    dL_db += (p_n - y_n) / N
return dL_dw, float(dL_db)
"""

SIGN_FLIPPED = """
N = X.shape[0]
p = predict_proba(X, w, b)
dL_dz = (y - p) / N
return X.T @ dL_dz, float(dL_dz.sum())
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


def test_a_loop_passes_and_a_flipped_sign_fails(learner: Learner) -> None:
    solve_with_the_reference(learner, ["01.sigmoid", "01.bce-loss"])
    solve_then_break(learner, "01.logistic-gradient", LOOP_OVER_EXAMPLES, SIGN_FLIPPED)
