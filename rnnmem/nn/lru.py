"""The Linear Recurrent Unit (Orvieto et al., ICML 2023, "Resurrecting Recurrent Neural Networks
for Long Sequences"), in rnnmem's harness: one file and one registration.

``x_t = diag(λ) x_{t−1} + γ ⊙ (B u_t)``, ``y_t = Re(C x_t) + D u_t`` (their eq. 7), with the
exponential parametrization ``λ = exp(−exp(ν) + i·exp(θ))`` and the normalization
``γ = sqrt(1 − |λ|²)``, learned in log form (§3.3). Initialization (their Lemma 3.2): |λ|
uniform over the ring's area between ``r_min`` and ``r_max``, its phase uniform in
[0, ``max_phase``]; B (complex) N(0, 1/(2·n_in)) per part, C (complex) N(0, 1/N) per part.

Departures, named: the state has ``hidden`` complex units and the output y (what the readout
sees) ``hidden`` real ones; D is a dense (hidden × n_inputs) map, N(0, 1/n_in), where the paper's
is diagonal (its input and output widths are equal); no non-linearity, MLP or normalization
after the layer (the paper stacks LRU blocks with them). The recurrence runs as the linear
scan of :mod:`rnnmem.nn.linear_scan` that ``scan`` names (sequential or parallel), or as one
compiled loop each way on planar states (``scan="compiled"``, numba:
:func:`rnnmem.nn.compiled_scan.diagonal_scan`; values equal up to rounding, an option). Recipe, as
the reference code (NicolasZucchet/minimal-LRU) trains it: AdamW with weight decay 0.05, the
recurrent parameters ν, θ, γ and B at half the learning rate without weight decay
(:meth:`LRU.param_groups`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import register_model
from .compiled_scan import check_layer_scan, diagonal_scan, input_product
from .interface import RNNInterface
from .linear_scan import (
    DEFAULT_SCAN,
    KERNELS,
    SCAN_HELP,
    SCANS,
    linear_scan,
    linear_scan_reference,
)


class LRU(RNNInterface):
    """``x (T, B, n_inputs) -> y (T, B, hidden)`` with a complex diagonal state (B, hidden).

    Unlike nn.RNN's, ``h_n`` (and ``hx``) is the recurrence's complex state ``x_T``, not the
    last output ``y_T = Re(C x_T) + D u_T``: the state is what continues a sequence (``output[-1]``
    is the last output)."""

    def __init__(self, n_inputs: int, hidden: int, *, r_min: float = 0.0, r_max: float = 1.0,
                 max_phase: float = 2 * math.pi, ssm_lr_factor: float = 0.5,
                 scan: str = DEFAULT_SCAN, fused: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        check_layer_scan(scan)
        if not ssm_lr_factor > 0:
            raise ValueError(f"ssm_lr_factor must be > 0, got {ssm_lr_factor!r}")
        self.ssm_lr_factor = ssm_lr_factor
        if not 0 <= r_min < r_max <= 1:
            raise ValueError(f"the LRU's ring needs 0 <= r_min < r_max <= 1, got r_min={r_min}, "
                             f"r_max={r_max}")
        if not max_phase > 0:
            raise ValueError(f"max_phase must be > 0, got {max_phase!r}")
        self.n_inputs, self.hidden, self.fused, self.scan = n_inputs, hidden, fused, scan
        self.r_min, self.r_max, self.max_phase = r_min, r_max, max_phase
        self.nu_log = nn.Parameter(torch.empty(hidden))
        self.theta_log = nn.Parameter(torch.empty(hidden))
        self.gamma_log = nn.Parameter(torch.empty(hidden))
        self.B_re, self.B_im = (nn.Parameter(torch.empty(hidden, n_inputs)) for _ in range(2))
        self.C_re, self.C_im = (nn.Parameter(torch.empty(hidden, hidden)) for _ in range(2))
        self.D = nn.Parameter(torch.empty(hidden, n_inputs))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        with torch.no_grad():
            u1 = torch.rand(self.hidden, generator=generator)
            u2 = torch.rand(self.hidden, generator=generator)
            # |λ|² uniform on [r_min², r_max²]: uniform over the ring's area (Lemma 3.2)
            radius_sq = u1 * (self.r_max ** 2 - self.r_min ** 2) + self.r_min ** 2
            self.nu_log.copy_(torch.log(-0.5 * torch.log(radius_sq.clamp_min(1e-30))))
            self.theta_log.copy_(torch.log((self.max_phase * u2).clamp_min(1e-30)))
            modulus = torch.exp(-torch.exp(self.nu_log))
            self.gamma_log.copy_(torch.log(torch.sqrt((1 - modulus ** 2).clamp_min(1e-30))))
            for W, fan in ((self.B_re, 2 * self.n_inputs), (self.B_im, 2 * self.n_inputs),
                           (self.C_re, self.hidden), (self.C_im, self.hidden),
                           (self.D, self.n_inputs)):
                W.normal_(0.0, 1 / math.sqrt(fan), generator=generator)

    def param_groups(self, lr: float) -> list[dict]:
        """minimal-LRU's recipe (``train_helpers.create_train_state``): ν, θ, γ and B at
        ``ssm_lr_factor`` × lr and without weight decay; C and D at lr, with the optimizer's."""
        ssm = [self.nu_log, self.theta_log, self.gamma_log, self.B_re, self.B_im]
        return [dict(params=ssm, lr=self.ssm_lr_factor * lr, weight_decay=0.0),
                dict(params=[self.C_re, self.C_im, self.D], lr=lr)]

    def eigenvalues(self) -> torch.Tensor:
        """λ (hidden,), complex: ``exp(−exp(ν) + i·exp(θ))``."""
        return torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))

    def recurrent_matrix(self) -> torch.Tensor:
        """diag(λ), a dense complex (hidden, hidden) matrix: a normal transition."""
        return torch.diag(self.eigenvalues())

    def _run(self, x: torch.Tensor, state: torch.Tensor | None):
        """(y (T, B, hidden), every complex state x_t (T, B, hidden))."""
        if self.fused and self.scan == "compiled":  # its states planar: (T, B, 2·hidden) real
            return self._run_compiled(x, state)
        # B u_t and Re(C x_t) as real products: u is real and only y's real part is kept, so a
        # complex product would compute (and differentiate) parts that are zero or discarded
        # γ ⊙ (B u_t) = (diag(γ) B) u_t: γ scales B's rows, never a (T, B, N) tensor
        B = torch.exp(self.gamma_log)[:, None, None] * torch.stack([self.B_re, self.B_im], dim=1)
        drive = torch.view_as_complex((x @ B.flatten(0, 1).t()).unflatten(-1, (-1, 2)))
        if self.fused:  # (T, B, N)
            states = linear_scan(self.eigenvalues(), drive, state, method=self.scan)
        else:
            states = linear_scan_reference(self.eigenvalues(), drive, state)
        # Re(C x) = C_re x_re − C_im x_im: one real product over the (re, im) pairs
        C = torch.stack([self.C_re, -self.C_im], dim=-1).flatten(1)  # (hidden, 2N)
        return torch.view_as_real(states).flatten(-2) @ C.t() + x @ self.D.t(), states

    def _run_compiled(self, x, state):
        """:meth:`_run` by the compiled scan, on planar states (T, B, 2N) = [Re x_t, Im x_t]
        (:func:`diagonal_scan`; complex again where a state leaves the layer): the same
        products with their columns in another order, the narrow input products' weight
        gradients as (xᵀG)ᵀ, and D u_t added inside the readout's product."""
        B = torch.exp(self.gamma_log).repeat(2)[:, None] * torch.cat([self.B_re, self.B_im])
        lam = torch.view_as_real(self.eigenvalues()).t()
        if state is not None:
            state = torch.cat([state.real, state.imag], dim=-1)
        states = diagonal_scan(lam, input_product(x, B), state)
        C = torch.cat([self.C_re, -self.C_im], dim=1)  # Re(C x) = C_re x_re − C_im x_im
        y = torch.addmm(input_product(x, self.D).flatten(0, -2), states.flatten(0, -2), C.t())
        return y.unflatten(0, states.shape[:-1]), states

    def _final(self, states: torch.Tensor) -> torch.Tensor:
        """A state (..., N) complex, from the compiled path's planar (..., 2N)."""
        if self.fused and self.scan == "compiled":
            return torch.complex(*states.unflatten(-1, (2, -1)).unbind(-2))
        return states

    def forward_state(self, x: torch.Tensor, state: torch.Tensor | None = None):
        """(y (T, B, hidden), final complex state (B, hidden)) from a complex state (B, hidden)."""
        y, states = self._run(x, state)
        return y, self._final(states[-1])

    def packed_run(self, x, state, last):  # the state is x_t, not the output y_t
        y, states = self._run(x, state)
        return y, self._final(states[last, torch.arange(states.shape[1], device=states.device)])

    def extra_repr(self) -> str:
        return (f"{self.n_inputs}, {self.hidden}, r_min={self.r_min}, r_max={self.r_max}, "
                f"max_phase={self.max_phase:.3g}")


