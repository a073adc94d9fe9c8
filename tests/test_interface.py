"""Every registered layer speaks torch.nn.RNN's interface (rnnmem.nn.interface): (output, h_n),
batch_first, unbatched input, hx in nn.RNN's layout, and variable lengths through
PackedSequence, exact against running each sequence alone."""

import importlib.util

import pytest
import torch
from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence

from rnnmem.nn import build_layer
from rnnmem.registry import model_specs

MODELS = [name for name, spec in model_specs().items() if spec.builtin]
COMPLEX_STATE = ("urnn", "lru")  # a complex state (the LRU's is not its output either)
# the blocks carry a tuple of their layers' states (depth 2): complex LRU states, or minGRU's
# at the inner width (1.5 H)
BLOCK_STATES = {"lru-block": (torch.complex128, 1.0), "mingru-block": (torch.float64, 1.5),
                # Mamba's: SSM states (2H inner × 16) and the conv's last 3 inputs (2H each)
                "mamba-block": (torch.float64, 38.0)}
STATE_WIDTH = {"s6": 16}  # S6's state: d_state (16) states per channel
N_IN, H = 3, 6


def layer_of(name):
    torch.manual_seed(0)
    return build_layer(name, N_IN, H, generator=torch.Generator().manual_seed(0)).double()


def state_like(name, B):
    """A non-zero initial state in hx's layout: (1, B, H); the LSTM's a pair; the uRNN's and
    the LRU's complex."""
    g = torch.Generator().manual_seed(1)
    if name in BLOCK_STATES:
        dtype, width = BLOCK_STATES[name]
        return tuple(0.1 * torch.randn(1, B, int(width * H), generator=g, dtype=dtype)
                     for _ in range(2))
    if name == "lstm":
        return tuple(0.1 * torch.randn(1, B, H, generator=g, dtype=torch.float64)
                     for _ in range(2))
    if name in COMPLEX_STATE:
        return 0.1 * torch.randn(1, B, H, generator=g, dtype=torch.complex128)
    return 0.1 * torch.randn(1, B, STATE_WIDTH.get(name, 1) * H, generator=g,
                             dtype=torch.float64)


def close(a, b):
    if isinstance(a, tuple):
        return all(close(x, y) for x, y in zip(a, b, strict=True))
    return torch.allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("name", MODELS)
def test_output_and_final_state_like_torch_nn_rnn(name):
    layer = layer_of(name)
    x = torch.randn(7, 4, N_IN, dtype=torch.float64)
    output, h_n = layer(x)
    width = 2 * H if name == "urnn" else H  # the uRNN's output is [Re h, Im h]
    assert output.shape == (7, 4, width)
    if name in BLOCK_STATES:
        assert [s.shape for s in h_n] == [s.shape for s in state_like(name, 4)]
    else:
        final = h_n[0] if name == "lstm" else h_n
        assert final.shape == (1, 4, STATE_WIDTH.get(name, 1) * H)
    if name not in ("lstm", *COMPLEX_STATE, *BLOCK_STATES, *STATE_WIDTH):
        assert torch.equal(final[0], output[-1])  # the state is the last output
    hx = state_like(name, 4)
    out_hx, h_hx = layer(x, hx)
    assert not torch.allclose(out_hx, output)  # hx is used
    layer.batch_first = True
    out_bf, h_bf = layer(x.transpose(0, 1), hx)
    assert close(out_bf.transpose(0, 1), out_hx) and close(h_bf, h_hx)  # hx keeps its layout
    layer.batch_first = False
    one, h_one = layer(x[:, 1])  # unbatched (L, n_inputs)
    assert close(one, output[:, 1])
    first = h_one[0] if isinstance(h_one, tuple) else h_one
    assert first.shape == (1, first.shape[-1])
    assert first.shape[-1] in (H, int(1.5 * H), 38 * H, STATE_WIDTH.get(name, 1) * H)


