"""The README's example output is the main job's, and its Python example runs (twice).

The main job's runs are committed (docs/results/demo, written by ``rnnmem demo --out
docs/results/demo``): the README's table must be the one their files give, and a fresh run of
the same configs must start from the same evaluation and, on the kernel path that trained them,
retrace their first evaluations. Training both runs to the end here would
take a tenth of the suite's time budget; a run that retraces the start and resumes bit-exactly
(tests/test_reliability.py) is the same run.
"""

import dataclasses
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
DEMO = ROOT / "docs" / "results" / "demo"
TOLERANCE = 0.02  # stated in the README: another CPU may sum in another order
PREFIX = 300  # steps of the fresh runs: two evaluations past the initial one


def _table(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("| ")]


def test_the_readme_table_is_the_main_jobs_and_a_fresh_run_retraces_it(tmp_path):
    from rnnmem.experiments.demo import INITS, demo_config, format_table
    from rnnmem.io import read_json
    from rnnmem.rundir import RunDir, finished_summary
    from rnnmem.sweep import run_all

    block = re.search(r"What the main job prints.*?```\n(.*?)```", README.read_text(), re.S)
    assert block, "the README lost its example output"
    dirs = {init: DEMO / "runs" / f"{init}-seed0" for init in INITS}
    summaries = {init: [finished_summary(demo_config(init), d, weights=False)]
                 for init, d in dirs.items()}
    assert all(s[0] is not None for s in summaries.values()), "docs/results/demo is not the job's"
    assert _table(block.group(1)) == _table(format_table(summaries))

    configs = {init: dataclasses.replace(demo_config(init), steps=PREFIX) for init in INITS}
    run_all([(configs[init], tmp_path / init) for init in INITS], workers=2)
    for init, d in dirs.items():
        fresh, committed = RunDir(tmp_path / init).metrics(), RunDir(d).metrics()
        assert [r["step"] for r in fresh] == [0, 150, 300]
        # before any update the run is the same job on every machine: init, data, evaluation
        assert fresh[0]["val_loss"] == pytest.approx(committed[0]["val_loss"], rel=1e-5), init
        same_path = (read_json(tmp_path / init / "summary.json")["kernel_path"]
                     == read_json(d / "summary.json")["kernel_path"])
        if same_path:  # the same kernel path: the same trajectory
            for mine, theirs in zip(fresh, committed, strict=False):
                assert mine["step"] == theirs["step"]
                assert mine["val_loss"] == pytest.approx(theirs["val_loss"], rel=TOLERANCE), init
        else:  # training amplifies another order of summation (the LT-IRNN's by 25 % in 150
            # steps, AVX-512 against the AVX2 of the committed runs): it must still learn
            assert fresh[-1]["val_loss"] < fresh[0]["val_loss"] / 4, init


def test_the_readmes_python_example_runs_and_runs_again(tmp_path, monkeypatch):
    block = re.search(r"From Python:\s*```python\n(.*?)```", README.read_text(), re.S)
    assert block, "the README lost its Python example"
    code = block.group(1).replace("steps=500", "steps=20")  # the same calls, shorter
    assert "steps=20" in code
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # a second run reuses the finished one
        scope: dict = {}
        exec(compile(code, "README.md", "exec"), scope)
        assert scope["summary"]["status"] in ("completed", "early-stopped")
        assert tuple(scope["logits"].shape) == (120, 50, 10)
        assert next(iter(scope["loader"]))[0].shape[1] == 50


def _using_it_commands() -> list[list[str]]:
    """Every ``rnnmem`` command of the README's "Using it" block, in order, as argv lists
    (continued lines joined, comments dropped)."""
    import shlex

    block = re.search(r"## Using it.*?```bash\n(.*?)```", README.read_text(), re.S)
    assert block, "the README lost its Using it block"
    text = block.group(1).replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "rnnmem":
            commands.append(words[1:])
    return commands


def test_every_readme_command_parses_and_reads_only_what_an_earlier_one_wrote():
    """#45: the README's commands run top to bottom: each is accepted by the command line as
    written (options, values, choices), and every run directory a command reads (plot,
    memory analyze, --resume) was written by an earlier command's --out."""
    from rnnmem.cli import _chosen, build_parser

    commands = _using_it_commands()
    assert len(commands) > 30
    written: set[str] = set()
    for argv in commands:
        if any("my_cell" in word for word in argv):  # the reader's own plugin file
            continue
        try:
            args = build_parser(**_chosen(argv)).parse_args(argv)
        except SystemExit:
            raise AssertionError(f"README: rnnmem {' '.join(argv)} is refused") from None
        reads = list(getattr(args, "run_dirs", None) or [])
        if getattr(args, "resume", None):
            reads.append(args.resume)
        for path in map(str, reads):
            if path.startswith("runs/") and not path.startswith("runs/reproduce"):
                assert path in written, f"README: rnnmem {' '.join(argv)} reads {path}, " \
                    "which no earlier command writes"
        if getattr(args, "out", None) is not None:
            written.add(str(args.out))


def test_the_readmes_first_commands_run_in_order_at_a_small_size(tmp_path, monkeypatch,
                                                                 capsys):
    """The train → train → plot → memory analyze → resume chain of "Using it", as written but
    for the sizes (a few steps of copy T = 10)."""
    from rnnmem.cli import main

    monkeypatch.chdir(tmp_path)
    small = {"--T": "10", "--steps": "20", "--hidden": "16"}
    chain = [argv for argv in _using_it_commands() if argv[0] in ("train", "plot", "memory")
             and ("--out" in argv or "--resume" in argv or argv[0] != "train")
             and "my_cell.py" not in argv and argv[:2] not in (["memory", "curve"],
                                                                ["memory", "toy"])]
    assert [a[0] for a in chain[:2]] == ["train", "train"] and any(a[0] == "plot" for a in chain)
    for argv in chain:
        argv = [small.get(prev, word) if prev in small else word
                for prev, word in zip(["", *argv[:-1]], argv, strict=True)]
        if argv[0] == "memory":
            argv += ["--length", "20"]
        assert main(argv) == 0, argv
    assert (tmp_path / "runs" / "curves.png").is_file()
