"""The GRU on ``torch.nn.GRU`` (a fused kernel was slower here: docs/bench.md), PyTorch's or
an orthogonal init per gate block."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import HENAFF_RECIPE, register_model
from .interface import RNNInterface
from .lstm import GATED_RATES

GRU_INITS = ("plain", "orthogonal")


class GRU(RNNInterface):
    """``torch.nn.GRU``; ``init``: ``plain`` (PyTorch's) or ``orthogonal`` (each gate block)."""

    def __init__(self, n_inputs: int, hidden: int, *, init: str = "plain",
                 generator: torch.Generator | None = None):
        super().__init__()
        if init not in GRU_INITS:
            raise ValueError(f"unknown GRU init {init!r}; valid: {', '.join(GRU_INITS)}")
        self.n_inputs, self.hidden = n_inputs, hidden
        self.gru = nn.GRU(n_inputs, hidden)
        bound = 1 / math.sqrt(hidden)
        with torch.no_grad():
            for p in self.gru.parameters():
                p.uniform_(-bound, bound, generator=generator)
            if init == "orthogonal":
                from ..init import orthogonal_

                for block in self.gru.weight_hh_l0.chunk(3, dim=0):
                    orthogonal_(block, generator=generator)

    def _forward_packed(self, packed, hx):  # torch.nn.GRU runs packed sequences itself
        return self.gru(packed, hx)

    def forward_state(self, x, state=None):
        out, h = self.gru(x, None if state is None else state[None])
        return out, h[0]

    gates = ("reset", "update", "new")  # PyTorch's order of the stacked blocks

    def recurrent_matrix(self) -> torch.Tensor:
        return self.gru.weight_hh_l0


# ---------------------------------------------------------------- registration (rnnmem.registry)

register_model("gru", GRU, inits=GRU_INITS, default_init=GRU_INITS[0], recipe=HENAFF_RECIPE,
               state_blocks=3, gemm_blocks=3, kernel="torch.nn.GRU",
               search=dict(lr=GATED_RATES), _builtin=True)
