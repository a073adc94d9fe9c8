"""Henaff et al.'s Elman sRNN (eq. 1) and linear-transition RNN (LT-RNN, eq. 2) on the fused
scan, with the soft orthogonality penalty (§4.2); Le et al.'s IRNN is a configured sRNN.

Every layer maps inputs ``x`` of shape (T, B, n_inputs) to all hidden states (T, B, hidden),
so analyses can look at every step. The recurrent matrix is ``layer.V`` (hidden × hidden, in
PyTorch's (out, in) layout).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..init import get_initializer, init_names
from ..registry import HENAFF_RECIPE, register_model
from .interface import RNNInterface
from .scan import scan, scan_reference

INPUT_ACTIVATIONS = ("none", "relu", "tanh", "elu")
SRNN_ACTIVATIONS = ("tanh", "relu", "elu")  # modReLU is the peers' (complex-phase) non-linearity



def orthogonality_penalty(V: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Henaff §4.2: ``mean_i ‖(VᵀV − I) x_i‖²`` at the unit vectors ``points`` (m, H)."""
    residual = (points @ V.t()) @ V - points  # rows: (VᵀV − I) x_i
    return residual.pow(2).sum(1).mean()


def random_unit_vectors(m: int, n: int, generator: torch.Generator) -> torch.Tensor:
    x = torch.randn(m, n, generator=generator)
    return x / x.norm(dim=1, keepdim=True)


