"""The research loop (#42): a run knows its code, a changed run is rerun only when asked (and
moved aside, never lost; a failed rerun leaves the table: test_reproduce.py), part of a grid
runs alone, results go out as data and seeds plot as bands."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_reliability import command

from rnnmem.cli import main
from rnnmem.io import read_json
from rnnmem.provenance import code_change, code_record, library
from rnnmem.rundir import RunDir

PLUGIN = Path(__file__).parents[1] / "docs" / "examples" / "leaky_plugin.py"
LEAK = "h = (1 - self.leak) * h + self.leak * torch.tanh(u + h @ self.V.T)"


def rnnmem(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "RNNMEM_PLUGINS"}  # the copy alone
    return subprocess.run(command(*args), capture_output=True, text=True, cwd=cwd, env=env)


def table_rows(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("| copy")]


def test_an_edited_plugin_is_rerun_only_when_asked(tmp_path):
    plugin = tmp_path / "leaky_plugin.py"
    shutil.copy(PLUGIN, plugin)
    args = ["reproduce", "--plugin", "leaky_plugin.py", "leaky-vs-ornn", "--out", "out",
            "--workers", "1"]
    first = rnnmem(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    root = tmp_path / "out" / "leaky-vs-ornn-quick"
    seed0 = root / "runs" / "copy_T_=_10" / "leaky_ring" / "seed0"
    recorded = read_json(seed0 / "summary.json")["code"]
    assert set(recorded["plugins"]) == {"leaky_plugin.py"}
    assert recorded["rnnmem"] == library()
    assert read_json(root / "runs" / "copy_T_=_10" / "LT-ORNN" / "seed0" / "code.json")[
        "plugins"] == {}  # the LT-ORNN's runs use no plugin: an edit does not touch them

    assert LEAK in plugin.read_text()  # the cell's update, halved: W -> 0.5 W
    plugin.write_text(plugin.read_text().replace(LEAK, LEAK.replace("self.leak *",
                                                                    "0.5 * self.leak *")))
    refused = rnnmem(*args, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "3 run(s) changed" in refused.stderr and "plugin leaky_plugin.py changed" in \
        refused.stderr and "--rerun-changed" in refused.stderr
    assert read_json(seed0 / "summary.json")["code"] == recorded  # nothing touched

    rerun = rnnmem(*args, "--rerun-changed", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "3 changed run(s) moved aside" in rerun.stdout
    assert rerun.stdout.count("(reused)") == 3  # the LT-ORNN's
    aside = seed0.with_name("seed0.changed-1")
    assert read_json(aside / "summary.json")["code"] == recorded  # kept whole
    assert read_json(seed0 / "summary.json")["code"]["plugins"] != recorded["plugins"]
    fresh = rnnmem(*args[:-4], "--out", "fresh", "--workers", "1", cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    rows = table_rows(root / "table.md")
    assert len(rows) == 2 and rows == table_rows(tmp_path / "fresh" / "leaky-vs-ornn-quick" /
                                                 "table.md")



def test_code_change_names_what_changed():
    now = dict(rnnmem=dict(version="0.1.0", commit="b", dirty=False), plugins={"p.py": "1"})
    assert code_change(now, now) is None
    assert code_change({**now, "rnnmem": dict(version="0.1.0", commit="a")}, now) is None
    assert code_change({**now, "plugins": {"p.py": "0"}}, now) == \
        "plugin p.py changed since this run"
    assert "is used now" in code_change({**now, "plugins": {}}, now)
    assert "not used now" in code_change(now, {**now, "plugins": {}})
    assert code_change({**now, "rnnmem": dict(version="0.0.9")}, now) == \
        "rnnmem 0.0.9 made this run, this is rnnmem 0.1.0"
    # a run older than the records: a built-in's is trusted (its fingerprints are checked)
    assert code_change(None, {**now, "plugins": {}}) is None
    assert "does not record its code" in code_change(None, now)


def test_a_builtin_run_records_no_plugin():
    from rnnmem.config import TrainConfig

    record = code_record(TrainConfig(task="copy", model="lt-rnn", T=5, S=2, K=3))
    assert record == dict(rnnmem=library(), plugins={})


def test_selected_models_and_seeds_run_in_the_grid_and_report_apart(tmp_path, capsys):
    from rnnmem.plugins import load_plugin

    load_plugin(str(PLUGIN))
    args = ["reproduce", "--plugin", str(PLUGIN), "leaky-vs-ornn", "--out", str(tmp_path),
            "--workers", "1"]
    assert main([*args, "--models", "LT-ORNN", "--seeds", "0,4"]) == 0
    root = tmp_path / "leaky-vs-ornn-quick"
    part = root / "parts" / "models=LT-ORNN_seeds=0,4"
    assert sorted(p.name for p in (root / "runs" / "copy_T_=_10").iterdir()) == ["LT-ORNN"]
    assert sorted(p.name for p in (root / "runs" / "copy_T_=_10" / "LT-ORNN").iterdir()) == \
        ["seed0", "seed4"]
    report = (part / "report.md").read_text()
    assert "leaky-vs-ornn --budget quick --models LT-ORNN --seeds 0,4" in report
    assert not (root / "table.md").exists()  # never a part's table for the whole grid's
    from rnnmem.export import run_rows

    labelled = {r["seed"]: r.get("group") for r in run_rows([tmp_path])[0]}
    assert labelled == {0: "LT-ORNN", 4: None}  # seed 4 is not the grid's: unlabelled
    capsys.readouterr()
    # the whole grid reuses the part's seed 0
    assert main(args) == 0
    assert capsys.readouterr().out.count("(reused)") == 1
    # plot: the seeds of a setting are one band; the labels name what differs
    from rnnmem.plot import group_runs, load_run

    runs = sorted((root / "runs").glob("*/*/seed[0-2]"))
    assert len(runs) == 6
    groups, title = group_runs([load_run(r) for r in runs])
    assert sorted(map(len, groups.values())) == [3, 3]
    assert all(label.startswith("model=") and "seed" not in label for label in groups)
    assert list(group_runs([load_run(r) for r in runs], ("lr",))[0]) == ["lr=0.001"]
    assert main(["plot", "--plugin", str(PLUGIN), *map(str, runs), "-o",
                 str(tmp_path / "bands.png")]) == 0
    assert main(["plot", *map(str, runs[:1]), "--group-by", "lrr", "-o",
                 str(tmp_path / "x.png")]) == 2
    assert "--group-by lrr: no run has that setting" in capsys.readouterr().err
    # --panels: one task of the grid (its only panel here), reported apart
    assert main([*args, "--panels", "COPY T = 10", "--models", "LT-ORNN"]) == 0
    assert "--models LT-ORNN --panels 'COPY T = 10'" in (
        root / "parts" / "models=LT-ORNN_panels=COPY_T_=_10" / "report.md").read_text()
    assert capsys.readouterr().out.count("(reused)") == 3
    # report --check recomputes the parts too, from the selection their results.json records
    from rnnmem.experiments.check import check_reports

    checked = check_reports(tmp_path)
    assert checked.ok and checked.unbacked == [] and {
        "leaky-vs-ornn-quick/parts/models=LT-ORNN_seeds=0,4",
        "leaky-vs-ornn-quick/parts/models=LT-ORNN_panels=COPY_T_=_10"} <= set(checked.backed)
    # --set: other runs, their own directory
    assert main([*args, "--models", "lt-rnn", "--set", "steps=20", "--set", "clip=none"]) == 0
    other = tmp_path / "leaky-vs-ornn-quick-set-steps=20_clip=None" / "parts" / \
        "models=lt-rnn"
    run = read_json(other.parent.parent / "runs" / "copy_T_=_10" / "LT-ORNN" / "seed0" /
                    "config.json")
    assert run["steps"] == 20 and run["model_options"]["clip"] is None
    assert "--set steps=20 --set clip=none" in (other / "report.md").read_text()
    capsys.readouterr()
    for bad, says in ((["--models", "gru"], "--models gru: not in leaky-vs-ornn's grid"),
                      (["--set", "stepz=3"], "'stepz' is not a run setting"),
                      (["--set", "steps"], "give key=value"),
                      (["--panels", "adding"], "--panels adding: not in leaky-vs-ornn's grid; "
                                               "its panels: copy T = 10")):
        assert main([*args, *bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err, err


def test_memory_horizon_takes_models_only():
    from rnnmem.experiments.horizon import run
    from rnnmem.experiments.selection import Selection

    with pytest.raises(ValueError, match="takes --models only"):
        run(Path("unused"), "quick", 1, selection=Selection(seeds=(0,)))
    with pytest.raises(ValueError, match="not in memory-horizon's models"):
        run(Path("unused"), "quick", 1, selection=Selection(models=("nope",)))


RESULTS = Path(__file__).parents[1] / "docs" / "results"


def _same(a: list, b: list) -> bool:
    key = [("nan" if x != x else x) for x in a]  # NaN: a diverged run's figure
    return sorted(map(str, key)) == sorted(str("nan" if x != x else x) for x in b)


def test_export_round_trips_every_committed_reports_numbers(tmp_path):
    from rnnmem.export import run_rows, write_export

    roots = sorted(p.parent for p in RESULTS.rglob("runs") if p.is_dir())
    runs, evaluations = run_rows(roots)
    by_path = {Path(r["run"]).resolve(): r for r in runs}
    under = {root: [r for p, r in by_path.items() if p.is_relative_to(root.resolve())]
             for root in roots}
    checked = 0
    for root in roots:
        if (root / "results.json").is_file():
            for g in read_json(root / "results.json")["groups"]:
                mine = [r for r in under[root] if r.get("experiment") and not r["tuning"]
                        and (r["panel"], r["group"], r["variant"]) ==
                        (g["panel"], g["group"], g["best_variant"])]
                assert _same([r["final_val_ratio"] for r in mine], g["val_ratio"]), \
                    (root.name, g["group"])
                checked += 1
        if (root / "horizon.json").is_file():
            horizon = read_json(root / "horizon.json")
            for model, entry in horizon["models"].items():
                for task, found in entry.items():
                    for T, seeds in found["probes"].items():
                        for seed, probe in seeds.items():
                            run = by_path[(root / "runs" / task / model.replace(" ", "-") /
                                           f"T{T}" / f"seed{seed}").resolve()]
                            assert _same([run["final_val_ratio"]], [probe["final_val_ratio"]])
                            checked += 1
    assert checked > 300
    one = roots[0]
    written = write_export([one], tmp_path / "csv")
    import csv

    with open(written[0]) as f:
        rows = list(csv.DictReader(f))
    assert [float(r["final_val_ratio"]) for r in rows] == \
        [r["final_val_ratio"] for r in under[one]]  # CSV floats round-trip exactly
    frame = __import__("rnnmem").load_runs(one, evaluations=True)
    assert len(frame) == sum(len(RunDir(r["run"]).metrics()) for r in under[one])
    assert {"step", "val_ratio", "lr", "model", "seed"} <= set(frame.columns)


def test_export_refuses_a_path_without_runs(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no run directories" in err
