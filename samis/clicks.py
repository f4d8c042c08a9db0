"""Corrective clicks: where a simulated annotator clicks next, and how a component's mask is scored.

The rule is the interactive-segmentation literature's (RITM's clicker, SAM's paper): the next click goes
to the pixel farthest from the boundary of the larger error region. Both error regions of a
component's mask get a Euclidean distance transform in which the image border counts as boundary; the
click goes to the maximum of the false negatives when it is larger than the maximum of the false
positives (a positive click), else to the maximum of the false positives (a negative click; a tie goes
there too, as in RITM). Among equal maxima the first pixel in row-major order wins. Nothing is random.

A component is scored against its own ground truth on the pixels of that component and of the
background: pixels of *other* defects are neither false positives nor counted in the union, so a mask
that spills onto a neighbouring defect is not pushed away from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Click:
    """One click: pixel (x, y) and whether it says "this is the defect" (positive) or "this is not"."""

    x: int
    y: int
    positive: bool

    @property
    def label(self) -> int:
        """segment-anything's point label: 1 positive, 0 negative."""
        return int(self.positive)


def errors(pred: np.ndarray, comp: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false negatives, false positives) of a component's mask; other components' pixels count as neither."""
    pred, comp, gt = (np.asarray(a, dtype=bool) for a in (pred, comp, gt))
    return comp & ~pred, pred & ~gt


def component_iou(pred: np.ndarray, comp: np.ndarray, gt: np.ndarray) -> float:
    """IoU of a component's mask with the component, on the component's and the background's pixels."""
    pred, comp, gt = (np.asarray(a, dtype=bool) for a in (pred, comp, gt))
    inter = np.count_nonzero(pred & comp)
    union = np.count_nonzero((pred & (comp | ~gt)) | comp)
    return inter / union if union else 1.0


def _deepest(region: np.ndarray) -> tuple[float, int, int]:
    """(distance, x, y) of the region's pixel farthest from its boundary (the image border is boundary)."""
    if not region.any():
        return 0.0, -1, -1
    dist = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    i = int(np.argmax(dist))  # the first maximum: row-major among equals
    y, x = divmod(i, region.shape[1])
    return float(dist[y, x]), x, y


def next_click(pred: np.ndarray, comp: np.ndarray, gt: np.ndarray) -> Click | None:
    """The click that corrects the larger error of ``pred`` for component ``comp`` of ground truth ``gt``;
    None when the mask has no error."""
    fn, fp = errors(pred, comp, gt)
    d_fn, x_fn, y_fn = _deepest(fn)
    d_fp, x_fp, y_fp = _deepest(fp)
    if d_fn == 0 and d_fp == 0:
        return None
    if d_fn > d_fp:
        return Click(x_fn, y_fn, True)
    return Click(x_fp, y_fp, False)
