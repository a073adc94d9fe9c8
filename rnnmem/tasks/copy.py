"""The copy task (Henaff §3.1) and variable-length copy (§3.1.3): S symbols of K to recall
after a delay; a shared loss, metric and chance baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..registry import register_task
from .common import SOLVED_RATIO, check_choice, check_int, task_label

COPY_CONVENTIONS = ("henaff", "total", "exprnn")


def _entropy_of_answer_marginal(q: torch.Tensor, K: int) -> torch.Tensor:
    """Per-step entropy (nats) of a target that is a uniform symbol w.p. q, else blank."""
    q = q.double()
    return -torch.xlogy(1 - q, 1 - q) - torch.xlogy(q, q / K)


class _SymbolRecallTask:
    """Loss, metric and baseline shared by the two copy tasks (targets: blank or a symbol)."""

    categorical = True
    metric_name = "accuracy"

    @property
    def blank(self) -> int:
        return self.K

    @property
    def marker(self) -> int:
        return self.K + 1

    @property
    def n_inputs(self) -> int:
        return self.K + 2

    @property
    def n_outputs(self) -> int:
        # Henaff §3.1.1 decodes to all K+2 classes; the delimiter is simply never a target.
        return self.K + 2

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy averaged over every time step and sequence (Henaff §3.1).

        Averaging over the L steps is the paper's 1/T normalization of the gradients.
        """
        return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))

    def metric(self, output: torch.Tensor, target: torch.Tensor) -> float:
        """Fraction of the remembered symbols recalled correctly (argmax at answer steps)."""
        answer = target < self.K
        return (output.argmax(-1)[answer] == target[answer]).double().mean().item()

    def baseline(self) -> float:
        """The chance level: the loss of the best predictor that remembers no symbol.

        It knows when answers are due (blank elsewhere, with certainty) and guesses uniformly
        among the K symbols when one is due: S·ln K / L, computed from ``answer_probability()``
        (Σ_t q_t = S). For copy this is also the best input-independent predictor's loss; for
        variable copy the input-independent predictor does worse, as it cannot see the
        delimiter (:meth:`marginal_baseline`), which is why Henaff et al. measure against this.
        """
        q = self.answer_probability()
        return (q.sum() * math.log(self.K) / q.numel()).item()

    def marginal_baseline(self) -> float:
        """Mean cross-entropy of the best input-independent predictor.

        At each step it outputs the marginal distribution of that step's target; its loss is
        that distribution's entropy. Equal to :meth:`baseline` for copy.
        """
        q = self.answer_probability()
        return _entropy_of_answer_marginal(q, self.K).mean().item()

    def order_free_baseline(self) -> float:
        """The loss of the best predictor that knows *which* S symbols appeared, not their order.

        By exchangeability its best guess for any answer is the empirical frequency n_s / S of
        the symbols seen, so an answer costs E[ln S − ln n_s], with n_s − 1 ~ Binomial(S−1, 1/K)
        (the other S−1 symbols that equal it). A network that sums its inputs (an identity
        LT-RNN) can reach this line without storing order; only a loss below it shows memory of
        the order. For S = 10, K = 8 it is 0.798 × :meth:`baseline`; :data:`SOLVED_RATIO`
        (0.5) lies below it.
        """
        n, p = self.S - 1, 1.0 / self.K
        per_answer = sum(math.comb(n, b) * p**b * (1 - p) ** (n - b)
                         * (math.log(self.S) - math.log(1 + b)) for b in range(n + 1))
        q = self.answer_probability()
        return (q.sum() * per_answer / q.numel()).item()

    def solved(self, loss: float, ratio: float = SOLVED_RATIO) -> bool:
        return loss < ratio * self.baseline()

    def _one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.one_hot(tokens, self.n_inputs).to(torch.get_default_dtype())


