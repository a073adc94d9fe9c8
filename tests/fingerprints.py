"""Fingerprints of the networks the registry's experiments train: one job per experiment (and
one per model of the peer comparison) at the quick budget, trained for a few steps. Each is a
digest of the initial weights and of what the steps added to them (the update).

A redesign must leave every fingerprint unchanged (tests/test_fingerprints.py). The file
tests/data/fingerprints.json was written by ``python tests/fingerprints.py --write`` on main
605eb2d (AMD EPYC, AVX512), whose trained weights matched the earlier file's digests of the
final weights (written on main 5c0d317, whose weights were byte-identical to main 8fe1c70's) to
within 1 % of that file's tolerance; rewrite it only for a change that is meant to alter
training. tests/data/job-hashes.json holds a hash of every job of every budget of every
experiment (``--write-jobs``): what each experiment runs, config by config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from unittest import mock

import torch

FILE = Path(__file__).parent / "data" / "fingerprints.json"
JOBS_FILE = Path(__file__).parent / "data" / "job-hashes.json"
STEPS = 3
PSMNIST_GROUPS = ("LT-ORNN", "expRNN")  # each psMNIST job evaluates the 10,000-image test set


def selected_jobs() -> dict:
    """name -> Job: the first job of each training experiment, and of each peer model."""
    from rnnmem.registry import experiments

    chosen = {}
    for exp in experiments().values():
        if exp.jobs is None or exp.plugin is not None:
            continue
        jobs = exp.jobs("quick")
        chosen[exp.name] = jobs[0]
        if exp.name == "peers-comparison":  # every peer model; the MNIST readouts of two
            for j in jobs:
                if "psMNIST" not in j.panel or j.group in PSMNIST_GROUPS:
                    chosen.setdefault(f"{exp.name}/{j.panel}/{j.group}", j)
    return chosen


def short(config):
    """The job's config, trained for STEPS steps and evaluated on a small held-out set (the
    evaluation does not touch training; the test split of MNIST is not evaluated)."""
    fields = {f.name for f in dataclasses.fields(config)}
    changes = dict(steps=STEPS, eval_every=STEPS)
    if "val_size" in fields:
        changes["val_size"] = 20
    options = getattr(config, "task_options", {})
    if getattr(config, "val_tokens", None) is not None or "ptb" in str(config.task):
        changes["val_tokens"] = 2000
    if "test_size" in options:  # the final test evaluation does not touch the weights
        changes["test_size"] = 0
    return dataclasses.replace(config, **changes)


def weights_digest(state_dict: dict) -> dict:
    """name -> (sum, sum of squares, a fixed random projection) of each tensor, in float64.

    Not a hash of the bytes: the same code gives floats that differ in the last bits on
    another CPU (an AMD EPYC and the machine of 8fe1c70 disagree on 16 of 19 byte hashes).
    """
    return {key: [x.sum().item(), x.pow(2).sum().item(), (x @ _probe(x.numel())).item()]
            for key, x in _flat(state_dict).items()}


def update_digest(initial: dict, final: dict) -> dict:
    """name -> (norm, a fixed random projection) of what training added to each tensor: a
    change to the update (learning rate, steps, data, gradient) moves these in proportion to
    the update, however small it is against the weights themselves."""
    start, end = _flat(initial), _flat(final)
    return {key: [(end[key] - start[key]).norm().item(),
                  ((end[key] - start[key]) @ _probe(end[key].numel())).item()] for key in end}


def _flat(state_dict: dict) -> dict:
    flat = {}
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().cpu()
        if tensor.is_complex():
            tensor = torch.view_as_real(tensor)
        flat[key] = tensor.double().flatten()
    return flat


def _probe(n: int) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def trained_weights(job, **changes) -> tuple[dict, dict]:
    """(initial, final) state dicts of the job's short run (``changes`` to its config on top)."""
    import rnnmem.loop as loop
    from rnnmem.train import train

    torch.set_num_threads(1)
    config = dataclasses.replace(short(job.config), **changes)
    initial, make_optimizer = {}, loop.make_optimizer

    def snapshot(config, model):  # the weights as training gets them, after every init
        initial.update({k: v.detach().clone() for k, v in model.state_dict().items()})
        return make_optimizer(config, model)

    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(loop, "make_optimizer",
                                                                 snapshot):
        train(config, Path(tmp) / "run")
        final = torch.load(Path(tmp) / "run" / "model.pt", weights_only=True)
    return initial, final


