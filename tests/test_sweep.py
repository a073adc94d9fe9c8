from rnnmem.sweep import run_all
from rnnmem.train import TrainConfig

TINY = dict(task="copy", T=6, S=2, K=3, hidden=8, batch=4, steps=15, eval_every=5, val_size=8)


def test_worker_processes_give_the_same_results_as_one_process_and_a_heartbeat(tmp_path):
    import time

    configs = [TrainConfig(**{**TINY, "steps": 200, "eval_every": 100}, seed=s) for s in range(3)]
    lines, beats = [], []

    def beat(in_flight):
        lines.append(time.monotonic())
        beats.append(in_flight)

    def done(i, summary):
        lines.append(time.monotonic())

    # beat=0: a beat at every watcher poll (0.2 s) with a run in flight, so even runs as short
    # as a fast CI machine's (~0.3 s each) are seen in flight
    parallel = run_all([(c, tmp_path / f"p{i}") for i, c in enumerate(configs)], workers=2,
                       on_done=done, on_beat=beat, beat=0.0)
    assert beats and all(0 <= i < 3 and 0 <= step <= steps == 200 and len(flight) <= 2
                         for flight in beats for i, step, steps in flight)
    gaps = [b - a for a, b in zip(lines, lines[1:], strict=False)]
    assert max(gaps) < 3.0  # never silent for long (slack: a loaded CI machine)
    serial = run_all([(c, tmp_path / f"s{i}") for i, c in enumerate(configs)], workers=1,
                     on_beat=beats.append, beat=0.3)
    for p, s in zip(parallel, serial, strict=True):
        assert p["final_val_loss"] == s["final_val_loss"]
        assert p["final_train_loss"] == s["final_train_loss"]
    assert len({s["final_val_loss"] for s in serial}) == 3


def test_a_heartbeat_says_each_unfinished_run_s_step_from_the_workers_triples():
    # the step a beat gives, without the race of a real sweep (whether a beat falls after a
    # worker's first step depends on the machine's load)
    import time

    from rnnmem.sweep import _Heartbeat

    beats, done = [], []
    heart = _Heartbeat([1, 37, 200, 3, 5, 12], lambda i, s: done.append(i), beats.append, 0.0)
    with heart:
        deadline = time.monotonic() + 10
        while not beats and time.monotonic() < deadline:
            time.sleep(0.05)
        heart.done(0, {})
        count = len(beats)
        while len(beats) == count and time.monotonic() < deadline:
            time.sleep(0.05)
    assert beats[0] == [(0, 37, 200), (2, 5, 12)]  # (job, step, steps) of each in flight
    assert done == [0] and beats[-1] == [(2, 5, 12)]  # a finished run is no longer in flight


def test_a_failing_run_does_not_stop_the_sweep(tmp_path):
    good = TrainConfig(**TINY)
    bad = TrainConfig(task="psmnist", data_dir=str(tmp_path / "no-mnist-here"), hidden=4,
                      steps=2, eval_every=2)
    results = run_all([(bad, tmp_path / "bad"), (good, tmp_path / "good")], workers=1)
    assert results[0]["status"] == "failed" and "does not exist" in results[0]["error"]
    assert results[1]["status"] == "completed"


def test_a_script_without_a_main_guard_gets_one_clear_error(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "script.py"
    script.write_text(
        "from rnnmem.config import TrainConfig\nfrom rnnmem.sweep import run_all\n"
        "c = [TrainConfig(task='copy', T=5, S=2, K=3, hidden=8, steps=5, eval_every=5, "
        "val_size=8, seed=s) for s in range(2)]\n"
        f"run_all([(x, r'{tmp_path}' + f'/r{{i}}') for i, x in enumerate(c)], workers=2)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("rnnmem.sweep.SweepError: a sweep's worker process died") and \
        'if __name__ == "__main__":' in last
    assert done.stderr.count("Traceback") == 1  # the workers say nothing
