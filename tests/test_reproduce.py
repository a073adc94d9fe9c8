import dataclasses
import importlib.util
import shutil

import pytest

from rnnmem.cli import main
from rnnmem.experiments import henaff, orhan, registry
from rnnmem.experiments.jobs import Job
from rnnmem.experiments.reproduce import job_dir, reproduce, write_report
from rnnmem.experiments.tuning import tuning_jobs
from rnnmem.registry import Experiment, experiments
from rnnmem.rundir import RunChanged
from rnnmem.sweep import _in_flight_on_disk, run_all
from rnnmem.train import TrainConfig

PAPER_TARGETS = {
    "Henaff et al. 2016": {"Fig. 1", "Fig. 2", "Fig. 3", "Fig. 4", "Fig. 5", "Fig. 6"},
    "Orhan & Pitkow 2020": {"Fig. 1", "Fig. 2", "Fig. 3", "Fig. 4", "Fig. 5", "Fig. 6",
                            "Table 1", "Table 2", "Table 3"},
}


def builtin_experiments():
    """rnnmem's own (a plugin another test on this xdist worker registered is not)."""
    return [e for e in experiments().values() if e.plugin is None]


def test_registry_covers_every_figure_and_table():
    for paper, targets in PAPER_TARGETS.items():
        covered = {t.strip() for e in experiments().values() if e.paper == paper
                   for t in e.target.split(" and ")}
        assert targets <= covered, (paper, targets - covered)


@pytest.mark.parametrize("budget", ["quick", "full"])
def test_every_grid_is_valid_and_collision_free(budget, tmp_path):
    for exp in builtin_experiments():
        if exp.jobs is None:
            assert exp.run is not None
            continue
        jobs = exp.jobs(budget) + tuning_jobs(exp.jobs, budget)  # a tuned grid's search too
        assert jobs and all(isinstance(j.config, TrainConfig) for j in jobs)
        dirs = {job_dir(tmp_path, j) for j in jobs}
        assert len(dirs) == len(jobs), exp.name  # every job has its own run directory
        assert {j.config.seed for j in jobs} == {j.seed for j in jobs}


@pytest.mark.parametrize("budget", registry.BUDGETS)
def test_every_verdict_reads_the_end_of_training(budget):
    # the final figure is the median of the last final_evals evaluations: they must lie in the
    # last quarter of the run (language models once evaluated 8 times: the median read step 0.75 T)
    for exp in builtin_experiments():
        for job in [*exp.jobs(budget), *tuning_jobs(exp.jobs, budget)] if exp.jobs else []:
            c = job.config
            assert c.final_evals * c.eval_every <= c.steps / 4, (exp.name, job.panel, job.group)


@pytest.mark.parametrize("budget", registry.BUDGETS)
def test_every_run_config_can_be_trained_again_from_its_config_json(budget):
    # `rnnmem train --config RUN/config.json` rebuilds the same config from what it records
    for exp in builtin_experiments():
        for job in exp.jobs(budget) if exp.jobs is not None else []:
            assert TrainConfig.from_dict(job.config.to_dict()) == job.config


def test_quick_budgets_are_smaller_than_full():
    for exp in builtin_experiments():
        if exp.jobs is not None:
            quick = sum(j.config.steps for j in exp.jobs("quick"))
            full = sum(j.config.steps for j in exp.jobs("full"))
            assert quick * 5 < full, exp.name


def test_henaff_fig2_follows_the_paper():
    jobs = henaff.henaff_fig2("full")
    assert {j.panel for j in jobs} == {f"copy T = {T}" for T in (100, 200, 300, 500)}
    assert {j.seed for j in jobs} == set(range(8))
    for j in jobs:
        c = j.config
        assert (c.hidden, c.batch, c.optimizer, c.optimizer_options["decay"]) == (
            80, 50, "rmsprop", 0.9)
        assert c.model_options.get("clip", 1000.0) == 1000.0  # the LSTM has no clipping
        assert c.lr == (1e-3 if c.model == "lstm" else 1e-4)


def tiny_experiment(budget):
    return [Job(f"copy T = {T}", init, seed, TrainConfig(
        task="copy", T=T, S=2, K=3, hidden=8, batch=4, steps=12, eval_every=4, val_size=8,
        init=init, seed=seed)) for T in (5, 8) for init in ("orthogonal", "identity")
        for seed in range(2)]


@pytest.fixture
def tiny(monkeypatch):
    exp = Experiment("tiny", "Test paper", "Fig. 0", "nothing", jobs=tiny_experiment)
    monkeypatch.setitem(experiments(), "tiny", exp)
    return exp


