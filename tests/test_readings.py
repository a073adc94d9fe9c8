"""The reading choices where the papers are silent: their defaults, and that they are applied.

docs/protocol.md gives the ablation behind each default; these tests pin the values, not the
stochastic outcomes.
"""

import math

import pytest
import torch

from rnnmem.build import make_model, make_task
from rnnmem.cli import main
from rnnmem.config import TrainConfig
from rnnmem.experiments.grid import BUDGETS
from rnnmem.experiments.henaff import HENAFF_MODELS
from rnnmem.loop import exploded, final_figures, stop_reason
from rnnmem.nn import LSTM, LTRNN, SRNN, build_model
from rnnmem.registry import experiments
from rnnmem.tasks import VariableCopyTask


def test_lt_rnn_input_bias_is_minus_one_under_relu_and_zero_otherwise():
    assert torch.all(LTRNN(2, 6, input_activation="relu").U.bias == -1.0)  # Henaff §3.2.1
    assert torch.all(LTRNN(10, 6, input_activation="none").U.bias == 0.0)
    assert torch.all(LTRNN(2, 6, input_activation="relu", input_bias=0.5).U.bias == 0.5)
    assert torch.all(SRNN(2, 6, activation="relu").U.bias == 0.0)


def test_adding_defaults_reach_the_layer():
    config = TrainConfig(task="adding", T=20, model="lt-rnn", init="identity", hidden=8)
    assert config.model_options["input_activation"] == "relu"
    assert config.model_options["input_bias"] is None
    net = make_model(config, make_task(config), torch.Generator().manual_seed(0))
    assert net.rnn.input_activation == "relu" and torch.all(net.rnn.U.bias == -1.0)
    copy = TrainConfig(task="copy", T=20, model="lt-rnn", hidden=8)
    assert copy.model_options["input_activation"] == "none"
    net = make_model(copy, make_task(copy), torch.Generator().manual_seed(0))
    assert net.rnn.input_activation == "none" and torch.all(net.rnn.U.bias == 0.0)
    assert "input_activation" not in TrainConfig(task="adding", T=20, model="lstm").model_options


def test_henaff_lstm_is_gaussian_without_biases_by_default():
    config = TrainConfig(model="lstm", hidden=128)
    assert config.model_options["init"] == "gaussian" and config.model_options["bias"] is None
    lstm = build_model("lstm", 2, 1, 128, generator=torch.Generator().manual_seed(0)).rnn
    names = {n for n, _ in lstm.lstm.named_parameters()}
    assert names == {"weight_ih_l0", "weight_hh_l0"}  # eqs. 3-5: no biases
    for block in lstm.lstm.weight_hh_l0.chunk(4):  # §4.1: N(0, 1/n) with n = fan-in
        assert block.mean().abs() < 0.01 and block.std().item() == pytest.approx(
            1 / math.sqrt(128), rel=0.03)
    with_bias = LSTM(2, 8, init="gaussian", bias=True)
    assert torch.all(with_bias.lstm.bias_ih_l0 == 0) and torch.all(with_bias.lstm.bias_hh_l0 == 0)
    plain = LSTM(2, 8, init="plain")  # PyTorch's init keeps its uniform biases
    assert plain.lstm.bias_ih_l0.abs().max() > 0


def test_henaff_experiments_use_henaff_lstm_and_every_training_experiment_decides():
    assert HENAFF_MODELS["LSTM"]["init"] == "gaussian"
    for name in ("henaff-fig2", "henaff-fig3", "henaff-fig5", "henaff-readings"):
        lstm = [j for j in experiments()[name].jobs("paper") if j.config.model == "lstm"]
        assert all(j.config.model_options["bias"] is not False for j in lstm)
    assert BUDGETS == ("quick", "paper", "full")
    for e in experiments().values():
        if e.jobs is not None and e.plugin is None:  # a plugin registered by another test: not ours
            seeds = {}
            for j in e.jobs("paper"):
                seeds.setdefault((j.panel, j.group), set()).add(j.seed)
            assert min(len(s) for s in seeds.values()) >= 3, e.name


