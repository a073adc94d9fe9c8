"""S6, the selective state-space layer at the core of Mamba (Gu & Dao 2023, §3.2, Algorithm 2),
in rnnmem's harness: one file and one registration.

Each of the ``hidden`` channels u_t (a linear map of the input) carries ``d_state`` states:

    Δ_t = softplus(W_Δ (W_x u_t) + b_Δ)        (per channel; W_x u_t is rank ⌈hidden/16⌉)
    B_t, C_t = W_B u_t, W_C u_t                 (d_state each, shared by the channels)
    h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t B_t u_t    (A diagonal, real, negative)
    y_t = C_t · h_t + D ⊙ u_t

so the transition exp(Δ_t A) depends on the input: the "selection" that an LTI layer (the LRU,
the LT-RNN) lacks. Conventions read from the reference code (state-spaces/mamba,
``mamba_simple.py`` and ``selective_scan_ref``): A = −exp(A_log) with A_log = log(1 … d_state)
for every channel (S4D-real), D = 1, b_Δ such that softplus(b_Δ) is log-uniform on
[dt_min, dt_max] = [0.001, 0.1] (floor 1e-4), W_Δ uniform(±rank^−½), the zero-order hold for A
and Euler's B̄ = Δ B. This bare layer has no input gate, convolution or output projection (the
block has them: ``mamba-block``). The recurrence is element-wise over the hidden × d_state
states and runs as one fused loop, :func:`~rnnmem.nn.selective_scan.selective_scan` (or, with
``scan="parallel"``, :mod:`rnnmem.nn.linear_scan`'s log₂ T-step scan); the state
(B, hidden·d_state) is flat, channel-major.
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
    linear_scan_reference,
)
from .selective_scan import selective_scan, selective_scan_reference


class SelectiveSSM(nn.Module):
    """The selective SSM on ``channels`` inputs u (T, B, channels): Δ, B, C from u, A and D its
    own (``selective_scan_ref``'s computation; the state is (B, channels · d_state))."""

    def __init__(self, channels: int, d_state: int, dt_min: float, dt_max: float, *,
                 scan: str, fused: bool, generator: torch.Generator | None):
        super().__init__()
        check_scan(scan)
        if isinstance(d_state, bool) or not isinstance(d_state, int) or d_state < 1:
            raise ValueError(f"d_state must be a positive integer, got {d_state!r}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"S6 needs 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        self.channels, self.d_state, self.scan, self.fused = channels, d_state, scan, fused
        self.rank = math.ceil(channels / 16)
        self.x_proj = nn.Linear(channels, self.rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.rank, channels)
        self.A_log = nn.Parameter(torch.empty(channels, d_state))
        self.D = nn.Parameter(torch.empty(channels))
        with torch.no_grad():
            _linear_init(self.x_proj, generator)
            std = self.rank ** -0.5  # dt_init="random", dt_scale 1
            self.dt_proj.weight.uniform_(-std, std, generator=generator)
            u = torch.rand(channels, generator=generator)
            dt = torch.exp(u * (math.log(dt_max) - math.log(dt_min))
                           + math.log(dt_min)).clamp_min(1e-4)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus⁻¹(dt)
            self.A_log.copy_(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32))
                             .expand(channels, -1))
            self.D.fill_(1.0)

    def no_weight_decay(self) -> list[nn.Parameter]:
        """Mamba's ``_no_weight_decay``: A_log, D (and Δ's bias, a bias)."""
        return [self.A_log, self.D, self.dt_proj.bias]

    def forward(self, u: torch.Tensor, state: torch.Tensor | None):
        """(y (T, B, channels), every state (T, B, channels · d_state))."""
        low, B, C = self.x_proj(u).split([self.rank, self.d_state, self.d_state], dim=-1)
        delta = nn.functional.softplus(self.dt_proj(low))  # (T, B, channels)
        A = -torch.exp(self.A_log)  # (channels, d_state)
        if not self.fused:
            y, states = selective_scan_reference(u, delta, A, B, C, state,
                                                 scan=linear_scan_reference)
        elif self.scan == "sequential":
            y, states = selective_scan(u, delta, A, B, C, state)
        else:
            y, states = selective_scan_reference(u, delta, A, B, C, state)
        return y + self.D * u, states


