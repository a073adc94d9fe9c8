"""The adding problem (Henaff §3.2): the sum of two marked values, due at the last step."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..registry import register_task
from .common import SOLVED_RATIO, check_choice, check_int, task_label

ADDING_PLACEMENTS = ("anywhere", "halves")
ADDING_CHANNELS = ("value-mark", "mark-value")


@dataclass(frozen=True)
class AddingTask:
    """Adding problem (Henaff §3.2): output the sum of the two marked values at the last step.

    Inputs (T, B, 2): a value uniform in [0, 1) and a 0/1 mark (``channels`` sets the order;
    uRNN/nnRNN use value-mark, Orhan & Pitkow mark-value). ``placement``: ``"anywhere"`` puts
    the two marks at distinct uniform steps (Henaff); ``"halves"`` puts one in each half
    (Le et al., Arjovsky et al., Orhan & Pitkow).
    """

    T: int
    placement: str = "anywhere"
    channels: str = "value-mark"

    categorical = False
    n_inputs = 2
    n_outputs = 1
    metric_name = "mse"

    def __post_init__(self):
        check_int("T", self.T, 2)
        check_choice("placement", self.placement, ADDING_PLACEMENTS)
        check_choice("channels", self.channels, ADDING_CHANNELS)

    @property
    def length(self) -> int:
        return self.T

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Return inputs (T, B, 2) and targets (B,)."""
        check_int("batch", batch, 1)
        T = self.T
        values = torch.rand((T, batch), generator=generator, dtype=torch.get_default_dtype())
        if self.placement == "anywhere":
            first = torch.randint(0, T, (batch,), generator=generator)
            second = torch.randint(0, T - 1, (batch,), generator=generator)
            second = second + (second >= first).long()  # distinct from the first
        else:
            first = torch.randint(0, T // 2, (batch,), generator=generator)
            second = torch.randint(T // 2, T, (batch,), generator=generator)
        cols = torch.arange(batch)
        marks = torch.zeros_like(values)
        marks[first, cols] = 1.0
        marks[second, cols] = 1.0
        pair = (values, marks) if self.channels == "value-mark" else (marks, values)
        target = values[first, cols] + values[second, cols]
        return torch.stack(pair, dim=-1), target

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the last step's output."""
        return F.mse_loss(output[-1, :, 0], target)

    def metric(self, output: torch.Tensor, target: torch.Tensor) -> float:
        return self.loss(output, target).item()

    def baseline(self) -> float:
        """MSE of always answering the mean sum 1: Var(x1 + x2) = 2 · Var(U[0,1)) = 1/6."""
        var_uniform = 1.0 / 12.0  # (b - a)^2 / 12 on [0, 1)
        return 2.0 * var_uniform

    def solved(self, loss: float, ratio: float = SOLVED_RATIO) -> bool:
        return loss < ratio * self.baseline()


# Henaff §3.2.1: the LT-RNN's σ on the adding task's real-valued inputs is ReLU
register_task("adding", AddingTask, defaults=dict(T=100), label=task_label("adding"),
              model_defaults=dict(input_activation="relu"),
              help=dict(T="sequence length", placement="where the two marks fall: anywhere or "
                        "halves (one in each half)",
                        channels="input order: value-mark or mark-value"), _builtin=True)
