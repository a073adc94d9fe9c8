"""``rnnmem reproduce`` and ``report``."""

from __future__ import annotations

import sys
from pathlib import Path

from ..io import read_json
from .common import UsageError, out_path


def add_reproduce_parser(sub) -> None:
    from ..experiments.registry import BUDGETS

    p = sub.add_parser(
        "reproduce", help="reproduce a figure or table of either paper",
        description="Run an experiment's grid (skipping runs already finished in the output "
                    "directory, resuming interrupted ones), then write its figure, table and "
                    "report. --list shows every experiment.")
    p.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments")
    p.add_argument("--budget", choices=BUDGETS, default="quick",
                   help="quick: minutes on a 2-core CPU; paper: the budget that decides a "
                        "claim (≥ 3 seeds, about an hour on 2 cores); full: the paper's settings")
    p.add_argument("--out", type=out_path, default=Path("runs/reproduce"), help="output directory")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: all cores)")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local worker processes, or Ray tasks (pip install 'rnnmem[ray]')")
    p.add_argument("--device", default="cpu",
                   help="where the training runs compute: auto, cpu, cuda, cuda:N or mps; "
                        "runs not on the CPU go to <experiment>-<budget>-<device> (default: "
                        "cpu, on which every committed result was made)")
    p.set_defaults(func=_cmd_reproduce)


def _cmd_reproduce(args) -> int:
    from ..experiments.reproduce import list_experiments, reproduce
    from ..registry import experiments

    if args.list:
        if args.experiment is not None and args.experiment not in experiments():
            raise UsageError(f"unknown experiment {args.experiment!r}; valid: "
                             f"{', '.join(experiments())}")
        print(list_experiments(args.experiment))
        return 0
    if args.experiment is None:
        raise UsageError("name an experiment (rnnmem reproduce --list shows them)")
    if args.experiment not in experiments():
        raise UsageError(f"unknown experiment {args.experiment!r}; valid: "
                         f"{', '.join(experiments())} (a plugin's experiment needs --plugin)")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be a positive integer, got {args.workers}")
    if args.backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("the ray backend needs Ray: pip install 'rnnmem[ray]'") from None
    from ..data import DataError
    from ..device import require_device
    from ..rundir import RunDirError

    try:
        require_device(args.device)  # a wrong or missing device: one line, before any run
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        report = reproduce(args.experiment, budget=args.budget, out=args.out,
                           workers=args.workers, backend=args.backend, device=args.device)
    except (DataError, RunDirError) as err:
        raise UsageError(str(err)) from None
    print(report.read_text())
    print(f"wrote {report}")
    results = report.parent / "results.json"
    failed = (sum(g["failed"] for g in read_json(results)["groups"]) if results.is_file()
              else 0)
    if failed:
        print(f"rnnmem: {failed} run(s) failed; see the table", file=sys.stderr)
    return 1 if failed else 0


def add_report_parser(sub) -> None:
    p = sub.add_parser("report", help="gather the reports of a reproduce directory",
                       description="Write OUT_DIR/REPORT.md from every experiment report in "
                                   "OUT_DIR (figures, tables, commands, wall time, machine).")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    p.add_argument("--check", action="store_true",
                   help="write nothing: recompute every table of OUT_DIR from its committed "
                        "run files (config, metrics, summary; checksums, the median-of-last-k "
                        "rule, the table and results.json) and exit 1 on any difference")
    p.add_argument("--redraw", action="store_true",
                   help="redraw the figure of every backed report of OUT_DIR from its "
                        "committed run files (no weights, no training), then exit")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args) -> int:
    from ..experiments.reproduce import redraw_figures, write_report

    if args.check and args.redraw:
        raise UsageError("--check writes nothing and --redraw writes figures: give one")
    if args.redraw:
        if not args.out_dir.is_dir():
            raise UsageError(f"{args.out_dir} is not a directory")
        written = redraw_figures(args.out_dir, progress=lambda line: print(
            line, file=sys.stderr, flush=True))
        print(f"redrew {len(written)} figures" + "".join(f"\n  {f}" for f in written))
        return 0
    if args.check:
        from ..experiments.check import check_reports, describe

        if not args.out_dir.is_dir():
            raise UsageError(f"{args.out_dir} is not a directory")
        result = check_reports(args.out_dir, progress=lambda line: print(
            f"checking {line}", file=sys.stderr, flush=True))
        print(describe(result))
        return 0 if result.ok else 1

    try:
        path = write_report(args.out_dir)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None
    print(f"wrote {path}")
    return 0


