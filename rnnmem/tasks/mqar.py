"""Multi-query associative recall, MQAR (Arora et al. 2023, "Zoology", §3 and its generator
``multiquery_ar``): N key-value pairs, then each key once more as a query, at which its value is
due.

Zoology's layout, kept here: keys come from tokens 1..V/2-1 and values from V/2..V-1, each
drawn without replacement; the 2N context tokens are k₁ v₁ k₂ v₂ …; the rest of the sequence is
token 0 (``random_non_queries=True``: uniform tokens of the whole vocabulary, as Zoology's
option), with the N queries at even offsets 2g from the end of the context, the gaps g drawn
without replacement from p(g) ∝ (g+1)^(a−1) over the (L − 2N)/2 slots (``power_a`` a = 0.01,
Zoology's default: most queries come soon after the context). The value is due at the query
step itself (Zoology's label of the next token). Zoology's defaults: V = 64, L = 64, N = 8;
its paper sweeps V = 8192 and L up to 512.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..registry import register_task
from .common import check_int
from .tokens import IGNORE, TokenRecallTask, length_label


@dataclass(frozen=True)
class MQARTask(TokenRecallTask):
    """Inputs (L, B, V) one-hot, targets (L, B): a value at each query step, else IGNORE."""

    L: int = 64
    pairs: int = 8
    V: int = 64
    power_a: float = 0.01
    random_non_queries: bool = False
    length_option = "L"

    def __post_init__(self):
        check_int("pairs", self.pairs, 1)
        check_int("V (vocabulary; keys below V/2, values above)", self.V, 4)
        check_int("L", self.L, 4 * self.pairs)
        if self.L % 2:
            raise ValueError(f"L must be even (queries sit at even offsets), got {self.L}")
        if self.V // 2 - 1 < self.pairs:
            raise ValueError(f"V = {self.V} has {self.V // 2 - 1} keys, fewer than pairs = "
                             f"{self.pairs}")
        if isinstance(self.power_a, bool) or not isinstance(self.power_a, (int, float)) \
                or not 0 < self.power_a <= 1:
            raise ValueError(f"power_a must be in (0, 1], got {self.power_a!r}")

    @property
    def vocab(self) -> int:
        return self.V

    @property
    def n_outputs(self) -> int:
        return self.V

    @property
    def answers(self) -> int:
        return self.V - self.V // 2  # the values a query's answer is drawn from

    @property
    def length(self) -> int:
        return self.L

    def gap_probabilities(self) -> torch.Tensor:
        slots = (self.L - 2 * self.pairs) // 2
        p = torch.arange(1, slots + 1, dtype=torch.float64) ** (self.power_a - 1)
        return p / p.sum()

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        check_int("batch", batch, 1)
        N, half = self.pairs, self.V // 2
        cols = torch.arange(batch)
        keys = 1 + torch.rand(half - 1, batch, generator=generator).argsort(0)[:N]
        values = half + torch.rand(self.V - half, batch, generator=generator).argsort(0)[:N]
        gaps = torch.multinomial(self.gap_probabilities().expand(batch, -1), N,
                                 replacement=False, generator=generator).T  # (N, B)
        if self.random_non_queries:
            tokens = torch.randint(0, self.V, (self.L, batch), generator=generator)
        else:
            tokens = torch.zeros(self.L, batch, dtype=torch.long)
        tokens[0:2 * N:2], tokens[1:2 * N:2] = keys, values
        queries = 2 * N + 2 * gaps
        tokens[queries, cols] = keys
        target = torch.full((self.L, batch), IGNORE, dtype=torch.long)
        target[queries, cols] = values
        return self._one_hot(tokens), target


register_task("mqar", MQARTask, label=length_label("MQAR", "L"),
              help=dict(L="sequence length (even)", pairs="key-value pairs N",
                        V="vocabulary (keys below V/2, values from V/2)",
                        power_a="power law of the query gaps (1: uniform)",
                        random_non_queries="fill the non-query steps with random tokens"),
              _builtin=True)
