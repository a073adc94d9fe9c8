"""Runs survive SIGKILL: resumed runs and sweeps end with the numbers of uninterrupted ones."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rnnmem.checkpoint import CheckpointError, load_checkpoint
from rnnmem.cli import main
from rnnmem.io import read_json
from rnnmem.train import TrainConfig, train

ARGS = ["--T", "20", "--S", "3", "--K", "4", "--hidden", "24", "--batch", "16",
        "--eval-every", "10", "--val-size", "64", "--lr", "1e-3", "--quiet"]


def command(*args):
    exe = Path(sys.executable).with_name("rnnmem")
    return ([str(exe)] if exe.exists() else [sys.executable, "-m", "rnnmem"]) + list(args)


def metrics(run_dir):
    with open(Path(run_dir) / "metrics.csv") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def summary(run_dir):
    return {k: v for k, v in read_json(Path(run_dir) / "summary.json").items()
            if k not in ("seconds", "integrity")}  # the summary's checksum covers its seconds


def kill_when(proc, ready, timeout=120.0):
    """SIGKILL the process group as soon as ready() is true (it must not have finished)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the process finished before it could be killed"
        assert time.monotonic() < deadline, "timed out waiting to kill"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def rows_written(run_dir, n):
    path = Path(run_dir) / "metrics.csv"
    return lambda: path.exists() and path.read_text().count("\n") > n