def test_reproduce_writes_figure_table_report_and_skips_finished_runs(tiny, tmp_path):
    report = reproduce("tiny", out=tmp_path, workers=1, progress=lambda *_: None)
    root = tmp_path / "tiny-quick"
    assert (root / "figure.png").is_file() and (root / "results.json").is_file()
    text = report.read_text()
    assert "rnnmem reproduce tiny --budget quick" in text
    assert "| copy T = 5 | orthogonal | 2 |" in text
    summaries = sorted(root.glob("runs/*/*/*/summary.json"))
    assert len(summaries) == 8
    stamps = [p.stat().st_mtime_ns for p in summaries]
    (summaries[0].parent / "summary.json").unlink()  # one run "interrupted"
    reproduce("tiny", out=tmp_path, workers=1, progress=lambda *_: None)
    after = [p.stat().st_mtime_ns for p in sorted(root.glob("runs/*/*/*/summary.json"))]
    assert after[1:] == stamps[1:] and after[0] != stamps[0]  # only the missing one ran
    # committed runs keep no weights: the grid is finished, and its table the same
    table = (root / "table.md").read_text()
    for weights in root.glob("runs/*/*/*/model.pt"):
        weights.unlink()
    said = []
    reproduce("tiny", out=tmp_path, workers=1, progress=said.append)
    assert [p.stat().st_mtime_ns for p in sorted(root.glob("runs/*/*/*/summary.json"))] == after
    assert "8 already finished" in said[0] and sum("(reused)" in line for line in said) == 8
    assert (root / "table.md").read_text() == table and not list(root.glob("runs/**/model.pt"))
    gathered = write_report(tmp_path)
    assert "tiny-quick/figure.png" in gathered.read_text()


def test_a_stale_run_is_never_reported_as_a_result(tiny, tmp_path, monkeypatch):
    # the registry changed a job's config after its run finished: that run is not this job's
    reproduce("tiny", out=tmp_path, workers=1, progress=lambda *_: None)
    changed = lambda budget: [  # noqa: E731
        Job(j.panel, j.group, j.seed, TrainConfig(**{**j.config.to_dict(), "eval_every": 3}))
        for j in tiny_experiment(budget)]
    monkeypatch.setitem(experiments(), "tiny", Experiment("tiny", "Test paper", "Fig. 0",
                                                        "nothing", jobs=changed))
    import rnnmem.experiments.reproduce as reproduce_module

    monkeypatch.setattr(reproduce_module, "run_experiment_jobs", lambda name, jobs, root, *a,
                        **k: [job_dir(root, j) for j in jobs])  # none retrained: all stale
    with pytest.raises(RunChanged, match=r"8 run\(s\) changed since they were trained, e\.g\. "
                       r".*: it holds another config of its job; rerun with --rerun-changed"):
        reproduce("tiny", out=tmp_path, workers=1, progress=lambda *_: None)
    said = []
    report = reproduce("tiny", out=tmp_path, workers=1, progress=said.append,
                       rerun_changed=True).read_text()
    assert "8 changed run(s) moved aside to retrain" in said[1]
    assert len(list(tmp_path.glob("tiny-quick/runs/*/*/seed*.changed-1"))) == 8  # kept
    assert "| copy T = 5 | orthogonal | 2 | n/a | n/a (" in report  # counted failed, not shown
    assert report.count("| 2 |\n") == 4  # the failed column: every run of every group


def test_a_failed_rerun_leaves_the_table_and_its_runs(tiny, tmp_path, monkeypatch):
    from rnnmem import sweep
    from rnnmem.experiments.reproduce import RunsFailed

    reproduce("tiny", out=tmp_path, workers=1, progress=lambda *_: None)
    root = tmp_path / "tiny-quick"
    kept = {name: (root / name).read_bytes() for name in ("table.md", "report.md",
                                                          "results.json", "figure.png")}
    changed = lambda budget: [  # noqa: E731 - every job's config changed: all rerun
        Job(j.panel, j.group, j.seed, TrainConfig(**{**j.config.to_dict(), "eval_every": 3}))
        for j in tiny_experiment(budget)]
    monkeypatch.setitem(experiments(), "tiny", Experiment("tiny", "Test paper", "Fig. 0",
                                                        "nothing", jobs=changed))

    def broken(config, run_dir, **_):
        raise RuntimeError("a bug in the new code")

    monkeypatch.setattr(sweep, "train_or_resume", broken)
    with pytest.raises(RunsFailed, match=r"8 run\(s\) failed, e\.g\. .*RuntimeError: a bug in "
                       r"the new code; .*table\.md and its report are left as they were"):
        reproduce("tiny", out=tmp_path, workers=1, progress=lambda *_: None,
                  rerun_changed=True)
    assert {name: (root / name).read_bytes() for name in kept} == kept
    assert len(list(root.glob("runs/*/*/seed*.changed-1/summary.json"))) == 8


