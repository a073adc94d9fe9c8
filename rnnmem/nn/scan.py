"""The recurrence ``h_t = clip(φ(a_t + V h_{t-1}))`` as one fused, autograd-aware kernel.

Covers both Henaff's sRNN (eq. 1: ``a_t = U x_t + b``, φ = tanh/relu/elu) and the LT-RNN
(eq. 2: ``a_t = σ(U x_t + b)``, φ = identity). ``clip`` is Henaff §4.1's activation clipping:
a state whose norm exceeds l is rescaled to norm l.

A per-step autograd loop would build ~4 graph nodes per step; :class:`ScanFunction` runs the
forward loop without a graph and the backward as the transposed recurrence, forming ∂L/∂V as
one (H × TB) @ (TB × H) product over all steps. :func:`scan_reference` is the plain per-step
version that the tests compare against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

ACTIVATIONS = ("identity", "tanh", "relu", "elu")


def _activate_(u: torch.Tensor, activation: str) -> None:
    if activation == "tanh":
        u.tanh_()
    elif activation == "relu":
        u.relu_()
    elif activation == "elu":
        F.elu(u, inplace=True)


def _activation_slope(u: torch.Tensor, activation: str) -> torch.Tensor | None:
    """φ'(pre) written in terms of u = φ(pre); None for the identity."""
    if activation == "tanh":
        return 1 - u * u
    if activation == "relu":
        return (u > 0).to(u.dtype)
    if activation == "elu":
        return torch.where(u > 0, 1.0, u + 1)
    return None


def _clip_rows_(u: torch.Tensor, limit: float) -> torch.Tensor:
    """Rescale rows of ``u`` with norm > limit to norm ``limit``; return the scale per row."""
    scale = (limit / u.norm(dim=1)).clamp_(max=1.0)
    u.mul_(scale[:, None])
    return scale


class ScanFunction(torch.autograd.Function):
    """Autograd function for :func:`scan`. Inputs: a (T,B,H), V (H,H), h0 (B,H)."""

    @staticmethod
    def forward(ctx, a, V, h0, activation, clip):
        T, B, H = a.shape
        h = torch.empty_like(a)  # (T, B, H)
        scale = a.new_ones(T, B) if clip is not None else None
        Vt = V.t()
        prev = h0
        for t in range(T):
            u = h[t]
            torch.addmm(a[t], prev, Vt, out=u)
            _activate_(u, activation)
            if clip is not None:
                scale[t] = _clip_rows_(u, clip)
            prev = u
        ctx.activation, ctx.clip = activation, clip
        ctx.save_for_backward(V, h0, h, scale if scale is not None else h.new_empty(0))
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h):
        V, h0, h, scale = ctx.saved_tensors
        activation, clip = ctx.activation, ctx.clip
        T, B, H = h.shape
        grad_pre = torch.empty_like(h)  # ∂L/∂(a_t + V h_{t-1})
        carry = h.new_zeros(B, H)  # ∂L/∂h_t arriving from step t+1
        for t in range(T - 1, -1, -1):
            g = grad_h[t] + carry
            u = h[t]
            if clip is not None:
                s = scale[t]
                clipped = s < 1
                if bool(clipped.any()):
                    # h = s·u with s = l/‖u‖: ∂h/∂u = s (I - û ûᵀ) on the clipped rows.
                    u = u / s[:, None]
                    unit = u / u.norm(dim=1, keepdim=True).clamp_min(1e-30)
                    radial = (unit * g).sum(1, keepdim=True) * unit
                    g = s[:, None] * torch.where(clipped[:, None], g - radial, g)
            slope = _activation_slope(u, activation)
            if slope is not None:
                g = g * slope
            grad_pre[t] = g
            carry = g @ V
        h_prev = torch.cat([h0[None], h[:-1]], 0).reshape(T * B, H)
        grad_V = grad_pre.reshape(T * B, H).t() @ h_prev
        return grad_pre, grad_V, carry, None, None


def _check(a: torch.Tensor, V: torch.Tensor, activation: str, clip) -> None:
    if a.dim() != 3 or V.shape != (a.shape[2], a.shape[2]):
        raise ValueError(f"scan expects a (T, B, H) and V (H, H), got {tuple(a.shape)}, "
                         f"{tuple(V.shape)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be positive or None, got {clip!r}")


def scan(
    a: torch.Tensor,
    V: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    activation: str = "identity",
    clip: float | None = None,
) -> torch.Tensor:
    """All hidden states (T, B, H) of ``h_t = clip(φ(a_t + V h_{t-1}))``, fused.

    Example:
        >>> a, V = torch.randn(5, 2, 3), torch.eye(3)
        >>> torch.allclose(scan(a, V)[-1], a.sum(0))
        True
    """
    _check(a, V, activation, clip)
    if h0 is None:
        h0 = a.new_zeros(a.shape[1], a.shape[2])
    return ScanFunction.apply(a, V, h0, activation, clip)


def scan_reference(
    a: torch.Tensor,
    V: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    activation: str = "identity",
    clip: float | None = None,
) -> torch.Tensor:
    """The same recurrence as :func:`scan`, one autograd step at a time (the reference)."""
    _check(a, V, activation, clip)
    phi = {"identity": lambda z: z, "tanh": torch.tanh, "relu": torch.relu, "elu": F.elu}
    prev = a.new_zeros(a.shape[1], a.shape[2]) if h0 is None else h0
    states = []
    for t in range(a.shape[0]):
        u = phi[activation](a[t] + prev @ V.t())
        if clip is not None:
            u = u * (clip / u.norm(dim=1, keepdim=True)).clamp(max=1.0)
        states.append(u)
        prev = u
    return torch.stack(states)
