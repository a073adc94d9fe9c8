"""Run many training runs on separate single-threaded worker processes.

For these small matrices one process per core beats intra-op threading; results are identical
to running the same configs one after another. A sweep can be killed at any moment and run again:
finished runs (their ``summary.json`` written last, atomically, for the same config) are skipped,
interrupted ones resume from their last checkpoint.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import torch

from .errors import RnnmemError
from .rundir import RunChanged, RunDir
from .train import TrainConfig, train_or_resume


def _single_thread() -> None:
    torch.set_num_threads(1)


_WORKER = dict(index=0, steps=None)  # this worker's number in its pool (its GPU: worker_gpu,
# its slot in ``steps``) and the pool's shared (job + 1, step, steps) triples: the heartbeat
HEARTBEAT_S = 8.0  # a sweep says something at least this often (its on_beat)


def _worker_init(parent: int | None = None, counter=None, steps=None) -> None:
    """A fresh worker: one thread, its number in the pool (from the shared ``counter``), the
    plugins its parent loaded ($RNNMEM_PLUGINS), and a watchdog that ends it when ``parent``
    dies (kill -9 included): a worker never goes on with queued jobs, nor races a rerun on
    their run directories. A run it leaves is resumable."""
    from .plugins import load_plugins

    _single_thread()
    _WORKER["steps"] = steps
    if counter is not None:
        with counter.get_lock():
            _WORKER["index"], counter.value = counter.value, counter.value + 1
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    load_plugins()


def _exit_with(parent: int, every: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)  # the parent is gone: re-parented to init or a subreaper


def _train_job(config_dict: dict, run_dir: str, job: int = -1) -> dict:
    config = TrainConfig.from_dict(config_dict)
    if config.device == "cuda" and torch.cuda.is_available():  # "cuda": the current device
        torch.cuda.set_device(worker_gpu(_WORKER["index"], torch.cuda.device_count()))
    return _guarded(config, run_dir, _step_writer(_WORKER["steps"], _WORKER["index"], job))


def _step_writer(steps, slot: int, job: int):
    """The ``progress`` of a run in a sweep: its (job + 1, step, steps) into ``steps``'s
    ``slot``, which the sweep's parent reads for its heartbeat (False: no heartbeat)."""
    if steps is None:
        return False

    def write(step: int, total: int) -> None:
        steps[3 * slot:3 * slot + 3] = [job + 1, step, total]
    return write


def worker_gpu(worker: int, gpus: int) -> int:
    """The GPU of worker ``worker`` for jobs on ``cuda`` (no index): workers take the GPUs in
    turn, so each GPU has its share of the pool. A job naming ``cuda:N`` keeps its N."""
    return worker % max(gpus, 1)


def ray_resources(config: TrainConfig) -> dict:
    """What a job asks Ray for: one CPU, and one GPU if it runs on CUDA (Ray then shows it
    that GPU alone, as ``cuda``)."""
    return dict(num_cpus=1, num_gpus=1 if config.device.startswith("cuda") else 0)


def _guarded(config: TrainConfig, run_dir, progress=False) -> dict:
    """train_or_resume, but an unexpected error fails this run only: the sweep carries on."""
    try:
        return train_or_resume(config, run_dir, progress=progress)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:  # noqa: BLE001 - recorded, reported, and the run is not trusted
        return failed_summary(err)


def clear_changed(runs: list[tuple[TrainConfig, str | Path]], rerun: bool
                  ) -> list[tuple[Path, Path, str]]:
    """Before a sweep: the run directories holding a run of another config or other code than
    their job's (:meth:`RunDir.change`: a plugin edited since) are refused with one
    :class:`RunChanged` naming the first, or with ``rerun`` moved aside to be trained afresh
    (:meth:`RunDir.set_aside`). Returns (directory, where it went, why) for each moved."""
    changed = [(Path(d), why) for c, d in runs if (why := RunDir(d).change(c)) is not None]
    if changed and not rerun:
        raise RunChanged(f"{len(changed)} run(s) changed since they were trained, e.g. "
                         f"{changed[0][0]}: {changed[0][1]}; rerun with --rerun-changed (they "
                         "are moved aside, not deleted)")
    return [(d, RunDir(d).set_aside(), why) for d, why in changed]


def failed_summary(err: BaseException) -> dict:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return dict(status="failed", error=f"{type(err).__name__}: {reason}",
                final_val_ratio=math.nan, final_val_loss=math.nan)


