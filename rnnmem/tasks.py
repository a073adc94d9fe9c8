"""Long-memory benchmark tasks: copy, variable-length copy, adding.

Every task is a frozen dataclass of sizes. ``task.sample(batch, generator)`` draws a batch from
an explicit ``torch.Generator`` (same seed, same batch; no global random state). Tensors are
time-first: inputs ``(L, B, n_inputs)``, model outputs ``(L, B, n_outputs)``.

Each task also knows its loss, its metric, its chance baseline (the loss of the best predictor
that does not look at the input, computed exactly) and when it counts as solved.

Example:
    >>> task = CopyTask(T=100)
    >>> x, y = task.sample(50, torch.Generator().manual_seed(0))
    >>> x.shape, y.shape
    (torch.Size([120, 50, 10]), torch.Size([120, 50]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .registry import register_task

# Orhan & Pitkow §2.3.1: a run succeeds when its validation loss ends below half the baseline.
SOLVED_RATIO = 0.5

COPY_CONVENTIONS = ("henaff", "total", "exprnn")
ADDING_PLACEMENTS = ("anywhere", "halves")
ADDING_CHANNELS = ("value-mark", "mark-value")


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


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
        _check_int("S", self.S, 1)
        _check_int("K", self.K, 2)  # one symbol leaves nothing to remember: chance loss 0
        _check_choice("convention", self.convention, COPY_CONVENTIONS)
        if self.convention == "total":
            _check_int("T (total length, convention 'total')", self.T, 2 * self.S + 1)
        else:
            _check_int("T", self.T, 1)

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
        _check_int("batch", batch, 1)
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
        _check_int("S", self.S, 1)
        _check_int("K", self.K, 2)  # one symbol leaves nothing to remember: chance loss 0
        _check_int("T", self.T, 1)

    @property
    def length(self) -> int:
        return self.T + 2 * self.S

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        _check_int("batch", batch, 1)
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
        _check_int("T", self.T, 2)
        _check_choice("placement", self.placement, ADDING_PLACEMENTS)
        _check_choice("channels", self.channels, ADDING_CHANNELS)

    @property
    def length(self) -> int:
        return self.T

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Return inputs (T, B, 2) and targets (B,)."""
        _check_int("batch", batch, 1)
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


TASKS = {"copy": CopyTask, "varcopy": VariableCopyTask, "adding": AddingTask}


def make_task(name: str, **sizes) -> CopyTask | VariableCopyTask | AddingTask:
    """Build a task by name (``copy``, ``varcopy``, ``adding``) from its sizes."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name](**sizes)


# ---------------------------------------------------------------- registration (rnnmem.registry)

def _check_varcopy(T: int = 100, S: int = 10, K: int = 8) -> None:
    if not isinstance(S, bool) and isinstance(S, int) and isinstance(T, int) and S > T:
        raise ValueError(f"variable copy needs S <= T, got S={S}, T={T}")
    VariableCopyTask(T, S=S, K=K)


def _label(name: str):
    def label(options: dict) -> str:
        return f"{name} T = {options.get('T')}"
    return label


def _order_free_line(options: dict) -> list[tuple[float, str]]:
    """Variable copy: below this line only with memory of the order (Henaff §4.3)."""
    task = VariableCopyTask(options["T"], S=options["S"], K=options["K"])
    return [(task.order_free_baseline() / task.baseline(), "symbols known, order not")]


_HELP = dict(S="symbols to remember", K="dictionary size (symbols)")
register_task("copy", CopyTask, defaults=dict(T=100), label=_label("copy"),
              help=dict(_HELP, T="delay (what it counts: convention)",
                        convention="what T counts: henaff (the delay), total (the whole "
                                   "length, Orhan & Pitkow) or exprnn"), _builtin=True)
register_task("varcopy", VariableCopyTask, defaults=dict(T=100), check=_check_varcopy,
              label=_label("varcopy"), reference_lines=_order_free_line,
              help=dict(_HELP, T="range of the delimiter's position"), _builtin=True)
# Henaff §3.2.1: the LT-RNN's σ on the adding task's real-valued inputs is ReLU
register_task("adding", AddingTask, defaults=dict(T=100), label=_label("adding"),
              model_defaults=dict(input_activation="relu"),
              help=dict(T="sequence length", placement="where the two marks fall: anywhere or "
                        "halves (one in each half)",
                        channels="input order: value-mark or mark-value"), _builtin=True)