def test_an_analysis_experiment_trains_and_reads_each_of_its_sources(tiny, tmp_path,
                                                                      monkeypatch):
    lstms = lambda budget: [Job("copy T = 5", "LSTM", seed, TrainConfig(  # noqa: E731
        task="copy", T=5, S=2, K=3, model="lstm", hidden=8, batch=4, steps=12, eval_every=4,
        val_size=8, seed=seed)) for seed in range(2)]
    monkeypatch.setitem(experiments(), "tiny-lstm", Experiment("tiny-lstm", "Test paper",
                                                             "Fig. 0", "nothing", jobs=lstms))
    analysis = orhan._analysis_of(
        ("tiny", lambda j: j.group == "orthogonal" and j.panel == "copy T = 5"),
        ("tiny-lstm", lambda j: True))
    from rnnmem.experiments.tables import analysis_table

    monkeypatch.setitem(experiments(), "tiny-analysis", Experiment(
        "tiny-analysis", "Test paper", "Fig. 9", "nothing", run=analysis, table=analysis_table,
        reads=("tiny", "tiny-lstm")))
    stale = tmp_path / "tiny-analysis-quick" / "analysis-a-run-no-longer-selected.png"
    stale.parent.mkdir()
    stale.write_bytes(b"")
    report = reproduce("tiny-analysis", out=tmp_path, workers=1,
                       progress=lambda *_: None).read_text()
    assert not stale.exists()
    assert (tmp_path / "tiny-quick").is_dir() and (tmp_path / "tiny-lstm-quick").is_dir()
    assert report.count("| copy_T_=_5-orthogonal-seed") == 2  # one W block per seed
    assert report.count("| copy_T_=_5-LSTM-seed") == 8  # four gates per seed
    assert "trend in i − j" in report
    # report --check computes it again from the runs as committed: the analysed runs' weights
    # beside their records, no checkpoints, no other weights; nothing is trained
    from rnnmem.experiments.check import check_reports

    for path in tmp_path.rglob("*.pt"):
        if path.name == "checkpoint.pt" or "orthogonal" not in str(path) and "LSTM" not in str(
                path):
            path.unlink()
    result = check_reports(tmp_path)
    assert result.ok and "tiny-analysis-quick" in result.backed, result
    table = tmp_path / "tiny-analysis-quick" / "table.md"
    saved = table.read_text()
    table.write_text(saved.replace("| copy_T_=_5-LSTM-seed0", "| copy_T_=_5-LSTM-seed9", 1))
    assert any("differs from the table computed again" in p
               for p in check_reports(tmp_path).problems)
    table.write_text(saved)
    next(tmp_path.glob("tiny-lstm-quick/**/model.pt")).unlink()  # an analysed run's weights
    result = check_reports(tmp_path)
    assert result.ok and "tiny-analysis-quick" in result.unbacked
    assert not list(tmp_path.rglob("checkpoint.pt"))  # nothing was trained