def test_killed_run_resumes_to_identical_numbers(tmp_path):
    steps = ["--steps", "400"]
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    assert main(["train", *ARGS, *steps, "--out", str(reference)]) == 0
    proc = subprocess.Popen(command("train", *ARGS, *steps, "--out", str(interrupted)),
                            start_new_session=True)
    kill_when(proc, rows_written(interrupted, 5))
    assert not (interrupted / "summary.json").exists()
    done = subprocess.run(command("train", "--resume", str(interrupted), "--quiet"),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert metrics(interrupted) == metrics(reference)
    assert summary(interrupted) == summary(reference)
    a = torch.load(interrupted / "model.pt", weights_only=True)
    b = torch.load(reference / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


class Killed(Exception):
    pass


def test_resume_in_process_with_the_ortho_penalty(tmp_path, monkeypatch):
    import rnnmem.loop as training  # the one loop that writes checkpoints

    config = TrainConfig(task="copy", T=10, S=2, K=3, hidden=12, batch=8, steps=60,
                         eval_every=10, val_size=16, lr=3e-3, penalty_lr=1e-2, penalty_points=8,
                         model="lt-rnn-pool")
    train(config, tmp_path / "full")
    real_save = training.save_checkpoint

    def save_then_die(path, **state):
        real_save(path, **state)
        if state["step"] == 30:
            raise Killed

    monkeypatch.setattr(training, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        train(config, tmp_path / "cut")
    monkeypatch.setattr(training, "save_checkpoint", real_save)
    train(config, tmp_path / "cut", resume=True)
    assert metrics(tmp_path / "cut") == metrics(tmp_path / "full")
    assert summary(tmp_path / "cut") == summary(tmp_path / "full")
    other = TrainConfig(**{**config.to_dict(), "lr": 1e-3})
    (tmp_path / "cut" / "summary.json").unlink()
    with pytest.raises(CheckpointError, match="different config"):
        train(other, tmp_path / "cut", resume=True)


def test_resume_after_the_stopping_evaluation(tmp_path):
    config = TrainConfig(task="adding", T=6, init="identity", input_activation="relu", hidden=8,
                         lr=3e-3, steps=2000, eval_every=20, batch=32, stop_ratio=0.5)
    first = train(config, tmp_path)
    assert first["status"] == "early-stopped"
    (tmp_path / "summary.json").unlink()  # as if killed right after the last checkpoint
    again = train(config, tmp_path, resume=True)
    assert again["status"] == "early-stopped" and again["steps"] == first["steps"]
    assert again["final_val_loss"] == first["final_val_loss"]


def test_killed_sweep_loses_nothing_and_finishes(tmp_path):
    demo = ["demo", "--steps", "120", "--seeds", "2", "--workers", "2"]
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    assert main([*demo, "--out", str(reference)]) == 0
    proc = subprocess.Popen(command(*demo, "--out", str(interrupted)),
                            start_new_session=True, stdout=subprocess.DEVNULL)
    first_done = lambda: any(interrupted.glob("runs/*/summary.json"))  # noqa: E731
    kill_when(proc, first_done)
    finished = {p.parent.name for p in interrupted.glob("runs/*/summary.json")}
    assert finished and len(finished) < 4
    stamps = {n: (interrupted / "runs" / n / "summary.json").stat().st_mtime_ns for n in finished}
    for run in (interrupted / "runs").iterdir():  # no half-written file is left to trust
        assert not list(run.glob(".*.tmp")) or not (run / "summary.json").exists()
    assert main([*demo, "--out", str(interrupted)]) == 0
    for name, stamp in stamps.items():  # finished runs were not redone
        assert (interrupted / "runs" / name / "summary.json").stat().st_mtime_ns == stamp
    for run in (reference / "runs").iterdir():
        assert summary(interrupted / "runs" / run.name) == summary(run)
        assert metrics(interrupted / "runs" / run.name) == metrics(run)


@pytest.mark.parametrize("content", [b"not a checkpoint at all", b""])
def test_corrupt_checkpoint_is_a_clear_error(tmp_path, content, capsys):
    assert main(["train", *ARGS, "--steps", "20", "--out", str(tmp_path)]) == 0
    (tmp_path / "summary.json").unlink()
    (tmp_path / "checkpoint.pt").write_bytes(content)
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a readable rnnmem checkpoint" in err


def test_foreign_checkpoint_is_a_clear_error(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a readable rnnmem checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_resume_flag_validation(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "no config.json" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path), "--hidden", "8"]) == 2
    assert "drop --hidden" in capsys.readouterr().err
    assert main(["train", *ARGS, "--steps", "10", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path)]) == 0
    assert "already finished" in capsys.readouterr().out


def _stopped_run(tmp_path, name, *extra):
    """A finished 20-step run made resumable again (as if killed after its last checkpoint)."""
    run = tmp_path / name
    assert main(["train", *ARGS, "--steps", "20", *extra, "--out", str(run)]) == 0
    (run / "summary.json").unlink()
    return run


def test_damaged_checkpoint_is_refused(tmp_path, capsys):
    run = _stopped_run(tmp_path, "run")
    data = bytearray((run / "checkpoint.pt").read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the payload
    (run / "checkpoint.pt").write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "do not match its checksum" in err


def test_checkpoint_of_another_run_or_an_edited_config_is_refused(tmp_path, capsys):
    mine, other = _stopped_run(tmp_path, "mine"), _stopped_run(tmp_path, "other", "--seed", "7")
    (mine / "checkpoint.pt").write_bytes((other / "checkpoint.pt").read_bytes())
    capsys.readouterr()
    assert main(["train", "--resume", str(mine), "--quiet"]) == 2
    assert "belongs to a different config" in capsys.readouterr().err
    edited = read_json(other / "config.json") | {"lr": 0.5}
    (other / "config.json").write_text(__import__("json").dumps(edited))
    assert main(["train", "--resume", str(other), "--quiet"]) == 2
    assert "belongs to a different config" in capsys.readouterr().err


def test_a_fresh_start_unmarks_the_old_run_first_and_cleans_stale_files(tmp_path):
    from rnnmem.train import open_run

    config = TrainConfig(task="copy", T=5, S=2, K=3, hidden=4, batch=4, steps=20, val_size=8)
    train(config, tmp_path)
    (tmp_path / ".metrics.csv.x1.tmp").write_text("half")
    other = TrainConfig(task="copy", T=5, S=2, K=3, hidden=4, batch=4, steps=60, val_size=8)
    assert open_run(other, tmp_path, resume=False) is None  # as --overwrite starts
    assert not any((tmp_path / n).exists() for n in ("summary.json", "model.pt", "checkpoint.pt"))
    assert not list(tmp_path.glob(".*.tmp"))
    assert TrainConfig.from_dict(read_json(tmp_path / "config.json")) == other


def test_out_onto_an_unfinished_run_is_refused(tmp_path, capsys):
    run = _stopped_run(tmp_path, "run")
    capsys.readouterr()
    assert main(["train", *ARGS, "--steps", "30", "--out", str(run)]) == 2
    assert "holds an unfinished run; continue it with --resume" in capsys.readouterr().err
    assert (run / "checkpoint.pt").exists()  # untouched


def test_killed_overwrite_leaves_a_resumable_unfinished_run(tmp_path):
    from rnnmem.rundir import finished_summary

    run = tmp_path / "run"
    assert main(["train", *ARGS, "--steps", "20", "--out", str(run)]) == 0
    proc = subprocess.Popen(command("train", *ARGS, "--steps", "400", "--overwrite",
                                    "--out", str(run)), start_new_session=True)
    kill_when(proc, rows_written(run, 5))
    assert not (run / "summary.json").exists() and not (run / "model.pt").exists()
    config = TrainConfig.from_dict(read_json(run / "config.json"))
    assert config.steps == 400 and finished_summary(config, run) is None
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert read_json(run / "summary.json")["steps"] == 400


def test_resume_on_a_read_only_filesystem_is_one_line_and_changes_nothing(tmp_path, capsys,
                                                                         monkeypatch):
    import errno

    import rnnmem.io

    run = _stopped_run(tmp_path, "run")
    before = {p.name: p.read_bytes() for p in run.iterdir()}

    def read_only(*args, dir=None, **kw):
        raise OSError(errno.EROFS, "Read-only file system", str(dir))

    monkeypatch.setattr(rnnmem.io.tempfile, "mkstemp", read_only)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Read-only file system" in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_two_writers_started_together_leave_one_run_and_one_refusal(tmp_path):
    run = tmp_path / "run"
    procs = [subprocess.Popen(command("train", *ARGS, "--steps", "300", "--seed", str(seed),
                                      "--out", str(run)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (0, 1)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, _, err in results if code == 2)
    assert refused.count("\n") == 1 and "Traceback" not in refused
    assert "being written by another process (pid" in refused or "holds an" in refused
    winner = next(i for i, (code, _, _) in enumerate(results) if code == 0)
    assert read_json(run / "config.json")["seed"] == winner  # the refused one wrote nothing
    assert read_json(run / "summary.json")["steps"] == 300


def test_a_run_being_written_is_not_taken_by_a_second_writer(tmp_path):
    from rnnmem.rundir import RunDir, RunLocked

    run = RunDir(tmp_path / "run")
    with run.lock():
        assert run.holder() == str(os.getpid())
        config = TrainConfig(task="copy", T=5, S=2, K=3, hidden=8, batch=4, steps=4,
                             eval_every=2, val_size=8)
        with pytest.raises(RunLocked, match=r"pid \d+"):
            train(config, run.path)
    assert run.holder() is None
    assert train(config, run.path)["steps"] == 4


def test_a_deleted_lock_lets_no_second_writer_in(tmp_path):
    """#43: a writer in another process holds the run; someone deletes .lock; a second writer
    (the CLI, --overwrite) is still refused in one line and the run's files stay the first's."""
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom rnnmem.rundir import RunDir\n"
         "with RunDir(sys.argv[1]).lock():\n    print('held', flush=True)\n    time.sleep(60)",
         str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (run / ".lock").unlink()
        second = subprocess.run([sys.executable, "-m", "rnnmem", "train", "--steps", "2",
                                 "--T", "5", "--hidden", "8", "--out", str(run), "--overwrite",
                                 "--quiet"], capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert second.stderr.count("\n") == 1 and "being written by another process" in \
            second.stderr
        assert not (run / "config.json").exists()  # the refused writer wrote nothing
    finally:
        holder.kill()
        holder.wait()
    from rnnmem.rundir import RunDir

    assert RunDir(run).holder() is None  # released with its process


def test_a_legacy_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    import io

    run = _stopped_run(tmp_path, "run")
    state = torch.load(io.BytesIO((run / "checkpoint.pt").read_bytes()[len(b"rnnmem-checkpoint-2\n")
                                                                        + 32:]),
                       weights_only=True)
    state["format"] = "rnnmem-checkpoint-1"  # the old format: no checksum, no config record
    state.pop("config")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    (run / "checkpoint.pt").write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match="legacy checkpoint"):
        load_checkpoint(run / "checkpoint.pt")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoint.pt is a legacy checkpoint" in err
    assert not (run / "summary.json").exists()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found += [int(c) for c in text.split()]
    return found


SWEEP = """
import sys
from rnnmem.sweep import run_all
from rnnmem.train import TrainConfig
jobs = [(TrainConfig(task="copy", T=20, S=3, K=4, hidden=24, batch=16, steps=100000,
                     eval_every=50, val_size=16, seed=s), f"{sys.argv[1]}/seed{s}")
        for s in range(4)]
run_all(jobs, workers=2)
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_sweep_workers_die_with_their_parent(tmp_path, how):
    proc = subprocess.Popen([sys.executable, "-c", SWEEP, str(tmp_path)],
                            start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not all(rows_written(tmp_path / f"seed{s}", 1)() for s in (0, 1)):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    workers = [c for c in _children(proc.pid) if _alive(c)]
    assert len(workers) >= 2
    os.kill(proc.pid, how)  # the parent only, not its process group
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)
    assert not (tmp_path / "seed2").exists() and not (tmp_path / "seed3").exists()


def _finished_run(tmp_path, name="run"):
    run = tmp_path / name
    assert main(["train", *ARGS, "--steps", "20", "--out", str(run)]) == 0
    return run


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip model.pt", "remove model.pt", "truncate summary.json",
                                    "edit solved", "no integrity record"])
def test_a_damaged_finished_run_is_told_from_a_finished_one(tmp_path, capsys, damage):
    import json

    from rnnmem.rundir import RunDir, RunDirError

    run = _finished_run(tmp_path)
    intact = (run / "model.pt").read_bytes()
    reference = summary(run)
    summary_file = run / "summary.json"
    if damage == "flip model.pt":
        _flip(run / "model.pt")
    elif damage == "remove model.pt":
        (run / "model.pt").unlink()
    elif damage == "truncate summary.json":
        summary_file.write_text(summary_file.read_text()[:40])
    else:
        saved = json.loads(summary_file.read_text())
        if damage == "edit solved":
            saved["solved"] = True
        else:
            saved.pop("integrity")
        summary_file.write_text(json.dumps(saved))
    named = "model.pt" if "model.pt" in damage else "summary.json"
    with pytest.raises(RunDirError, match=named):
        RunDir(run).verify()
    config = TrainConfig.from_dict(read_json(run / "config.json"))
    assert RunDir(run).finished_summary(config) is None  # never shown as a result
    if damage != "remove model.pt":
        capsys.readouterr()
        assert main(["memory", "analyze", str(run), "--out", str(tmp_path / "a")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and named in err
    capsys.readouterr()
    # --resume says what is damaged and re-finishes the run from its checksummed checkpoint
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert named in capsys.readouterr().err
    assert (run / "model.pt").read_bytes() == intact and summary(run) == reference
    assert RunDir(run).verify()["steps"] == 20
