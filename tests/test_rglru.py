"""RG-LRU (Griffin §2.4) against its equations written out step by step, as recurrentgemma's
``RGLRU`` computes them; the nn.RNN conformance tests (tests/test_interface.py) cover it too."""

import pytest
import torch
import torch.nn.functional as F

from rnnmem.nn import RGLRU


def _griffin_step_by_step(layer: RGLRU, x: torch.Tensor) -> torch.Tensor:
    """h_t = a_t h_{t-1} + √(1 − a_t²)(i_t u_t), a_t = exp(−8 softplus(Λ) r_t): one step at a
    time, the block-diagonal gates as dense block matrices."""
    def dense(gate):
        return torch.block_diag(*gate.w), gate.b.flatten()

    Wa, ba = dense(layer.a_gate)
    Wx, bx = dense(layer.input_gate)
    h = torch.zeros(x.shape[1], layer.hidden, dtype=x.dtype)
    states = []
    for x_t in x:
        u = layer.in_proj(x_t)
        r, i = torch.sigmoid(u @ Wa + ba), torch.sigmoid(u @ Wx + bx)
        a = torch.exp(-8.0 * r * F.softplus(layer.a_param))
        h = a * h + torch.sqrt(1 - a ** 2) * (i * u)
        states.append(h)
    return torch.stack(states)


def test_rg_lru_is_griffins_recurrence_with_gradients():
    g = torch.Generator().manual_seed(0)
    layer = RGLRU(3, 8, heads=2, generator=torch.Generator().manual_seed(1)).double()
    x = torch.randn(9, 4, 3, generator=g, dtype=torch.float64)
    states, h_n = layer(x)
    assert torch.allclose(states, _griffin_step_by_step(layer, x), atol=1e-12)
    assert torch.equal(h_n[0], states[-1])
    small = RGLRU(2, 4, heads=2, generator=torch.Generator().manual_seed(2)).double()
    x = torch.randn(5, 2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, *p: small(x)[0], (x, *small.parameters()))


def test_rg_lru_starts_on_its_ring_and_its_decay_depends_on_the_input():
    layer = RGLRU(2, 4096, r_min=0.5, r_max=0.9, generator=torch.Generator().manual_seed(0))
    r = torch.exp(-F.softplus(layer.a_param)).detach()
    assert r.min() >= 0.5 - 1e-6 and r.max() <= 0.9 + 1e-6
    assert abs((r ** 2).mean().item() - (0.25 + 0.81) / 2) < 0.01  # uniform by area
    small = RGLRU(2, 8, generator=torch.Generator().manual_seed(0))
    a1, _ = small._scan_inputs(torch.zeros(1, 1, 2))
    a2, _ = small._scan_inputs(torch.full((1, 1, 2), 3.0))
    assert not torch.allclose(a1, a2)  # selective: the transition reads the input
    for bad in (dict(heads=3), dict(r_min=0.9, r_max=1.0), dict(r_min=0.0)):
        with pytest.raises(ValueError):
            RGLRU(2, 8, **bad)
