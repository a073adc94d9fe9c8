"""``rnnmem reproduce`` and ``report``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io import read_json
from .common import UsageError, out_path


def add_reproduce_parser(sub) -> None:
    from ..experiments.grid import BUDGETS

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
    p.add_argument("--rerun-changed", action="store_true",
                   help="move aside (never delete) the runs whose config or code changed since "
                        "they were trained (an edited plugin: docs/extending.md), and train "
                        "them afresh; without it such runs are refused")
    p.add_argument("--models", type=_names, default=(), metavar="A,B",
                   help="only these models (registry names or the table's group names); the "
                        "runs are the grid's own, the report goes to parts/")
    p.add_argument("--panels", type=_names, default=(), metavar="A,B",
                   help="only these panels of the grid (its tasks, as the table names them, "
                        "e.g. MQAR,parity); the runs are the grid's own, the report goes to "
                        "parts/")
    p.add_argument("--seeds", type=_seeds, default=(), metavar="0,1,2",
                   help="report these seeds instead of the grid's; report to parts/")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="change a run setting or option of every run (after tuning's choice), "
                        "e.g. --set steps=500; the runs go to <experiment>-<budget>-set-...")
    p.set_defaults(func=_cmd_reproduce)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ValueError("give model names separated by commas")
    return names


def _seeds(text: str) -> tuple[int, ...]:
    from ..config import check_seed

    try:  # argparse words a ValueError as "invalid _seeds value": say what is wrong instead
        seeds = tuple(int(n) for n in text.split(",") if n.strip())
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError("give distinct seeds separated by commas")
        for seed in seeds:
            check_seed(seed)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}") from None
    return seeds


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
    from ..device import require_device
    from ..experiments.reproduce import RunsFailed
    from ..experiments.selection import Selection, parse_override

    try:
        require_device(args.device)  # a wrong or missing device: one line, before any run
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        selection = Selection(models=args.models, panels=args.panels, seeds=args.seeds,
                              overrides=tuple(map(parse_override, args.overrides)))
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        report = reproduce(args.experiment, budget=args.budget, out=args.out,
                           workers=args.workers, backend=args.backend, device=args.device,
                           rerun_changed=args.rerun_changed, selection=selection)
    except ValueError as err:  # a bad option or selection (rnnmem's own errors included)
        raise UsageError(str(err)) from None
    except RunsFailed as err:
        print(f"rnnmem: {err}", file=sys.stderr)
        return 1
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




def add_export_parser(sub) -> None:
    from ..export import FORMATS

    p = sub.add_parser(
        "export", help="runs out as data: one row per run, one per evaluation",
        description="Write OUT/runs.<format> (one row per run: every setting, the summary) and "
                    "OUT/evaluations.<format> (one row per evaluation) of the run directories "
                    "at or under each DIR; the runs of a reproduce directory also carry their "
                    "experiment, panel, group and grid point. From Python: "
                    "rnnmem.load_runs(DIR) (a pandas DataFrame).")
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR")
    p.add_argument("--out", type=out_path, required=True, help="output directory")
    p.add_argument("--format", choices=FORMATS, default="csv",
                   help="csv, json, or parquet (needs pandas and pyarrow)")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args) -> int:
    from ..export import write_export

    try:
        written = write_export(args.dirs, args.out, args.format)
    except ImportError as err:  # pandas or pyarrow missing
        raise UsageError(str(err)) from None
    for path in written:
        print(f"wrote {path}")
    return 0