@dataclass(frozen=True)
class CopyTask(_SymbolRecallTask):
    """Copy task (Henaff §3.1, after Arjovsky et al. 2016).

    S symbols drawn from K, a delay, a delimiter, and the S symbols to be repeated. Classes are
    0..K-1 (symbols), K (blank), K+1 (delimiter). ``convention`` says what ``T`` counts:

    - ``"henaff"``: T is the delay. Input: S symbols, T-1 blanks, delimiter, S blanks
      (length T+2S); target: T+S blanks, then the S symbols, due the step after the delimiter.
    - ``"total"``: T is the whole length (Orhan & Pitkow's code); same layout, delay T-2S.
    - ``"exprnn"``: S symbols, T blanks, delimiter, S-1 blanks (length T+2S); the first symbol
      is due at the delimiter step itself (expRNN, geotorch).
    """

    T: int
    S: int = 10
    K: int = 8
    convention: str = "henaff"

    def __post_init__(self):
        check_int("S", self.S, 1)
        check_int("K", self.K, 2)  # one symbol leaves nothing to remember: chance loss 0
        check_choice("convention", self.convention, COPY_CONVENTIONS)
        if self.convention == "total":
            check_int("T (total length, convention 'total')", self.T, 2 * self.S + 1)
        else:
            check_int("T", self.T, 1)

    @property
    def length(self) -> int:
        return self.T if self.convention == "total" else self.T + 2 * self.S

    @property
    def marker_step(self) -> int:
        """0-based index of the delimiter input."""
        return self.length - self.S - (0 if self.convention == "exprnn" else 1)

    @property
    def answer_start(self) -> int:
        """0-based index of the first step whose target is a symbol."""
        return self.length - self.S

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Return one-hot inputs (L, B, K+2) and class targets (L, B)."""
        check_int("batch", batch, 1)
        L, S = self.length, self.S
        symbols = torch.randint(0, self.K, (S, batch), generator=generator)
        tokens = torch.full((L, batch), self.blank, dtype=torch.long)
        tokens[:S] = symbols
        tokens[self.marker_step] = self.marker
        target = torch.full((L, batch), self.blank, dtype=torch.long)
        target[self.answer_start :] = symbols
        return self._one_hot(tokens), target

    def answer_probability(self) -> torch.Tensor:
        q = torch.zeros(self.length, dtype=torch.float64)
        q[self.answer_start :] = 1.0
        return q


@dataclass(frozen=True)
class VariableCopyTask(_SymbolRecallTask):
    """Variable-length copy (Henaff §3.1.3).

    The delimiter sits at a uniformly random step in [S+1, S+T] (1-based), and the S symbols are
    due on the S steps right after it. Input length T+2S; blanks everywhere else.
    """

    T: int
    S: int = 10
    K: int = 8

    def __post_init__(self):
        check_int("S", self.S, 1)
        check_int("K", self.K, 2)  # one symbol leaves nothing to remember: chance loss 0
        check_int("T", self.T, 1)

    @property
    def length(self) -> int:
        return self.T + 2 * self.S

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        check_int("batch", batch, 1)
        L, S = self.length, self.S
        symbols = torch.randint(0, self.K, (S, batch), generator=generator)
        marker = torch.randint(S, S + self.T, (batch,), generator=generator)  # 0-based index
        cols = torch.arange(batch)
        tokens = torch.full((L, batch), self.blank, dtype=torch.long)
        tokens[:S] = symbols
        tokens[marker, cols] = self.marker
        target = torch.full((L, batch), self.blank, dtype=torch.long)
        answer_steps = marker[None, :] + torch.arange(1, S + 1)[:, None]  # (S, B)
        target[answer_steps, cols[None, :].expand(S, -1)] = symbols
        return self._one_hot(tokens), target

    def answer_probability(self) -> torch.Tensor:
        marker = torch.zeros(self.length, dtype=torch.float64)
        marker[self.S : self.S + self.T] = 1.0 / self.T
        q = torch.zeros(self.length, dtype=torch.float64)
        for j in range(1, self.S + 1):  # the j-th symbol is due j steps after the delimiter
            q[j:] += marker[: self.length - j]
        return q


# ---------------------------------------------------------------- registration (rnnmem.registry)

def _check_varcopy(T: int = 100, S: int = 10, K: int = 8) -> None:
    if not isinstance(S, bool) and isinstance(S, int) and isinstance(T, int) and S > T:
        raise ValueError(f"variable copy needs S <= T, got S={S}, T={T}")
    VariableCopyTask(T, S=S, K=K)


def _order_free_line(options: dict) -> list[tuple[float, str]]:
    """Variable copy: below this line only with memory of the order (Henaff §4.3)."""
    task = VariableCopyTask(options["T"], S=options["S"], K=options["K"])
    return [(task.order_free_baseline() / task.baseline(), "symbols known, order not")]


_HELP = dict(S="symbols to remember", K="dictionary size (symbols)")
register_task("copy", CopyTask, defaults=dict(T=100), label=task_label("copy"),
              help=dict(_HELP, T="delay (what it counts: convention)",
                        convention="what T counts: henaff (the delay), total (the whole "
                                   "length, Orhan & Pitkow) or exprnn"), _builtin=True)
register_task("varcopy", VariableCopyTask, defaults=dict(T=100), check=_check_varcopy,
              label=task_label("varcopy"), reference_lines=_order_free_line,
              help=dict(_HELP, T="range of the delimiter's position"), _builtin=True)
