"""Memory of any layer (rnnmem.layer_memory): the linearization at rest against closed forms,
Orhan & Pitkow's J_tot through it, and Jaeger's memory capacity of the layer itself."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnmem
from rnnmem.layer_memory import (
    fisher_along_input,
    fisher_summary,
    linearize,
    linearize_along,
    memory_capacity,
)
from rnnmem.memory import chain_memory_closed_form, fisher_memory, total_memory
from rnnmem.nn import build_layer


def test_a_diagonal_lru_has_exactly_the_memory_of_a_normal_network():
    layer = build_layer("lru", 3, 16, generator=torch.Generator().manual_seed(0)).double()
    A, v = linearize(layer, 3)
    assert A.shape == (32, 32)  # the complex state as real and imaginary parts
    assert torch.allclose(A @ A.T, A.T @ A, atol=1e-12)  # normal: a diagonal λ, realified
    assert torch.linalg.eigvals(A).abs().max() < 1  # the ring init: |λ| ≤ r_max < 1
    for noise in (1.0, 0.1):  # J_tot = ‖v‖²/ε, Orhan & Pitkow §2.1
        assert total_memory(A, v, noise=noise) == pytest.approx(
            v.pow(2).sum().item() / noise, rel=1e-9)
    summary = fisher_summary(layer, 3)
    assert summary["J_tot_normalized"] == pytest.approx(1.0, rel=1e-9)
    assert summary["error"] is None


@pytest.mark.parametrize("alpha", [1.0, 0.9, 1.2])
def test_a_linear_chain_has_the_closed_form_memory(alpha):
    N = 12
    layer = build_layer("lt-rnn", 2, N, init="chain", gain=alpha, input_init="source",
                        input_activation="none", clip=1000.0,
                        generator=torch.Generator().manual_seed(0)).double()
    A, v = linearize(layer, 2, channel=0)
    assert torch.equal(A, layer.V.detach())  # h_t = U x_t + b + V h_{t-1}: ∂h_t/∂h_{t-1} = V
    assert torch.equal(v, layer.U.weight.detach()[:, 0])
    assert v.nonzero().flatten().tolist() == [0]  # the input enters at the chain's source
    J = fisher_memory(A, v, k_max=20) / v.pow(2).sum()
    assert torch.allclose(J, chain_memory_closed_form(alpha, N, 20), atol=1e-10)
    assert fisher_summary(layer, 2, channel=0)["J_tot_normalized"] == pytest.approx(
        chain_memory_closed_form(alpha, N, N).sum().item(), rel=1e-6)


class LeakyTanh(nn.Module):
    """A plugin's layer, as a user writes one: states only, no forward_state."""

    def __init__(self, n_inputs: int, hidden: int, *, leak: float = 0.5, generator=None):
        super().__init__()
        self.leak, self.hidden = leak, hidden
        self.U = nn.Linear(n_inputs, hidden)
        self.V = nn.Parameter(torch.randn(hidden, hidden, generator=generator) / hidden**0.5)

    def forward(self, x, h0=None):
        h = x.new_zeros(x.shape[1], self.hidden) if h0 is None else h0
        out = []
        for u in self.U(x):
            h = (1 - self.leak) * h + self.leak * torch.tanh(u + h @ self.V.T)
            out.append(h)
        return torch.stack(out)


def test_a_plugin_layer_is_linearized_through_its_interface_alone():
    layer = LeakyTanh(3, 7, leak=0.3, generator=torch.Generator().manual_seed(1)).double()
    with torch.no_grad():
        layer.U.bias.zero_()  # rest is h = 0, where tanh' = 1
    A, v = linearize(layer, 3, channel=2)
    expected = 0.7 * torch.eye(7, dtype=torch.float64) + 0.3 * layer.V.detach()
    assert torch.allclose(A, expected, atol=1e-12)
    assert torch.allclose(v, 0.3 * layer.U.weight.detach()[:, 2], atol=1e-12)


