import pytest
import torch

from rnnmem.nn import LSTM, build_model, l2_pool, scan, scan_reference
from rnnmem.nn.protocol import all_states

ACTIVATIONS = ["identity", "tanh", "relu", "elu", "modrelu"]


def modrelu_bias(activation, H, seed=9):
    if activation != "modrelu":
        return None
    g = torch.Generator().manual_seed(seed)
    return (0.3 * torch.randn(H, generator=g, dtype=torch.float64)).requires_grad_()


def random_problem(seed, T, B, H, scale=0.9):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(T, B, H, generator=g, dtype=torch.float64).requires_grad_()
    V = (scale * torch.randn(H, H, generator=g, dtype=torch.float64) / H**0.5).requires_grad_()
    h0 = torch.randn(B, H, generator=g, dtype=torch.float64).requires_grad_()
    return a, V, h0


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("clip", [None, 1.3])
@pytest.mark.parametrize("seed, T, B, H", [(0, 9, 3, 5), (1, 23, 1, 7), (2, 4, 6, 1), (3, 1, 2, 3)])
def test_fused_scan_matches_reference(activation, clip, seed, T, B, H):
    a, V, h0 = random_problem(seed, T, B, H, scale=1.5)
    b = modrelu_bias(activation, H)
    fused = scan(a, V, h0, activation=activation, clip=clip, bias=b)
    ref = scan_reference(a, V, h0, activation=activation, clip=clip, bias=b)
    assert torch.allclose(fused, ref, atol=1e-12)
    grad = torch.randn_like(fused)
    inputs = (a, V, h0) if b is None else (a, V, h0, b)
    g_fused = torch.autograd.grad(fused, inputs, grad)
    g_ref = torch.autograd.grad(ref, inputs, grad)
    for x, y in zip(g_fused, g_ref, strict=True):
        assert torch.allclose(x, y, atol=1e-10)


def test_clipping_actually_fires_in_the_comparison():
    a, V, h0 = random_problem(0, 9, 3, 5, scale=1.5)
    h = scan(a, V, h0, clip=1.3)
    assert torch.allclose(h.norm(dim=-1).max(), torch.tensor(1.3, dtype=torch.float64))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("clip", [None, 2.0])
def test_scan_gradcheck(activation, clip):
    a, V, h0 = random_problem(3, 6, 2, 4, scale=1.2)
    b = modrelu_bias(activation, 4)
    if b is None:
        assert torch.autograd.gradcheck(
            lambda a, V, h0: scan(a, V, h0, activation=activation, clip=clip), (a, V, h0))
    else:
        assert torch.autograd.gradcheck(
            lambda a, V, h0, b: scan(a, V, h0, activation=activation, clip=clip, bias=b),
            (a, V, h0, b))


def test_scan_rejects_bad_arguments():
    with pytest.raises(ValueError, match="activation must be one of"):
        scan(torch.zeros(2, 1, 3), torch.eye(3), activation="sigmoid")
    with pytest.raises(ValueError, match=r"V \(H, H\)"):
        scan(torch.zeros(2, 1, 3), torch.eye(2))
    with pytest.raises(ValueError, match="modrelu takes a bias"):
        scan(torch.zeros(2, 1, 3), torch.eye(3), activation="modrelu")


def test_lt_rnn_is_henaff_eq2_step_by_step():
    torch.manual_seed(0)
    net = build_model("lt-rnn", 3, 4, 6, input_activation="relu", clip=None).double()
    x = torch.randn(11, 2, 3, dtype=torch.float64)
    y, h = net(x)
    U, b, V = net.rnn.U.weight, net.rnn.U.bias, net.rnn.V
    W, c = net.readout.W.weight, net.readout.W.bias
    state = torch.zeros(2, 6, dtype=torch.float64)
    for t in range(11):
        state = torch.relu(x[t] @ U.t() + b) + state @ V.t()  # h_t = σ(U x_t + b) + V h_{t-1}
        assert torch.allclose(h[t], state)
        assert torch.allclose(y[t], state @ W.t() + c)  # y_t = W h_t