BACKENDS = ("local", "ray")
NO_GUARD = ("a sweep's worker process died while starting: a script that runs workers > 1 "
            "must start them under if __name__ == \"__main__\": (each worker imports the "
            "script anew), or pass workers=1")


class SweepError(RuntimeError):
    """A sweep's worker pool that broke (one line: what to do)."""


class TrainingRefused(RnnmemError):
    """A sweep inside :func:`no_training` that would train a run."""


_REFUSE = contextvars.ContextVar("refuse_training", default=False)


@contextlib.contextmanager
def no_training():
    """Every sweep inside reuses finished runs or raises :class:`TrainingRefused` before it
    trains anything: what ``report --check`` recomputes from committed files stays a check."""
    token = _REFUSE.set(True)
    try:
        yield
    finally:
        _REFUSE.reset(token)


def run_all(jobs: list[tuple[TrainConfig, str | Path]], *, workers: int | None = None,
            on_done=None, backend: str = "local", on_beat=None,
            beat: float = HEARTBEAT_S, weights: bool = True) -> list[dict]:
    """Train every ``(config, run_dir)``; return the summaries in job order.

    ``workers`` defaults to the number of cores; ``on_done(index, summary)`` is called as each
    run finishes, and ``on_beat(in_flight)`` (local backend) whenever ``beat`` seconds passed
    without either call, with the ``(index, step, steps)`` of each run training: a sweep of
    long runs is never silent (both are called from one thread at a time, ``on_beat`` from
    a watcher thread). ``backend="ray"`` runs each job as a Ray task (one CPU each, and one
    GPU for a job on ``cuda``: :func:`ray_resources`) on the cluster that ``ray.init()`` finds
    (``RAY_ADDRESS``), or on a local Ray instance it starts. Local workers running jobs on
    ``cuda`` take this machine's GPUs in turn (:func:`worker_gpu`).

    ``weights=False``: a run whose record (config, metrics, summary) is finished is reused
    without its model.pt, which a table does not read: committed runs keep no weights.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if _REFUSE.get():
        todo = [d for c, d in jobs if RunDir(d).finished_summary(c, weights=weights) is None]
        if todo:
            raise TrainingRefused(f"{len(todo)} run(s) not finished here"
                                  + (" with their weights" if weights else "")
                                  + f", e.g. {todo[0]}")
    if not weights:
        return _reuse_records(jobs, workers=workers, on_done=on_done, backend=backend,
                              on_beat=on_beat, beat=beat)
    if not jobs:
        return []
    if backend == "ray":
        return _run_ray(jobs, workers, on_done, on_beat, beat)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    summaries: list[dict | None] = [None] * len(jobs)
    if workers > 1 and getattr(multiprocessing.current_process(), "_inheriting", False):
        # a spawned worker importing a script that starts a sweep at its top level: end it
        # quietly; the parent says what to do (below)
        raise SystemExit(1)
    # spawn, not fork: a forked copy of a process whose OpenMP pool already ran can hang.
    context = multiprocessing.get_context("spawn")
    steps = context.RawArray("q", 3 * workers) if on_beat else [0, 0, 0]
    heart = _Heartbeat(steps, on_done, on_beat, beat)
    if workers == 1:
        _single_thread()
        with heart:
            for i, (config, run_dir) in enumerate(jobs):
                summaries[i] = _guarded(config, run_dir, _step_writer(
                    steps if on_beat else None, 0, i))
                heart.done(i, summaries[i])
        return summaries
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init,
                               initargs=(os.getpid(), context.Value("i", 0),
                                         steps if on_beat else None))
    try:
        futures = {pool.submit(_train_job, c.to_dict(), str(d), i): i
                   for i, (c, d) in enumerate(jobs)}
        with heart:
            for future in as_completed(futures):
                i = futures[future]
                summaries[i] = future.result()
                heart.done(i, summaries[i])
    except BrokenProcessPool:
        _stop(pool)
        raise SweepError(NO_GUARD) from None
    except BaseException:  # SIGINT, SIGTERM (see _terminate_on_sigterm), an error: stop now
        _stop(pool)
        raise
    pool.shutdown()
    return summaries


def _reuse_records(jobs: list, *, on_done=None, on_beat=None, **sweep) -> list[dict]:
    """:func:`run_all` of the jobs whose record is unfinished; the others' summaries marked
    ``reused``, as a finished run's are."""
    summaries: list[dict | None] = [
        None if (s := RunDir(d).finished_summary(c, weights=False)) is None
        else {**s, "reused": True} for c, d in jobs]
    todo = [i for i, s in enumerate(summaries) if s is None]
    for i, summary in enumerate(summaries):
        if summary is not None and on_done is not None:
            on_done(i, summary)

    def done(k: int, summary: dict) -> None:
        if on_done is not None:
            on_done(todo[k], summary)

    def beat(in_flight) -> None:
        on_beat([(todo[k], step, steps) for k, step, steps in in_flight])

    trained = run_all([jobs[i] for i in todo], on_done=done,
                      on_beat=beat if on_beat is not None else None, **sweep)
    for i, summary in zip(todo, trained, strict=True):
        summaries[i] = summary
    return summaries