class _ScanRNN(RNNInterface):
    """``h_t = clip(φ(σ(U x_t + b) + V h_{t-1}))``; the sRNN and LT-RNN set σ and φ.

    ``penalty_lr`` > 0 turns on Henaff §4.2's soft orthogonality penalty: after each optimizer
    update, one SGD step of that size on :func:`orthogonality_penalty` at ``penalty_points``
    random unit vectors (:meth:`after_update`).
    """

    input_activation = "none"
    activation = "identity"

    def __init__(
        self,
        n_inputs: int,
        hidden: int,
        *,
        init: str | Callable = "orthogonal",
        gain: float | None = 1.0,
        feedback: float | None = None,
        input_init: str | Callable = "gaussian",
        input_gain: float = 1.0,
        input_bias: float | None = None,
        clip: float | None = None,
        penalty_lr: float = 0.0,
        penalty_points: int = 50,
        fused: bool = True,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if clip is not None and not clip > 0:
            raise ValueError(f"activation clip must be positive, got {clip!r}")
        if not penalty_lr >= 0:
            raise ValueError(f"penalty_lr must be >= 0, got {penalty_lr!r}")
        self.n_inputs, self.hidden, self.clip, self.fused = n_inputs, hidden, clip, fused
        self.penalty_lr, self.penalty_points = penalty_lr, penalty_points
        self.init = get_initializer(init, "recurrent")
        self.input_init = get_initializer(input_init, "input")
        self.gain, self.feedback, self.input_gain = gain, feedback, input_gain
        self.input_bias = self.default_input_bias() if input_bias is None else input_bias
        self.U = nn.Linear(n_inputs, hidden)
        self.V = nn.Parameter(torch.empty(hidden, hidden))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        extra = {} if self.feedback is None else {"feedback": self.feedback}
        if self.gain is not None:  # an init without a scale (a plugin's) takes none
            extra["gain"] = self.gain
        self.init(self.V, generator=generator, **extra)
        self.input_init(self.U.weight, gain=self.input_gain, generator=generator)
        nn.init.constant_(self.U.bias, self.input_bias)

    def default_input_bias(self) -> float:
        """The initial b where the user gives none: 0 (the sRNN's usual start)."""
        return 0.0

    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        """σ(U x_t + b) for all steps at once: (T, B, n_inputs) -> (T, B, hidden)."""
        z = self.U(x)
        if self.input_activation == "relu":
            z = torch.relu(z)
        elif self.input_activation == "tanh":
            z = torch.tanh(z)
        elif self.input_activation == "elu":
            z = nn.functional.elu(z)
        return z

    def forward_state(self, x: torch.Tensor, state: torch.Tensor | None = None):
        """(all hidden states (T, B, H), final state (B, H)) of time-first ``x`` from an
        initial state (B, H); ``forward`` is torch.nn.RNN's interface over it."""
        run = scan if self.fused else scan_reference
        h = run(self.input_drive(x), self.V, state, activation=self.activation, clip=self.clip)
        return h, h[-1]

    def recurrent_matrix(self) -> torch.Tensor:
        return self.V

    def after_update(self, generator: torch.Generator) -> None:
        """Henaff §4.2: one SGD step on the orthogonality penalty (if ``penalty_lr`` > 0)."""
        if not self.penalty_lr > 0:
            return
        points = random_unit_vectors(self.penalty_points, self.hidden, generator).to(
            self.V.device)  # drawn on the CPU generator on every device (rnnmem.device)
        (grad,) = torch.autograd.grad(orthogonality_penalty(self.V, points), self.V)
        with torch.no_grad():
            self.V.sub_(self.penalty_lr * grad)

    def extra_repr(self) -> str:
        return (f"{self.n_inputs}, {self.hidden}, input_activation={self.input_activation}, "
                f"activation={self.activation}, clip={self.clip}")


class SRNN(_ScanRNN):
    """Elman RNN, Henaff eq. 1: ``h_t = φ(U x_t + V h_{t-1} + b)``, φ ∈ tanh/relu/elu.

    Example:
        >>> output, h_n = SRNN(2, 8, activation="relu", init="identity")(torch.randn(5, 3, 2))
        >>> output.shape, h_n.shape  # as torch.nn.RNN's
        (torch.Size([5, 3, 8]), torch.Size([1, 3, 8]))
    """

    def __init__(self, n_inputs: int, hidden: int, *, activation: str = "tanh", **kwargs):
        if activation not in SRNN_ACTIVATIONS:
            raise ValueError(f"sRNN activation must be one of {', '.join(SRNN_ACTIVATIONS)}; "
                             f"got {activation!r}")
        self.activation = activation
        super().__init__(n_inputs, hidden, **kwargs)


class LTRNN(_ScanRNN):
    """Linear-transition RNN, Henaff eq. 2: ``h_t = σ(U x_t + b) + V h_{t-1}``.

    ``input_activation`` is σ; Henaff uses none for categorical inputs (copy) and ReLU for the
    adding task's real-valued inputs (§3.2.1).
    """

    def __init__(self, n_inputs: int, hidden: int, *, input_activation: str = "none", **kwargs):
        if input_activation not in INPUT_ACTIVATIONS:
            raise ValueError(f"input_activation must be one of {', '.join(INPUT_ACTIVATIONS)}; "
                             f"got {input_activation!r}")
        self.input_activation = input_activation
        super().__init__(n_inputs, hidden, **kwargs)

    def default_input_bias(self) -> float:
        """Henaff §4.1 does not say how b starts. Under a ReLU σ we start it at −1, the value of
        the paper's own adding solution (§3.2.1, ``relu(value + mark − 1)``): a unit then passes
        an input only when the mark is set, so identity-initialized V integrates the marked
        values and nothing else. With b = 0 every step adds relu(U x) > 0, which an identity V
        integrates without bound (the LT-IRNN then fails; docs/protocol.md has the ablation).
        Without σ (categorical inputs) b stays 0."""
        return -1.0 if self.input_activation == "relu" else 0.0


# ---------------------------------------------------------------- registration (rnnmem.registry)

_HELP = dict(  # what each option of the scan models means (rnnmem train --model M --help)
    init="recurrent init of V", gain="scale of the recurrent init (λ, or the chain's α; "
    "default: the init's own: 1, feedback-chain 0.99)",
    feedback="feedback weight β of feedback-chain (default: its own, 0.05)",
    input_init="input weights: gaussian or source (0.9·I onto the chain's source)",
    input_gain="scale of the input init (default: the init's own: gaussian 1, source 0.9)",
    input_bias="initial input bias b (default: -1 under a relu σ, Henaff §3.2.1; else 0)",
    clip="activation clipping norm l (none: off; the recipe's 1000, Henaff §4.1)",
    penalty_lr="SGD step size of Henaff §4.2's soft orthogonality penalty (0: off)",
    penalty_points="random unit vectors m of the orthogonality penalty",
    input_activation="σ of eq. 2 (default: relu on adding, Henaff §3.2.1; else none)",
    activation="φ of eq. 1")
def _check_scan(*, init="orthogonal", feedback=None, clip=None, penalty_lr=0.0,
                penalty_points=50, input_gain=1.0, **_) -> None:
    """What the scan models refuse, checked before one is built (one line each)."""
    if feedback is not None and init != "feedback-chain":
        raise ValueError(f"feedback applies to init feedback-chain, not {init}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be > 0 or none, got {clip!r}")
    if not penalty_lr >= 0:
        raise ValueError(f"penalty_lr must be >= 0, got {penalty_lr!r}")
    if isinstance(penalty_points, bool) or not isinstance(penalty_points, int) or \
            penalty_points < 1:
        raise ValueError(f"penalty_points must be a positive integer, got {penalty_points!r}")
    if not input_gain > 0:
        raise ValueError(f"input_gain must be > 0, got {input_gain!r}")


# The fair comparison's search (docs/protocol.md): Henaff §4.1's rates around 1e-4 (their largest
# that did not diverge); a chain's α, which Orhan & Pitkow tune per task over [0.99, 1.05].
LT_RATES = (3e-5, 1e-4, 3e-4, 1e-3)
CHAIN_INITS = ("chain", "feedback-chain")


def _scan_search(options: dict) -> dict:
    chain = options.get("init") in CHAIN_INITS
    return dict(lr=LT_RATES, **({"gain": (1.0, 1.05)} if chain else {}))


_SCAN = dict(check=_check_scan, search=_scan_search,
             choices=dict(input_activation=INPUT_ACTIVATIONS, activation=SRNN_ACTIVATIONS,
                          input_init=lambda: init_names("input")),
             help=_HELP, recipe=HENAFF_RECIPE, _builtin=True)
register_model("lt-rnn", LTRNN, default_init="orthogonal", **_SCAN, language_model=True,
               reference="per-step autograd")
register_model("lt-rnn-pool", LTRNN, default_init="orthogonal", **_SCAN, pooled=True)
register_model("srnn", SRNN, default_init="orthogonal", **_SCAN, language_model=True,
               reference="per-step autograd")
# Le et al.'s IRNN: an sRNN with ReLU φ and identity V
register_model("irnn", SRNN, default_init="identity", defaults=dict(activation="relu"), **_SCAN)
