"""The public registry: built-ins and plugins take one path; bad registrations are refused."""

import pytest
import torch
from torch import nn

import rnnmem
from rnnmem import registry
from rnnmem.build import make_model, make_task
from rnnmem.config import TrainConfig, task_label


class TinyCell(nn.Module):
    def __init__(self, n_inputs: int, hidden: int, *, depth: int = 1,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.depth = depth
        self.U = nn.Linear(n_inputs, hidden)

    def forward(self, x, h0=None):
        return torch.tanh(self.U(x)).cumsum(0) * self.depth


class ConstantTask:
    """A plugin task: the target is the first input channel's value at the last step."""

    metric_name = "mse"
    n_inputs, n_outputs = 1, 1

    def __init__(self, length: int = 5):
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        self.length = length

    def sample(self, batch, generator):
        x = torch.rand(self.length, batch, 1, generator=generator)
        return x, x[-1, :, 0]

    def loss(self, output, target):
        return ((output[-1, :, 0] - target) ** 2).mean()

    def metric(self, output, target):
        return self.loss(output, target).item()

    def baseline(self):
        return 1 / 12

    def solved(self, loss):
        return loss < 0.5 / 12


@pytest.fixture
def clean_registry(monkeypatch):
    """Registrations made in a test are undone after it."""
    registry.model_names()
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    monkeypatch.setattr(registry, "_INITS", {k: dict(v) for k, v in registry._INITS.items()})


def test_the_builtins_are_registered_through_the_public_call():
    builtins = {"lt-rnn", "lt-rnn-pool", "srnn", "irnn", "lstm", "gru", "exprnn", "nnrnn", "urnn",
                "lru", "mingru", "lru-block", "mingru-block", "s6", "mamba-block", "rg-lru"}
    assert set(registry.model_names()[:16]) == builtins
    assert all(registry.model_spec(m).builtin for m in builtins)
    assert {"copy", "varcopy", "adding", "smnist", "psmnist", "ptb-word", "ptb-char"} <= set(
        registry.task_names())
    assert TrainConfig().model == "lt-rnn" and TrainConfig().task == "copy"


def test_a_registered_model_and_task_are_valid_at_once(clean_registry, tmp_path):
    rnnmem.register_model("tiny", TinyCell)
    rnnmem.register_task("constant", ConstantTask)
    assert "tiny" in registry.model_names() and "constant" in registry.task_names()
    config = TrainConfig(task="constant", task_options=dict(length=4), model="tiny",
                         model_options=dict(depth=2), hidden=3, steps=4, eval_every=2,
                         val_size=8, batch=4)
    assert config.model_options == dict(depth=2, readout_bias=None)  # no init, scale, clip
    net = make_model(config, make_task(config), torch.Generator().manual_seed(0))
    assert net.rnn.depth == 2 and net(torch.zeros(4, 2, 1))[0].shape == (4, 2, 1)
    from rnnmem.train import train

    assert train(config, tmp_path / "run")["steps"] == 4
    with pytest.raises(ValueError, match="no option 'length'; valid: depth"):
        TrainConfig(model="tiny", model_options=dict(length=2))
    with pytest.raises(ValueError, match="depth must be an integer"):
        TrainConfig(model="tiny", model_options=dict(depth="2"))
    with pytest.raises(ValueError, match="length must be >= 1"):
        TrainConfig(task="constant", task_options=dict(length=0), model="tiny")


def test_bad_registrations_are_refused(clean_registry):
    rnnmem.register_model("tiny", TinyCell)
    rnnmem.register_model("tiny", TinyCell)  # the same layer again: a no-op
    with pytest.raises(ValueError, match="already registered"):
        rnnmem.register_model("tiny", ConstantTask)

    class Clash(TinyCell):
        def __init__(self, n_inputs, hidden, *, lr=1.0):
            super().__init__(n_inputs, hidden)

    with pytest.raises(ValueError, match="option 'lr' has the name of a run setting"):
        rnnmem.register_model("clash", Clash)
    with pytest.raises(ValueError, match="non-empty word"):
        rnnmem.register_model("two words", TinyCell)
    with pytest.raises(ValueError, match="init kind"):
        rnnmem.register_init("x", lambda w, gain=1.0: w, kind="bogus")


def test_a_registered_init_reaches_the_builtin_models(clean_registry):
    def half_identity_(W, gain=0.5, *, generator=None):
        with torch.no_grad():
            return W.copy_(gain * torch.eye(W.shape[0]))

    rnnmem.register_init("half-identity", half_identity_)
    config = TrainConfig(model="lt-rnn", init="half-identity")
    assert config.model_options["gain"] == 0.5  # the init's own default scale
    net = make_model(config, make_task(config))
    assert torch.equal(net.rnn.V.detach(), 0.5 * torch.eye(80))


def test_variable_copy_draws_its_order_free_line():
    spec = registry.task_spec("varcopy")
    config = TrainConfig(task="varcopy").to_dict()
    (ratio, label), = spec.reference_lines(config["task_options"])
    assert ratio == pytest.approx(0.79830, abs=1e-4) and "order" in label
    assert task_label(config) == "varcopy T = 100"
    assert task_label(dict(task="not-registered")) == "not-registered"


def test_the_task_sets_the_lt_rnns_input_nonlinearity():
    def option(**config):
        return TrainConfig(**config).model_options

    assert option(task="adding", model="lt-rnn")["input_activation"] == "relu"  # Henaff §3.2.1
    assert option(task="copy", model="lt-rnn")["input_activation"] == "none"
    assert option(task="adding", model="srnn")["activation"] == "tanh"  # φ is not σ


def _saved_configs(value):
    """Every config.json-like dict (it records ``rms_decay``: the flat layout) inside ``value``."""
    if isinstance(value, dict):
        if "rms_decay" in value and "model" in value:
            yield value
        else:
            for v in value.values():
                yield from _saved_configs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _saved_configs(v)


def test_the_committed_results_configs_load_through_the_converter():
    # docs/results/**/analysis.json record the flat config.json of the runs they analysed
    # (rnnmem before options moved to their classes); each is read as this version's config,
    # every option it set under its new owner. tests/data/legacy-configs.json keeps the 20
    # that docs held on 2026-12-02, as reruns replace them there.
    import json
    from pathlib import Path

    from rnnmem.config import from_legacy, is_legacy

    here = Path(__file__).parent
    root = here.parent / "docs" / "results"
    configs = json.loads((here / "data" / "legacy-configs.json").read_text())
    configs += [c for path in sorted(root.rglob("*.json"))
                for c in _saved_configs(json.loads(path.read_text())) if c not in configs]
    assert len(configs) >= 20
    for saved in configs:
        assert is_legacy(saved)
        config = TrainConfig.from_dict(saved)
        assert config == from_legacy(saved) and config.matches(saved)
        for old, new in (("T", "T"), ("init", "init"), ("hidden", "hidden")):
            where = config.task_options if old == "T" else (
                config.model_options if old == "init" else vars(config))
            if old in saved and new in where:
                assert where[new] == saved[old]
        assert config.optimizer_options.get("decay", saved["rms_decay"]) == saved["rms_decay"]
