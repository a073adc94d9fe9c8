"""Memory of linear and non-linear networks (Orhan & Pitkow §2.1-§2.2, after Ganguli et al. 2008).

Linear network ``h_t = W h_{t-1} + v s_t + z_t``, noise ``z_t ~ N(0, ε I)``:

- Fisher memory curve ``J(k) = vᵀ (W^k)ᵀ C⁻¹ W^k v / ε`` with ``C = Σ_{k≥0} W^k (W^k)ᵀ``, the
  stationary noise covariance (per unit ε), which solves ``C = W C Wᵀ + I``.
- Total memory ``J_tot = Σ_k J(k)``: exactly ‖v‖²/ε for every normal W, at most N/ε in general.

``C`` is summed by the doubling recursion ``C ← C + A C Aᵀ, A ← A²`` (Smith's method), carried
out on square-root factors (``C = L Lᵀ``, re-triangularized by QR) so that strongly non-normal W,
whose C is badly conditioned, keep their accuracy. It needs log₂(memory length) steps, is exact
for a nilpotent W (a chain: A becomes 0 and the sum ends), and, unlike a generic Lyapunov solver,
is not ill-posed there. The stationary C exists only when W^k → 0 (spectral radius ρ(W) < 1);
otherwise pass ``horizon`` (the network started ``horizon`` steps ago from rest), for any W. Every
result is checked against its bounds (J(k) ≤ ‖v‖²/ε, J_tot ≤ N‖v‖²/ε): one that leaves them
(W^k growing too fast over the horizon to be summed accurately) raises
:class:`MemoryOutOfBounds` instead of being returned.

The non-linear toy of §2.2 (:func:`decoding_curve`) drives ``h_t = f(W h_{t-1} + v s_t) + noise``
with i.i.d. signals and measures how well a ridge-regression decoder recovers s_{t-k} from h_t.
"""

from __future__ import annotations

import math

import torch

from .errors import RnnmemError
from .nn.scan import scan


class NoStationaryState(RnnmemError):
    """The stationary covariance does not exist (spectral radius ρ(W) ≥ 1), or W^k overflows
    before it vanishes."""


class MemoryOutOfBounds(RnnmemError):
    """A computed memory that leaves its bound (J(k) ≤ ‖v‖²/ε, J_tot ≤ N‖v‖²/ε): the sum lost
    its accuracy, and the number would be wrong."""


BOUND_SLACK = 1e-6  # relative: rounding may touch a bound (a chain's J_tot is N), not cross it


def _check_bounds(J, W: torch.Tensor, v: torch.Tensor, noise: float, what: str) -> None:
    """J(k) ≤ ‖v‖²/ε for each k and J_tot ≤ N‖v‖²/ε (C ⪰ W^k (W^k)ᵀ and C ⪰ C_v/‖v‖²)."""
    per_lag = v.pow(2).sum().item() / noise
    bound = W.shape[0] * per_lag if what == "J_tot" else per_lag
    worst = J.max().item() if isinstance(J, torch.Tensor) and J.numel() else float(J)
    if not math.isfinite(worst) or worst > bound * (1 + BOUND_SLACK):
        raise MemoryOutOfBounds(
            f"{what} = {worst:.6g} leaves its bound {bound:.6g} (N‖v‖²/ε for J_tot, ‖v‖²/ε "
            "per lag): W^k grows too fast for this horizon to be summed accurately; give a "
            "shorter horizon")


def spectral_radius(W: torch.Tensor) -> float:
    """Largest |eigenvalue| as LAPACK computes it (inaccurate for strongly non-normal W)."""
    return torch.linalg.eigvals(W.double()).abs().max().item()


def _compress(M: torch.Tensor) -> torch.Tensor:
    """A factor L (N, ≤N) with L Lᵀ = M Mᵀ: a wide (N, m) factor is cut to N columns by QR."""
    if M.shape[1] <= M.shape[0]:
        return M
    return torch.linalg.qr(M.T, mode="r")[1].T  # Mᵀ = Q R  =>  M Mᵀ = Rᵀ R


