"""OR, the overlap ratio of the strip-steel defect papers (EDRNet, DACNet, MCITF tables).

Map and ground truth are each stretched to [0, 1] by their own min and max (a constant image
becomes 0), rounded to 8 bits; the map is cut at twice its mean (``map8 >= 2 * mean(map8)``), the ground
truth at ``> 25``. OR = |intersection| / |union|, and 0 when the intersection is empty.
This reproduces the published RCRR row on SD-saliency-900 (OR .2526).
"""

from __future__ import annotations

import numpy as np


def stretch8(image: np.ndarray) -> np.ndarray:
    """``round(255 * (x - min) / (max - min))`` as float; a constant image becomes all 0."""
    x = np.asarray(image, dtype=np.float64)
    lo, hi = x.min(), x.max()
    if hi <= lo:
        return np.zeros_like(x)
    return np.round((x - lo) / (hi - lo) * 255.0)


def binarize_gt_for_or(gt: np.ndarray) -> np.ndarray:
    """The ground truth as OR sees it: stretched, 8 bits, ``> 25`` (an all-foreground mask becomes empty)."""
    g = np.asarray(gt)
    if g.dtype == bool:  # stretch8 of a 0/1 image is 0/255 unless it is constant
        return g.copy() if g.any() and not g.all() else np.zeros_like(g)
    return stretch8(g) > 25


def stretch8_uint8(pred: np.ndarray) -> np.ndarray:
    """:func:`stretch8` of an 8-bit map through a 256-entry table (the same numbers, one lookup a pixel)."""
    lo, hi = int(pred.min()), int(pred.max())
    if hi <= lo:
        return np.zeros(pred.shape, dtype=np.uint8)
    if (lo, hi) == (0, 255):
        return pred  # round((x - 0) / 255 * 255) == x
    table = np.round((np.arange(256, dtype=np.float64) - lo) / (hi - lo) * 255.0).clip(0, 255)
    return table.astype(np.uint8)[pred]


def overlap_ratio(pred: np.ndarray, gt_binary: np.ndarray) -> float:
    """OR of one 8-bit map against the OR-binarized ground truth (see :func:`binarize_gt_for_or`)."""
    p8 = stretch8_uint8(pred) if pred.dtype == np.uint8 else stretch8(pred)
    pb = p8 >= 2 * p8.mean()
    inter = np.count_nonzero(pb & gt_binary)
    if inter == 0:
        return 0.0
    return inter / np.count_nonzero(pb | gt_binary)


class OverlapRatio:
    """PySODMetrics-style accumulator: ``step(pred_uint8, gt)`` per image, ``get_results()`` the mean."""

    def __init__(self):
        self.values = []

    def step(self, pred: np.ndarray, gt: np.ndarray) -> float:
        if pred.shape != gt.shape:
            raise ValueError(f"shape mismatch between prediction {pred.shape} and ground truth {gt.shape}")
        value = overlap_ratio(pred, binarize_gt_for_or(gt))
        self.values.append(value)
        return value

    def get_results(self) -> dict:
        return dict(OR=float(np.mean(np.array(self.values, dtype=np.float64))))
