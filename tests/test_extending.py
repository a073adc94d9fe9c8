"""docs/extending.md, run: a plugin cell and init trained from Python and from the command line,
resumed after kill -9, swept over 3 seeds against the LT-ORNN, plotted and analysed."""

import os
import subprocess
from pathlib import Path

import pytest
import torch
from test_reliability import command, kill_when, metrics, rows_written, summary

from rnnmem.cli import main
from rnnmem.io import read_json

PLUGIN = str(Path(__file__).parents[1] / "docs" / "examples" / "leaky_plugin.py")
ARGS = ["--plugin", PLUGIN, "--model", "leaky-rnn", "--init", "ring", "--task", "copy",
        "--T", "10", "--S", "3", "--K", "4", "--hidden", "16", "--batch", "16",
        "--eval-every", "10", "--val-size", "64", "--lr", "1e-3", "--quiet"]


@pytest.fixture(scope="module")
def plugin():
    from rnnmem.plugins import load_plugin

    load_plugin(PLUGIN)


def test_a_plugin_model_trains_from_python(plugin, tmp_path):
    import rnnmem
    from rnnmem.train import RunExists, train

    config = rnnmem.TrainConfig(task="copy", T=10, S=3, K=4, hidden=16, batch=16, steps=30,
                                eval_every=10, val_size=64, lr=1e-3, model="leaky-rnn",
                                init="ring", model_options=dict(leak=0.25))
    result = train(config, tmp_path / "run")
    assert result["status"] == "completed" and result["steps"] == 30
    saved = read_json(tmp_path / "run" / "config.json")
    assert saved["model"] == "leaky-rnn"
    assert saved["model_options"] == {"init": "ring", "gain": 1.0, "leak": 0.25,
                                      "readout_bias": None}  # every value the run used
    with pytest.raises(RunExists):  # as the CLI refuses it
        train(config, tmp_path / "run")


def test_the_plugin_init_is_a_ring(plugin):
    from rnnmem.init import get_initializer

    W = get_initializer("ring")(torch.empty(4, 4), gain=0.5)
    assert torch.equal(W, 0.5 * torch.roll(torch.eye(4), 1, dims=0))


