"""A plugin cell on rnnmem's fused scan: ``h_t = tanh(U x_t + b + W h_{t-1})`` with
``W = Q + α S``, Q orthogonal and S skew-symmetric (both learned), the kind of cell a
researcher writes to try another transition; ``linear=True`` (registered as ``skew-lt-rnn``)
is the LT-RNN's equation with that W, ``h_t = U x_t + b + W h_{t-1}`` (σ = identity, the
LT-RNN's default off the adding task).

The recurrence is ``rnnmem.nn.scan.scan``, the kernel of the built-in sRNN and LT-RNN: the
layer forms W once per forward and hands the whole sequence to the scan, which runs the loop
without an autograd graph and its backward as one transposed recurrence. Used by
docs/extending.md ("A fast cell") and tests/test_extending.py; ``rnnmem bench --plugin
docs/examples/scan_plugin.py --model skew-rnn,srnn,skew-lt-rnn,lt-rnn`` times each form beside
the built-in cell of its equation.
"""

import torch
from torch import nn

import rnnmem
from rnnmem.init import gaussian_, orthogonal_
from rnnmem.nn.scan import scan


class SkewRNN(nn.Module):
    """``h_t = tanh(U x_t + b + (Q + α S) h_{t-1})``, or with ``linear`` the LT-RNN's form
    ``U x_t + b + (Q + α S) h_{t-1}``; S = A − Aᵀ starts at 0."""

    def __init__(self, n_inputs: int, hidden: int, *, alpha: float = 0.1, linear: bool = False,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.hidden, self.alpha, self.linear = hidden, alpha, linear
        self.U = nn.Linear(n_inputs, hidden)
        self.Q = nn.Parameter(orthogonal_(torch.empty(hidden, hidden), generator=generator))
        self.A = nn.Parameter(torch.zeros(hidden, hidden))
        gaussian_(self.U.weight, generator=generator)
        nn.init.zeros_(self.U.bias)

    def recurrent_matrix(self) -> torch.Tensor:  # W, (out, in) as torch.nn.Linear's
        return self.Q + self.alpha * (self.A - self.A.T)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        # x: (T, B, n_inputs) -> every state (T, B, H), one fused call for the whole sequence
        if self.linear:  # no φ inside the loop (the LT-RNN's form): its backward needs no φ'
            return scan(self.U(x), self.recurrent_matrix(), h0)
        return scan(self.U(x), self.recurrent_matrix(), h0, activation="tanh")


HELP = dict(alpha="scale α of the skew-symmetric part S",
            linear="no tanh: the LT-RNN's linear recurrence with W = Q + αS")
rnnmem.register_model("skew-rnn", SkewRNN, recipe=dict(optimizer_options=dict(decay=0.9)),
                      help=HELP)
rnnmem.register_model("skew-lt-rnn", SkewRNN, defaults=dict(linear=True),
                      recipe=dict(optimizer_options=dict(decay=0.9)), help=HELP)
