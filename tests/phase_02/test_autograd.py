"""The Value engine: every operator's local derivative, reuse, reversed operators, and random
expressions checked against finite differences."""

import math
import sys
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from phase00.derivatives import numerical_gradient
from phase02.autograd import Value, draw_graph, main, neuron_with_loss


def grad_of(f: Callable[[Value], Value], x: float) -> tuple[float, float]:
    """(value, derivative) of a one-input expression, by the engine."""
    a = Value(x)
    out = f(a)
    out.backward()
    return out.data, a.grad


@pytest.mark.parametrize(("f", "df", "x"), [
    (lambda a: a + 3.0, lambda x: 1.0, 0.7),
    (lambda a: a - 3.0, lambda x: 1.0, 0.7),
    (lambda a: a * 3.0, lambda x: 3.0, 0.7),
    (lambda a: a / 4.0, lambda x: 0.25, 0.7),
    (lambda a: a**3, lambda x: 3 * x**2, -1.3),
    (lambda a: a**-0.5, lambda x: -0.5 * x**-1.5, 2.0),
    (lambda a: -a, lambda x: -1.0, 0.7),
    (lambda a: a.exp(), math.exp, 0.4),
    (lambda a: a.log(), lambda x: 1 / x, 2.5),
    (lambda a: a.tanh(), lambda x: 1 - math.tanh(x) ** 2, 0.3),
    (lambda a: a.relu(), lambda x: 1.0, 0.3),
    (lambda a: a.relu(), lambda x: 0.0, -0.3),
    # reversed operators: the number is on the left
    (lambda a: 2 + a, lambda x: 1.0, 0.7),
    (lambda a: 1 - a, lambda x: -1.0, 0.7),
    (lambda a: 2 * a, lambda x: 2.0, 0.7),
    (lambda a: 3 / a, lambda x: -3 / x**2, 1.5),
])
def test_each_operator_has_the_right_local_derivative(f: Callable[[Value], Value],
                                                      df: Callable[[float], float],
                                                      x: float) -> None:
    _, grad = grad_of(f, x)
    assert grad == pytest.approx(df(x), rel=1e-12)


@pytest.mark.parametrize(("make", "data", "parents", "local"), [
    (lambda a, b: a + b, -1.0, "ab", (1.0, 1.0)),
    (lambda a, b: a - b, 5.0, "ab", (1.0, -1.0)),
    (lambda a, b: a * b, -6.0, "ab", (-3.0, 2.0)),
    (lambda a, b: a / b, -2 / 3, "ab", (-1 / 3, -2 / 9)),
    (lambda a, b: a**3, 8.0, "a", (12.0,)),
    (lambda a, b: -a, -2.0, "a", (-1.0,)),
    (lambda a, b: a.exp(), math.exp(2.0), "a", (math.exp(2.0),)),
    (lambda a, b: a.log(), math.log(2.0), "a", (0.5,)),
    (lambda a, b: a.tanh(), math.tanh(2.0), "a", (1 - math.tanh(2.0) ** 2,)),
    (lambda a, b: a.relu(), 2.0, "a", (1.0,)),
    (lambda a, b: b.relu(), 0.0, "b", (0.0,)),
], ids=["add", "sub", "mul", "div", "pow", "neg", "exp", "log", "tanh", "relu-on", "relu-off"])
def test_an_operator_records_its_parents_and_local_derivatives(
        make: Callable[[Value, Value], Value], data: float, parents: str,
        local: tuple[float, ...]) -> None:
    """At forward time, before any backward pass (a = 2, b = -3): the value, the parents, and
    d(out)/d(parent) for each parent, as plain numbers."""
    a, b = Value(2.0), Value(-3.0)
    out = make(a, b)
    assert out.data == pytest.approx(data, rel=1e-12)
    assert out.parents == tuple({"a": a, "b": b}[name] for name in parents)
    assert all(isinstance(g, float) for g in out.local_grads), (
        f"local_grads must be plain floats (use .data), got {out.local_grads}")
    assert out.local_grads == pytest.approx(local, rel=1e-12)


@pytest.mark.parametrize("make, op", [(lambda a, b: a + b, "+"), (lambda a, b: a * b, "*"),
                                      (lambda a, b: a.tanh(), "tanh")],
                         ids=["add", "mul", "tanh"])
def test_an_operator_names_its_operation(make: Callable[[Value, Value], Value], op: str) -> None:
    """The op label is what the graph drawings print and what phase 06 lines up with PyTorch's
    nodes (AddBackward0, MulBackward0)."""
    assert make(Value(2.0), Value(-3.0)).op == op


def test_forward_values_are_the_plain_arithmetic() -> None:
    a, b = Value(2.0), Value(-3.0)
    assert (a * b + a / b - b**2).data == pytest.approx(2 * -3 + 2 / -3 - 9)
    assert (1 - a).data == -1.0 and (3 / a).data == 1.5 and (2 + a).data == 4.0


