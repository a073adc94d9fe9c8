"""The memory-horizon experiment (beyond both papers) at its quick budget, for two models."""

from __future__ import annotations

import time

import pytest

from rnnmem.experiments.horizon import (
    BUDGETS,
    NEEDED,
    TASKS,
    horizon_models,
    horizon_of,
    horizon_table,
    longest_first,
    memory_horizon,
    run_dir,
)
from rnnmem.registry import model_specs

# CI-sized: three lengths per task, a few steps
SMALL = dict(hidden=8, steps=60, eval_every=5, val_size=32, lr=3e-3, knobs=False,
             copy=dict(S=2, K=3, grid=(4, 8, 16)), adding=dict(grid=(10, 20, 40)))


def test_a_tuned_horizon_of_two_models_is_a_consistent_and_tested_bisection(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setitem(BUDGETS, "quick", SMALL)
    lines = []
    result = memory_horizon(tmp_path, "quick", 2, models=["lt-rnn", "mingru"],
                            progress=lines.append)
    beats = [line for line in lines if line.startswith("  ... ")]  # the sweep's heartbeat
    lines = [line for line in lines if line not in beats]
    assert lines[0].startswith("memory horizon, tuning: 16 runs at copy T=8, adding T=20")
    # the plan's estimate: the 16 tuning runs, and 2 rounds and a probe past them (3 seeds)
    assert "; about 52 runs to train; estimated training time" in lines[0]
    assert lines[1].startswith("memory horizon, round 1: 4 searches, 12 runs")
    for record in result["tuning"]:  # the setting of each search: its lowest tuning score
        scores = {v: s if s is not None else float("inf") for v, s in record["scores"]}
        assert record["chosen"] == min(scores, key=scores.get) and len(scores) >= 4
    for model, entry in result["models"].items():
        for task in TASKS:
            grid, found = SMALL[task]["grid"], entry[task]
            solved = {int(T): sum(p["solved"] for p in seeds.values()) >= NEEDED
                      for T, seeds in found["probes"].items()}
            assert all(len(seeds) == 3 for seeds in found["probes"].values())
            horizon = found["horizon"]
            below = [T for T in solved if horizon is None or T <= horizon]
            assert all(solved[T] for T in below if horizon is not None)
            unsolved = sorted(T for T in solved if not solved[T])
            if horizon is not None:
                assert solved[horizon] and (not unsolved or unsolved[0] > horizon)
            else:
                assert unsolved[0] == grid[0]  # the shortest was probed and not solved
            if unsolved and grid.index(unsolved[0]) + 1 < len(grid):  # the assumption tested
                assert grid[grid.index(unsolved[0]) + 1] in solved
            assert found["beyond"] == [T for T in sorted(solved) if solved[T]
                                       and (horizon is None or T > horizon)]
            assert found["tuned"] in dict(next(r["scores"] for r in result["tuning"]
                                               if (r["panel"], r["group"]) == (task, model)))
            assert found["memory"] is not None and found["memory"]["MC"] > 0
    table = horizon_table(result)
    assert table.splitlines()[0].startswith("| rank | model | form | copy: longest T solved")
    assert "settings searched" in table
    assert (tmp_path / "horizon.json").is_file() and (tmp_path / "figure.png").is_file()
    # report --check's part: every probe is its committed run's verdict, a change is caught
    from rnnmem.experiments.check import _check_horizon
    from rnnmem.io import read_json, write_json_atomic

    (tmp_path / "table.md").write_text(table + "\n")
    assert _check_horizon(tmp_path / "horizon.json") == []
    recorded = read_json(tmp_path / "horizon.json")
    probe = next(iter(recorded["models"]["mingru"]["copy"]["probes"].values()))["0"]
    probe["solved"] = not probe["solved"]
    write_json_atomic(tmp_path / "broken" / "horizon.json", recorded)
    for part in ("runs", "tuning"):
        (tmp_path / "broken" / part).symlink_to(tmp_path / part)
    (tmp_path / "broken" / "table.md").write_text(table + "\n")
    assert any("says solved" in p for p in _check_horizon(tmp_path / "broken" / "horizon.json"))
    recorded["tuning"][0]["chosen"] = "lr=1"
    write_json_atomic(tmp_path / "broken" / "horizon.json", recorded)
    assert "its tuning differs" in _check_horizon(tmp_path / "broken" / "horizon.json")[0]
    recorded = read_json(tmp_path / "horizon.json")  # a memory column its weights do not give
    recorded["models"]["lt-rnn"]["copy"]["memory"]["MC"] *= 1.01
    write_json_atomic(tmp_path / "broken" / "horizon.json", recorded)
    assert "MC" in " ".join(_check_horizon(tmp_path / "broken" / "horizon.json"))
    memo = {}  # report --check's: a whole table's and its parts' networks computed once
    assert _check_horizon(tmp_path / "horizon.json", memo) == [] and len(memo) == 4
    assert "MC" in " ".join(_check_horizon(tmp_path / "broken" / "horizon.json", memo))
    # committed as a report is: the weights of the analysed networks only; a rerun trains
    # nothing and gives the same answer, memory columns included
    analysed = {run_dir(tmp_path, m, t, e[t]["measured_at"], 0) / "model.pt"
                for m, e in result["models"].items() for t in TASKS}
    for weights in set(tmp_path.glob("runs/**/model.pt")) - analysed:
        weights.unlink()
    start = time.perf_counter()
    said = []
    again = memory_horizon(tmp_path, "quick", 1, models=["lt-rnn", "mingru"],
                           progress=said.append)
    assert "estimated" not in said[0]  # the bisection replayed over its finished runs
    assert time.perf_counter() - start < 20
    assert set(tmp_path.glob("runs/**/model.pt")) == analysed  # nothing retrained
    for m, e in again["models"].items():
        for t in TASKS:
            assert e[t]["horizon"] == result["models"][m][t]["horizon"]
            assert e[t]["memory"] == result["models"][m][t]["memory"]


def test_the_horizon_is_the_longest_length_below_every_unsolved_one():
    assert horizon_of({4: True, 8: True, 16: False, 32: True}) == 8
    assert horizon_of({4: False, 8: True}) is None
    assert horizon_of({4: True, 16: True}) == 16  # unprobed lengths are not held against it


def test_a_rounds_probes_start_with_the_longest_expected(monkeypatch):
    from rnnmem.experiments import horizon

    # the block's measured step 3x the layer's; unmeasured (the default) counts 1
    monkeypatch.setattr(horizon, "relative_step_costs", lambda configs: [
        3.0 if c.model == "lru-block" else 1.0 for c in configs])
    jobs = [(("lru", "copy"), 10, 0), (("lru", "adding"), 40, 0), (("lru-block", "copy"), 8, 0),
            (("lru", "copy"), 16, 1)]
    # T / reference (copy 8, adding 20 in SMALL) x step: 1.25, 2, 3, 2
    assert longest_first(jobs, SMALL) == [jobs[2], jobs[1], jobs[3], jobs[0]]


def test_a_sweeps_time_left_weighs_each_run_by_its_length(monkeypatch):
    from rnnmem.experiments import estimate, horizon

    configs = [horizon.job_config(m, t, T, 0, SMALL)
               for m, t, T in [("lt-rnn", "adding", 10), ("lt-rnn", "adding", 40),
                               ("mingru", "copy", 16)]]

    def at_reference(config):  # adding's reference length in SMALL: 20
        return horizon.reference_length(SMALL[config.task]["grid"])

    # measured once, at T = 20: the steps at 10 and 40 scale from it
    weights = estimate.length_scaled_steps(configs, at_reference)
    assert weights[0] > 0 and weights[1] == pytest.approx(4 * weights[0])
    measured = estimate.step_cost
    monkeypatch.setattr(estimate, "step_cost",  # a shape that cannot be measured: the mean
                        lambda c: None if c.model == "mingru" else measured(c))
    weights = estimate.length_scaled_steps(configs, at_reference)
    assert weights[2] == pytest.approx((weights[0] + weights[1]) / 2)


def test_every_registered_model_is_in_the_horizon_experiment():
    from rnnmem.experiments.horizon import VARIANTS, job_config

    # a plugin's model joins by registration
    assert horizon_models() == [*model_specs(), *VARIANTS]
    chain = job_config("srnn chain", "copy", 8, 0, BUDGETS["quick"])
    assert (chain.model, chain.model_options["init"]) == ("srnn", "chain")
