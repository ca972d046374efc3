"""torch_twin translates each of phase 02's optimizers into torch.optim with the same settings;
on Rosenbrock the two paths coincide to round-off."""

import numpy as np
import pytest
import torch

from phase02.optimizers import OPTIMIZERS, Adam, AdamW, Momentum, RMSProp, Rosenbrock
from phase06.optimizers_torch import race_both, torch_twin


def test_twin_copies_the_settings() -> None:
    holder = Rosenbrock((0.0, 0.0))
    p = [torch.zeros(2, requires_grad=True)]
    adamw = torch_twin(AdamW([holder], lr=0.01, beta1=0.8, beta2=0.9, eps=1e-5,
                             weight_decay=0.3), p)
    assert isinstance(adamw, torch.optim.AdamW)
    assert adamw.defaults["betas"] == (0.8, 0.9) and adamw.defaults["weight_decay"] == 0.3
    adam = torch_twin(Adam([holder], lr=0.01, weight_decay=0.2), p)
    assert type(adam) is torch.optim.Adam and adam.defaults["weight_decay"] == 0.2
    assert torch_twin(RMSProp([holder], lr=0.1, decay=0.9), p).defaults["alpha"] == 0.9
    assert torch_twin(Momentum([holder], lr=0.1, beta=0.7), p).defaults["momentum"] == 0.7


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_paths_coincide(name: str) -> None:
    ours, theirs = race_both(name, (-1.5, 2.0), 200)
    assert ours.shape == theirs.shape == (201, 2)
    assert np.abs(ours - theirs).max() < 1e-12


def test_twin_of_something_unknown_is_an_error() -> None:
    class Lion:
        pass

    with pytest.raises(TypeError, match="no PyTorch twin"):
        torch_twin(Lion(), [torch.zeros(1, requires_grad=True)])