def test_divergence_is_a_non_finite_loss_unless_a_ratio_is_asked_for():
    assert TrainConfig().explosion is None
    assert not exploded(1e30, 1.0) and exploded(math.inf, 1.0) and exploded(math.nan, 1.0)
    assert exploded(2e6, 1.0, explosion=1e6) and not exploded(5e5, 1.0, explosion=1e6)


def _rows(ratios):
    return [dict(step=100 * i, val_loss=r, val_ratio=r, val_metric=1 - r)
            for i, r in enumerate(ratios)]


def test_final_figure_is_the_median_of_the_last_k_evaluations():
    rows = _rows([1.0, 0.2, 0.1, 0.14, 0.71, 0.05])  # a spike at the second-to-last evaluation
    final = final_figures(rows, 3)
    assert final["final_val_ratio"] == 0.14 and final["last_val_ratio"] == 0.05
    assert final_figures(rows, 4)["final_val_ratio"] == pytest.approx((0.1 + 0.14) / 2)
    assert final_figures(_rows([1.0, 0.2]), 5)["final_evals"] == 1  # step 0 is not training
    assert math.isnan(final_figures(_rows([1.0, 0.1, math.nan]), 3)["final_val_ratio"])


def test_early_stop_asks_the_robust_figure():
    config = TrainConfig(stop_ratio=0.5, final_evals=3)
    assert stop_reason(_rows([1.0, 0.9, 0.8, 0.1]), config, 1.0) is None  # one lucky eval
    assert stop_reason(_rows([1.0, 0.9, 0.3, 0.1]), config, 1.0) == "early-stopped"


def test_order_free_line_of_variable_copy_matches_monte_carlo():
    task = VariableCopyTask(T=30)
    assert task.order_free_baseline() / task.baseline() == pytest.approx(0.79830, abs=1e-4)
    x, y = task.sample(4000, torch.Generator().manual_seed(0))
    symbols = x[: task.S].argmax(-1)  # (S, B): the symbols, whose order the predictor ignores
    counts = torch.nn.functional.one_hot(symbols, task.K).sum(0).double()  # (B, K)
    answer = y < task.K
    n_true = counts.gather(1, y.t().clamp(max=task.K - 1)).t()  # count of each target symbol
    loss = -(n_true / task.S).log()[answer].sum() / y.numel()
    assert loss.item() == pytest.approx(task.order_free_baseline(), rel=0.02)


def test_options_that_do_not_apply_are_refused(tmp_path, capsys):
    out = str(tmp_path / "x")
    assert main(["train", "--model", "lstm", "--input-bias", "-1", "--out", out]) == 2
    assert "input_bias is an option of model lt-rnn, lt-rnn-pool, srnn, irnn, not of lstm" in (
        capsys.readouterr().err)
    assert main(["train", "--model", "lt-rnn", "--bias", "--out", out]) == 2
    assert main(["train", "--model", "lstm", "--bias", "maybe", "--out", out]) == 2


def test_readout_bias_is_a_config_value_and_old_run_configs_still_match():
    config = TrainConfig(task="copy", T=10, hidden=8)
    task = make_task(config)
    assert make_model(config, task).readout.W.bias is not None  # default: y = W h + c
    no_bias = TrainConfig(task="copy", T=10, hidden=8, readout_bias=False)
    assert make_model(no_bias, task).readout.W.bias is None  # Henaff eq. 2: y = W h
    with pytest.raises(ValueError, match="'readout_bias' is not a run setting nor an option"):
        TrainConfig(task="ptb-char", model="lstm", readout_bias=False)  # the decoder's own
    saved = config.to_dict()
    del saved["model_options"]["readout_bias"]  # a config.json written before the option
    assert config.matches(saved) and not no_bias.matches(saved)
    assert not config.matches({**saved, "lr": 0.5}) and not config.matches({"lr": "x"})


def test_an_earlier_flat_config_json_matches_whatever_it_recorded_of_other_models():
    # the flat config.json of main 5c0d317 recorded every model's knobs; clipping acted on the
    # sRNN, not on the LSTM
    from fingerprints import legacy_dict

    lstm = TrainConfig(task="copy", T=10, hidden=8, model="lstm")
    assert lstm.matches({**legacy_dict(lstm), "clip": None})
    srnn = TrainConfig(task="copy", T=10, hidden=8, model="srnn")
    assert srnn.matches(legacy_dict(srnn)) and not srnn.matches({**legacy_dict(srnn),
                                                                 "clip": None})