def test_a_gated_layers_linearization_is_its_one_step_derivative():
    layer = build_layer("lstm", 2, 5, generator=torch.Generator().manual_seed(0)).double()
    A, v = linearize(layer, 2, settle=0)
    assert A.shape == (10, 10)  # (h, c)
    # central differences of one step at the zero state, zero input
    eps, columns = 1e-6, []
    for i in range(10):
        z = torch.zeros(10, dtype=torch.float64)
        z[i] = eps
        plus = layer.forward_state(torch.zeros(1, 1, 2, dtype=torch.float64),
                                   (z[:5].reshape(1, 5), z[5:].reshape(1, 5)))[1]
        minus = layer.forward_state(torch.zeros(1, 1, 2, dtype=torch.float64),
                                    (-z[:5].reshape(1, 5), -z[5:].reshape(1, 5)))[1]
        columns.append((torch.cat([p.flatten() for p in plus])
                        - torch.cat([m.flatten() for m in minus])) / (2 * eps))
    assert torch.allclose(A, torch.stack(columns, 1).detach(), atol=1e-7)


def test_memory_capacity_of_a_linear_network_is_its_size_and_noise_lowers_it():
    N = 8
    layer = build_layer("lt-rnn", 1, N, init="orthogonal", gain=0.8, input_activation="none",
                        generator=torch.Generator().manual_seed(0)).double()
    clean = memory_capacity(layer, 1, length=60)  # 0.8^60: nothing left past the lags
    assert clean["MC"] == pytest.approx(N, abs=0.15)  # Jaeger 2002: MC = N, noise-free
    noisy = memory_capacity(layer, 1, length=40, noise=0.5)
    assert 0.5 < noisy["MC"] < clean["MC"] - 1
    assert memory_capacity(layer, 1, length=40, noise=0.5)["r2"] == noisy["r2"]  # seeded
    with pytest.raises(ValueError, match="noise must be"):
        memory_capacity(layer, 1, noise=-1.0)


def test_memory_analyze_reports_both_measures_for_a_plugin_model(tmp_path, capsys):
    from rnnmem.cli import main
    from rnnmem.registry import model_specs

    if "leaky-tanh-test" not in model_specs():
        rnnmem.register_model("leaky-tanh-test", LeakyTanh, inits=())
    run = tmp_path / "run"
    assert main(["train", "--task", "copy", "--T", "5", "--S", "2", "--K", "3", "--hidden", "6",
                 "--model", "leaky-tanh-test", "--steps", "2", "--eval-every", "1",
                 "--val-size", "4", "--batch", "4", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["memory", "analyze", str(run), "--out", str(tmp_path / "a"),
                 "--length", "20"]) == 0
    out = capsys.readouterr().out
    assert "J_tot of the linearization at rest" in out and "memory capacity" in out
    assert "along an N(0, 1) input" in out
    assert "no weight analysis" in out  # it has no recurrent_matrix()


def test_along_an_input_an_lti_layer_keeps_its_memory_and_a_selective_one_moves():
    """The linearization along an input (#41): for the LRU (linear, input-independent) it is
    the finite-horizon J at rest exactly; a selective layer's transition changes with the
    input, and so does its memory."""
    lru = build_layer("lru", 2, 8, generator=torch.Generator().manual_seed(0)).double()
    along = fisher_along_input(lru, 2, length=30, noise=0.5)
    at_rest = fisher_summary(lru, 2, horizon=30, noise=0.5, settle=0)
    assert along["J_tot"] == pytest.approx(at_rest["J_tot"], rel=1e-9)
    assert along["J_tot_normalized"] == pytest.approx(1.0, rel=1e-9)  # normal: 1
    assert len(along["curve"]) == 30 and along["curve"][0] > along["curve"][-1]
    for name in ("s6", "rg-lru"):
        layer = build_layer(name, 2, 4, generator=torch.Generator().manual_seed(0)).double()
        A, v = linearize_along(layer, 2, torch.tensor([0.0, 3.0, -3.0], dtype=torch.float64))
        assert A.shape[0] == 3 and not torch.allclose(A[1], A[2])  # it reads its input
        along = fisher_along_input(layer, 2, length=20)
        assert along["error"] is None and along["J_tot"] != pytest.approx(
            fisher_summary(layer, 2, horizon=20, settle=0)["J_tot"], rel=1e-3)
