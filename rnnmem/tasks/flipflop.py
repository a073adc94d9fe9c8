"""Flip-flop language modelling (Liu et al. 2023, "Exposing Attention Glitches with Flip-Flop
Language Modeling", §3): a string of instruction-bit pairs; after a read, the bit last written
is due.

Tokens: 0 and 1 (bits), 2 write, 3 ignore, 4 read; a sequence is ``n`` instructions, each an
instruction token followed by a bit (length 2n). The first instruction is a write and the last
a read; the others are ignore with probability ``p_ignore`` and write or read with
(1 − p_ignore)/2 each (the paper's FFL(p) with p = 0.8 and n = 256, its default task). A read's
bit is the last written one, due at the read's step (the paper's next-token target, where it is
deterministic); a write's and an ignore's bit are uniform. Only the reads are supervised.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..registry import register_task
from .common import check_int
from .tokens import IGNORE, TokenRecallTask, length_label

WRITE, IGNORE_OP, READ = 2, 3, 4


@dataclass(frozen=True)
class FlipFlopTask(TokenRecallTask):
    """Inputs (2n, B, 5) one-hot, targets (2n, B): the remembered bit at each read step."""

    n: int = 256
    p_ignore: float = 0.8
    length_option = "n"

    def __post_init__(self):
        check_int("n", self.n, 2)
        if isinstance(self.p_ignore, bool) or not isinstance(self.p_ignore, (int, float)) \
                or not 0 <= self.p_ignore < 1:
            raise ValueError(f"p_ignore must be in [0, 1), got {self.p_ignore!r}")

    vocab = 5
    n_outputs = 2
    answers = 2

    @property
    def length(self) -> int:
        return 2 * self.n

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        check_int("batch", batch, 1)
        n = self.n
        u = torch.rand(n, batch, generator=generator, dtype=torch.float64)
        rest = (1 - self.p_ignore) / 2
        ops = torch.where(u < self.p_ignore, IGNORE_OP,
                          torch.where(u < self.p_ignore + rest, WRITE, READ))
        ops[0], ops[-1] = WRITE, READ
        bits = torch.randint(0, 2, (n, batch), generator=generator)
        written = torch.where(ops == WRITE, bits, -1)
        # the last written bit at or before each instruction: a running "carry forward"
        step = torch.arange(n)[:, None].expand(n, batch)
        last = torch.where(ops == WRITE, step, 0).cummax(0).values
        memory = written.gather(0, last)
        bits = torch.where(ops == READ, memory, bits)
        tokens = torch.stack([ops, bits], 1).reshape(2 * n, batch)  # op, bit, op, bit, ...
        target = torch.full((2 * n, batch), IGNORE, dtype=torch.long)
        reads = ops == READ
        target[0::2][reads] = memory[reads]
        return self._one_hot(tokens), target


register_task("flipflop", FlipFlopTask, label=length_label("flip-flop", "n"),
              help=dict(n="instructions (sequence length 2n; the paper: 256)",
                        p_ignore="probability of an ignore instruction (the paper: 0.8)"),
              _builtin=True)