@pytest.mark.parametrize("name", MODELS)
def test_packed_sequences_are_exact_against_each_sequence_alone(name):
    layer = layer_of(name)
    g = torch.Generator().manual_seed(2)
    seqs = [torch.randn(n, N_IN, generator=g, dtype=torch.float64) for n in (5, 9, 2)]
    packed_out, h_n = layer(pack_sequence(seqs, enforce_sorted=False))
    padded, lengths = pad_packed_sequence(packed_out)
    assert lengths.tolist() == [5, 9, 2]
    for b, seq in enumerate(seqs):
        alone, h_alone = layer(seq[:, None])
        assert close(padded[: len(seq), b], alone[:, 0]), b
        if isinstance(h_n, tuple):  # the LSTM's (h, c), a block's layers
            assert close(tuple(h[:, b] for h in h_n), tuple(h[:, 0] for h in h_alone)), b
        else:
            assert close(h_n[:, b], h_alone[:, 0]), b


def test_bad_hx_is_one_clear_error():
    layer = layer_of("lt-rnn")
    with pytest.raises(ValueError, match=r"hx must have shape \(1, B, H\)"):
        layer(torch.zeros(4, 2, N_IN, dtype=torch.float64), torch.zeros(2, H))
    with pytest.raises(ValueError, match="expects input"):
        layer(torch.zeros(4, dtype=torch.float64))  # neither (L, B, n) nor (L, n)


# ---------------------------------------------------------------- the diagonal models' kernels

@pytest.mark.parametrize("method", ["sequential", "parallel"])
@pytest.mark.parametrize("complex_", [False, True])
def test_both_linear_scans_equal_the_step_by_step_one_with_gradients(complex_, method):
    from functools import partial

    from rnnmem.nn.linear_scan import linear_scan, linear_scan_reference

    g = torch.Generator().manual_seed(3)

    def draw(*shape, scale=1.0):
        x = scale * torch.randn(*shape, generator=g, dtype=torch.float64)
        if complex_:
            x = torch.complex(x, scale * torch.randn(*shape, generator=g, dtype=torch.float64))
        return x

    scan = partial(linear_scan, method=method)
    for T in (1, 2, 7, 16, 33):
        a, b, x0 = draw(T, 2, 5, scale=0.5), draw(T, 2, 5), draw(2, 5)
        for coefficient in (a, a[0, 0]):  # time-varying (minGRU) and constant (the LRU's λ)
            for start in (x0, None):
                assert torch.allclose(scan(coefficient, b, start),
                                      linear_scan_reference(coefficient, b, start), atol=1e-12)
    a, b, x0, lam = draw(6, 2, 3, scale=0.5), draw(6, 2, 3), draw(2, 3), draw(3, scale=0.5)
    for inputs in ((a, b, x0), (a, b, None), (lam, b, x0), (lam, b, None)):
        inputs = tuple(t.requires_grad_() if t is not None else None for t in inputs)
        assert torch.autograd.gradcheck(scan, inputs)
        assert torch.autograd.gradgradcheck(scan, inputs)


def test_the_fused_selective_scan_equals_the_reference_with_gradients():
    from rnnmem.nn.selective_scan import selective_scan, selective_scan_reference

    g = torch.Generator().manual_seed(5)

    def draw(T, h0):
        u, B, C = (torch.randn(T, 2, n, generator=g, dtype=torch.float64) for n in (3, 4, 4))
        delta = torch.nn.functional.softplus(torch.randn(T, 2, 3, generator=g,
                                                         dtype=torch.float64))
        A = -0.1 - torch.rand(3, 4, generator=g, dtype=torch.float64)
        start = torch.randn(2, 12, generator=g, dtype=torch.float64) if h0 else None
        return [t.requires_grad_() if t is not None else None
                for t in (u, delta, A, B, C, start)]

    for T in (1, 2, 6):
        for h0 in (True, False):
            inputs = draw(T, h0)
            for fused, ref in zip(selective_scan(*inputs), selective_scan_reference(*inputs),
                                  strict=True):
                assert torch.allclose(fused, ref, atol=1e-12)
            assert torch.autograd.gradcheck(selective_scan, tuple(inputs))
    inputs = tuple(draw(4, True))
    assert torch.autograd.gradgradcheck(selective_scan, inputs)
    # a gradient through the states alone (the carried state, a packed sequence's last state)
    for take in (lambda y, s: s[-1].sum(), lambda y, s: y.sum()):
        fused, ref = (torch.autograd.grad(take(*scan(*inputs)), inputs, allow_unused=True,
                                          materialize_grads=True)
                      for scan in (selective_scan, selective_scan_reference))
        assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(fused, ref, strict=True))


