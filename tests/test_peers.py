import math
from types import SimpleNamespace

import pytest
import torch

from rnnmem.build import make_model, make_task
from rnnmem.cli import main
from rnnmem.nn import build_model
from rnnmem.train import TrainConfig, make_optimizer, train

PEERS = ["irnn", "gru", "exprnn", "nnrnn", "urnn"]


def eye(n, dtype=torch.float64):
    return torch.eye(n, dtype=dtype)


def test_irnn_is_a_relu_srnn_with_identity_init():
    net = build_model("irnn", 2, 1, 6)
    assert net.rnn.activation == "relu"
    assert torch.equal(net.recurrent_weight.detach(), torch.eye(6))


@pytest.mark.parametrize("model", ["exprnn", "urnn"])
def test_recurrent_matrix_stays_orthogonal_or_unitary_through_training(model):
    torch.manual_seed(0)
    net = build_model(model, 10, 10, 16)
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-2)  # large steps on purpose
    x, y = torch.randn(30, 8, 10), torch.randint(0, 10, (30, 8))
    for _ in range(25):
        out, _ = net(x)
        loss = torch.nn.functional.cross_entropy(out.reshape(-1, 10), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        W = net.recurrent_weight.detach()
        n = W.shape[0]
        error = (W.conj().t() @ W - torch.eye(n, dtype=W.dtype)).abs().max().item()
        assert error < 1e-5


def test_nnrnn_matrix_is_the_product_of_its_factors():
    net = build_model("nnrnn", 3, 2, 8)
    with torch.no_grad():
        net.rnn.T.normal_()
        net.rnn.gamma.uniform_(0.5, 1.5)
    rnn = net.rnn
    P = rnn.P.weight.detach()
    Lam, T = (m.detach() for m in rnn.schur_parts())
    assert torch.allclose(rnn.recurrent_matrix().detach(), P @ (Lam + T) @ P.t(), atol=1e-6)
    assert torch.equal(T, torch.triu(T, 1)) and T.abs().sum() > 0
    for i in range(4):  # Λ: 2×2 rotations by θ_i scaled by γ_i
        block = Lam[2 * i:2 * i + 2, 2 * i:2 * i + 2]
        assert torch.allclose(torch.linalg.det(block), rnn.gamma[i].detach() ** 2, atol=1e-6)
    assert torch.allclose(P.t() @ P, torch.eye(8), atol=1e-5)
    assert rnn.regularization().item() > 0


@pytest.mark.parametrize("model", PEERS)
def test_gradients_match_finite_differences(model):
    torch.manual_seed(1)
    net = build_model(model, 3, 2, 4 if model != "urnn" else 3).double()
    if model == "urnn":  # complex parts in double precision too
        net.rnn.recurrent_matrix = _double_urnn(net.rnn)
    x = torch.randn(6, 2, 3, dtype=torch.float64)

    def loss():
        out, _ = net(x)
        return out.pow(2).sum()

    params = [p for p in net.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss(), params)
    direction = [torch.randn_like(p) for p in params]
    eps = 1e-6
    with torch.no_grad():
        for p, d in zip(params, direction, strict=True):
            p.add_(eps * d)
        up = loss().item()
        for p, d in zip(params, direction, strict=True):
            p.sub_(2 * eps * d)
        down = loss().item()
        for p, d in zip(params, direction, strict=True):
            p.add_(eps * d)
    numeric = (up - down) / (2 * eps)
    analytic = sum((g * d).sum() for g, d in zip(grads, direction, strict=True)).item()
    assert numeric == pytest.approx(analytic, rel=1e-4, abs=1e-6)


def _double_urnn(rnn):
    def recurrent_matrix():
        return rnn._apply_w(torch.eye(rnn.hidden, dtype=torch.complex128)).t()
    return recurrent_matrix


@pytest.mark.parametrize("model", PEERS)
def test_smoke_training_solves_short_adding(model, tmp_path):
    # below half the chance baseline (1/6): predicting the mean sum is not enough
    # the orthogonal/unitary models learn adding more slowly: a larger rate, more steps
    slow = model in ("exprnn", "urnn")
    config = TrainConfig(task="adding", T=8, model=model, hidden=16, batch=32,
                         steps=1000 if slow else 400, eval_every=50, val_size=256,
                         lr=1e-2 if slow else 3e-3)
    summary = train(config, tmp_path)
    assert summary["final_val_ratio"] < 0.5 and summary["solved"]


def test_exprnn_orthogonal_parameter_has_its_own_learning_rate():
    config = TrainConfig(model="exprnn", lr=1e-3)
    net = build_model("exprnn", 10, 10, 8)
    opt = make_optimizer(config, net)
    orth = {id(p) for p in net.rnn.recurrent.parameters()}
    lrs = {g["lr"] for g in opt.param_groups if any(id(p) in orth for p in g["params"])}
    assert lrs == {1e-4}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(net.parameters()))
    nn_config = TrainConfig(model="nnrnn", lr=1e-3, lr_orth=1e-6, t_decay=1e-3)
    opt = make_optimizer(nn_config, make_model(nn_config, make_task(nn_config)))
    assert sorted(g["lr"] for g in opt.param_groups)[0] == 1e-6
    assert any(g.get("weight_decay") == 1e-3 for g in opt.param_groups)


@pytest.mark.parametrize("model", PEERS)
def test_peers_train_from_the_cli_on_copy(model, tmp_path):
    assert main(["train", "--task", "copy", "--T", "5", "--S", "2", "--K", "3", "--model", model,
                 "--hidden", "8", "--steps", "5", "--eval-every", "5", "--val-size", "8",
                 "--batch", "4", "--out", str(tmp_path), "--quiet"]) == 0


