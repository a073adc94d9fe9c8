"""A plugin for rnnmem: a custom recurrent cell, a custom init and a comparison with the LT-ORNN.

Used by docs/extending.md and run by tests/test_extending.py. Load it with
``rnnmem ... --plugin docs/examples/leaky_plugin.py`` or ``rnnmem.plugins.load_plugin(path)``.
"""

import torch
from torch import nn

import rnnmem
from rnnmem.experiments.grid import ByBudget, Grid, Panel
from rnnmem.init import gaussian_, get_initializer


class LeakyRNN(nn.Module):
    """``h_t = (1 − a) h_{t−1} + a tanh(U x_t + b + V h_{t−1})``, leak ``a`` per layer."""

    def __init__(self, n_inputs: int, hidden: int, *, init: str = "orthogonal",
                 gain: float = 1.0, leak: float = 0.5, generator: torch.Generator | None = None):
        super().__init__()
        if not 0 < leak <= 1:
            raise ValueError(f"leak must be in (0, 1], got {leak!r}")
        self.hidden, self.leak = hidden, leak
        self.U = nn.Linear(n_inputs, hidden)
        self.V = nn.Parameter(torch.empty(hidden, hidden))
        get_initializer(init)(self.V, gain=gain, generator=generator)  # any registered init
        gaussian_(self.U.weight, generator=generator)
        nn.init.zeros_(self.U.bias)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        drive = self.U(x)  # (T, B, H) for all steps at once; the loop is per step (a sketch)
        h = x.new_zeros(x.shape[1], self.hidden) if h0 is None else h0
        states = []
        for u in drive:
            h = (1 - self.leak) * h + self.leak * torch.tanh(u + h @ self.V.T)
            states.append(h)
        return torch.stack(states)

    def recurrent_matrix(self) -> torch.Tensor:  # optional: for rnnmem memory analyze
        return self.V


def ring_(tensor: torch.Tensor, gain: float = 1.0, *, generator=None) -> torch.Tensor:
    """A chain closed into a ring: ``W[i, i-1] = gain`` and ``W[0, N-1] = gain`` (a scaled
    cyclic permutation: normal, unlike the chain)."""
    n = tensor.shape[0]
    with torch.no_grad():
        tensor.zero_()
        tensor[torch.arange(n), (torch.arange(n) - 1) % n] = gain
    return tensor


rnnmem.register_model("leaky-rnn", LeakyRNN, default_init="orthogonal")
rnnmem.register_init("ring", ring_)


# The leaky cell (ring init) against the LT-ORNN on a short copy task, 3 seeds each: a grid
# declared as data (every job: base, then its panel's, then its group's options).
leaky_vs_ornn = Grid(
    base=dict(task="copy", T=10, S=3, K=4, hidden=16, batch=16, val_size=64, lr=1e-3,
              steps=ByBudget(quick=60, paper=2000, full=6000)),
    panels=[Panel("copy T = 10")],
    groups={"leaky (ring)": dict(model="leaky-rnn", init="ring", model_options=dict(leak=0.5)),
            "LT-ORNN": dict(model="lt-rnn", init="orthogonal")},
    seeds=3, eval_points=20)

rnnmem.register_experiment("leaky-vs-ornn", leaky_vs_ornn, paper="docs/extending.md",
                           target="a plugin cell against LT-ORNN",
                           claim="a leaky tanh cell with a ring init learns a short copy task")