@pytest.mark.parametrize("name", ["lru", "mingru", "lru-block", "mingru-block", "s6",
                                  "mamba-block", "rg-lru"])
def test_the_diagonal_models_fused_and_reference_agree_with_gradients(name):
    g = torch.Generator().manual_seed(4)
    fused = build_layer(name, N_IN, H, generator=torch.Generator().manual_seed(0)).double()
    ref = build_layer(name, N_IN, H, fused=False,
                      generator=torch.Generator().manual_seed(0)).double()
    x = torch.randn(11, 3, N_IN, generator=g, dtype=torch.float64)
    (y1, _), (y2, _) = fused(x), ref(x)
    assert torch.allclose(y1, y2, atol=1e-12)
    y1.pow(2).sum().backward()
    y2.pow(2).sum().backward()
    for (n, p), q in zip(fused.named_parameters(), ref.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=1e-10), n


@pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                    reason="numba not installed (pip install 'rnnmem[fast]'; CI installs it)")
def test_the_compiled_scans_equal_pytorchs_with_gradients():
    from rnnmem.nn.compiled_scan import (
        gated_scan,
        input_product,
        packed_gated_scan,
        reference_gated_scan,
    )

    g = torch.Generator().manual_seed(6)
    for T in (1, 2, 9):
        gate, candidate = (torch.randn(T, 2, 5, generator=g, dtype=torch.float64,
                                       requires_grad=True) for _ in range(2))
        start = torch.randn(2, 5, generator=g, dtype=torch.float64, requires_grad=True)
        for h0 in (start, None):
            inputs = (gate, candidate, h0)
            assert torch.allclose(gated_scan(*inputs), reference_gated_scan(*inputs),
                                  atol=1e-12)
            assert torch.autograd.gradcheck(gated_scan, inputs)
    assert torch.autograd.gradgradcheck(gated_scan, (gate, candidate, start))
    # minGRU's one projection [gate, candidate], read in place, its gradient one tensor
    pre = torch.cat([gate, candidate], -1).detach().requires_grad_()
    for h0 in (start, None):
        assert torch.allclose(packed_gated_scan(pre, h0),
                              reference_gated_scan(*pre.chunk(2, -1), h0), atol=1e-12)
        assert torch.autograd.gradcheck(packed_gated_scan, (pre, h0))
    assert torch.autograd.gradgradcheck(packed_gated_scan, (pre, start))
    # non-contiguous halves of one projection, in float32: PyTorch's values up to rounding
    pre = torch.randn(50, 3, 8, generator=g, requires_grad=True)
    weights = torch.randn(50, 3, 4, generator=g)
    fused, ref = (torch.autograd.grad((scan(*pre.chunk(2, -1)) * weights).sum(), pre)[0]
                  for scan in (gated_scan, reference_gated_scan))
    assert torch.allclose(fused, ref, atol=1e-5)
    # its input product: F.linear's values and gradients, its weight gradient formed otherwise
    x = torch.randn(6, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    weight, bias = (torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
                    for shape in ((7, 4), (7,)))
    assert torch.autograd.gradcheck(input_product, (x, weight, bias))
    assert torch.autograd.gradgradcheck(input_product, (x, weight, bias))
    probe = torch.randn(6, 3, 7, generator=g, dtype=torch.float64)
    grads = [torch.autograd.grad((f(x, weight, bias) * probe).sum(), (x, weight, bias))
             for f in (input_product, torch.nn.functional.linear)]
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(*grads, strict=True))
    # the LRU's diagonal scan, planar ([Re; Im] halves), against PyTorch's complex scan
    from rnnmem.nn.compiled_scan import diagonal_scan, reference_diagonal_scan

    for T in (1, 2, 9):
        lam = (0.6 * torch.randn(2, 5, generator=g, dtype=torch.float64)).requires_grad_()
        drive = torch.randn(T, 2, 10, generator=g, dtype=torch.float64, requires_grad=True)
        start = torch.randn(2, 10, generator=g, dtype=torch.float64, requires_grad=True)
        for x0 in (start, None):
            assert torch.allclose(diagonal_scan(lam, drive, x0),
                                  reference_diagonal_scan(lam, drive, x0), atol=1e-12)
            assert torch.autograd.gradcheck(diagonal_scan, (lam, drive, x0))
    assert torch.autograd.gradgradcheck(diagonal_scan, (lam, drive, start))
    # the layers with scan "compiled" against their per-step references, from a given state
    for name in ("mingru", "mingru-block", "lru", "lru-block"):
        x = torch.randn(11, 3, N_IN, generator=g, dtype=torch.float64)
        layers = [build_layer(name, N_IN, H, generator=torch.Generator().manual_seed(0),
                              **options).double()
                  for options in (dict(scan="compiled"), dict(fused=False))]
        (y1, s1), (y2, s2) = (layer(x) for layer in layers)
        if name == "lru":  # and from a given (complex) state
            (y1, s1), (y2, s2) = (layer(x, s1.detach()) for layer in layers)
        assert torch.allclose(y1, y2, atol=1e-12)
        for s_1, s_2 in zip(*map(torch.utils._pytree.tree_leaves, (s1, s2)), strict=True):
            assert torch.allclose(s_1, s_2, atol=1e-12)
        (y1.pow(2).sum() + sum(s.abs().sum() for s in torch.utils._pytree.tree_leaves(s1))
         ).backward()
        (y2.pow(2).sum() + sum(s.abs().sum() for s in torch.utils._pytree.tree_leaves(s2))
         ).backward()
        for (n, p), (_, q) in zip(*(layer.named_parameters() for layer in layers), strict=True):
            assert torch.allclose(p.grad, q.grad, atol=1e-10), (name, n)


