"""Mean ± standard error over seeds: the one summary every table and curve band uses."""

from __future__ import annotations

import numpy as np


def mean_se(values, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error (sample s.d., ddof = 1, over √n) along ``axis``; s.e. 0 for n = 1."""
    values = np.asarray(values, dtype=float)
    n = values.shape[axis]
    se = values.std(axis, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(values.mean(axis))
    return values.mean(axis), se


def format_mean_se(values, fmt: str = ".4g", se_fmt: str = ".2g") -> str:
    """"mean ± s.e." of the finite values (None and NaN dropped); "n/a" if there are none."""
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return "n/a"
    mean, se = mean_se(finite)
    return f"{mean:{fmt}}" if len(finite) == 1 else f"{mean:{fmt}} ± {se:{se_fmt}}"