def test_a_plugin_models_flags_and_help(plugin, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--plugin", PLUGIN, "--model", "leaky-rnn", "--help"])
    help_text = capsys.readouterr().out
    assert "options of model leaky-rnn" in help_text and "--leak" in help_text
    assert main(["train", *ARGS, "--leak", "0.3", "--steps", "10", "--out",
                 str(tmp_path / "r")]) == 0
    assert read_json(tmp_path / "r" / "config.json")["model_options"]["leak"] == 0.3
    capsys.readouterr()
    assert main(["train", *ARGS, "--model-options", '{"lek": 1}', "--steps", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no option 'lek'; valid: init, gain, leak, readout_bias" in err


def test_a_plugin_run_resumes_after_kill_9_and_needs_its_plugin(plugin, tmp_path, capsys):
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    steps = ["--steps", "300"]
    assert main(["train", *ARGS, *steps, "--out", str(reference)]) == 0
    proc = subprocess.Popen(command("train", *ARGS, *steps, "--out", str(interrupted)),
                            start_new_session=True)
    kill_when(proc, rows_written(interrupted, 5))
    assert not (interrupted / "summary.json").exists()
    # without the plugin the run cannot be rebuilt: refused in one line, nothing written
    env = {k: v for k, v in os.environ.items() if k != "RNNMEM_PLUGINS"}  # what load_plugin set
    bare = subprocess.run(command("train", "--resume", str(interrupted)), capture_output=True,
                          text=True, env=env)
    assert bare.returncode == 2 and bare.stderr.count("\n") == 1
    assert "unknown model 'leaky-rnn'" in bare.stderr and "--plugin" in bare.stderr
    done = subprocess.run(command("train", "--plugin", PLUGIN, "--resume", str(interrupted),
                                  "--quiet"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert metrics(interrupted) == metrics(reference)
    assert summary(interrupted) == summary(reference)
    a = torch.load(interrupted / "model.pt", weights_only=True)
    b = torch.load(reference / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_plugin_experiment_sweeps_plots_and_is_analysed(tmp_path, capsys):
    # two worker processes: they load the plugin from $RNNMEM_PLUGINS
    out = tmp_path / "reproduce"
    assert main(["reproduce", "--plugin", PLUGIN, "leaky-vs-ornn", "--out", str(out),
                 "--workers", "2"]) == 0
    root = out / "leaky-vs-ornn-quick"
    groups = {g["group"]: g for g in read_json(root / "results.json")["groups"]}
    assert set(groups) == {"leaky (ring)", "LT-ORNN"}
    assert all(g["runs"] == 3 and g["failed"] == 0 for g in groups.values())
    report = (root / "report.md").read_text()
    assert f"rnnmem reproduce --plugin {PLUGIN} leaky-vs-ornn --budget quick" in report
    assert (root / "figure.png").stat().st_size > 0
    runs = sorted((root / "runs").glob("*/leaky*/seed*"))
    assert len(runs) == 3
    # a damaged finished run is said to be damaged and re-finished from its checkpoint
    weights = (runs[1] / "model.pt").read_bytes()
    (runs[1] / "model.pt").write_bytes(weights[:-1] + bytes([weights[-1] ^ 1]))
    capsys.readouterr()
    assert main(["reproduce", "--plugin", PLUGIN, "leaky-vs-ornn", "--out", str(out),
                 "--workers", "1"]) == 0
    assert "model.pt is damaged" in capsys.readouterr().out
    assert (runs[1] / "model.pt").read_bytes() == weights
    capsys.readouterr()
    assert main(["plot", "--plugin", PLUGIN, *map(str, runs), "-o",
                 str(tmp_path / "c.png")]) == 0
    assert main(["memory", "--plugin", PLUGIN, "analyze", str(runs[0]), "--out",
                 str(tmp_path / "analysis")]) == 0
    assert "leaky" in capsys.readouterr().out.lower() or any((tmp_path / "analysis").iterdir())


def test_a_plugin_cell_on_the_public_scan_matches_its_per_step_loop(tmp_path):
    """docs/examples/scan_plugin.py: a cell written on rnnmem.nn.scan.scan gives the states and
    gradients of its own per-step loop (float64), and trains from the command line."""
    from rnnmem.plugins import load_plugin
    from rnnmem.registry import model_spec

    fast = str(Path(PLUGIN).with_name("scan_plugin.py"))
    load_plugin(fast)
    for linear in (False, True):  # skew-rnn, and skew-lt-rnn (the LT-RNN's form)
        layer = model_spec("skew-rnn").layer(3, 6, alpha=0.5, linear=linear,
                                             generator=torch.Generator().manual_seed(0)).double()
        with torch.no_grad():
            layer.A.normal_(generator=torch.Generator().manual_seed(1))
        x = torch.randn(7, 4, 3, dtype=torch.float64, requires_grad=True)
        h = layer(x)
        W, h_prev, loop = layer.recurrent_matrix(), torch.zeros(4, 6, dtype=torch.float64), []
        for x_t in x:
            h_prev = (layer.U(x_t) + h_prev @ W.T if linear
                      else torch.tanh(layer.U(x_t) + h_prev @ W.T))
            loop.append(h_prev)
        loop = torch.stack(loop)
        assert torch.allclose(h, loop)
        grads = torch.autograd.grad(h.square().sum(), (x, layer.A, layer.Q))
        expected = torch.autograd.grad(loop.square().sum(), (x, layer.A, layer.Q))
        assert all(torch.allclose(g, e) for g, e in zip(grads, expected, strict=True))
    assert model_spec("skew-lt-rnn").defaults == dict(linear=True)
    assert main(["train", "--plugin", fast, "--model", "skew-rnn", "--alpha", "0.2", "--T", "5",
                 "--hidden", "8", "--steps", "10", "--quiet", "--out", str(tmp_path / "r")]) == 0
