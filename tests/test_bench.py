"""`rnnmem bench` runs and reports a sane row per layer (speed targets live in the benchmark,
not in tests)."""

import json

from rnnmem.bench import bench_layers
from rnnmem.cli import main


def test_bench_quick_reports_every_layer(capsys):
    assert main(["bench", "--quick", "--threads", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = report["layers"]
    assert {r["layer"] for r in rows} == {layer.name for layer in bench_layers()}
    for r in rows:
        assert r["ms"] > 0 and 0 < r["roofline_fraction"] and r["threads"] == 1