def test_each_initializer_owns_its_papers_default_scale():
    def option(name, **config):
        return TrainConfig(**config).model_options[name]

    assert option("gain", model="lstm", init="mixed") == 1.02  # Orhan & Pitkow §2.5
    assert option("gain", init="feedback-chain") == 0.99  # their forward weight
    assert option("input_gain", init="chain", input_init="source") == 0.9  # 0.9·I, §2.3.1
    assert option("gain", init="orthogonal") == 1.0 and option("input_gain") == 1.0
    assert "gain" not in TrainConfig(model="gru").model_options
    assert option("gain", model="lstm", init="plain") is None
    with pytest.raises(ValueError, match="gain applies to a scaled recurrent init"):
        TrainConfig(model="lstm", init="plain", gain=2.0)
    with pytest.raises(ValueError, match="'gain' is not a run setting nor an option of task "
                                         "copy, model exprnn"):
        TrainConfig(model="exprnn", gain=2.0)
    layer = make_model(TrainConfig(model="lstm", init="mixed", hidden=8, task="copy", T=5),
                       make_task(TrainConfig(task="copy", T=5))).rnn
    cell_block = layer.recurrent_matrix().chunk(4)[2]
    assert torch.allclose(torch.diagonal(cell_block, -1), torch.full((7,), 1.02))


def test_options_of_other_inits_and_peer_activations_are_refused():
    with pytest.raises(ValueError, match="feedback applies to init feedback-chain"):
        TrainConfig(init="orthogonal", feedback=0.1)
    with pytest.raises(ValueError, match="sRNN activation must be one of tanh, relu, elu"):
        build_model("srnn", 2, 2, 4, activation="modrelu")


def test_memory_curve_takes_zero_and_refuses_what_has_no_stationary_state(tmp_path, capsys):
    assert main(["memory", "curve", "--N", "8", "--k-max", "20", "--lam", "0",
                 "--out", str(tmp_path / "zero")]) == 0
    assert "identity (λ = 0.0)" in capsys.readouterr().out  # 0 is a value, not "the default"
    for bad in (["--lam", "1"], ["--lam", "nan"], ["--alpha", "inf"], ["--noise", "nan"]):
        assert main(["memory", "curve", "--N", "8", *bad, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("rnnmem: error:") and "Traceback" not in err


@pytest.mark.parametrize("bad, message", [
    (dict(gain="1.0"), "gain must be a number or none, got '1.0'"),
    (dict(seed="0"), "seed must be an integer"),
    (dict(seed=1.5), "seed must be an integer"),
    (dict(seed=2**64 - 1), r"seed must be in \[0, 2\^63 - 2\)"),
    (dict(task="psmnist", permutation=7), "permutation must be a string"),
    (dict(task="psmnist", data_dir=5), "data_dir must be a string or none"),
    (dict(lr="1e-3"), "lr must be a number"),
    (dict(model=["lt-rnn"]), "model must be a string"),
    (dict(model="lstm", bias=1), "bias must be true or false or none"),
])
def test_config_values_of_the_wrong_type_name_their_field(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad)


def test_config_file_of_the_wrong_type_is_one_line(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text('{"lr": "1e-3"}')
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "lr must be a number" in err and "Traceback" not in err


def test_henaff_fig4_controls_differ_from_the_pooled_net_in_one_thing_each():
    """§4.2: the pooled LT-ORNN keeps V orthogonal by an SGD penalty (m = 50, step: ours 1e-2);
    its controls drop the pooling, or change the penalty's step only."""
    from rnnmem.experiments.henaff import HENAFF_READINGS

    pooled = HENAFF_MODELS["LT-ORNN + l2 pool"]
    assert (pooled["penalty_lr"], pooled["penalty_points"], pooled["pool"]) == (1e-2, 50, 2)
    assert HENAFF_MODELS["LT-ORNN + penalty"] == {
        k: v for k, v in {**pooled, "model": "lt-rnn"}.items() if k != "pool"}
    for name, step in (("penalty step 1e-3", 1e-3), ("no penalty", 0.0)):
        assert HENAFF_READINGS[f"LT-ORNN + l2 pool, {name}"] == {**pooled, "penalty_lr": step}