@pytest.mark.parametrize(("f", "expected"), [
    (lambda a: a * a, 2 * 3.0),  # two uses as factors: b + a = 2a
    (lambda a: a + a, 2.0),
    (lambda a: a * a * a, 3 * 3.0**2),
    (lambda a: (a * 2) * (a + 1), 4 * 3.0 + 2),  # d/da (2a^2 + 2a)
])
def test_a_reused_node_accumulates_blame(f: Callable[[Value], Value], expected: float) -> None:
    _, grad = grad_of(f, 3.0)
    assert grad == pytest.approx(expected)


def test_diamond_graph() -> None:
    """a feeds b and c, which meet again in d: dd/da is the sum over the two paths."""
    a = Value(1.5)
    b = a * 4.0  # path 1
    c = a.tanh()  # path 2
    d = b * c
    d.backward()
    expected = 4.0 * math.tanh(1.5) + 4.0 * 1.5 * (1 - math.tanh(1.5) ** 2)
    assert a.grad == pytest.approx(expected, rel=1e-12)
    assert b.grad == pytest.approx(c.data) and c.grad == pytest.approx(b.data)


def test_backward_twice_gives_the_same_gradients() -> None:
    L, nodes = neuron_with_loss(1.5, -0.8, 0.3, 0.5)
    L.backward()
    first = {k: v.grad for k, v in nodes.items()}
    L.backward()
    assert {k: v.grad for k, v in nodes.items()} == first


def test_topological_order_lists_parents_first() -> None:
    L, nodes = neuron_with_loss(1.5, -0.8, 0.3, 0.5)
    order = L.topological_order()
    assert len(order) == len(nodes) and order[-1] is L
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        assert all(position[id(p)] < position[id(node)] for p in node.parents)


def two_depth_graph() -> tuple[Value, Value]:
    """out = tanh(3 tanh(x)) * tanh(x) at x = 0.7: the node t = tanh(x) is a parent of out
    (one step up) and of tanh(3 t) (three steps up). Reversing a breadth-first walk from out
    lists t before tanh(3 t), one of the nodes that feed on it."""
    x = Value(0.7, label="x")
    t = x.tanh()
    return x, (t * 3).tanh() * t


def test_topological_order_when_a_node_is_reached_at_two_depths() -> None:
    x, out = two_depth_graph()
    order = out.topological_order()
    position = {id(n): i for i, n in enumerate(order)}
    assert len(position) == len(order) and order[-1] is out and order[0] is x
    for node in order:
        assert all(position[id(p)] < position[id(node)] for p in node.parents), (
            f"{node.op or node.label} comes before one of its parents")


def test_backward_when_a_node_is_reached_at_two_depths() -> None:
    """x.grad is the true slope only if t hands its gradient down after both of its paths
    have added their shares: a wrong order sends part of it too early."""
    x, out = two_depth_graph()
    out.backward()
    h = 1e-6

    def f(x0: float) -> float:
        return math.tanh(3 * math.tanh(x0)) * math.tanh(x0)

    assert x.grad == pytest.approx((f(0.7 + h) - f(0.7 - h)) / (2 * h), rel=1e-7)


def by_hand_graph() -> tuple[Value, Value, Value, Value]:
    """d = a * b + a at a = 2, b = 3, built with Value's constructor alone (no operator), so the
    backward sweep can be checked before, and apart from, the operators."""
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    c = Value(6.0, (a, b), (3.0, 2.0), "*", "c")  # c = a * b: local derivatives (b, a)
    d = Value(8.0, (c, a), (1.0, 1.0), "+", "d")  # d = c + a: a is used twice
    return a, b, c, d


def test_topological_order_of_a_graph_built_by_hand() -> None:
    a, b, c, d = by_hand_graph()
    order = d.topological_order()
    assert [id(n) for n in order].count(id(a)) == 1  # listed once, though used twice
    assert len(order) == 4 and order[-1] is d
    assert order.index(c) > max(order.index(a), order.index(b))


def test_topological_order_of_a_long_chain_built_by_hand() -> None:
    """30,000 nodes in a row, far deeper than Python's recursion limit (1,000 by default): no
    recursion allowed, and raising the limit is no way out (it is the whole program's, and
    the interpreter's own stack overflows before long)."""
    limit = sys.getrecursionlimit()
    first = node = Value(0.0)
    for _ in range(30_000):
        node = Value(node.data + 1.0, (node,), (1.0,), "+1")
    order = node.topological_order()
    assert len(order) == 30_001 and order[0] is first and order[-1] is node
    assert sys.getrecursionlimit() == limit, "topological_order changed the recursion limit"


def test_backward_on_a_graph_built_by_hand() -> None:
    """d(ab + a)/da = b + 1 = 4 (blame from both uses of a), d(ab + a)/db = a = 2."""
    a, b, c, d = by_hand_graph()
    d.backward()
    assert (a.grad, b.grad, c.grad, d.grad) == (4.0, 2.0, 1.0, 1.0)


