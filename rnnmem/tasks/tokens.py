"""What the token-recall tasks of 2022–2024 share (selective copying, MQAR, induction heads,
flip-flop, state tracking): one-hot token inputs, a class target at some steps only (the
others hold :data:`IGNORE`), and a chance baseline of ln(number of possible answers).

The loss is the cross-entropy at the answer steps, averaged within each sequence and then over
sequences (every sequence weighs the same, also where sequences hold different numbers of
answers: flip-flop); the metric is the accuracy at the answer steps, weighted the same way.
These papers report accuracy; "solved" keeps rnnmem's loss criterion (below half of chance).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from .common import SOLVED_RATIO

IGNORE = -100  # the target of a step without an answer (PyTorch's ignore_index)


class TokenRecallTask:
    """Base of a token task: subclasses set ``vocab`` (input tokens), ``n_outputs``,
    ``length``, ``answers`` (how many classes an answer is drawn from, uniformly: its chance
    loss is ln answers) and ``sample``."""

    categorical = True
    metric_name = "accuracy"
    length_option = "T"  # the size that sets the length (longer())
    generalization = (2, 4)  # held out at the end of training at these × the length

    def longer(self, factor: int):
        """The same task ``factor`` × as long (what is remembered unchanged: S, pairs, ...)."""
        return dataclasses.replace(self, **{
            self.length_option: factor * getattr(self, self.length_option)})

    @property
    def n_inputs(self) -> int:
        return self.vocab

    def baseline(self) -> float:
        """Chance: the loss of a predictor that knows when an answer is due and which classes
        it is drawn from (uniformly), but remembers nothing: ln(answers) nats per answer."""
        return math.log(self.answers)

    def solved(self, loss: float, ratio: float = SOLVED_RATIO) -> bool:
        return loss < ratio * self.baseline()

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        steps = F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1),
                                ignore_index=IGNORE, reduction="none").view(target.shape)
        return _per_sequence_mean(steps, target != IGNORE)

    def metric(self, output: torch.Tensor, target: torch.Tensor) -> float:
        right = (output.argmax(-1) == target).to(output.dtype)
        return _per_sequence_mean(right, target != IGNORE).item()

    def _one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.one_hot(tokens, self.vocab).to(torch.get_default_dtype())


def _per_sequence_mean(values: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
    """Mean over each sequence's answer steps (dim 0: time), then over sequences."""
    mask = answer.to(values.dtype)
    return ((values * mask).sum(0) / mask.sum(0).clamp(min=1)).mean()


def length_label(name: str, option: str = "T"):
    def label(options: dict) -> str:
        return f"{name} {option} = {options.get(option)}"
    return label