def _in_flight_on_disk(jobs, indices) -> list[tuple[int, int, int]]:
    """(index, step, steps) of each unfinished run that has started, read from its run
    directory (its last evaluation's step): a Ray task reports nothing until it ends, but its
    run directory does (on one machine, or a cluster with a shared filesystem)."""
    flight = []
    for i in indices:
        config, run_dir = jobs[i]
        run = RunDir(run_dir)
        if not run.config_file.is_file() or run.summary_file.is_file():
            continue  # queued, or just finished
        try:
            rows = run.metrics()
        except (OSError, ValueError):
            rows = []
        flight.append((i, int(float(rows[-1]["step"])) if rows else 0, config.steps))
    return flight


class _Heartbeat:
    """Calls a sweep's ``on_done`` and, from a watcher thread, its ``on_beat`` with the runs in
    flight (read from the workers' ``steps`` triples) whenever ``every`` seconds passed
    without a call: one thread at a time, so their lines never interleave."""

    def __init__(self, steps, on_done, on_beat, every: float):
        self.steps, self.on_done, self.on_beat, self.every = steps, on_done, on_beat, every
        self.lock, self.stopped, self.finished = threading.Lock(), threading.Event(), set()
        self.last = time.monotonic()

    def done(self, i: int, summary: dict) -> None:
        with self.lock:
            self.finished.add(i)
            if self.on_done:
                self.on_done(i, summary)
            self.last = time.monotonic()

    def in_flight(self) -> list[tuple[int, int, int]]:
        triples = list(self.steps)
        flight = (tuple(triples[k:k + 3]) for k in range(0, len(triples), 3))
        return [(job - 1, step, total) for job, step, total in flight
                if job > 0 and job - 1 not in self.finished]

    def _watch(self) -> None:
        while not self.stopped.wait(0.2):
            with self.lock:
                if time.monotonic() - self.last < self.every:
                    continue
                if flight := self.in_flight():
                    self.on_beat(flight)
                    self.last = time.monotonic()

    def __enter__(self):
        if self.on_beat:
            self.thread = threading.Thread(target=self._watch, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        if self.on_beat:
            self.thread.join()


def _stop(pool: ProcessPoolExecutor) -> None:
    """End a pool at once: queued jobs cancelled, running workers terminated (their runs stay
    resumable: every checkpoint is written atomically)."""
    processes = list((pool._processes or {}).values())  # no public handle on the workers
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


def _ray_job(config_dict: dict, run_dir: str) -> dict:
    _worker_init()
    return _train_job(config_dict, run_dir)


def _run_ray(jobs, workers, on_done, on_beat=None, beat: float = HEARTBEAT_S) -> list[dict]:
    try:
        import ray
    except ImportError:
        raise ValueError("the ray backend needs Ray: pip install 'rnnmem[ray]'") from None
    started = not ray.is_initialized()
    if started:
        from .plugins import ENV

        plugins = {"env_vars": {ENV: os.environ[ENV]}} if os.environ.get(ENV) else None
        ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False,
                 log_to_driver=False, configure_logging=False, runtime_env=plugins)
    try:
        task = ray.remote(_ray_job)
        refs = {task.options(**ray_resources(c)).remote(c.to_dict(), str(d)): i
                for i, (c, d) in enumerate(jobs)}
        summaries: list[dict | None] = [None] * len(jobs)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=beat if on_beat else None)
            if not done:  # nothing ended for a beat: the runs in flight, from their directories
                flight = _in_flight_on_disk(jobs, [refs[ref] for ref in pending])
                if flight:
                    on_beat(flight)
            for ref in done:
                summaries[refs[ref]] = ray.get(ref)
                if on_done:
                    on_done(refs[ref], summaries[refs[ref]])
        return summaries
    finally:
        if started:
            ray.shutdown()
