"""Decoders from hidden states to outputs: linear (Henaff eq. 1) and l2-pooled (eq. 6)."""

from __future__ import annotations

import torch
from torch import nn

from ..init import gaussian_


def l2_pool(h: torch.Tensor, k: int) -> torch.Tensor:
    """Henaff eq. 6's ``P_k``: l2 norm over consecutive groups of k units (pool = stride = k).

    ``(..., k·d) -> (..., d)``; ``P(h)_i = sqrt(Σ_{j=k(i-1)+1}^{ki} h_j²)``.
    """
    if h.shape[-1] % k:
        raise ValueError(f"l2 pooling needs a hidden size divisible by k={k}, got {h.shape[-1]}")
    return torch.linalg.vector_norm(h.unflatten(-1, (-1, k)), dim=-1)


class Readout(nn.Module):
    """Linear decoder ``y_t = W h_t + c`` (``bias=False``: Henaff eq. 2's ``y_t = W h_t``).

    With ``pool=k``, Henaff eq. 6: ``y_t = W_I h_t + W_P P_k(h_t) + c``.
    """

    def __init__(self, hidden: int, n_outputs: int, *, pool: int | None = None,
                 bias: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        if pool is not None and (pool < 1 or hidden % pool):
            raise ValueError(f"pool size must divide the hidden size {hidden}, got {pool}")
        self.pool = pool
        self.W = nn.Linear(hidden, n_outputs, bias=bias)
        self.W_pool = nn.Linear(hidden // pool, n_outputs, bias=False) if pool else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        gaussian_(self.W.weight, generator=generator)
        if self.W.bias is not None:
            nn.init.zeros_(self.W.bias)
        if self.W_pool is not None:
            gaussian_(self.W_pool.weight, generator=generator)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        y = self.W(h)
        if self.W_pool is not None:
            y = y + self.W_pool(l2_pool(h, self.pool))
        return y