def _linear_init(linear: nn.Linear, generator) -> None:
    """PyTorch's Linear init, U(±1/√fan-in), drawn from ``generator`` (as Mamba leaves it)."""
    bound = 1 / math.sqrt(linear.in_features)
    linear.weight.uniform_(-bound, bound, generator=generator)
    if linear.bias is not None:
        linear.bias.uniform_(-bound, bound, generator=generator)


def _decay_groups(module: nn.Module, ssms, lr: float) -> list[dict]:
    free = [p for ssm in ssms for p in ssm.no_weight_decay()]
    taken = {id(p) for p in free}
    return [dict(params=free, lr=lr, weight_decay=0.0),
            dict(params=[p for p in module.parameters() if id(p) not in taken], lr=lr)]


class S6(RNNInterface):
    """``x (T, B, n_inputs) -> y (T, B, hidden)``: u = W_in x, then the selective SSM on the
    ``hidden`` channels u; the state is (B, hidden · d_state)."""

    def __init__(self, n_inputs: int, hidden: int, *, d_state: int = 16, dt_min: float = 0.001,
                 dt_max: float = 0.1, scan: str = DEFAULT_SCAN, fused: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.n_inputs, self.hidden, self.d_state = n_inputs, hidden, d_state
        self.in_proj = nn.Linear(n_inputs, hidden)
        with torch.no_grad():
            _linear_init(self.in_proj, generator)
        self.ssm = SelectiveSSM(hidden, d_state, dt_min, dt_max, scan=scan, fused=fused,
                                generator=generator)

    def param_groups(self, lr: float) -> list[dict]:
        return _decay_groups(self, [self.ssm], lr)

    def forward_state(self, x: torch.Tensor, state: torch.Tensor | None = None):
        y, states = self.ssm(self.in_proj(x), state)
        return y, states[-1]

    def packed_run(self, x, state, last):  # the state is h_t, not the output y_t
        y, states = self.ssm(self.in_proj(x), state)
        return y, states[last, torch.arange(states.shape[1], device=states.device)]

    def extra_repr(self) -> str:
        return f"{self.n_inputs}, {self.hidden}, d_state={self.d_state}"


class MambaBlock(RNNInterface):
    """S6 as its paper uses it: Mamba's residual stack (``mamba_simple.Mamba`` in a
    ``Block``, state-spaces/mamba). A linear encoder to ``hidden`` features, then ``depth``
    layers ``h ← h + out(S6(SiLU(conv(x))) ⊙ SiLU(z))`` with ``[x; z] = in(RMSNorm(h))`` at
    inner width ``expand`` × hidden (2), conv a causal depthwise convolution of width
    ``d_conv`` (4), and a final RMSNorm; in/out projections without bias, as theirs. The carried
    state of a layer is [its SSM state, the conv's last d_conv − 1 inputs], flat (B, E·(d_state
    + d_conv − 1)); the block's, the tuple of its layers'.
    """

    def __init__(self, n_inputs: int, hidden: int, *, depth: int = 2, expand: int = 2,
                 d_state: int = 16, d_conv: int = 4, dt_min: float = 0.001,
                 dt_max: float = 0.1, scan: str = DEFAULT_SCAN, fused: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        for name, value in (("depth", depth), ("expand", expand), ("d_conv", d_conv)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.n_inputs, self.hidden, self.depth, self.d_conv = n_inputs, hidden, depth, d_conv
        inner = self.inner = expand * hidden
        self.encoder = nn.Linear(n_inputs, hidden)
        self.norms = nn.ModuleList(nn.RMSNorm(hidden) for _ in range(depth + 1))
        self.ins = nn.ModuleList(nn.Linear(hidden, 2 * inner, bias=False) for _ in range(depth))
        self.convs = nn.ModuleList(nn.Conv1d(inner, inner, d_conv, groups=inner)
                                   for _ in range(depth))
        self.ssms = nn.ModuleList(SelectiveSSM(inner, d_state, dt_min, dt_max, scan=scan,
                                               fused=fused, generator=generator)
                                  for _ in range(depth))
        self.outs = nn.ModuleList(nn.Linear(inner, hidden, bias=False) for _ in range(depth))
        with torch.no_grad():
            for module in (self.encoder, *self.ins, *self.outs):
                _linear_init(module, generator)
            for conv in self.convs:
                bound = 1 / math.sqrt(d_conv)  # Conv1d's init: fan-in d_conv per group
                conv.weight.uniform_(-bound, bound, generator=generator)
                conv.bias.uniform_(-bound, bound, generator=generator)

    def param_groups(self, lr: float) -> list[dict]:
        return _decay_groups(self, self.ssms, lr)

    def _layer(self, i: int, h: torch.Tensor, state: torch.Tensor | None):
        """Layer i on h (T, B, H): (new h, every SSM state, the conv's padded input)."""
        T, B = h.shape[:2]
        x, z = self.ins[i](self.norms[i](h)).chunk(2, dim=-1)
        ssm_state = window = None
        if state is not None:
            ssm_state, window = state.split([state.shape[-1] - self.inner * (self.d_conv - 1),
                                             self.inner * (self.d_conv - 1)], dim=-1)
            window = window.view(B, self.d_conv - 1, self.inner).transpose(0, 1)
        if window is None:
            window = x.new_zeros(self.d_conv - 1, B, self.inner)
        padded = torch.cat([window, x])  # (d_conv − 1 + T, B, E): causal
        conv = self.convs[i](padded.permute(1, 2, 0)).permute(2, 0, 1)
        y, states = self.ssms[i](nn.functional.silu(conv), ssm_state)
        return h + self.outs[i](y * nn.functional.silu(z)), states, padded

    def _final(self, states, padded, index) -> torch.Tensor:
        """A layer's carried state after step ``index`` (B,) of each sequence."""
        cols = torch.arange(states.shape[1], device=states.device)
        steps = index[:, None] + 1 + torch.arange(self.d_conv - 1, device=states.device)
        window = padded[steps.T, cols]  # (d_conv − 1, B, E): the inputs up to that step
        return torch.cat([states[index, cols], window.transpose(0, 1).flatten(1)], dim=-1)

    def _forward(self, x, state, last):
        h, finals = self.encoder(x), []
        for i in range(self.depth):
            h, states, padded = self._layer(i, h, None if state is None else state[i])
            finals.append(self._final(states, padded, last))
        return self.norms[-1](h), tuple(finals)

    def forward_state(self, x: torch.Tensor, state: tuple | None = None):
        last = torch.full((x.shape[1],), x.shape[0] - 1, device=x.device)
        return self._forward(x, state, last)

    def packed_run(self, x, state, last):  # each layer's state at each sequence's own end
        return self._forward(x, state, last)

    def extra_repr(self) -> str:
        return f"{self.n_inputs}, {self.hidden}, depth={self.depth}, inner={self.inner}"


# AdamW with weight decay 0.1 on the dense weights (Mamba's language-model training; its
# synthetic tasks' settings are not in its code: a choice, named in docs/protocol.md); the fair
# comparison searches the rate
S6_RECIPE = dict(optimizer="adamw", optimizer_options=dict(weight_decay=0.1))
S6_SEARCH = dict(lr=(1e-4, 3e-4, 1e-3, 3e-3))
S6_KERNELS = dict(KERNELS, sequential="fused selective scan")  # bench's rows
# the scan's least traffic in (T, B, hidden) tensors (B_t, C_t are d_state wide: left out):
# forward reads u and Δ and writes y and the states (d_state of them); backward reads the
# states, ∂L/∂y, u and Δ and writes ∂L/∂u and ∂L/∂Δ (bench)
S6_TRAFFIC = (2 + 1 + 16) + (16 + 1 + 2 + 2)

register_model(
    "s6", S6, recipe=S6_RECIPE, search=S6_SEARCH,
    help=dict(d_state="states per channel (Mamba's N, 16)",
              dt_min="smallest initial step Δ", dt_max="largest initial step Δ",
              scan=SCAN_HELP),
    choices=dict(scan=SCANS), state_blocks=16, kernel=S6_KERNELS[DEFAULT_SCAN],
    kernels=dict((S6_KERNELS[k], dict(scan=k)) for k in SCANS), reference="per-step autograd",
    scan_traffic=S6_TRAFFIC, _builtin=True)

register_model(
    "mamba-block", MambaBlock, recipe=S6_RECIPE, search=S6_SEARCH, form="block",
    help=dict(depth="residual Mamba layers", expand="inner width over hidden (Mamba's 2)",
              d_state="states per inner channel (16)", d_conv="causal convolution width (4)",
              dt_min="smallest initial step Δ", dt_max="largest initial step Δ",
              scan=SCAN_HELP),
    choices=dict(scan=SCANS), state_blocks=64, gemm_blocks=4, kernel=S6_KERNELS[DEFAULT_SCAN],
    reference="per-step autograd", _builtin=True)
