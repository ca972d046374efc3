"""The layer protocol's promise about gradients, checked the same way for every NumPy layer."""

from collections.abc import Callable

import numpy as np


def assert_backward_writes_in_place(layer: object, forward: Callable[[], object],
                                    dout: np.ndarray) -> None:
    """Two forward and backward passes on the same input. Every grads array must still be the
    array the layer held before (the optimizers keep references to these arrays and read them
    after each backward), and must hold the same numbers both times: backward sets the
    gradient, it does not add onto the last one."""
    held = dict(layer.grads)
    runs = []
    for _ in range(2):
        forward()
        layer.backward(dout)
        for name, array in held.items():
            assert layer.grads[name] is array, (
                f"backward put a new array in grads[{name!r}]: write into the one it holds "
                f"(grads[{name!r}][...] = ...), which is the array the optimizer reads")
        runs.append({name: g.copy() for name, g in layer.grads.items()})
    for name, g in runs[0].items():
        np.testing.assert_array_equal(runs[1][name], g, err_msg=(
            f"grads[{name!r}] grew on the second pass: set the gradient, do not add to it"))