def _stationary_factor(W: torch.Tensor, F: torch.Tensor, tol: float = 1e-16,
                       max_doublings: int = 48) -> torch.Tensor:
    """G with G Gᵀ = Σ_{k≥0} W^k F Fᵀ (W^k)ᵀ, by doubling on square-root factors.

    Working with factors instead of the covariance itself keeps the condition number at its
    square root, which matters for strongly non-normal W (a feedback chain's C reaches 1e16).
    """
    G, A = F, W
    for _ in range(max_doublings):
        AG = A @ G
        if not torch.isfinite(AG).all():  # (inf <= tol·inf would read as converged)
            break
        if AG.norm() <= tol * G.norm():
            return G
        G = _compress(torch.cat([G, AG], 1))
        A = A @ A
        if not torch.isfinite(A).all() or A.abs().max() > 1e200:
            break
    raise NoStationaryState(
        "the stationary covariance does not exist: W^k does not vanish (spectral radius >= 1) "
        "or overflows first; scale W down or give a finite horizon")


def _finite_factor(W: torch.Tensor, F: torch.Tensor, n: int) -> torch.Tensor:
    """G with G Gᵀ = Σ_{k<n} W^k F Fᵀ (W^k)ᵀ, from power-of-two blocks:
    S_{a+b} = S_a + W^a S_b (W^a)ᵀ."""
    if n < 1:
        raise ValueError(f"horizon must be a positive integer, got {n!r}")
    total = F.new_zeros(F.shape[0], 0)
    shift = torch.eye(W.shape[0], dtype=W.dtype)  # W^(length summed so far)
    block, power = F, W  # factor of S_{2^j}, and W^{2^j}
    while n:
        if n & 1:
            total = _compress(torch.cat([total, shift @ block], 1))
            shift = shift @ power
        n >>= 1
        if n:
            block = _compress(torch.cat([block, power @ block], 1))
            power = power @ power
    return total


def noise_factor(W: torch.Tensor, *, horizon: int | None = None) -> torch.Tensor:
    """Lower-triangular L with L Lᵀ = C = Σ_k W^k (W^k)ᵀ (k < horizon, or all k ≥ 0)."""
    W = W.double()
    eye = torch.eye(W.shape[0], dtype=torch.float64)
    if horizon is None:
        return _stationary_factor(W, eye)
    return _finite_factor(W, eye, horizon)


def noise_covariance(W: torch.Tensor, *, horizon: int | None = None) -> torch.Tensor:
    """C = Σ_k W^k (W^k)ᵀ over k < horizon, or over all k ≥ 0 (stationary) if horizon is None.

    Raises :class:`NoStationaryState` when the stationary sum diverges (ρ(W) ≥ 1).
    """
    L = noise_factor(W, horizon=horizon)
    return L @ L.T


