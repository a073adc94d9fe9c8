import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnmem import init
from rnnmem.nn import build_model


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("n", [1, 2, 17, 80, 128])
def test_orthogonal_is_orthogonal(n):
    W = init.orthogonal_(torch.empty(n, n), generator=gen(n))
    assert torch.allclose(W.t() @ W, torch.eye(n), atol=1e-5)


def test_orthogonal_is_nearest_to_its_gaussian_draw():
    # Henaff §4.1: the Gaussian draw projected by setting its singular values to 1.
    g = torch.empty(6, 6, dtype=torch.float64)
    init.gaussian_(g, generator=gen(3))
    Q = init.orthogonal_(torch.empty(6, 6, dtype=torch.float64), generator=gen(3))
    u, s, vh = torch.linalg.svd(g)
    assert torch.allclose(Q, u @ vh)
    # Q is the closest orthogonal matrix: no random orthogonal matrix is closer.
    for seed in range(20):
        R = init.orthogonal_(torch.empty(6, 6, dtype=torch.float64), generator=gen(100 + seed))
        assert (g - Q).norm() <= (g - R).norm()


def test_orthogonal_gain_and_reproducibility():
    a = init.orthogonal_(torch.empty(5, 5), gain=0.5, generator=gen(1))
    b = init.orthogonal_(torch.empty(5, 5), gain=0.5, generator=gen(1))
    assert torch.equal(a, b)
    assert torch.allclose(torch.linalg.svdvals(a), torch.full((5,), 0.5), atol=1e-6)


def test_identity_and_gaussian():
    assert torch.equal(init.identity_(torch.empty(3, 3), gain=0.9), 0.9 * torch.eye(3))
    g = init.gaussian_(torch.empty(400, 400), gain=2.0, generator=gen())
    assert g.std().item() == pytest.approx(2.0 / 20, rel=0.02)


def test_chain_structure_and_nilpotent():
    W = init.chain_(torch.empty(5, 5), gain=1.03)
    expected = torch.zeros(5, 5)
    expected[1, 0] = expected[2, 1] = expected[3, 2] = expected[4, 3] = 1.03
    assert torch.equal(W, expected)
    assert torch.linalg.matrix_power(W, 5).abs().max() == 0


def test_feedback_chain_structure():
    W = init.feedback_chain_(torch.empty(4, 4), gain=0.99, feedback=0.05)
    assert torch.allclose(torch.diagonal(W, -1), torch.full((3,), 0.99))
    assert torch.allclose(torch.diagonal(W, 1), torch.full((3,), 0.05))
    assert W.diagonal().abs().max() == 0


def test_pulse_into_the_input_travels_down_the_chain():
    # The input lands on the chain's source and moves one unit further each step.
    N, d = 12, 3
    net = build_model("lt-rnn", d, 1, N, init="chain", gain=1.0, input_init="source",
                      input_gain=0.9)
    x = torch.zeros(N, 1, d)
    x[0, 0, 0] = 1.0
    with torch.no_grad():
        _, h = net(x)
    peaks = h[:, 0].abs().argmax(dim=1)
    assert torch.equal(peaks, torch.arange(N))
    assert torch.allclose(h[:, 0].abs().max(dim=1).values, torch.full((N,), 0.9))


def test_source_input_weights():
    U = init.source_input_(torch.empty(6, 2))
    assert torch.equal(U, 0.9 * torch.eye(6, 2))
    with pytest.raises(ValueError, match="at least as many units"):
        init.source_input_(torch.empty(2, 6))


def test_mixed_lstm_init():
    n = 6
    w = init.mixed_lstm_(torch.empty(4 * n, n), gain=1.02, ramp=0.01)
    i, f, g, o = w.chunk(4)
    assert torch.equal(g, init.chain_(torch.empty(n, n), gain=1.02))
    for block in (i, f, o):
        assert block[n - 1, 0].item() == pytest.approx(0.01)
        assert block[0, n - 1].item() == pytest.approx(-0.01)
        # Toeplitz: constant along every diagonal
        assert torch.allclose(torch.diagonal(block, 2), torch.diagonal(block, 2)[:1].expand(n - 2))
    with pytest.raises(ValueError, match=r"\(4N, N\)"):
        init.mixed_lstm_(torch.empty(5, 5))


def test_unknown_initializer_lists_valid_names():
    with pytest.raises(ValueError, match="orthogonal, identity, gaussian, chain, feedback-chain"):
        init.get_initializer("orthogonall")
    fn = init.get_initializer(init.identity_)
    assert fn is init.identity_


def test_model_accepts_callable_initializer():
    def half_identity_(tensor, gain=1.0, **_):
        return init.identity_(tensor, gain=0.5 * gain)

    net = build_model("lt-rnn", 3, 2, 4, init=half_identity_)
    assert torch.equal(net.rnn.V.detach(), 0.5 * torch.eye(4))


def test_non_square_recurrent_weight_rejected():
    with pytest.raises(ValueError, match="square"):
        init.chain_(torch.empty(3, 4))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), gain=st.floats(0.01, 2.0), seed=st.integers(0, 2**31))
def test_initializer_structure_any_size(n, gain, seed):
    Q = init.orthogonal_(torch.empty(n, n, dtype=torch.float64), gain=gain, generator=gen(seed))
    assert torch.allclose(Q.t() @ Q, gain**2 * torch.eye(n, dtype=torch.float64), atol=1e-9)
    C = init.chain_(torch.empty(n, n), gain=gain)
    assert torch.count_nonzero(C) == n - 1
    assert torch.equal(C, torch.diag_embed(torch.diagonal(C, -1), -1))
    F = init.feedback_chain_(torch.empty(n, n), gain=gain, feedback=0.03)
    assert torch.count_nonzero(F) == 2 * (n - 1)


@pytest.mark.parametrize("fn", [init.gaussian_, init.orthogonal_, init.identity_, init.chain_,
                                init.feedback_chain_, init.source_input_, init.toeplitz_ramp_])
def test_an_unknown_keyword_is_an_error_as_in_torch_nn_init(fn):
    W = torch.empty(4, 4)
    with pytest.raises(TypeError, match="alpha"):
        fn(W, alpha=1.5)  # once swallowed: chain_(W, alpha=1.5) silently used α = 1
    assert fn(W, generator=torch.Generator().manual_seed(0)) is W  # every one takes a generator


@pytest.mark.parametrize("shape", [(3, 7), (7, 3)])
def test_orthogonal_takes_rectangular_matrices(shape):
    W = init.orthogonal_(torch.empty(*shape, dtype=torch.float64), gain=2.0,
                         generator=torch.Generator().manual_seed(0))
    small = min(shape)
    gram = W @ W.T if shape[0] == small else W.T @ W
    assert torch.allclose(gram, 4.0 * torch.eye(small, dtype=torch.float64), atol=1e-12)
