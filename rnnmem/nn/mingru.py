"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?", §3.1), in rnnmem's harness: one file and
one registration.

``z_t = σ(W_z x_t + b_z)``, ``h̃_t = W_h x_t + b_h``, ``h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t``.
The gates depend on the input only, so the recurrence is element-wise and linear in h: it runs
as the linear scan of :mod:`rnnmem.nn.linear_scan` (``scan``: sequential or parallel) in
linear space (its coefficients 1 − z_t lie in (0, 1), so long products underflow to 0 and
nothing overflows). The paper's log-space form (for its positive-valued variant with g(h̃)) is
not implemented. Weights: PyTorch's Linear init, U(±1/√n_in), as the paper's reference code
leaves them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import register_model
from .interface import RNNInterface
from .linear_scan import (
    DEFAULT_SCAN,
    KERNELS,
    SCAN_HELP,
    SCANS,
    check_scan,
    linear_scan,
    linear_scan_reference,
)


class MinGRU(RNNInterface):
    """``x (T, B, n_inputs) -> h (T, B, hidden)``; the state is the output."""

    def __init__(self, n_inputs: int, hidden: int, *, scan: str = DEFAULT_SCAN,
                 fused: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        check_scan(scan)
        self.n_inputs, self.hidden, self.fused, self.scan = n_inputs, hidden, fused, scan
        self.proj = nn.Linear(n_inputs, 2 * hidden)  # [W_z; W_h] in one product
        bound = 1 / math.sqrt(n_inputs)
        with torch.no_grad():
            for p in self.proj.parameters():
                p.uniform_(-bound, bound, generator=generator)

    def forward_state(self, x: torch.Tensor, state: torch.Tensor | None = None):
        pre_z, candidate = self.proj(x).chunk(2, dim=-1)
        z = torch.sigmoid(pre_z)
        if self.fused:
            h = linear_scan(1 - z, z * candidate, state, method=self.scan)
        else:
            h = linear_scan_reference(1 - z, z * candidate, state)
        return h, h[-1]

    def extra_repr(self) -> str:
        return f"{self.n_inputs}, {self.hidden}"


register_model("mingru", MinGRU, help=dict(scan=SCAN_HELP), choices=dict(scan=SCANS),
               gemm_blocks=2, kernel=KERNELS[DEFAULT_SCAN],
               kernels=dict((KERNELS[k], dict(scan=k)) for k in SCANS),
               reference="per-step autograd", _builtin=True)
