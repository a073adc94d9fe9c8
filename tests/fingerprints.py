"""Fingerprints of the networks the registry's experiments train: one job per experiment (and
one per model of the peer comparison) at the quick budget, trained for a few steps.

A redesign must leave every fingerprint unchanged (tests/test_fingerprints.py). The file
tests/data/fingerprints.json was written by ``python tests/fingerprints.py --write`` on the code
before the change (main 8fe1c70); rewrite it only for a change that is meant to alter training.
tests/data/job-hashes.json holds a hash of every job of every budget of every experiment
(``--write-jobs``): what each experiment runs, config by config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import tempfile
from pathlib import Path

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
        if exp.jobs is None:
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
    if getattr(config, "val_tokens", None) is not None or "ptb" in str(config.task):
        changes["val_tokens"] = 2000
    return dataclasses.replace(config, **changes)


def weights_hash(state_dict: dict) -> str:
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().cpu().contiguous()
        digest.update(key.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.numpy().tobytes() if not tensor.is_complex()
                      else torch.view_as_real(tensor).numpy().tobytes())
    return digest.hexdigest()[:16]


def fingerprint(job) -> str:
    from rnnmem.train import train

    torch.set_num_threads(1)
    config = short(job.config)
    with tempfile.TemporaryDirectory() as tmp:
        train(config, Path(tmp) / "run")
        state = torch.load(Path(tmp) / "run" / "model.pt", weights_only=True)
    return weights_hash(state)


def compute() -> dict:
    return {name: fingerprint(job) for name, job in selected_jobs().items()}




def job_hashes() -> dict:
    """experiment/budget -> (jobs, SHA-256 of every job's panel, group, seed, variant and
    resolved config): any change to what an experiment runs changes its hash."""
    from rnnmem.experiments.registry import BUDGETS
    from rnnmem.registry import experiments

    hashes = {}
    for exp in experiments().values():
        if exp.jobs is None or exp.plugin is not None:
            continue
        for budget in BUDGETS:
            jobs = exp.jobs(budget)
            text = json.dumps([[j.panel, j.group, j.seed, j.variant, j.config.to_dict()]
                               for j in jobs], sort_keys=True)
            hashes[f"{exp.name}/{budget}"] = [len(jobs),
                                              hashlib.sha256(text.encode()).hexdigest()[:16]]
    return hashes


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