def test_a_long_chain_needs_no_recursion() -> None:
    """A sum of 5000 terms is a chain deeper than Python's default recursion limit."""
    x = Value(0.5)
    total = Value(0.0)
    for _ in range(5000):
        total = total + x * x
    total.backward()
    assert x.grad == pytest.approx(5000 * 2 * 0.5)


def test_clear_errors() -> None:
    with pytest.raises(ValueError, match="positive"):
        Value(-1.0).log()
    with pytest.raises(TypeError, match="plain number"):
        Value(2.0) ** Value(3.0)


def test_demo_gradients_match_hand_derivation() -> None:
    """L = (tanh(w x + b) - y)^2: dL/dw = 2 (h - y) (1 - h^2) x."""
    x, w, b, y = 1.5, -0.8, 0.3, 0.5
    L, nodes = neuron_with_loss(x, w, b, y)
    L.backward()
    h = math.tanh(w * x + b)
    assert L.data == pytest.approx((h - y) ** 2)
    assert nodes["w"].grad == pytest.approx(2 * (h - y) * (1 - h * h) * x)
    assert nodes["x"].grad == pytest.approx(2 * (h - y) * (1 - h * h) * w)
    assert nodes["y"].grad == pytest.approx(-2 * (h - y))


# ---- random expressions: the engine against central differences ----

UNARY = ["exp", "log", "tanh", "relu", "square", "cube", "sqrt", "neg", "rsub", "rmul", "rdiv"]
BINARY = ["add", "sub", "mul", "div"]


def expressions(n_inputs: int) -> st.SearchStrategy:
    leaves = st.integers(0, n_inputs - 1).map(lambda i: ("x", i))
    return st.recursive(
        leaves,
        lambda sub: st.one_of(
            st.tuples(st.sampled_from(UNARY), sub),
            st.tuples(st.sampled_from(BINARY), sub, sub)),
        max_leaves=8)


def evaluate(tree: tuple, xs: list, kinks: list[float] | None = None) -> object:
    """Evaluate on Values or on floats with the same code; domains are safe by construction:
    log and sqrt see a*a + 0.5 > 0, division sees b*b + 1 >= 1."""
    op = tree[0]
    if op == "x":
        return xs[tree[1]]
    a = evaluate(tree[1], xs, kinks)
    is_value = isinstance(a, Value)
    if op in BINARY:
        b = evaluate(tree[2], xs, kinks)
        return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
                "div": lambda: a / (b * b + 1.0)}[op]()
    if op == "exp":
        return a.exp() if is_value else math.exp(a)
    if op == "log":
        inner = a * a + 0.5
        return inner.log() if is_value else math.log(inner)
    if op == "tanh":
        return a.tanh() if is_value else math.tanh(a)
    if op == "relu":
        if kinks is not None:
            kinks.append(float(a.data if is_value else a))
        return a.relu() if is_value else max(0.0, a)
    if op == "square":
        return a**2
    if op == "cube":
        return a**3
    if op == "sqrt":
        return (a * a + 0.5) ** 0.5
    if op == "neg":
        return -a
    if op == "rsub":
        return 1.5 - a
    if op == "rmul":
        return 0.7 * a
    if op == "rdiv":
        return 2.0 / (a * a + 1.0)
    raise AssertionError(op)


@settings(deadline=None, max_examples=150)
@given(tree=expressions(3),
       point=st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3))
def test_random_expressions_match_finite_differences(tree: tuple, point: list[float]) -> None:
    kinks: list[float] = []
    value = evaluate(tree, point, kinks)
    assume(abs(value) < 1e4)  # exp of exp can grow; keep finite differences meaningful
    assume(all(abs(k) > 1e-3 for k in kinks))  # relu has no slope at its kink
    xs = [Value(p) for p in point]
    out = evaluate(tree, xs)
    if not isinstance(out, Value):  # impossible: every tree has a leaf
        raise AssertionError
    out.backward()
    engine = np.array([x.grad for x in xs])
    numeric = numerical_gradient(lambda v: float(evaluate(tree, list(v))), np.array(point))
    np.testing.assert_allclose(engine, numeric, rtol=1e-5, atol=1e-6 * (1 + abs(value)))
    assert out.data == pytest.approx(value)


def test_draw_graph_and_main(figures_dir, capsys) -> None:
    L, _ = neuron_with_loss(1.0, 2.0, -1.0, 0.0)
    L.backward()
    fig = draw_graph(L, "test", None)
    assert fig.axes
    main(["--out", str(figures_dir)])
    out = capsys.readouterr().out
    assert "d(a*a)/da at a = 3: 6.0" in out and "d(a+a)/da:          2.0" in out
    assert (figures_dir / "computation_graph.png").is_file()