def test_a_compiled_scan_without_numba_is_one_clear_error(monkeypatch):
    from rnnmem.nn import compiled_scan

    monkeypatch.setattr(compiled_scan.importlib.util, "find_spec", lambda name: None)
    for name in ("mingru", "lru"):
        with pytest.raises(ValueError, match="needs numba: pip install numba"):
            build_layer(name, N_IN, H, scan="compiled")


def test_the_lru_starts_on_its_ring_with_its_normalization():
    import math

    from rnnmem.nn import LRU

    lru = LRU(2, 512, r_min=0.4, r_max=0.9, max_phase=math.pi / 4,
              generator=torch.Generator().manual_seed(0))
    lam = lru.eigenvalues().detach()
    assert lam.abs().min() >= 0.4 - 1e-6 and lam.abs().max() <= 0.9 + 1e-6
    assert lam.angle().min() >= 0 and lam.angle().max() <= math.pi / 4 + 1e-6
    # |λ|² uniform over [r_min², r_max²]: its mean is their midpoint
    assert (lam.abs() ** 2).mean().item() == pytest.approx((0.16 + 0.81) / 2, abs=0.03)
    gamma = torch.exp(lru.gamma_log).detach()
    assert torch.allclose(gamma, torch.sqrt(1 - lam.abs() ** 2), atol=1e-6)
    with pytest.raises(ValueError, match="r_min < r_max"):
        LRU(2, 4, r_min=0.9, r_max=0.5)


def test_every_builtin_layer_takes_batch_first_in_its_constructor():
    from rnnmem.nn.ltrnn import LTRNN
    from rnnmem.nn.model import build_layer
    from rnnmem.registry import model_names, model_spec

    x = torch.randn(5, 3, 2)  # (T, B, n) with T != B
    # not the plugins that other tests register
    builtins = [name for name in model_names() if model_spec(name).builtin]
    assert len(builtins) >= 10
    for name in builtins:
        time_first = build_layer(name, 2, 4, generator=torch.Generator().manual_seed(0))
        batch_first = build_layer(name, 2, 4, generator=torch.Generator().manual_seed(0),
                                  batch_first=True)
        assert "batch_first" not in model_spec(name).options  # not a model option
        out, _ = time_first(x)
        out_bf, _ = batch_first(x.transpose(0, 1))
        torch.testing.assert_close(out_bf, out.transpose(0, 1), msg=name)
    assert LTRNN(2, 4, batch_first=True).batch_first and not LTRNN(2, 4).batch_first
