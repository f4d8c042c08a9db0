"""One map against one ground truth: every metric any protocol asks for, each computed once.

The protocols (:mod:`samis.protocols`) read the metrics they report from a :class:`MapMetrics`; a
metric is computed the first time a protocol asks for it and then shared, so the steel protocol's
WF, SM and MAE (the sod protocol's wF with beta^2 = 1, Sm with alpha 0.5 and MAE of the same
normalized map) cost nothing more when both protocols are asked for.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from samis.metrics.curves import threshold_metrics
from samis.metrics.edges import edge_map
from samis.metrics.gt import GroundTruth
from samis.metrics.overlap import overlap_ratio
from samis.metrics.pfom import pfom_from_edges
from samis.metrics.smeasure import smeasure
from samis.metrics.wfm import weighted_fmeasure


def normalize_map(pred: np.ndarray) -> np.ndarray:
    """An 8-bit map as pysodmetrics sees it: ``/ 255`` then stretched to [0, 1] (MATLAB ``mapminmax``)."""
    p = pred / 255
    lo8, hi8 = pred.min(), pred.max()  # on the 8-bit map: the same extremes, found 8x faster
    if hi8 != lo8 and (lo8, hi8) != (0, 255):  # a full-range map is unchanged by the stretch
        lo, hi = np.float64(lo8) / 255, np.float64(hi8) / 255
        p -= lo
        p /= hi - lo
    return p


class MapMetrics:
    """An H x W uint8 map scored against a :class:`GroundTruth` of the same shape, metric by metric."""

    def __init__(self, pred: np.ndarray, gt: GroundTruth):
        if pred.shape != gt.shape:
            raise ValueError(f"shape mismatch between prediction {pred.shape} and ground truth {gt.shape}")
        self.pred = pred
        self.gt = gt

    @cached_property
    def normalized(self) -> np.ndarray:
        return normalize_map(self.pred)

    @cached_property
    def error(self) -> np.ndarray:
        """``|normalized map - ground truth|``, flattened: MAE is its mean, weighted F reuses it."""
        return np.abs(self.normalized - self.gt.maskf).ravel()

    @cached_property
    def mae(self) -> float:
        return float(np.mean(self.error))

    @cached_property
    def smeasure(self) -> float:
        return smeasure(self.normalized, self.gt)

    @cached_property
    def weighted_f(self) -> float:
        return weighted_fmeasure(self.normalized, self.gt, err=self.error)

    @cached_property
    def thresholds(self):
        """(scalars maxF/meanF/adpF/maxE/meanE/adpE/IoU/Dice, the precision, recall, F and E curves)."""
        return threshold_metrics(self.normalized, self.gt)

    @cached_property
    def positive_area(self) -> float:
        """Share of the pixels the map marks foreground (normalized map > 0.5, as IoU cuts it): on a
        defect-free image, the false-positive area."""
        return float(np.count_nonzero(self.normalized > 0.5)) / self.gt.size

    @cached_property
    def overlap_ratio(self) -> float:
        return overlap_ratio(self.pred, self.gt.steel[0])

    @cached_property
    def pfom(self) -> float:
        _, gt_edge_flat, gt_far = self.gt.steel
        return pfom_from_edges(edge_map(self.pred > 128), gt_edge_flat, gt_far)