def test_srnn_is_henaff_eq1_step_by_step():
    torch.manual_seed(1)
    net = build_model("srnn", 3, 2, 5, activation="tanh", init="gaussian").double()
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    _, h = net(x)
    U, b, V = net.rnn.U.weight, net.rnn.U.bias, net.rnn.V
    state = torch.zeros(4, 5, dtype=torch.float64)
    for t in range(7):
        state = torch.tanh(x[t] @ U.t() + state @ V.t() + b)
        assert torch.allclose(h[t], state)


def test_activation_clipping_bounds_the_state():
    net = build_model("lt-rnn", 2, 1, 8, init="identity", gain=1.5, clip=10.0)
    _, h = net(torch.ones(50, 3, 2))
    assert h.norm(dim=-1).max().item() == pytest.approx(10.0, rel=1e-5)


def test_pooling_is_henaff_eq6():
    torch.manual_seed(2)
    k, d = 2, 4
    net = build_model("lt-rnn-pool", 3, 5, k * d, pool=k).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    y, h = net(x)
    W_I, c, W_P = net.readout.W.weight, net.readout.W.bias, net.readout.W_pool.weight
    for t in range(6):
        pooled = torch.stack([torch.sqrt(sum(h[t, :, k * i + j] ** 2 for j in range(k)))
                              for i in range(d)], dim=-1)  # P(h)_i = sqrt(Σ_j h_j²)
        assert torch.allclose(y[t], h[t] @ W_I.t() + pooled @ W_P.t() + c)


def test_l2_pool_gradient_is_finite_at_zero():
    h = torch.zeros(3, 4, requires_grad=True)
    l2_pool(h, 2).sum().backward()
    assert torch.isfinite(h.grad).all()
    with pytest.raises(ValueError, match="divisible"):
        l2_pool(torch.zeros(3, 5), 2)


def test_lstm_is_eqs_3_to_5():
    torch.manual_seed(3)
    cell = LSTM(3, 4, init="orthogonal").double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    h_all, (h_n, c_n) = cell(x)  # torch.nn.LSTM's interface
    lstm = cell.lstm
    W_ih, W_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
    h = c = torch.zeros(2, 4, dtype=torch.float64)
    for t in range(5):
        z = x[t] @ W_ih.t() + h @ W_hh.t() + bias
        i, f, g, o = z.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # eq. 4
        h = torch.sigmoid(o) * torch.tanh(c)  # eq. 5, no peepholes
        assert torch.allclose(h_all[t], h)


@pytest.mark.parametrize("init", ["plain", "orthogonal", "chain", "mixed"])
def test_lstm_inits(init):
    net = build_model("lstm", 3, 2, 6, init=init, gain=1.02)
    y, h = net(torch.randn(4, 2, 3))
    assert y.shape == (4, 2, 2) and h.shape == (4, 2, 6)
    if init == "mixed":
        assert net.recurrent_weight[2 * 6 + 1, 0].item() == pytest.approx(1.02)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="valid models: lt-rnn, lt-rnn-pool, srnn, irnn, lstm"):
        build_model("transformer", 1, 1, 4)


def test_unknown_lstm_init():
    with pytest.raises(ValueError, match="plain, orthogonal, chain, mixed"):
        LSTM(2, 3, init="identity")


def test_fused_and_reference_models_agree():
    g = torch.Generator().manual_seed(0)
    a = build_model("srnn", 3, 2, 6, activation="elu", clip=3.0, generator=g).double()
    b = build_model("srnn", 3, 2, 6, activation="elu", clip=3.0, fused=False).double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(8, 2, 3, dtype=torch.float64)
    ya, _ = a(x)
    yb, _ = b(x)
    ya.sum().backward()
    yb.sum().backward()
    assert torch.allclose(ya, yb)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa.grad, pb.grad)


@pytest.mark.parametrize("clip", [None, 1.3])
@pytest.mark.parametrize("seed, T, B, N", [(0, 9, 3, 3), (1, 7, 2, 2), (2, 1, 4, 3)])
def test_complex_modrelu_scan_matches_reference(clip, seed, T, B, N):
    a, V, h0 = random_problem(seed, T, B, 2 * N, scale=1.2)
    b = torch.linspace(-1.2, 0.4, N, dtype=torch.float64).requires_grad_()
    fused = scan(a, V, h0, activation="cmodrelu", clip=clip, bias=b)
    ref = scan_reference(a, V, h0, activation="cmodrelu", clip=clip, bias=b)
    assert torch.allclose(fused, ref, atol=1e-12)
    assert (fused == 0).any() and (fused != 0).any()  # some units inactive, some active
    grad = torch.randn_like(fused)
    for x, y in zip(torch.autograd.grad(fused, (a, V, h0, b), grad),
                    torch.autograd.grad(ref, (a, V, h0, b), grad), strict=True):
        assert torch.allclose(x, y, atol=1e-10)
    assert torch.autograd.gradcheck(
        lambda a, V, h0, b: scan(a, V, h0, activation="cmodrelu", clip=clip, bias=b),
        (a, V, h0, b))


