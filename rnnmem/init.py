"""Initializers for recurrent and input weights, in the style of ``torch.nn.init``.

Each ``name_(tensor, ...)`` fills ``tensor`` in place (without recording autograd history) and
returns it. Weights follow PyTorch's ``(out, in)`` layout, so ``h_t = W h_{t-1}`` reads
``h_t[i] = Σ_j W[i, j] h_{t-1}[j]``: ``W[i, j]`` is the connection from unit j to unit i.

Initializers are chosen by name through the registry (:func:`rnnmem.register_init`, which the
built-ins below use too; see :func:`get_initializer`); every recurrent one takes the scale
``gain`` (λ for identity and orthogonal, α for the chains).

Example:
    >>> W = torch.empty(4, 4)
    >>> chain_(W, gain=1.0)[1, 0].item()
    1.0
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import torch

from .registry import find_init, get_init, init_names, register_init


def _check_matrix(tensor: torch.Tensor, name: str, square: bool = True) -> None:
    if tensor.dim() != 2:
        raise ValueError(f"{name} expects a 2-D weight, got shape {tuple(tensor.shape)}")
    if square and tensor.shape[0] != tensor.shape[1]:
        raise ValueError(f"{name} expects a square matrix, got shape {tuple(tensor.shape)}")


def gaussian_(
    tensor: torch.Tensor, gain: float = 1.0, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Gaussian N(0, gain²/n_in) entries (Henaff §4.1's draw for every weight matrix).

    Args: ``tensor`` (out, in), any shape; ``gain`` (default 1) scales the standard deviation
    1/√in; ``generator`` draws the entries.

    The paper's text says "variance 1/√n"; we read it as the usual standard deviation 1/√n
    (variance 1/n), which keeps ‖W h‖ ≈ ‖h‖.
    """
    _check_matrix(tensor, "gaussian_", square=False)
    std = gain / math.sqrt(tensor.shape[1])
    with torch.no_grad():
        return tensor.normal_(0.0, std, generator=generator)


