"""The memory-horizon experiment (beyond both papers) at its quick budget, for two models."""

from __future__ import annotations

import time

from rnnmem.experiments.horizon import (
    BUDGETS,
    NEEDED,
    TASKS,
    horizon_models,
    horizon_table,
    memory_horizon,
)
from rnnmem.registry import model_specs


def test_the_quick_horizon_of_two_models_is_a_consistent_bisection(tmp_path):
    lines = []
    result = memory_horizon(tmp_path, "quick", 2, models=["lt-rnn", "lstm"],
                            progress=lines.append)
    assert lines[0].startswith("memory horizon, round 1: 4 searches, 12 runs")
    spec = BUDGETS["quick"]
    for entry in result["models"].values():
        for task in TASKS:
            grid, search = spec[task]["grid"], entry[task]
            solved = {int(T): sum(p["solved"] for p in seeds.values()) >= NEEDED
                      for T, seeds in search["probes"].items()}
            assert all(len(seeds) == 3 for seeds in search["probes"].values())
            horizon = search["horizon"]
            if horizon is not None:  # solved there, and unsolved at the next longer probe
                assert solved[horizon]
                longer = [T for T in solved if T > horizon]
                assert all(not solved[T] for T in longer)
                assert longer or horizon == grid[-1] or grid[grid.index(horizon) + 1] in solved
            else:  # the shortest length was probed and not solved
                assert solved.get(grid[0]) is False
            assert search["memory"] is not None and search["memory"]["MC"] > 0
    table = horizon_table(result)
    assert table.splitlines()[0].startswith("| rank | model | copy: longest T solved")
    assert len([r for r in table.splitlines() if r.startswith("| 1 ") or r.startswith("| 2 ")]) == 2
    assert (tmp_path / "horizon.json").is_file() and (tmp_path / "figure.png").is_file()
    # report --check's part: every probe is its committed run's verdict, a change is caught
    from rnnmem.experiments.check import _check_horizon
    from rnnmem.io import read_json, write_json_atomic

    (tmp_path / "table.md").write_text(table + "\n")
    assert _check_horizon(tmp_path / "horizon.json") == []
    recorded = read_json(tmp_path / "horizon.json")
    probe = next(iter(recorded["models"]["lstm"]["copy"]["probes"].values()))["0"]
    probe["solved"] = not probe["solved"]
    write_json_atomic(tmp_path / "broken" / "horizon.json", recorded)
    (tmp_path / "broken" / "runs").symlink_to(tmp_path / "runs")
    (tmp_path / "broken" / "table.md").write_text(table + "\n")
    assert any("says solved" in p for p in _check_horizon(tmp_path / "broken" / "horizon.json"))
    start = time.perf_counter()  # rerun: every run is reused, the same answer
    again = memory_horizon(tmp_path, "quick", 1, models=["lt-rnn", "lstm"],
                           progress=lambda _: None)
    assert time.perf_counter() - start < 20
    assert {m: {t: e[t]["horizon"] for t in TASKS} for m, e in again["models"].items()} == {
        m: {t: e[t]["horizon"] for t in TASKS} for m, e in result["models"].items()}


def test_every_registered_model_is_in_the_horizon_experiment():
    from rnnmem.experiments.horizon import VARIANTS, job_config

    # a plugin's model joins by registration
    assert horizon_models() == [*model_specs(), *VARIANTS]
    chain = job_config("srnn chain", "copy", 8, 0, BUDGETS["quick"])
    assert (chain.model, chain.model_options["init"]) == ("srnn", "chain")
