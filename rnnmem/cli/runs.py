"""``rnnmem plot`` (learning curves of run directories) and ``rnnmem demo`` (the main job)."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import UsageError, out_path


def add_plot_parser(sub) -> None:
    from ..plot import CURVES

    p = sub.add_parser("plot", help="learning curves of run directories on one PNG",
                       description="Draw the learning curves of one or more runs on one PNG, "
                                   "with the chance baseline dashed.")
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("-o", "--out", type=out_path, default=Path("runs/curves.png"),
                   help="PNG to write, or a directory to write curves.png into")
    p.add_argument("--curve", choices=tuple(CURVES), default="val_ratio",
                   help="which column to draw (default: val_ratio)")
    p.add_argument("--group-by", metavar="KEY[,KEY]", default=None,
                   help="one curve (mean ± s.e. band) per value of these settings, e.g. model "
                        "or model,lr; default: every setting but the seed (the seeds of one "
                        "setting are one curve); 'run': every run its own curve")
    p.set_defaults(func=_cmd_plot)


def _cmd_plot(args) -> int:
    from ..plot import plot_runs

    out = args.out / "curves.png" if args.out.is_dir() else args.out
    if out.suffix.lower() != ".png":
        raise UsageError(f"-o {args.out}: give a .png file or an existing directory")
    group_by = None if args.group_by is None else tuple(
        k.strip() for k in args.group_by.split(",") if k.strip())
    out = plot_runs(args.run_dirs, out, curve=args.curve, group_by=group_by or None)
    print(f"wrote {out}")
    return 0


def add_demo_parser(sub) -> None:
    p = sub.add_parser(
        "demo", help="quick real experiment: LT-ORNN vs LT-IRNN on copy T=100",
        description="Henaff et al. §4.1 in under a minute: train an LT-RNN with orthogonal "
                    "and with identity initialization on the copy task (T=100, 80 units, "
                    "batch 50, RMSProp lr 1e-4), print a table and write curves.png.")
    p.add_argument("--out", type=out_path, default=Path("runs/demo"), help="output directory")
    p.add_argument("--steps", type=int, default=3000, help="training steps per run")
    p.add_argument("--seeds", type=int, default=1, help="runs per initialization (default 1)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args) -> int:
    from ..config import check_seed
    from ..experiments.demo import run_demo

    if min(args.steps, args.seeds, args.workers or 1) < 1:
        raise UsageError("--steps, --seeds and --workers must be positive integers")
    try:
        check_seed(args.seed)
        check_seed(args.seed + args.seeds - 1)
    except ValueError as err:
        raise UsageError(f"--seed: {err}") from None
    try:
        report, failed = run_demo(args.out, steps=args.steps, seeds=args.seeds, seed=args.seed,
                                  workers=args.workers)
    except ValueError as err:  # runs of other settings in --out
        raise UsageError(str(err)) from None
    print(report)
    if failed:
        print(f"rnnmem: {failed} run(s) failed; see the table", file=sys.stderr)
    return 1 if failed else 0


