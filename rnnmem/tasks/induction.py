"""Induction heads (Olsson et al. 2022; the setting of Gu & Dao 2023, "Mamba", §4.1.2): random
tokens with a trigger token once inside and once more at the end, where the token that followed
its first occurrence is due.

Tokens 0..K-1 are drawn uniformly; K is the trigger, at a uniformly random step p in
[0, T − 3] and at the last step T − 1; the target of the last step is the token at p + 1, every
other target :data:`~rnnmem.tasks.tokens.IGNORE`. The Mamba paper trains at T = 256 with a
vocabulary of 16 (here K = 15 tokens + the trigger) and tests at longer T: a mechanism, unlike a
memorised position, works at any length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..registry import register_task
from .common import check_int
from .tokens import IGNORE, TokenRecallTask, length_label


@dataclass(frozen=True)
class InductionTask(TokenRecallTask):
    """Inputs (T, B, K+1) one-hot, targets (T, B): the answer at the last step only."""

    T: int = 256
    K: int = 15

    def __post_init__(self):
        check_int("K", self.K, 2)
        check_int("T", self.T, 3)

    @property
    def vocab(self) -> int:
        return self.K + 1

    @property
    def n_outputs(self) -> int:
        return self.K

    @property
    def answers(self) -> int:
        return self.K

    @property
    def length(self) -> int:
        return self.T

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        check_int("batch", batch, 1)
        T, cols = self.T, torch.arange(batch)
        tokens = torch.randint(0, self.K, (T, batch), generator=generator)
        first = torch.randint(0, T - 2, (batch,), generator=generator)
        tokens[first, cols] = self.K
        tokens[T - 1] = self.K
        target = torch.full((T, batch), IGNORE, dtype=torch.long)
        target[T - 1] = tokens[first + 1, cols]
        return self._one_hot(tokens), target


register_task("induction", InductionTask, label=length_label("induction heads"),
              help=dict(T="sequence length (the paper trains at 256)", K="tokens besides the "
                        "trigger"), _builtin=True)