# the LRU's scans: the linear scan's, and the diagonal scan compiled (numba; not the default:
# its values differ from the committed runs' by rounding)
LRU_SCANS = (*SCANS, "compiled")
LRU_SCAN_HELP = (SCAN_HELP + "; compiled: the scan as one numba loop each way (values equal up "
                 "to rounding; needs numba)")
LRU_KERNELS = {**KERNELS, "compiled": "diagonal scan compiled (numba)"}


# minimal-LRU's defaults (run_train.py: AdamW, weight decay 0.05; the SSM parameters at
# lr_factor 0.5 without decay, param_groups above)
LRU_RECIPE = dict(optimizer="adamw", optimizer_options=dict(weight_decay=0.05))
# The fair comparison's search: rates around minimal-LRU's 1e-3, and the ring, which the LRU paper
# sets per task (r_min 0.9, r_max 0.999 on its long-range tasks; the reference code's default 0, 1)
LRU_SEARCH = {"lr": (1e-4, 3e-4, 1e-3, 3e-3), ("r_min", "r_max"): ((0.0, 1.0), (0.9, 0.999))}
# the scan's least traffic, complex (T, B, N) tensors: forward reads the drive and writes the
# states; backward reads ∂L/∂states and the states (∂L/∂λ) and writes ∂L/∂drive (bench)
LRU_TRAFFIC = 2 * 5
# and its readout Re(C x_t), a (T·B, 2N) → (T·B, hidden) product each way: the layer's largest
# work (twice the LT-RNN's recurrent products at N = hidden), which bench's roofline adds
LRU_PRODUCTS = 2