def fingerprint(job, **changes) -> dict:
    """{"initial": digest of the initial weights, "update": digest of what training added}."""
    initial, final = trained_weights(job, **changes)
    return dict(initial=weights_digest(initial), update=update_digest(initial, final))


def compute() -> dict:
    return {name: fingerprint(job) for name, job in selected_jobs().items()}


def job_hashes() -> dict:
    """experiment/budget -> (jobs, SHA-256 of every job's panel, group, seed, variant and
    resolved config): any change to what an experiment runs changes its hash."""
    from rnnmem.experiments.grid import BUDGETS
    from rnnmem.experiments.tuning import tuning_jobs
    from rnnmem.registry import experiments, model_spec

    hashes = {}
    for exp in experiments().values():
        if exp.jobs is None or exp.plugin is not None:
            continue
        for budget in BUDGETS:
            # a tuned grid's search too (its reported jobs: before the search chose)
            for key, jobs in ((f"{exp.name}/{budget}", exp.jobs(budget)),
                              (f"{exp.name}/{budget}/tuning", tuning_jobs(exp.jobs, budget))):
                # the built-in models' jobs: a plugin registered in this process (another
                # test's) joins the grids that take every registered model (memory-benchmark)
                jobs = [j for j in jobs if model_spec(j.config.model).builtin]
                if not jobs:
                    continue
                text = json.dumps([[j.panel, j.group, j.seed, j.variant, legacy_dict(j.config)]
                                   for j in jobs], sort_keys=True)
                hashes[key] = [len(jobs), hashlib.sha256(text.encode()).hexdigest()[:16]]
    return hashes


# The flat config.json of main 5c0d317 and before (48 fields), from a config of this version:
# what job-hashes.json hashed. Each option at its old name; a setting that did not act on the run
# (another model's or task's) at the old default, as the old config recorded it.
LEGACY_DEFAULTS = dict(
    T=100, S=10, K=8, convention="henaff", placement="anywhere", channels="value-mark",
    permutation="0", data_dir=None, train_subset=None, bptt=35, layers=1, embedding=None,
    val_tokens=None, model_options={}, task_options={}, init=None, gain=None, feedback=None,
    input_init="gaussian", input_gain=1.0, input_bias=None, gate_bias=None, readout_bias=None,
    activation=None, pool=2, clip=1000.0, lr_orth=None, t_decay=1e-6, gamma_penalty=1e-4,
    rms_decay=0.9, rms_eps=1e-8, ortho_lr=0.0, ortho_points=50)
OLD_NAMES = {"penalty_lr": "ortho_lr", "penalty_points": "ortho_points", "bias": "gate_bias",
             "input_activation": "activation", "decay": "rms_decay", "eps": "rms_eps"}


def legacy_dict(config) -> dict:
    from rnnmem.registry import model_spec, task_spec, valid_inits

    spec = model_spec(config.model)
    flat = {**LEGACY_DEFAULTS, **{k: v for k, v in config.to_dict().items()
                                  if not k.endswith("_options")}}
    if flat.get("device") == "cpu":  # a field added since, at its default: left out
        del flat["device"]
    task = task_spec(config.task).all_options()
    for source in (config.task_options, config.optimizer_options, config.model_options):
        for key, value in source.items():
            name = OLD_NAMES.get(key, key)
            # an option added since (MNIST's test_size) did not exist: left out at its default
            if name in LEGACY_DEFAULTS or key in spec.options or value != getattr(
                    task.get(key), "default", object()):
                flat[name] = value
    if config.optimizer != "rmsprop":  # Adam's runs recorded the recipe's decay, unused
        flat["rms_decay"] = spec.recipe.get("optimizer_options", {}).get("decay", 0.9)
    if not valid_inits(spec):  # the uRNN's one init had a name
        flat["init"] = "random"
    # an sRNN's φ and an LT-RNN's σ were recorded where a job or the task gave them: None
    # where they are the model's default (no job gives the default explicitly)
    for option in ("activation", "input_activation"):
        if option in spec.options and task_spec(config.task).model_defaults.get(option) is None:
            default = spec.all_options()[option].default
            if config.model_options[option] == default:
                flat["activation"] = None
    return flat


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        FILE.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n")
        JOBS_FILE.write_text(json.dumps(job_hashes(), indent=1, sort_keys=True) + "\n")
        print(f"wrote {FILE}, {JOBS_FILE}")
    elif sys.argv[1:] == ["--write-jobs"]:
        JOBS_FILE.write_text(json.dumps(job_hashes(), indent=1, sort_keys=True) + "\n")
        print(f"wrote {JOBS_FILE}")
    else:
        print(json.dumps(compute(), indent=1))
