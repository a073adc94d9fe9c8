"""The unitary RNN (Arjovsky et al. 2016) in rnnmem's harness: complex state,
W = D₃ R₂ F⁻¹ D₂ Π R₁ F D₁ (diagonal phases, reflections, a fixed permutation, unitary FFTs),
complex modReLU. W is formed once per forward from its factors; the recurrence runs in the fused
scan on its real form with a complex-modReLU activation (``fused=False``: the per-step autograd
reference; see docs/bench.md).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import HENAFF_RECIPE, register_model
from .interface import RNNInterface
from .lstm import GATED_RATES
from .scan import scan, scan_reference


class URNN(RNNInterface):
    """Unitary RNN with ``hidden`` complex units; outputs [Re h, Im h] (T, B, 2·hidden)."""

    def __init__(self, n_inputs: int, hidden: int, *, fused: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.n_inputs, self.hidden, self.fused = n_inputs, hidden, fused
        self.phases = nn.Parameter(torch.empty(3, hidden))
        self.reflections = nn.Parameter(torch.empty(2, 2, hidden))  # (R1, R2) × (re, im)
        self.register_buffer("permutation", torch.randperm(hidden, generator=generator))
        self.U = nn.Linear(n_inputs, 2 * hidden)
        self.bias = nn.Parameter(torch.empty(hidden))
        with torch.no_grad():
            self.phases.uniform_(-math.pi, math.pi, generator=generator)
            self.reflections.uniform_(-1, 1, generator=generator)
            self.U.weight.normal_(0, 1 / math.sqrt(n_inputs), generator=generator)
            self.U.bias.zero_()
            self.bias.uniform_(-0.01, 0.01, generator=generator)

    def _apply_w(self, z: torch.Tensor) -> torch.Tensor:
        """W z for rows z (…, N): D₃ R₂ F⁻¹ D₂ Π R₁ F D₁."""
        D = torch.polar(torch.ones_like(self.phases), self.phases)  # (3, N) unit phases
        R = torch.complex(self.reflections[:, 0], self.reflections[:, 1])  # (2, N)

        def reflect(z, v):  # (I − 2 v vᴴ / ‖v‖²) z
            return z - 2 * v * (z @ v.conj())[..., None] / v.abs().pow(2).sum()

        z = z * D[0]
        z = torch.fft.fft(z, norm="ortho")
        z = reflect(z, R[0])[..., self.permutation]
        z = torch.fft.ifft(z * D[1], norm="ortho")
        return reflect(z, R[1]) * D[2]

    def recurrent_matrix(self) -> torch.Tensor:
        """W as a dense complex (N, N) matrix (columns W e_j)."""
        eye = torch.eye(self.hidden, dtype=torch.complex64, device=self.bias.device)
        return self._apply_w(eye).t()

    def forward_state(self, x, state=None):
        """([Re h, Im h] (T, B, 2N), final complex state (B, N)) of ``h_t = modReLU(W h_{t-1} +
        U x_t)`` from a complex state (B, N): W formed once, the recurrence in the fused scan
        on the real form ``[[Re W, −Im W], [Im W, Re W]]``."""
        W = self.recurrent_matrix()
        V = torch.cat([torch.cat([W.real, -W.imag], 1), torch.cat([W.imag, W.real], 1)])
        if state is not None:
            state = torch.cat([state.real, state.imag], -1)
        run = scan if self.fused else scan_reference
        h = run(self.U(x), V, state, activation="cmodrelu", bias=self.bias)
        return h, self._complex(h[-1])

    def _complex(self, h: torch.Tensor) -> torch.Tensor:
        return torch.complex(h[..., :self.hidden], h[..., self.hidden:])

    def final_state_at(self, states, last):
        return self._complex(super().final_state_at(states, last))


# ---------------------------------------------------------------- registration (rnnmem.registry)

# complex products count as 4 real ones: the scan runs on the real form of W (2H × 2H)
register_model("urnn", URNN, recipe=HENAFF_RECIPE, state_blocks=2, output_blocks=2,
               gemm_blocks=4, kernel="fused scan, complex modReLU",
               reference="per-step autograd", search=dict(lr=GATED_RATES), _builtin=True)
