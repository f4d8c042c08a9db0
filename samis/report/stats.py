"""Confidence intervals of a mean, for the error bars of per-category charts.

Per-category means of a few dozen images differ by chance; the bars show how much. Both intervals
are scipy.stats': the percentile bootstrap with a fixed seed (the same data always draws the same
figure) and Student's t interval.
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
    if method not in CI_METHODS:
        raise ValueError(f"unknown CI method {method!r}; use one of {', '.join(CI_METHODS)}")
    if x.size == 1 or method == "none" or np.all(x == x[0]):  # no spread: the interval is the mean
        return (mean, mean, mean)
    from scipy import stats

    if method == "t":
        low, high = stats.t.interval(level, x.size - 1, loc=mean, scale=stats.sem(x))
    else:
        ci = stats.bootstrap((x,), np.mean, confidence_level=level, n_resamples=n_boot, method="percentile",
                             random_state=np.random.default_rng(seed)).confidence_interval
        low, high = ci.low, ci.high
    return (mean, float(low), float(high))
