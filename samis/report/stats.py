"""Confidence intervals of a mean, for the error bars of per-category charts.

Per-category means of a few dozen images differ by chance; the bars show how much. The bootstrap
uses a fixed seed so the same data always draws the same figure.
"""

from __future__ import annotations

import math

import numpy as np

CI_METHODS = ("bootstrap", "t", "none")


def mean_ci(values, level: float = 0.95, method: str = "bootstrap", n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of the finite ``values``; low = high = mean for one value or ``method='none'``."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size == 1 or method == "none":
        return (mean, mean, mean)
    alpha = 1.0 - level
    if method == "t":
        from scipy import stats

        half = float(stats.t.ppf(1 - alpha / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
        return (mean, mean - half, mean + half)
    if method != "bootstrap":
        raise ValueError(f"unknown CI method {method!r}; use one of {', '.join(CI_METHODS)}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    boots = x[idx].mean(axis=1)
    low, high = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return (mean, float(low), float(high))
