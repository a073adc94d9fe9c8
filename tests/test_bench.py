"""`rnnmem bench` runs and reports a sane row per layer (speed targets live in the benchmark,
not in tests)."""

import json

from rnnmem.bench import bench_layers
from rnnmem.cli import main


def test_bench_quick_reports_every_layer(monkeypatch, capsys):
    from rnnmem import bench

    # every layer at a small size: what is reported, not how fast (benchmarks time that)
    monkeypatch.setattr(bench, "SIZES", (("small", 8, 16, 64, 3),))
    assert main(["bench", "--threads", "1", "--repeats", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = report["layers"]
    assert {r["layer"] for r in rows} == {layer.name for layer in bench_layers()}
    for r in rows:
        assert r["ms"] > 0 and 0 < r["roofline_fraction"] and r["threads"] == 1
    # the element-wise recurrences against the memory roofline (the LRU's with its readout's
    # products), the matrix steps against the GEMM one
    bound = {r["layer"].split(" (")[0]: r["bound"] for r in rows}
    assert {m for m, b in bound.items() if b == "memory"} == {"mingru", "s6", "rg-lru"}
    assert bound["lru"] == "memory + GEMM"
    assert bound["lt-rnn"] == bound["lstm"] == bound["torch.nn.RNN tanh"] == "GEMM"
    # --quick: each model's default kernel (no alternatives, no references), 1 thread
    assert main(["bench", "--quick", "--json"]) == 0
    quick = {r["layer"] for r in json.loads(capsys.readouterr().out)["layers"]}
    assert quick == {layer.name for layer in bench_layers(quick=True)}
    assert "s6 (fused selective scan)" in quick and len(quick) < len(rows)
    assert not any("parallel" in name or "autograd" in name for name in quick)


def test_bench_says_what_it_will_do_then_counts_down_on_stderr(monkeypatch, capsys):
    from rnnmem import bench

    layers = [layer for layer in bench.bench_layers() if layer.name.startswith("lt-rnn (")][:1]
    layers += [layer for layer in bench.bench_layers() if layer.name.startswith("gru (")][:1]
    monkeypatch.setattr(bench, "bench_layers", lambda models=None, **_: tuple(layers))
    monkeypatch.setattr(bench, "SIZES", (("tiny", 4, 8, 10, 3),))
    assert main(["bench", "--quick", "--threads", "1"]) == 0
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert lines[0].startswith("bench: 2 rows (1 thread setting(s) × 1 size(s) × 2 layers)")
    assert lines[1].startswith("  [1/2] (about") and lines[2].startswith("  [2/2] (about 0 min")
    assert "tiny" in out and "[1/2]" not in out  # the table alone on stdout


def test_bench_measures_a_plugins_layer_beside_the_builtin(monkeypatch, capsys):
    from pathlib import Path

    from rnnmem import bench

    plugin = Path(__file__).parents[1] / "docs" / "examples" / "leaky_plugin.py"
    monkeypatch.setattr(bench, "SIZES", (("tiny", 4, 8, 10, 3),))
    assert main(["bench", "--plugin", str(plugin), "--model", "leaky-rnn,lt-rnn", "--quick",
                 "--threads", "1", "--size", "tiny", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["layers"]
    assert {r["layer"] for r in rows} >= {"leaky-rnn (plugin)", "lt-rnn (fused scan)"}
    assert not any(r["layer"].startswith("gru") for r in rows)
    assert main(["bench", "--model", "nope", "--quick"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["bench", "--size", "tiny,nope", "--quick"]) == 2
    assert "unknown size 'nope'; valid: tiny" in capsys.readouterr().err
