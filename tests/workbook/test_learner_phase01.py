"""A simulated learner in phase 01: logistic regression's gradient written as a loop over the
examples passes the course's tests; the classic sign slip (y - p, the direction of the
perceptron's update, instead of the gradient's p - y) fails them, by name.

The gradient's tests also use the sigmoid and the loss, so the learner has written those first.
"""

from tests.workbook.conftest import Learner, solve_then_break, solve_with_the_reference

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



def test_a_loop_passes_and_a_flipped_sign_fails(learner: Learner) -> None:
    solve_with_the_reference(learner, ["01.sigmoid", "01.bce-loss"])
    solve_then_break(learner, "01.logistic-gradient", LOOP_OVER_EXAMPLES, SIGN_FLIPPED)
