"""The element-wise linear recurrence ``x_t = a_t ⊙ x_{t-1} + b_t`` of the diagonal models (the
LRU's complex λ, minGRU's gates), two ways.

:func:`linear_scan` is the parallel form: a Hillis-Steele scan over the affine maps
``x ↦ a_t x + b_t``, which compose as ``(a₂, b₂) ∘ (a₁, b₁) = (a₂a₁, a₂b₁ + b₂)``: ⌈log₂ T⌉
whole-sequence steps (10 at T = 784), each a few tensor ops, so autograd records O(log T)
nodes instead of the sequential loop's O(T). :func:`linear_scan_reference` is the per-step loop
the tests compare it with. ``a`` may be (T, B, N), or (N,) for a constant coefficient (the
LRU). Both take real or complex tensors.
"""

from __future__ import annotations

import torch


def linear_scan(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor | None = None
                ) -> torch.Tensor:
    """Every state x_t (T, B, N) of ``x_t = a_t x_{t-1} + b_t`` from ``x0`` (B, N) (default 0)."""
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