def test_complex_modrelu_needs_pairs():
    with pytest.raises(ValueError, match="cmodrelu needs an even H"):
        scan(torch.zeros(2, 1, 3), torch.eye(3), activation="cmodrelu", bias=torch.zeros(1))



def test_each_model_s_options_are_its_layer_class_s_keywords():
    import inspect

    from rnnmem.nn import build_layer
    from rnnmem.registry import model_specs

    for name, spec in model_specs().items():
        if not spec.builtin:  # a plugin another test on this worker registered: its own contract
            continue
        assert issubclass(spec.layer, torch.nn.Module), name
        taken = {p for cls in spec.layer.__mro__ if "__init__" in vars(cls)
                 for p in inspect.signature(cls.__init__).parameters}
        assert set(spec.options) <= taken - {"self", "n_inputs", "hidden"}, name
        assert {"generator", "fused"}.isdisjoint(spec.options), name  # the harness's
        layer = build_layer(name, 3, 8)
        states = all_states(layer, torch.zeros(4, 2, 3))  # nn.RNN's (output, h_n), or a plugin's
        assert type(layer) is spec.layer and states.shape[:2] == (4, 2)
        for option, value in spec.defaults.items():  # the model's defaults reach the layer
            if option != "init" and option in spec.options:
                assert getattr(layer, option) == value, (name, option)


# ---------------------------------------------------------------- PyTorch's transforms (#25)

def _scan_inputs(H=4, T=6, B=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(T, B, H, generator=g, dtype=torch.float64)
    V = (torch.randn(H, H, generator=g, dtype=torch.float64) / H).requires_grad_()
    return a.requires_grad_(), V


@pytest.mark.parametrize("activation, clip", [("tanh", None), ("identity", 1.5),
                                              ("modrelu", None)])
def test_scan_double_backward(activation, clip):
    a, V = _scan_inputs()
    b = torch.full((4,), 0.1, dtype=torch.float64, requires_grad=True)
    bias = b if activation == "modrelu" else None
    inputs = (a, V, b) if bias is not None else (a, V)

    def f(*xs):
        return scan(xs[0], xs[1], activation=activation, clip=clip,
                    bias=xs[2] if bias is not None else None)
    assert torch.autograd.gradgradcheck(f, inputs)


def test_scan_under_torch_func_matches_autograd():
    a, V = _scan_inputs()

    def loss(V, a):
        return scan(a, V, activation="tanh", clip=2.0).pow(2).sum()

    expected = torch.autograd.grad(loss(V, a), V)[0]
    assert torch.allclose(torch.func.grad(loss)(V, a), expected)
    jac = torch.func.jacrev(lambda V: scan(a, V, activation="tanh")[-1, 0])(V)  # (H, H, H)
    ref = torch.autograd.functional.jacobian(lambda V: scan_reference(
        a.detach(), V, activation="tanh")[-1, 0], V.detach())
    assert torch.allclose(jac, ref)
    per_example = torch.func.vmap(lambda x: scan(x[:, None], V.detach(), activation="tanh"),
                                  in_dims=1)(a.detach())  # sequences one by one
    assert torch.allclose(per_example[:, :, 0], scan(a.detach(), V.detach(),
                                                     activation="tanh").transpose(0, 1))


def test_a_layer_compiles_whole():
    torch._dynamo.reset()
    net = build_model("lt-rnn", 3, 2, 5, clip=1000.0)
    x = torch.randn(7, 2, 3)
    compiled = torch.compile(net, fullgraph=True, backend="eager")  # no graph break
    y, h = compiled(x)
    assert torch.allclose(h, net(x)[1], atol=1e-6) and torch.allclose(y, net(x)[0], atol=1e-6)