def test_reproduce_cli(tiny, tmp_path, capsys):
    assert main(["reproduce", "--list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in experiments())
    assert main(["reproduce", "tiny", "--out", str(tmp_path), "--workers", "1"]) == 0
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "REPORT.md").is_file()
    capsys.readouterr()
    for args, message in [(["reproduce", "nope"], "unknown experiment 'nope'"),
                          (["reproduce"], "name an experiment"),
                          (["reproduce", "tiny", "--workers", "0"], "--workers must be"),
                          (["reproduce", "tiny", "--budget", "huge"], "invalid choice"),
                          (["report", str(tmp_path / "empty")], "holds no experiment reports")]:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1


@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="Ray not installed (pip install 'rnnmem[ray]'; CI installs it)")
def test_ray_backend_matches_local_workers(tmp_path):
    jobs = [j.config for j in tiny_experiment("quick")[:3]]
    beats = []  # #45: a Ray sweep's heartbeat, read from the run directories
    # long enough to beat: ~1 s of training after the short runs end, against beats of 0.1 s
    # (at 200 steps a fast CPU finished it inside one beat after the others: no beat at all)
    jobs[0] = dataclasses.replace(jobs[0], steps=2000, eval_every=100)
    ray_runs = run_all([(c, tmp_path / f"ray{i}") for i, c in enumerate(jobs)], workers=2,
                       backend="ray", on_beat=beats.append, beat=0.1)
    assert beats and all(0 <= step <= steps and steps == jobs[i].steps
                         for flight in beats for i, step, steps in flight)
    # a beat's step is the run's last evaluation on disk (whether a beat catches one past 0
    # is timing: read it from a copy of a run made unfinished, not from the race)
    shutil.copytree(tmp_path / "ray0", tmp_path / "started")
    (tmp_path / "started" / "summary.json").unlink()
    queued = [(jobs[0], tmp_path / "started"), (jobs[1], tmp_path / "queued"),
              (jobs[2], tmp_path / "ray2")]
    assert _in_flight_on_disk(queued, [0, 1, 2]) == [(0, 2000, 2000)]
    local = run_all([(c, tmp_path / f"local{i}") for i, c in enumerate(jobs)], workers=1)
    for a, b in zip(ray_runs, local, strict=True):
        assert a["final_val_loss"] == b["final_val_loss"]
        assert a["final_train_loss"] == b["final_train_loss"]
    # resumable like the local backend: a second call trains nothing
    again = run_all([(c, tmp_path / f"ray{i}") for i, c in enumerate(jobs)], backend="ray")
    assert [s["final_val_loss"] for s in again] == [s["final_val_loss"] for s in ray_runs]


def test_grid_groups_show_their_best_point_and_count_every_run(tmp_path):
    from rnnmem.experiments.reproduce import best_variant, results_table
    from rnnmem.io import write_json_atomic
    from rnnmem.rundir import RunDir

    config = TrainConfig(task="copy", T=5, S=2, K=3, hidden=4, steps=1)
    ratios = {("lr=1", 0): 0.9, ("lr=1", 1): 0.3, ("lr=2", 0): 0.4, ("lr=2", 1): float("nan")}
    jobs, dirs = [], []
    for (variant, seed), ratio in ratios.items():
        job = Job("copy", "chain", seed, config, variant=variant)
        d = job_dir(tmp_path, job)
        assert variant.replace("=", "") in str(d).replace("=", "")
        write_json_atomic(RunDir(d).config_file, config.to_dict())  # a finished run of this job
        RunDir(d).write_metrics([dict(step=0, seconds=0.0, train_loss=1.0, val_loss=1.0,
                                      val_ratio=ratio, val_metric=0.5)])
        RunDir(d).finish({}, dict(final_val_ratio=ratio, final_val_metric=0.5,
                                  status="completed", solved=ratio < 0.5,
                                  metric_name="accuracy"))
        jobs.append(job)
        dirs.append(d)
    assert len(set(dirs)) == 4
    variant, best = best_variant(jobs, dirs)  # lr=2 has a NaN seed: its mean is infinite
    assert variant == "lr=1" and best == dirs[:2]
    table, (record,) = results_table(jobs, dirs)
    assert record["solved"] == 2 and record["runs"] == 4 and record["val_ratio"] == [0.9, 0.3]
    assert "best: lr=1, 2 seeds" in table


def test_estimate_is_measured_and_scales_with_steps(monkeypatch, tmp_path):
    from rnnmem import lm as lm_module
    from rnnmem import train as train_module
    from rnnmem.experiments import estimate

    short = TrainConfig(task="copy", T=5, S=2, K=3, hidden=4, batch=4, steps=100, val_size=8,
                        eval_every=10)
    long = TrainConfig(task="copy", T=5, S=2, K=3, hidden=4, batch=4, steps=1000, val_size=8,
                       eval_every=10)
    assert 0 < train_module.step_seconds(short) < 10  # a real measurement
    # a language model without its corpus is counted, not estimated
    lm = TrainConfig(task="ptb-char", model="lstm", init="plain", data_dir=str(tmp_path))
    a, skipped = estimate.estimate_seconds([short, lm])
    assert skipped == 1 and 0 < a < 60
    said = estimate.describe_estimate([short, lm], 2)
    assert "1 runs not estimated (a corpus not installed" in said
    # with it: measured steps plus evaluations of the whole validation slice and the test split
    monkeypatch.setattr(lm_module, "lm_seconds", lambda config: (0.1, 1e-4, dict(
        train=10**6, valid=5000, test=3000)))
    lm = TrainConfig(task="ptb-char", model="lstm", init="plain", steps=100, eval_every=10,
                     val_tokens=2000)
    assert estimate.estimate_seconds([lm]) == (pytest.approx(0.1 * 100 + 1e-4 * (11 * 2000
                                                                                + 3000)), 0)
    # the arithmetic, with the timing fixed: steps plus a third of a step per val batch
    monkeypatch.setattr(train_module, "step_seconds", lambda config: 0.01)
    monkeypatch.setattr(estimate, "_COSTS", {})  # forget the real measurement above
    assert estimate.estimate_seconds([short])[0] == pytest.approx(0.01 * (100 + 11 * 2 / 3))
    assert estimate.estimate_seconds([short, long])[0] == pytest.approx(
        0.01 * (100 + 11 * 2 / 3 + 1000 + 101 * 2 / 3))


