"""State tracking: the running parity of a bit string (Grazzi et al. 2024, "Unlocking
State-Tracking in Linear RNNs Through Negative Eigenvalues"; Merrill et al. 2024, "The Illusion
of State in State-Space Models", for the group-word problems it is the simplest of: Z₂).

Inputs are T uniform bits (tokens 0 and 1); the target of step t is x₁ ⊕ … ⊕ x_t, due at every
step. A diagonal linear recurrence with non-negative eigenvalues cannot carry it at any length
(Grazzi et al. Theorem 1); one eigenvalue of −1 does. Trained at one T, tested at longer ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..registry import register_task
from .common import check_int
from .tokens import TokenRecallTask, length_label


@dataclass(frozen=True)
class ParityTask(TokenRecallTask):
    """Inputs (T, B, 2) one-hot, targets (T, B): the parity of the bits so far."""

    T: int = 64

    def __post_init__(self):
        check_int("T", self.T, 1)

    vocab = 2
    n_outputs = 2
    answers = 2

    @property
    def length(self) -> int:
        return self.T

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        check_int("batch", batch, 1)
        bits = torch.randint(0, 2, (self.T, batch), generator=generator)
        return self._one_hot(bits), bits.cumsum(0) % 2


register_task("parity", ParityTask, label=length_label("parity"),
              help=dict(T="sequence length"), _builtin=True)