register_model(
    "lru", LRU, recipe=LRU_RECIPE, search=LRU_SEARCH,
    help=dict(r_min="inner radius of the ring of initial |λ|",
              r_max="outer radius of the ring of initial |λ| (≤ 1)",
              max_phase="initial phases of λ uniform in [0, max_phase]",
              ssm_lr_factor="learning rate of ν, θ, γ and B over the run's lr "
                            "(they also get no weight decay)",
              scan=LRU_SCAN_HELP),
    choices=dict(scan=LRU_SCANS), gemm_blocks=2, kernel=KERNELS[DEFAULT_SCAN], kernels=dict(
        (LRU_KERNELS[k], dict(scan=k)) for k in LRU_SCANS), reference="per-step autograd",
    scan_traffic=LRU_TRAFFIC, scan_products=LRU_PRODUCTS, _builtin=True)


class LRUBlock(RNNInterface):
    """The LRU as its paper uses it: minimal-LRU's ``StackedEncoderModel`` (``lru/model.py``).

    A linear encoder to ``hidden`` features, then ``depth`` residual layers, each
    ``h ← h + drop(GLU(drop(GELU(LRU(norm(h))))))`` with ``GLU(y) = W₁y ⊙ σ(W₂y)`` (their
    ``SequenceLayer`` with pre-normalization, ``run_train.py``'s default); the harness's
    readout is their decoder. Departures, named: LayerNorm, their other choice, where their
    default BatchNorm would couple the sequences of a batch (and a step's state to the batch's
    statistics); each LRU's state has ``hidden`` complex units (theirs: ``d_hidden``, by
    default half of ``d_model``) and a dense D (theirs diagonal); ``depth`` 2 and ``dropout`` 0
    (theirs: 4 and 0.1, for LRA). Dense layers as Flax's default: N(0, 1/fan-in), zero bias.
    The carried state is the tuple of the layers' complex states.
    """

    def __init__(self, n_inputs: int, hidden: int, *, depth: int = 2, r_min: float = 0.0,
                 r_max: float = 1.0, max_phase: float = 2 * math.pi,
                 ssm_lr_factor: float = 0.5, dropout: float = 0.0, scan: str = DEFAULT_SCAN,
                 fused: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        _check_block(depth, dropout)
        self.n_inputs, self.hidden, self.depth, self.dropout = n_inputs, hidden, depth, dropout
        self.r_min, self.r_max, self.max_phase = r_min, r_max, max_phase
        self.encoder = _lecun_linear(n_inputs, hidden, generator)
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(depth))
        self.lrus = nn.ModuleList(
            LRU(hidden, hidden, r_min=r_min, r_max=r_max, max_phase=max_phase,
                ssm_lr_factor=ssm_lr_factor, scan=scan, fused=fused, generator=generator)
            for _ in range(depth))
        self.glu = nn.ModuleList(nn.ModuleList(_lecun_linear(hidden, hidden, generator)
                                               for _ in range(2)) for _ in range(depth))
        self.drop = nn.Dropout(dropout)

    def _layer(self, i: int, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The rest of layer ``i`` after its LRU: GELU, GLU, the residual."""
        y = self.drop(nn.functional.gelu(y))
        out1, out2 = self.glu[i]
        return h + self.drop(out1(y) * torch.sigmoid(out2(y)))

    def forward_state(self, x: torch.Tensor, state: tuple | None = None):
        h, finals = self.encoder(x), []
        for i, lru in enumerate(self.lrus):
            y, final = lru.forward_state(self.norms[i](h), None if state is None else state[i])
            h = self._layer(i, h, y)
            finals.append(final)
        return h, tuple(finals)

    def packed_run(self, x, state, last):  # each layer's state at each sequence's own end
        h, finals = self.encoder(x), []
        for i, lru in enumerate(self.lrus):
            y, final = lru.packed_run(self.norms[i](h), None if state is None else state[i],
                                      last)
            h = self._layer(i, h, y)
            finals.append(final)
        return h, tuple(finals)

    def param_groups(self, lr: float) -> list[dict]:
        """minimal-LRU's recipe per layer (:meth:`LRU.param_groups`); the encoder, norms and
        GLUs at lr with the optimizer's weight decay."""
        groups = [g for lru in self.lrus for g in lru.param_groups(lr)]
        grouped = {id(p) for g in groups for p in g["params"]}
        rest = [p for p in self.parameters() if id(p) not in grouped]
        return groups + [dict(params=rest, lr=lr)]

    def extra_repr(self) -> str:
        return (f"{self.n_inputs}, {self.hidden}, depth={self.depth}, dropout={self.dropout}")


def _check_block(depth, dropout) -> None:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")


def _lecun_linear(n_in: int, n_out: int, generator) -> nn.Linear:
    """A Dense layer as Flax draws it: weights N(0, 1/n_in), zero bias."""
    layer = nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.normal_(0.0, 1 / math.sqrt(n_in), generator=generator)
        layer.bias.zero_()
    return layer


register_model(
    "lru-block", LRUBlock, recipe=LRU_RECIPE, search=LRU_SEARCH, form="block",
    help=dict(depth="residual LRU layers (minimal-LRU's n_layers)",
              dropout="dropout after the GELU and after the GLU (minimal-LRU's p_dropout)",
              r_min="inner radius of the ring of initial |λ|",
              r_max="outer radius of the ring of initial |λ| (≤ 1)",
              max_phase="initial phases of λ uniform in [0, max_phase]",
              ssm_lr_factor="learning rate of ν, θ, γ and B over the run's lr "
                            "(they also get no weight decay)",
              scan=LRU_SCAN_HELP),
    choices=dict(scan=LRU_SCANS), gemm_blocks=2, kernel=KERNELS[DEFAULT_SCAN],
    reference="per-step autograd", _builtin=True)