def test_progress_estimates_from_the_step_rate_of_the_runs_in_flight(monkeypatch):
    from rnnmem.experiments import estimate

    clock = iter([0.0, 10.0, 20.0])  # the time at each heartbeat
    monkeypatch.setattr(estimate.time, "monotonic", lambda: next(clock))
    progress = estimate.Progress(total=3, steps=3000)  # 3 runs of 1000 steps to train
    assert progress(False) == "[1/3]"  # reused: no estimate before a heartbeat
    line = progress.beat([("a", "run a", 0, 1000), ("b", "run b", 0, 1000)])
    assert "training run a step 0/1000, run b step 0/1000" in line and "left" not in line
    line = progress.beat([("a", "run a", 100, 1000), ("b", "run b", 100, 1000)])
    assert line.endswith("(about 2 min left at the current step rate)")  # 2800 steps at 20/s
    # a run ends early (early stopping): its steps not trained leave the estimate
    assert progress(True, "a", 1000) == "[2/3] (about 95 s left at the current step rate)"
    assert progress.steps == 900 + 1000  # b's rest and the run not started

    # weighted: a queued run whose steps cost 3 of the others' counts three times its steps
    clock = iter([0.0, 10.0])
    monkeypatch.setattr(estimate.time, "monotonic", lambda: next(clock))
    weighted = estimate.Progress(total=2, steps=1000 + 3 * 1000,
                                 weight=lambda run: {"copy": 1.0, "psmnist": 3.0}[run])
    weighted.beat([("copy", "copy", 0, 1000)])
    line = weighted.beat([("copy", "copy", 100, 1000)])  # 10 copy steps per second
    assert line.endswith("(about 6 min left at the current step rate)")  # (900 + 3000) / 10


def test_step_costs_are_relative_to_every_step_timed(monkeypatch):
    from rnnmem import train as train_module
    from rnnmem.experiments import estimate

    monkeypatch.setattr(estimate, "_COSTS", {})
    monkeypatch.setattr(train_module, "step_seconds",
                        lambda c: 0.01 if c.task == "copy" else 0.03)
    copy, adding = TrainConfig(task="copy", steps=10), TrainConfig(task="adding", steps=10)
    estimate.estimate_seconds([copy, adding])
    assert estimate.relative_step_costs([copy]) == pytest.approx([0.5])  # one unit, any list
    assert estimate.relative_step_costs([adding, copy]) == pytest.approx([1.5, 0.5])
    assert estimate.relative_step_costs([TrainConfig(task="copy", hidden=7)]) == [1.0]


def test_the_list_shows_each_experiments_verdict_from_the_docs():
    from rnnmem.experiments.reproduce import RESULTS, verdicts

    if not RESULTS.is_file():
        pytest.skip("docs/results.md is not beside this package")
    words = verdicts()
    # a paper's claim, and rnnmem's own questions (the rows "Beyond both"), which no paper claims
    allowed = {"reproduced", "partly", "not reproduced at this budget", "refuted", "open",
               "supported", "not supported at this budget"}
    assert set(words.values()) <= allowed, set(words.values()) - allowed
    builtin = {n for n, e in experiments().items() if e.plugin is None}
    assert builtin <= set(words), builtin - set(words)  # every experiment has its verdict
    assert words["orhan-fig3-t750"] == "partly"  # rerun at the original input scale
    assert words["orhan-fig6"] == "not reproduced at this budget"
    for ours in ("equal-state", "memory-horizon"):  # our questions, not a paper's claims
        assert words[ours] == "not supported at this budget", ours
    assert "| henaff-fig4 | Henaff et al. 2016 | Fig. 4 | partly |" in main_list()


def main_list():
    from rnnmem.experiments.reproduce import list_experiments

    return list_experiments()
