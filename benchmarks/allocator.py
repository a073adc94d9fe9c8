"""`rnnmem train` with and without freed memory kept (rnnmem.allocator), in alternating processes.

    python benchmarks/allocator.py --rounds 2 -- --model mamba-block --task copy --T 320 \
        --S 5 --K 8 --hidden 64 --steps 15 --eval-every 1000 --val-size 100 --threads 1

Each round trains the same run twice, plain (RNNMEM_KEEP_MEMORY=0) then kept, into a temporary
directory, and prints the whole command's wall time, its page faults and peak RSS; at the end,
whether both gave the same weights (summary.json's checksum of model.pt).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnmem.allocator import OPT_OUT, VARIABLES


def train(flags: list[str], out: Path, keep: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in (*VARIABLES, OPT_OUT)}
    if not keep:
        env[OPT_OUT] = "0"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rnnmem", "train", *flags, "--out", str(out),
                             "--overwrite", "--quiet"], env=env,
                            stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own faults and peak
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"rnnmem train exited with {proc.returncode}")
    weights = json.loads((out / "summary.json").read_text())["integrity"]["weights"]
    return dict(seconds=seconds, faults=usage.ru_minflt, peak_mb=usage.ru_maxrss // 1024,
                weights=weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="-- then rnnmem train's flags")
    args = parser.parse_args()
    flags = args.flags[1:] if args.flags[:1] == ["--"] else args.flags
    weights = set()
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for keep in (False, True):
                r = train(flags, Path(tmp) / f"run{int(keep)}", keep)
                weights.add(r["weights"])
                print(f"round {round_} {'kept ' if keep else 'plain'} {r['seconds']:6.1f} s  "
                      f"{r['faults'] / 1e6:5.2f} M page faults  peak RSS "
                      f"{r['peak_mb']} MB", flush=True)
    print("same weights:", len(weights) == 1)


if __name__ == "__main__":
    main()
