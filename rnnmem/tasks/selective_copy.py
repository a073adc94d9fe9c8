"""Selective copying (Gu & Dao 2023, "Mamba", §3.1 and Fig. 2): S data tokens at random
positions among noise tokens, then S marker tokens, at which the data tokens are due in order.

Unlike Henaff's copy, the data tokens' positions vary: a time-invariant (LTI) filter cannot
know where to look, which is why the Mamba paper uses it to motivate input-dependent (selective)
transitions. Tokens 0..K-1 are data, K is noise, K+1 the marker. The paper's setting: length
4096, vocabulary 16 (here K = 14 data symbols + noise + marker), 16 tokens to copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..registry import register_task
from .common import check_int
from .tokens import IGNORE, TokenRecallTask, length_label


@dataclass(frozen=True)
class SelectiveCopyTask(TokenRecallTask):
    """``T`` steps holding ``S`` data tokens (of ``K``) at uniformly random distinct positions,
    noise elsewhere; then ``S`` marker steps whose targets are the data tokens in order.
    Input length T + S; the target of every other step is :data:`~rnnmem.tasks.tokens.IGNORE`.
    """

    T: int = 256
    S: int = 16
    K: int = 14

    def __post_init__(self):
        check_int("S", self.S, 1)
        check_int("K", self.K, 2)
        check_int("T (at least S)", self.T, self.S)

    @property
    def vocab(self) -> int:
        return self.K + 2

    @property
    def n_outputs(self) -> int:
        return self.K

    @property
    def answers(self) -> int:
        return self.K

    @property
    def length(self) -> int:
        return self.T + self.S

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One-hot inputs (T+S, B, K+2) and class targets (T+S, B)."""
        check_int("batch", batch, 1)
        T, S = self.T, self.S
        # S distinct positions per sequence, in order: the S smallest of a random permutation
        positions = torch.rand(T, batch, generator=generator).argsort(0)[:S].sort(0).values
        symbols = torch.randint(0, self.K, (S, batch), generator=generator)
        tokens = torch.full((T + S, batch), self.K, dtype=torch.long)
        tokens.scatter_(0, positions, symbols)
        tokens[T:] = self.K + 1
        target = torch.full((T + S, batch), IGNORE, dtype=torch.long)
        target[T:] = symbols
        return self._one_hot(tokens), target


register_task("selective-copy", SelectiveCopyTask, label=length_label("selective copy"),
              help=dict(T="steps among which the S data tokens lie (the paper: 4096)",
                        S="data tokens to copy", K="data symbols"), _builtin=True)
