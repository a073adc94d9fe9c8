"""Orthogonal-transition RNNs with a modReLU, in rnnmem's harness (the peers):

- **expRNN** (Lezcano-Casado & Martínez-Rubio 2019): ``h_t = modReLU(U x_t + B h_{t-1})`` with
  B orthogonal, B = base·expm(A), A skew-symmetric, through PyTorch's own
  ``parametrizations.orthogonal`` (matrix exponential, with trivialization). B is formed once
  per forward; the recurrence runs in the fused scan. Inits ``henaff`` and ``cayley``.
- **nnRNN** (Kerg et al. 2019): ``V = P (Λ + T) Pᵀ``, P orthogonal (the same parametrization),
  Λ block-diagonal 2×2 rotations by θ_i scaled by γ_i, T strictly upper-triangular. Penalty
  δ·Σ(γ − 1)² (:meth:`NNRNN.regularization`); P gets its own learning rate and T its own
  weight decay (:meth:`NNRNN.param_groups`). Fused scan with modReLU.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrizations

from ..registry import register_model
from .interface import RNNInterface
from .scan import scan

EXPRNN_INITS = ("henaff", "cayley")


def skew_block_init_(A: torch.Tensor, init: str, generator: torch.Generator | None = None):
    """Block-diagonal skew-symmetric A with 2×2 blocks [[0, θ], [−θ, 0]].

    ``henaff``: θ ~ U(−π, π); ``cayley``: θ = −sqrt((1 − cos s)/(1 + cos s)), s ~ U(0, π/2)
    (expRNN's two inits). In place; returns A.
    """
    if init not in EXPRNN_INITS:
        raise ValueError(f"unknown init {init!r}; valid: {', '.join(EXPRNN_INITS)}")
    n = A.shape[0] // 2
    with torch.no_grad():
        theta = torch.empty(n, dtype=torch.float64)
        if init == "henaff":
            theta.uniform_(-math.pi, math.pi, generator=generator)
        else:
            s = theta.uniform_(0.0, math.pi / 2, generator=generator)
            theta = -torch.sqrt((1 - torch.cos(s)) / (1 + torch.cos(s)))
        A.zero_()
        idx = torch.arange(n) * 2
        A[idx, idx + 1] = theta.to(A.dtype)
        A[idx + 1, idx] = -theta.to(A.dtype)
    return A


def _orthogonal_linear(hidden: int, init: str, generator) -> nn.Linear:
    """A bias-free Linear whose weight is orthogonal, expm-parametrized, set to expm(A_init)."""
    layer = nn.Linear(hidden, hidden, bias=False)
    parametrizations.orthogonal(layer, "weight", orthogonal_map="matrix_exp")
    A = skew_block_init_(torch.empty(hidden, hidden, dtype=torch.float64), init, generator)
    with torch.no_grad():
        layer.weight = torch.matrix_exp(A).to(layer.weight.dtype)
    return layer


def _he_normal_(weight: torch.Tensor, generator=None) -> torch.Tensor:
    """expRNN's input weights (orthogonal.py:88,94): N(0, 2/n_in) (He), no bias."""
    return weight.normal_(0.0, math.sqrt(2 / weight.shape[1]), generator=generator)


def _linear_default_(weight: torch.Tensor, generator=None) -> torch.Tensor:
    """nnRNN's input weights (RNN_Cell.py): PyTorch's default Linear init, U(±1/√n_in) (its
    xavier is never applied)."""
    bound = 1 / math.sqrt(weight.shape[1])
    return weight.uniform_(-bound, bound, generator=generator)


class _ModReLURNN(RNNInterface):
    """``h_t = clip(modReLU(U x_t + V h_{t-1}))`` with V from :meth:`recurrent_matrix`.

    U has no bias in either original (the modReLU bias plays that part); each subclass draws
    U as its original does (``init_input``: an in-place initializer of U's weight).
    """

    def __init__(self, n_inputs: int, hidden: int, *, clip: float | None,
                 lr_orth: float | None, init_input, generator):
        super().__init__()
        if lr_orth is not None and not lr_orth > 0:
            raise ValueError(f"lr_orth must be > 0 or none, got {lr_orth!r}")
        self.n_inputs, self.hidden, self.clip, self.lr_orth = n_inputs, hidden, clip, lr_orth
        self.U = nn.Linear(n_inputs, hidden, bias=False)
        self.bias = nn.Parameter(torch.empty(hidden))
        with torch.no_grad():
            init_input(self.U.weight, generator=generator)
            self.bias.uniform_(-0.01, 0.01, generator=generator)

    def forward_state(self, x, state=None):
        V = self.recurrent_matrix()  # formed once per forward, not per step
        h = scan(self.U(x), V, state, activation="modrelu", clip=self.clip, bias=self.bias)
        return h, h[-1]


    def _orth_lr(self, lr: float) -> float:
        """The orthogonal parameter's learning rate: ``lr_orth``, default lr/10 (expRNN's
        1_copying.py, nnRNN's copytask.py)."""
        return self.lr_orth if self.lr_orth is not None else lr / 10


class ExpRNN(_ModReLURNN):
    def __init__(self, n_inputs: int, hidden: int, *, init: str = "henaff",
                 clip: float | None = None, lr_orth: float | None = None,
                 generator: torch.Generator | None = None):
        super().__init__(n_inputs, hidden, clip=clip, lr_orth=lr_orth,
                         init_input=_he_normal_, generator=generator)
        self.recurrent = _orthogonal_linear(hidden, init, generator)

    def recurrent_matrix(self) -> torch.Tensor:
        return self.recurrent.weight

    def param_groups(self, lr: float) -> list[dict]:
        orth = list(self.recurrent.parameters())
        ids = {id(p) for p in orth}
        return [dict(params=orth, lr=self._orth_lr(lr)),
                dict(params=[p for p in self.parameters() if id(p) not in ids], lr=lr)]


class NNRNN(_ModReLURNN):
    """``t_decay``: weight decay of the strictly upper-triangular T; ``gamma_penalty``: δ of
    the penalty δ·Σ(γ − 1)² (nnRNN copytask.py's defaults)."""

    def __init__(self, n_inputs: int, hidden: int, *, init: str = "henaff",
                 clip: float | None = None, lr_orth: float | None = None,
                 t_decay: float = 1e-6, gamma_penalty: float = 1e-4,
                 generator: torch.Generator | None = None):
        if hidden % 2:
            raise ValueError(f"nnRNN needs an even hidden size, got {hidden}")
        for name, value in (("t_decay", t_decay), ("gamma_penalty", gamma_penalty)):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        super().__init__(n_inputs, hidden, clip=clip, lr_orth=lr_orth,
                         init_input=_linear_default_, generator=generator)
        self.t_decay, self.gamma_penalty = t_decay, gamma_penalty
        self.P = _orthogonal_linear(hidden, init, generator)
        self.theta = nn.Parameter(torch.empty(hidden // 2))
        self.gamma = nn.Parameter(torch.ones(hidden // 2))
        self.T = nn.Parameter(torch.zeros(hidden, hidden))
        with torch.no_grad():
            self.theta.uniform_(-math.pi, math.pi, generator=generator)

    def schur_parts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(Λ, strictly upper-triangular T)."""
        c, s = torch.cos(self.theta) * self.gamma, torch.sin(self.theta) * self.gamma
        blocks = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
        return torch.block_diag(*blocks), torch.triu(self.T, diagonal=1)

    def recurrent_matrix(self) -> torch.Tensor:
        P = self.P.weight
        Lam, T = self.schur_parts()
        return P @ (Lam + T) @ P.t()

    def regularization(self) -> torch.Tensor:
        """δ·Σᵢ(γᵢ − 1)², summed over the H/2 rotation radii (nnRNN RNN_Cell.py:220-223)."""
        return self.gamma_penalty * (self.gamma - 1).pow(2).sum()

    def param_groups(self, lr: float) -> list[dict]:
        orth = list(self.P.parameters())
        special = {id(p) for p in orth} | {id(self.T)}
        return [dict(params=orth, lr=self._orth_lr(lr)),
                dict(params=[self.T], lr=lr, weight_decay=self.t_decay),
                dict(params=[p for p in self.parameters() if id(p) not in special], lr=lr)]


# ---------------------------------------------------------------- registration (rnnmem.registry)

def _linear_readout_(W: nn.Linear, generator):
    """nn.Linear's default, U(±1/√H): expRNN 2_mnist.py:82, nnRNN sMNIST.py:110."""
    bound = 1 / math.sqrt(W.in_features)
    W.weight.uniform_(-bound, bound, generator=generator)
    if W.bias is not None:
        W.bias.uniform_(-bound, bound, generator=generator)


def _exprnn_readout_(W: nn.Linear, classifier: bool, generator):
    if classifier:
        return _linear_readout_(W, generator)
    W.weight.normal_(0.0, math.sqrt(2 / W.in_features), generator=generator)  # 1_copying.py:90


def _nnrnn_readout_(W: nn.Linear, classifier: bool, generator):
    if classifier:
        return _linear_readout_(W, generator)
    std = math.sqrt(2 / (W.in_features + W.out_features))  # copytask.py: xavier_normal_
    W.weight.normal_(0.0, std, generator=generator)


def _check_modrelu(*, lr_orth=None, t_decay=0.0, gamma_penalty=0.0, **_) -> None:
    """What expRNN and nnRNN refuse, checked before one is built."""
    if lr_orth is not None and not lr_orth > 0:
        raise ValueError(f"lr_orth must be > 0 or none, got {lr_orth!r}")
    for name, value in (("t_decay", t_decay), ("gamma_penalty", gamma_penalty)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")


# expRNN 1_copying.py:139-140: RMSprop at PyTorch's default decay 0.99, no clipping
_MODRELU = dict(inits=EXPRNN_INITS, default_init=EXPRNN_INITS[0],
                recipe=dict(optimizer_options=dict(decay=0.99), model_options=dict(clip=None)),
                help=dict(init="init of the orthogonal parameter's skew-symmetric log",
                          clip="activation clipping norm (none: off, as the original)",
                          lr_orth="learning rate of the orthogonal parameter (default lr/10)",
                          t_decay="weight decay of the strictly upper-triangular T",
                          gamma_penalty="δ of the penalty δ·Σ(γ−1)²"),
                check=_check_modrelu,
                kernel="fused scan, modReLU", _builtin=True)
# the fair comparison's search: expRNN's and nnRNN's rates with the orthogonal parameter's at the
# ratio of their copy scripts (expRNN 1/10; nnRNN's lr_orth fixed at 1e-6)
register_model("exprnn", ExpRNN, **_MODRELU, readout_init=_exprnn_readout_,
               search={("lr", "lr_orth"): ((1e-4, 1e-5), (2e-4, 2e-5), (5e-4, 5e-5),
                                           (1e-3, 1e-4))})
# nnRNN copytask.py --alpha 0.99, no clipping
register_model("nnrnn", NNRNN, **_MODRELU, even_hidden=True, readout_init=_nnrnn_readout_,
               search=dict(lr=(2e-4, 5e-4, 1e-3, 2e-3)))
