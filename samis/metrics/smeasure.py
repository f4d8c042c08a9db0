"""S-measure (Fan et al. 2017), the same numbers as pysodmetrics' ``Smeasure``.

The same arithmetic as pysodmetrics, minus what depends on the ground truth alone (foreground ratio,
centroid split, each quadrant's GT mean and variance), which :class:`~samis.metrics.gt.GroundTruth`
computes once per image for all methods. Sums of products go through ``einsum`` (no temporary
arrays); they add in another order than ``np.sum``, so values differ from pysodmetrics by ~1e-14 at most.
"""

from __future__ import annotations

import numpy as np

from samis.metrics.gt import GroundTruth

EPS = np.spacing(1)


def _s_object(x: np.ndarray) -> float:
    mean = x.mean()
    if x.size > 1:
        d = x - mean
        std = np.sqrt(np.einsum("i,i->", d, d) / (x.size - 1))  # np.std(x, ddof=1)
    else:
        std = 0
    return 2 * mean / (np.power(mean, 2) + 1 + std + EPS)


def _ssim(pred: np.ndarray, n: int, y: float, dg: np.ndarray, sigma_y: float) -> float:
    x = np.mean(pred)
    dx = pred - x
    sigma_x = np.einsum("ij,ij->", dx, dx) / (n - 1 + EPS)
    sigma_xy = np.einsum("ij,ij->", dx, dg) / (n - 1 + EPS)
    alpha = 4 * x * y * sigma_xy
    beta = (x**2 + y**2) * (sigma_x + sigma_y)
    if alpha != 0:
        return alpha / (beta + EPS)
    if beta == 0:
        return 1
    return 0


def smeasure(pred: np.ndarray, gt: GroundTruth, alpha: float = 0.5) -> float:
    """Sm of a map in [0, 1] (float64, normalized as pysodmetrics does)."""
    y, quads = gt.sm
    if y == 0:
        return float(1 - np.mean(pred))
    if y == 1:
        return float(np.mean(pred))
    flat = pred.ravel()
    fg = flat[gt.fg_idx]
    bg = 1 - flat[gt.bg_idx]
    object_score = (_s_object(fg) * y + _s_object(bg) * (1 - y)) * alpha
    region = 0.0
    for rs, cs, wq, n, gy, dg, sigma_y in quads:
        region = region + _ssim(pred[rs, cs], n, gy, dg, sigma_y) * wq
    return float(np.maximum(0, object_score + region * (1 - alpha)))