def _whiten(L: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    return torch.linalg.solve_triangular(L, X, upper=False)


def fisher_memory(
    W: torch.Tensor,
    v: torch.Tensor,
    *,
    k_max: int,
    noise: float = 1.0,
    horizon: int | None = None,
) -> torch.Tensor:
    """Fisher memory curve J(k), k = 0 … k_max−1 (float64).

    ``noise`` is the variance ε of each unit's noise; ``horizon`` as in :func:`noise_covariance`
    (with a horizon, J(k) = 0 for k ≥ horizon: the signal is older than the network).

    Example:
        >>> from rnnmem.init import chain_
        >>> J = fisher_memory(chain_(torch.empty(5, 5)), torch.eye(5)[0], k_max=6)
        >>> [round(x, 3) for x in J.tolist()]  # 1/(k+1) for α = 1, then 0
        [1.0, 0.5, 0.333, 0.25, 0.2, 0.0]
    """
    if not noise > 0:
        raise ValueError(f"noise variance must be > 0, got {noise!r}")
    W, v = W.double(), v.double()
    L = noise_factor(W, horizon=horizon)
    traces = torch.empty(W.shape[0], k_max, dtype=torch.float64)  # columns W^k v
    x = v.clone()
    for k in range(k_max):
        traces[:, k] = x
        x = W @ x
    if horizon is not None:
        traces[:, horizon:] = 0.0
    J = _whiten(L, traces).pow(2).sum(0) / noise
    _check_bounds(J, W, v, noise, "J(k)")
    return J


def total_memory(W: torch.Tensor, v: torch.Tensor, *, noise: float = 1.0,
                 horizon: int | None = None) -> float:
    """J_tot = Σ_k J(k) exactly: tr(C⁻¹ C_v) = ‖L⁻¹ G‖_F².

    Here C = L Lᵀ and C_v = Σ_k W^k v vᵀ (W^k)ᵀ = G Gᵀ.
    """
    W, v = W.double(), v.double()
    L = noise_factor(W, horizon=horizon)
    F = v[:, None]
    G = _stationary_factor(W, F) if horizon is None else _finite_factor(W, F, horizon)
    J_tot = _whiten(L, G).pow(2).sum().item() / noise
    _check_bounds(J_tot, W, v, noise, "J_tot")
    return J_tot


def pulse_response(W: torch.Tensor, v: torch.Tensor, steps: int) -> torch.Tensor:
    """‖W^t v‖ for t = 0 … steps−1: transient amplification of a pulse (Orhan & Pitkow Fig. 1c)."""
    W, x = W.double(), v.double().clone()
    norms = torch.empty(steps, dtype=torch.float64)
    for t in range(steps):
        norms[t] = x.norm()
        x = W @ x
    return norms


# ---------------------------------------------------------------- non-linear toy (§2.2)

TOY_NONLINEARITIES = ("linear", "elu", "tanh", "relu")


def simulate(W: torch.Tensor, v: torch.Tensor, signals: torch.Tensor, *,
             nonlinearity: str = "linear", noise: float = 0.0,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Final states h_L (B, N) of ``h_t = f(W h_{t-1} + v s_t + z_t)`` from h_0 = 0.

    ``signals`` (L, B); ``noise`` is the standard deviation of the Gaussian z_t (inside f, so
    for the linear network it is the model of :func:`fisher_memory` with ε = noise²).
    """
    if nonlinearity not in TOY_NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {', '.join(TOY_NONLINEARITIES)}; "
                         f"got {nonlinearity!r}")
    drive = signals.double()[..., None] * v.double()  # (L, B, N)
    if noise:
        drive = drive + noise * torch.randn(drive.shape, generator=generator,
                                            dtype=torch.float64)
    activation = "identity" if nonlinearity == "linear" else nonlinearity
    return scan(drive, W.double(), activation=activation)[-1]


def ridge_fit(X: torch.Tensor, Y: torch.Tensor, ridge: float) -> torch.Tensor:
    """Weights B minimising ‖X B − Y‖² + ridge·‖B‖² (X with a bias column appended)."""
    X1 = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], 1)
    gram = X1.T @ X1 + ridge * torch.eye(X1.shape[1], dtype=X.dtype)
    return torch.linalg.solve(gram, X1.T @ Y)


def ridge_predict(X: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    return torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], 1) @ B


def decoding_curve(W: torch.Tensor, v: torch.Tensor, *, length: int = 100,
                   nonlinearity: str = "linear", noise: float = 0.0, train: int = 4000,
                   test: int = 2000, ridge: float = 1e-8, seed: int = 0) -> torch.Tensor:
    """Held-out R² of decoding s_{L-k} from h_L, for lags k = 0 … L−1 (Orhan & Pitkow Fig. 2).

    Signals are i.i.d. N(0, 1). A ridge decoder per lag is fit on ``train`` sequences and scored
    on ``test`` others; R² = 1 − MSE / Var(s) (1: perfect, 0: nothing).
    """
    g = torch.Generator().manual_seed(seed)
    signals = torch.randn(length, train + test, generator=g, dtype=torch.float64)
    h = simulate(W, v, signals, nonlinearity=nonlinearity, noise=noise, generator=g)
    targets = signals.flip(0).T  # column k holds s_{L-k} (0-based: s[L-1-k])
    B = ridge_fit(h[:train], targets[:train], ridge)
    residual = ridge_predict(h[train:], B) - targets[train:]
    return 1 - residual.pow(2).mean(0) / targets[train:].var(0)


def chain_memory_closed_form(alpha: float, N: int, k_max: int) -> torch.Tensor:
    """J(k) of a length-N chain with input at its source: α^{2k}/Σ_{j≤k} α^{2j} for k < N."""
    k = torch.arange(k_max, dtype=torch.float64)
    a2 = torch.tensor(alpha, dtype=torch.float64) ** 2
    denominator = (k + 1) if math.isclose(alpha**2, 1.0) else (1 - a2 ** (k + 1)) / (1 - a2)
    return torch.where(k < N, a2**k / denominator, torch.zeros(()))