def test_peer_validation(capsys):
    assert main(["train", "--model", "exprnn", "--init", "orthogonal"]) == 2
    assert "valid: henaff, cayley" in capsys.readouterr().err
    assert main(["train", "--model", "nnrnn", "--hidden", "7"]) == 2
    assert "even hidden size" in capsys.readouterr().err
    assert main(["train", "--model", "gru", "--activation", "relu"]) == 2
    assert "activation is an option of model srnn, irnn, not of gru" in capsys.readouterr().err


def test_each_peer_runs_its_own_recipe_by_default():
    """shared/PEERS.md: expRNN and nnRNN use RMSprop decay 0.99 and no activation clipping."""
    for model in ("exprnn", "nnrnn"):
        config = TrainConfig(model=model)
        assert config.optimizer_options["decay"] == 0.99 and config.model_options["clip"] is None
        net = make_model(config, make_task(config), torch.Generator().manual_seed(0))
        assert net.rnn.clip is None and net.rnn.U.bias is None  # no input bias in either
        opt = make_optimizer(config, net)
        assert {g["alpha"] for g in opt.param_groups} == {0.99}
    for model in ("lt-rnn", "srnn", "lstm"):  # Henaff §4.1 (the LSTM has no clipping)
        config = TrainConfig(model=model)
        assert config.optimizer_options["decay"] == 0.9
        assert config.model_options.get("clip", 1000.0) == 1000.0
    given = TrainConfig(model="exprnn", decay=0.9, clip=1000.0)  # a user's value wins
    assert given.optimizer_options["decay"] == 0.9 and given.model_options["clip"] == 1000.0


def test_peer_input_and_readout_inits_follow_the_originals():
    g = torch.Generator().manual_seed(0)
    exp = build_model("exprnn", 100, 400, 400, generator=g)
    assert exp.rnn.U.weight.std().item() == pytest.approx(math.sqrt(2 / 100), rel=0.05)
    assert exp.readout.W.weight.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.05)
    nn_ = build_model("nnrnn", 100, 400, 400, generator=g)
    assert nn_.rnn.U.weight.abs().max().item() <= 1 / math.sqrt(100)  # PyTorch's uniform
    assert nn_.readout.W.weight.std().item() == pytest.approx(math.sqrt(2 / 800), rel=0.05)
    for name in ("exprnn", "nnrnn"):  # their MNIST scripts keep nn.Linear's U(±1/√H)
        W = build_model(name, 1, 10, 400, classifier=True, generator=g).readout.W
        assert W.weight.abs().max().item() <= 1 / math.sqrt(400)
        assert W.weight.std().item() == pytest.approx(1 / math.sqrt(3 * 400), rel=0.05)
        assert W.bias.abs().max().item() > 0


def test_mnist_configs_build_classifier_readouts():
    config = TrainConfig(task="psmnist", model="exprnn", hidden=64)
    task = SimpleNamespace(n_inputs=1, n_outputs=10)
    W = make_model(config, task, torch.Generator().manual_seed(0)).readout.W
    assert W.weight.abs().max().item() <= 1 / math.sqrt(64)


def test_nnrnn_gamma_penalty_is_summed_over_the_radii():
    rnn = build_model("nnrnn", 2, 2, 128).rnn
    with torch.no_grad():
        rnn.gamma.fill_(2.0)  # (γ − 1)² = 1 for each of the 64 radii
    assert rnn.regularization().item() == pytest.approx(64e-4)  # δ = 1e-4, the default


def test_peers_comparison_runs_each_peer_at_its_own_scripts_rates():
    from rnnmem.experiments.beyond import peers_comparison

    jobs = peers_comparison("paper")
    rates = {(j.panel.split()[0], j.group): (j.config.lr, j.config.model_options.get("lr_orth"))
             for j in jobs}
    assert rates[("copy", "expRNN")] == (2e-4, 2e-5)  # expRNN 1_copying.py
    assert rates[("psMNIST", "expRNN")] == (7e-4, 7e-5)  # expRNN 2_mnist.py
    assert rates[("psMNIST", "nnRNN")] == (2e-4, 2e-5)  # nnRNN sMNIST.py
    nn_mnist = next(j.config for j in jobs if j.panel == "psMNIST" and j.group == "nnRNN")
    options = nn_mnist.model_options
    assert (options["init"], options["gamma_penalty"], options["t_decay"]) == ("cayley", 0.1, 1e-4)


def test_urnn_fused_scan_is_the_complex_recurrence_step_by_step():
    torch.manual_seed(3)
    rnn = build_model("urnn", 3, 2, 5).rnn.double()
    rnn.recurrent_matrix = _double_urnn(rnn)
    with torch.no_grad():
        rnn.bias.copy_(torch.linspace(-1.0, 0.2, 5))  # some units off, some on
    x = torch.randn(9, 4, 3, dtype=torch.float64)
    h0 = torch.randn(4, 5, dtype=torch.complex128)
    W, drive = rnn.recurrent_matrix(), rnn.U(x)
    h, states = h0, []
    for d in torch.complex(drive[..., :5], drive[..., 5:]).unbind(0):
        z = h @ W.t() + d  # h_t = modReLU(W h_{t-1} + U x_t), complex modReLU
        h = z * torch.relu(z.abs() + rnn.bias) / z.abs()
        states.append(torch.cat([h.real, h.imag], -1))
    expected = torch.stack(states)
    assert (expected == 0).any()
    output, h_n = rnn(x, h0[None])  # torch.nn.RNN's layout: hx (1, B, H), complex
    assert torch.allclose(output, expected, atol=1e-12)
    assert torch.allclose(h_n[0], torch.complex(*expected[-1].chunk(2, dim=-1)), atol=1e-12)