def gaussian_fan_out_(
    tensor: torch.Tensor, gain: float = 0.9, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Gaussian N(0, gain²/n_out) entries: input weights (hidden, inputs) drawn at the scale of
    the *hidden* size, as Orhan & Pitkow's code draws them for its identity and orthogonal RNNs
    (nonnormal-init ``utils.py``, ``InitLoader``: ``RandomNormal(stddev=0.9/np.sqrt(
    hidden_units))``; gain 0.9 by default). The paper's §2.3.1 writes 0.9/√N without saying
    which N."""
    _check_matrix(tensor, "gaussian_fan_out_", square=False)
    std = gain / math.sqrt(tensor.shape[0])
    with torch.no_grad():
        return tensor.normal_(0.0, std, generator=generator)


def orthogonal_(
    tensor: torch.Tensor, gain: float = 1.0, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random orthogonal matrix times ``gain``, built as in Henaff §4.1.

    Draw a Gaussian matrix, then replace it by its nearest orthogonal matrix (in Frobenius
    norm): with G = U Σ Vᵀ, that is U Vᵀ, i.e. all singular values set to 1. A rectangular
    ``tensor`` (as ``torch.nn.init.orthogonal_`` takes) gets orthonormal rows or columns,
    whichever are fewer. ``gain`` default 1.
    """
    _check_matrix(tensor, "orthogonal_", square=False)
    with torch.no_grad():
        g = torch.empty(tensor.shape, dtype=torch.float64)
        gaussian_(g, generator=generator)
        # square: the full SVD, as every existing run drew it; rectangular: the thin one
        u, _, vh = torch.linalg.svd(g, full_matrices=tensor.shape[0] == tensor.shape[1])
        return tensor.copy_(gain * (u @ vh))


def identity_(tensor: torch.Tensor, gain: float = 1.0, *,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """``gain`` (default 1) times the identity (λI: LT-IRNN, IRNN). Deterministic:
    ``generator`` is accepted, as by every initializer here, and unused."""
    _check_matrix(tensor, "identity_")
    with torch.no_grad():
        tensor.zero_()
        return tensor.fill_diagonal_(gain)


def chain_(tensor: torch.Tensor, gain: float = 1.0, *,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Feed-forward chain 0 → 1 → … → N-1 with weight α = ``gain`` (default 1; Orhan & Pitkow
    §2.1). Deterministic (``generator`` unused).

    ``W[i, i-1] = α``: unit i-1 drives unit i, so unit 0 is the chain's source and the input
    must land there (see :func:`source_input_`). W is nilpotent: ``W^N = 0``.
    """
    _check_matrix(tensor, "chain_")
    return feedback_chain_(tensor, gain=gain, feedback=0.0)


def feedback_chain_(
    tensor: torch.Tensor, gain: float = 0.99, *, feedback: float = 0.05,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Chain with feedback: ``W[i, i-1] = gain`` forward, ``W[i, i+1] = feedback`` (β) back.

    Orhan & Pitkow use forward weight 0.99 (the default) and β ∈ {0.01, …, 0.07} (default
    0.05). Deterministic (``generator`` unused).
    """
    _check_matrix(tensor, "feedback_chain_")
    n = tensor.shape[0]
    with torch.no_grad():
        tensor.zero_()
        idx = torch.arange(1, n)
        tensor[idx, idx - 1] = gain
        tensor[idx - 1, idx] = feedback
        return tensor


def source_input_(tensor: torch.Tensor, gain: float = 0.9, *,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Input weights ``gain · I_{N×d}``: input j drives unit j, input 0 the chain's source.

    Orhan & Pitkow's input init for the chain networks (gain 0.9, the default). ``tensor`` is
    (N, d), N ≥ d. Deterministic (``generator`` unused).
    """
    _check_matrix(tensor, "source_input_", square=False)
    if tensor.shape[0] < tensor.shape[1]:
        raise ValueError(
            f"source_input_ needs at least as many units as inputs, got shape {tuple(tensor.shape)}"
        )
    with torch.no_grad():
        tensor.zero_()
        return tensor.fill_diagonal_(gain)


def toeplitz_ramp_(tensor: torch.Tensor, gain: float = 0.01, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``W[i, j] = gain · (i - j) / (N - 1)``: a ramp from -gain to +gain (default 0.01) along
    i - j. Deterministic (``generator`` unused)."""
    _check_matrix(tensor, "toeplitz_ramp_")
    n = tensor.shape[0]
    with torch.no_grad():
        idx = torch.arange(n, dtype=torch.float64)
        ramp = (idx[:, None] - idx[None, :]) / max(n - 1, 1)
        return tensor.copy_(gain * ramp)


def mixed_lstm_(
    weight_hh: torch.Tensor, gain: float = 1.02, *, ramp: float = 0.01,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Orhan & Pitkow's "mixed" LSTM init (§2.5) of a ``(4N, N)`` recurrent weight.

    Chain (α = ``gain``) on the update (cell, tanh) gate's block; a Toeplitz ramp from -ramp to
    +ramp in i - j on the input, forget and output gates. Blocks are in PyTorch's order
    (input, forget, cell, output).
    """
    rows, n = weight_hh.shape
    if rows != 4 * n:
        raise ValueError(
            f"mixed_lstm_ expects a (4N, N) weight, got shape {tuple(weight_hh.shape)}")
    with torch.no_grad():
        i, f, g, o = weight_hh.chunk(4, dim=0)
        for block in (i, f, o):
            toeplitz_ramp_(block, gain=ramp)
        chain_(g, gain=gain)
    return weight_hh


# The built-in initializers, registered as a plugin's are (rnnmem.registry).
for _name, _fn in (("orthogonal", orthogonal_), ("identity", identity_), ("gaussian", gaussian_),
                   ("chain", chain_), ("feedback-chain", feedback_chain_)):
    register_init(_name, _fn, _builtin=True)
register_init("gaussian", gaussian_, kind="input", _builtin=True)
register_init("gaussian-fan-out", gaussian_fan_out_, kind="input", _builtin=True)
register_init("source", source_input_, kind="input", _builtin=True)
register_init("mixed", mixed_lstm_, kind="gated", _builtin=True)


def default_gain(init: str, kind: str | None = None) -> float | None:
    """The scale an initializer uses when none is given (its paper's value, e.g. 1.02 for
    ``mixed``, 0.99 for ``feedback-chain``, 0.9 for ``source``); None if it takes no scale.

    ``kind`` (see :func:`~rnnmem.registry.register_init`) defaults to any kind, recurrent
    first."""
    fn = find_init(init) if kind is None else (
        get_init(init, kind) if init in init_names(kind) else None)
    if fn is None:
        return None
    gain = inspect.signature(fn).parameters.get("gain")
    return None if gain is None or gain.default is inspect.Parameter.empty else gain.default


def get_initializer(init: str | Callable, kind: str = "recurrent"):
    """Resolve an initializer given by name (registered under ``kind``) or as a callable."""
    if callable(init):
        return init
    return get_init(init, kind)
