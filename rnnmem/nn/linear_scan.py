"""The element-wise linear recurrence ``x_t = a_t ⊙ x_{t-1} + b_t`` of the diagonal models (the
LRU's complex λ, minGRU's gates), three ways.

:func:`parallel_scan` is a Hillis-Steele scan over the affine maps ``x ↦ a_t x + b_t``, which
compose as ``(a₂, b₂) ∘ (a₁, b₁) = (a₂a₁, a₂b₁ + b₂)``: ⌈log₂ T⌉ whole-sequence steps (10 at
T = 784), each a few tensor ops, so autograd records O(log T) nodes; it does O(T log T) work.
:func:`sequential_scan` is the fused loop: one autograd node whose forward and backward each
run T in-place ``addcmul_`` steps (O(T) work, T small kernels). :func:`linear_scan` runs the one
a layer's ``scan`` option names; which is faster is measured, not assumed (docs/bench.md).
:func:`linear_scan_reference` is the per-step autograd loop the tests compare both with. ``a``
may be (T, B, N), or (N,) for a constant coefficient (the LRU). All take real or complex
tensors.
"""

from __future__ import annotations

import torch

from .scan import _traced, differentiated

SCANS = ("sequential", "parallel")
KERNELS = dict(sequential="sequential linear scan (fused loop)",
               parallel="parallel linear scan (log₂ T steps)")  # the benchmark's rows
# the layers' default: the one rnnmem bench measures faster at the papers' sizes (docs/bench.md)
DEFAULT_SCAN = "sequential"
SCAN_HELP = ("how the recurrence runs: sequential (one fused loop) or parallel (a log₂ T-step "
             "scan); the default is the one rnnmem bench measured faster here")


def check_scan(method: str) -> None:
    if method not in SCANS:
        raise ValueError(f"scan must be one of {', '.join(SCANS)}; got {method!r}")


def linear_scan(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor | None = None, *,
                method: str = "parallel") -> torch.Tensor:
    """Every state x_t (T, B, N) of ``x_t = a_t x_{t-1} + b_t`` from ``x0`` (B, N) (default 0),
    by ``method``: ``"sequential"`` (:func:`sequential_scan`) or ``"parallel"``."""
    if method == "sequential":
        return sequential_scan(a, b, x0)
    check_scan(method)
    return parallel_scan(a, b, x0)


def sequential_scan(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor | None = None
                    ) -> torch.Tensor:
    """:func:`linear_scan` as one fused autograd node (under torch.compile, a torch.func
    transform or on the meta device: :func:`parallel_scan`, whose plain ops they trace)."""
    if _traced(a, b, x0):
        return parallel_scan(a, b, x0)
    return _SequentialScan.apply(a, b, x0)


class _SequentialScan(torch.autograd.Function):
    """x_t = a_t x_{t-1} + b_t in place, forward and backward (∂L/∂x_{t-1} += conj(a_t) ∂L/∂x_t;
    ∂L/∂a_t = ∂L/∂x_t conj(x_{t-1}), ∂L/∂b_t = ∂L/∂x_t: PyTorch's complex convention). Asked
    for a graph of the gradient (double backward), it differentiates the reference."""

    @staticmethod
    def forward(a, b, x0):
        x = b.clone(memory_format=torch.contiguous_format)
        states = x.unbind(0)
        coefficients = a.unbind(0) if a.dim() == 3 else (a,) * len(states)
        prev = x0
        for x_t, a_t in zip(states, coefficients, strict=True):
            if prev is not None:
                x_t.addcmul_(a_t, prev)
            prev = x_t
        return x

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, x0 = inputs
        ctx.save_for_backward(a, b, x0, output)

    @staticmethod
    def backward(ctx, grad):
        a, b, x0, x = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: differentiable ops
            return differentiated(linear_scan_reference, (a, b, x0), grad)
        g = grad.clone(memory_format=torch.contiguous_format)  # ∂L/∂x_t, built in place
        G = g.unbind(0)
        conj_a = a.conj()
        coefficients = conj_a.unbind(0) if a.dim() == 3 else (conj_a,) * len(G)
        # a constant a (the LRU's λ): ∂L/∂a = Σ_t g_t conj(x_{t-1}) summed as the loop makes
        # each g_t, on a (B, N) step in cache, not as one (T, B, N) product
        constant = a.dim() == 1 and ctx.needs_input_grad[0]
        if constant:
            total = torch.zeros_like(G[0])
            previous = x.conj().resolve_conj().unbind(0)
        for t in range(len(G) - 1, 0, -1):
            G[t - 1].addcmul_(coefficients[t], G[t])
            if constant:
                total.addcmul_(G[t], previous[t - 1])
        grad_a = grad_x0 = None
        if constant:
            if x0 is not None:
                total.addcmul_(G[0], x0.conj())
            grad_a = total.sum(0)
        elif ctx.needs_input_grad[0]:  # ∂L/∂a_t = g_t conj(x_{t-1}), written in place: no
            # concatenated copy of the states (the backward's largest allocation)
            grad_a = torch.empty_like(g)
            torch.mul(g[1:], x[:-1].conj(), out=grad_a[1:])
            if x0 is None:  # x_{-1} = 0: the first coefficient meets nothing
                grad_a[0].zero_()
            else:
                torch.mul(g[0], x0.conj(), out=grad_a[0])
        if x0 is not None and ctx.needs_input_grad[2]:
            grad_x0 = coefficients[0] * G[0]
        return grad_a, g if ctx.needs_input_grad[1] else None, grad_x0


def parallel_scan(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor | None = None
                  ) -> torch.Tensor:
    """:func:`linear_scan` by a Hillis-Steele scan (⌈log₂ T⌉ whole-sequence steps)."""
    T = b.shape[0]
    a = a.expand_as(b) if a.dim() == 1 else a
    if x0 is not None:  # the initial state enters as part of the first input
        b = torch.cat([(a[0] * x0 + b[0])[None], b[1:]])
    shift = 1
    while shift < T:  # after the step with shift d, (a, b)[t] spans steps t-2d+1 .. t
        b = torch.cat([b[:shift], a[shift:] * b[:-shift] + b[shift:]])
        a = torch.cat([a[:shift], a[shift:] * a[:-shift]])
        shift *= 2
    return b


def linear_scan_reference(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor | None = None
                          ) -> torch.Tensor:
    """The same states, one step at a time."""
    a = a.expand_as(b) if a.dim() == 1 else a
    x = torch.zeros_like(b[0]) if x0 is None else x0
    states = []
    for a_t, b_t in zip(a.unbind(0), b.unbind(0), strict=True):
        x = a_t * x + b_t
        states.append(x)
    return torch.stack(states)
