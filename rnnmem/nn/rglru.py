"""RG-LRU, the real-gated linear recurrent unit of Griffin (De et al. 2024, arXiv 2402.19427,
§2.4), in rnnmem's harness: one file and one registration.

Each of the ``hidden`` channels u_t (a linear map of the input) has one real state:

    r_t = σ(W_a u_t + b_a),  i_t = σ(W_x u_t + b_x)      (recurrence and input gates)
    log a_t = −c · softplus(Λ) ⊙ r_t                      (c = 8; a_t = σ(Λ)^{c r_t} in §2.4)
    h_t = a_t ⊙ h_{t−1} + √(1 − a_t²) ⊙ (i_t ⊙ u_t)

so, like S6's and unlike the LRU's, the transition a_t depends on the input (the recurrence gate
can hold a state, r_t → 0 makes a_t → 1, or flush it): the gated, selective counterpart of a
real diagonal LTI layer, with none of S6's d_state expansion. Why this one of the two the issue
offers (RG-LRU or gated DeltaNet): it isolates input-dependent decay on a diagonal transition,
the one difference from the LRU, where gated DeltaNet's delta rule also changes the state's
structure (a matrix per head, a rank-one update per step).

Conventions read from the reference code (google-deepmind/recurrentgemma,
``recurrentgemma/torch/layers.py``, ``RGLRU``): the gates are block-diagonal linear maps over
``heads`` blocks (``BlockDiagonalLinear``: N(0, 1/block width) weights, zero bias); Λ is drawn
so that exp(−softplus(Λ)) lies uniformly by area on the ring [0.9, 0.999] (``rnn_param_init``);
the derivative of √(1 − a²) is bounded at 1000 (``SqrtBoundDerivative``). One departure: the
reference leaves a document's first input unnormalized (its reset position); here every step is
normalized, so that no initial state and a zero one are the same run, as nn.RNN's hx. This
bare layer has no convolution, GeLU branch or MLP (Griffin's recurrent block has them). The
recurrence runs as :mod:`rnnmem.nn.linear_scan`'s fused loop.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import register_model
from .interface import RNNInterface
from .linear_scan import (
    DEFAULT_SCAN,
    KERNELS,
    SCAN_HELP,
    SCANS,
    check_scan,
    linear_scan,
    linear_scan_reference,
)

C = 8.0  # the reference's fixed scale of the gated log decay
MAX_SQRT_GRADIENT = 1000.0  # recurrentgemma's _MAX_SQRT_GRADIENT


class BlockDiagonalLinear(nn.Module):
    """``y = x W + b`` with W block-diagonal: ``heads`` independent (w, w) blocks, w = width /
    heads (recurrentgemma's ``BlockDiagonalLinear``)."""

    def __init__(self, width: int, heads: int, generator: torch.Generator | None = None):
        super().__init__()
        if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1 or width % heads:
            raise ValueError(f"heads must be a positive integer dividing hidden ({width}), "
                             f"got {heads!r}")
        self.heads, self.block = heads, width // heads
        self.w = nn.Parameter(torch.empty(heads, self.block, self.block))
        self.b = nn.Parameter(torch.zeros(heads, self.block))
        with torch.no_grad():
            self.w.normal_(0.0, math.sqrt(1.0 / self.block), generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unflatten(-1, (self.heads, self.block))
        return (torch.einsum("...hi,hij->...hj", x, self.w) + self.b).flatten(-2)


class _SqrtBoundDerivative(torch.autograd.Function):
    """√x whose derivative is bounded at MAX_SQRT_GRADIENT (near x = 0, i.e. a → 1)."""

    @staticmethod
    def forward(x):
        return torch.sqrt(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / torch.sqrt(torch.clamp(4.0 * x, min=MAX_SQRT_GRADIENT ** -2))


class RGLRU(RNNInterface):
    """``x (T, B, n_inputs) -> h (T, B, hidden)``: u = W_in x, then the RG-LRU on the
    ``hidden`` channels u; the state is h (B, hidden), real."""

    def __init__(self, n_inputs: int, hidden: int, *, heads: int = 1, r_min: float = 0.9,
                 r_max: float = 0.999, scan: str = DEFAULT_SCAN, fused: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        check_scan(scan)
        if not 0 < r_min <= r_max < 1:
            raise ValueError(f"the RG-LRU's ring needs 0 < r_min <= r_max < 1, got {r_min}, "
                             f"{r_max}")
        self.n_inputs, self.hidden, self.heads = n_inputs, hidden, heads
        self.r_min, self.r_max, self.scan, self.fused = r_min, r_max, scan, fused
        self.in_proj = nn.Linear(n_inputs, hidden)
        self.input_gate = BlockDiagonalLinear(hidden, heads, generator)
        self.a_gate = BlockDiagonalLinear(hidden, heads, generator)
        self.a_param = nn.Parameter(torch.empty(hidden))
        with torch.no_grad():
            bound = 1 / math.sqrt(n_inputs)  # nn.Linear's init, from the generator
            self.in_proj.weight.uniform_(-bound, bound, generator=generator)
            self.in_proj.bias.uniform_(-bound, bound, generator=generator)
            radius_sq = torch.empty(hidden).uniform_(r_min ** 2, r_max ** 2,
                                                     generator=generator)
            log_r = 0.5 * torch.log(radius_sq)  # uniform by area on the ring
            self.a_param.copy_(torch.log(torch.expm1(-log_r)))  # softplus(Λ) = −log r

    def param_groups(self, lr: float) -> list[dict]:
        """Λ, a state parameter as the LRU's ν and S6's A_log, gets no weight decay."""
        rest = [p for p in self.parameters() if p is not self.a_param]
        return [dict(params=[self.a_param], lr=lr, weight_decay=0.0), dict(params=rest, lr=lr)]

    def _scan_inputs(self, x: torch.Tensor):
        """(a_t, the normalized gated input) of every step, (T, B, hidden) each."""
        u = self.in_proj(x)
        log_a = -C * torch.sigmoid(self.a_gate(u)) * nn.functional.softplus(self.a_param)
        multiplier = _SqrtBoundDerivative.apply(-torch.expm1(2 * log_a))  # √(1 − a²)
        return torch.exp(log_a), torch.sigmoid(self.input_gate(u)) * u * multiplier

    def forward_state(self, x: torch.Tensor, state: torch.Tensor | None = None):
        a, b = self._scan_inputs(x)
        states = (linear_scan(a, b, state, method=self.scan) if self.fused
                  else linear_scan_reference(a, b, state))
        return states, states[-1]

    def extra_repr(self) -> str:
        return f"{self.n_inputs}, {self.hidden}, heads={self.heads}"


# AdamW with weight decay 0.1 (Griffin's training, §3; its synthetic tasks' settings are not in
# the reference code: a choice, named in docs/protocol.md); the fair comparison searches the rate
RGLRU_RECIPE = dict(optimizer="adamw", optimizer_options=dict(weight_decay=0.1))
RGLRU_SEARCH = dict(lr=(1e-4, 3e-4, 1e-3, 3e-3))
# the gated scan's least traffic, (T, B, hidden) tensors: forward reads u and the two gates'
# pre-activations and writes h; backward reads ∂L/∂h, the three inputs and h and writes the
# three inputs' gradients (bench)
RGLRU_TRAFFIC = 4 + 8

register_model(
    "rg-lru", RGLRU, recipe=RGLRU_RECIPE, search=RGLRU_SEARCH,
    help=dict(heads="diagonal blocks of the two gates (recurrentgemma's num_heads)",
              r_min="inner radius of the ring of initial decays exp(−softplus(Λ))",
              r_max="outer radius of that ring (< 1)", scan=SCAN_HELP),
    choices=dict(scan=SCANS), kernel=KERNELS[DEFAULT_SCAN],
    kernels=dict((KERNELS[k], dict(scan=k)) for k in SCANS), reference="per-step autograd",
    scan_traffic=RGLRU_TRAFFIC, _builtin=True)
