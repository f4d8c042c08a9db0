"""95% bootstrap confidence intervals over images, for every metric of a results table.

A mean over a few hundred images still moves when other images are drawn; the interval says by
how much. Images are resampled with replacement (scipy.stats.bootstrap, percentile method, a fixed
seed, 2,000 resamples by default, percentile intervals). One resample is a vector of weights (how often each image was
drawn), so every statistic of a resample is a matrix product: means of per-image values, and for
the curve metrics (maxF, meanF, maxE, meanE) the mean F/E curve of the resampled images, of which
the maximum or mean is taken, exactly as the evaluator computes them from all images. Every method
of one dataset sees the same resamples (same seed, same image count).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from samis.errors import DataError

N_RESAMPLES = 2000
LEVEL = 0.95
# Percentile intervals: BCa fails outright for maxF when nearly every resample's max lies above the
# estimate (the max of a mean curve is biased upward under resampling), and costs a jackknife.
METHOD = "percentile"
BATCH = 250  # resamples per vectorized call: 250 x images x 256 floats stay small
# curve metric -> (curve in FILE.image_curves.npz, reduction over thresholds of the mean curve)
CURVE_METRICS = {"maxF": ("fmeasure", "max"), "meanF": ("fmeasure", "mean"),
                 "maxE": ("emeasure", "max"), "meanE": ("emeasure", "mean")}
GROUP_KEYS = ("method", "dataset", "split")


def resample_counts(idx: np.ndarray, n: int) -> np.ndarray:
    """(batch, n) resampled image indices -> (batch, n) number of times each image was drawn."""
    idx = np.atleast_2d(idx)
    b = idx.shape[0]
    flat = (idx + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def weighted_means(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(k, batch) means of each column of ``values`` (n x k, NaN = undefined for that image) under each
    row of ``weights`` (batch x n); undefined images are left out of that column's mean only."""
    finite = np.isfinite(values)
    sums = weights @ np.where(finite, values, 0.0)
    counts = weights @ finite.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts).T


def bootstrap_ci(n: int, statistic, seed: int = 0, n_resamples: int = N_RESAMPLES, level: float = LEVEL):
    """(low, high) arrays: percentile CI of ``statistic(weights)`` -> (k, batch) over image resamples."""
    from scipy import stats

    if n < 2:
        return None

    def stat(idx, axis=-1):
        if np.ndim(idx) == 1:  # the point estimate on the data themselves
            return statistic(np.ones((1, n)))[:, 0]
        shape = np.shape(idx)[:-1]  # (batch,) for resamples, (n,) or more for the jackknife
        flat = np.reshape(idx, (-1, np.shape(idx)[-1]))
        return statistic(resample_counts(flat, n)).reshape((-1,) + shape)

    from threadpoolctl import threadpool_limits

    # small products: threaded BLAS only spins (20x slower on a busy 2-core machine)
    with threadpool_limits(1):
        res = stats.bootstrap((np.arange(n),), stat, n_resamples=int(n_resamples), confidence_level=level,
                              method=METHOD, vectorized=True, batch=BATCH, random_state=np.random.default_rng(seed))
    return np.asarray(res.confidence_interval.low, float), np.asarray(res.confidence_interval.high, float)


def metric_statistic(values: np.ndarray, curves: dict | None, curve_metrics: list[str]):
    """The statistic of weights for ``values`` columns followed by ``curve_metrics`` (from ``curves``)."""
    def statistic(weights):
        rows = [weighted_means(weights, values)] if values.shape[1] else []
        total = weights.sum(axis=1, keepdims=True)
        for metric in curve_metrics:
            name, how = CURVE_METRICS[metric]
            mean_curve = (weights @ curves[name]) / total
            rows.append((mean_curve.max(axis=1) if how == "max" else mean_curve.mean(axis=1))[None, :])
        return np.concatenate(rows, axis=0)
    return statistic


def read_image_curves(path) -> dict:
    """``FILE.image_curves.npz`` -> {method: {"stems": [...], "fmeasure": (n, 256), "emeasure": (n, 256)}}."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            stems = [str(s) for s in data["stems"]]
            out: dict = {}
            for key in data.files:
                if "::" in key:
                    method, curve = key.rsplit("::", 1)
                    out.setdefault(method, {"stems": stems})[curve] = data[key].astype(np.float64)
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: not a per-image curves file written by `samis evaluate` ({exc}); re-run the evaluation") from None
    return out


def confidence_intervals(per_image: pd.DataFrame, metrics, image_curves: dict | None = None, seed: int = 0,
                         n_resamples: int = N_RESAMPLES, level: float = LEVEL) -> pd.DataFrame:
    """``<metric>_lo``/``<metric>_hi`` per (method, dataset, split) of a per-image frame.

    Curve metrics need ``image_curves`` (``read_image_curves``; several files merged into one dict):
    without a method's curves their bounds are NaN, since an image's own maxF is not what the table shows.
    """
    metrics = [m for m in metrics if m in per_image.columns or m in CURVE_METRICS]
    rows = []
    for key, part in per_image.groupby(list(GROUP_KEYS), sort=False):
        scalar = [m for m in metrics if m not in CURVE_METRICS]
        curves = (image_curves or {}).get(key[0])
        curve_metrics = [m for m in metrics if m in CURVE_METRICS] if curves is not None else []
        if curve_metrics:
            order = {s: i for i, s in enumerate(curves["stems"])}
            missing = [s for s in part["stem"] if s not in order]
            if missing:
                raise DataError(f"per-image curves of {key[0]} lack image(s) {', '.join(missing[:3])}; re-run the evaluation")
            pick = [order[s] for s in part["stem"]]
            curves = {c: curves[c][pick] for c in ("fmeasure", "emeasure")}
        values = part[scalar].to_numpy(dtype=np.float64)
        ci = bootstrap_ci(len(part), metric_statistic(values, curves, curve_metrics), seed, n_resamples, level)
        row = dict(zip(GROUP_KEYS, key))
        for i, m in enumerate(scalar + curve_metrics):
            row[f"{m}_lo"], row[f"{m}_hi"] = (float(ci[0][i]), float(ci[1][i])) if ci else (np.nan, np.nan)
        rows.append(row)
    return pd.DataFrame(rows)
