"""One map against one ground truth under the requested protocols — every metric computed once.

The steel protocol's WF, SM and MAE are the sod protocol's wF (beta^2 = 1), Sm (alpha 0.5) and MAE on
the same normalized map, so asking for both protocols computes them once.
"""

from __future__ import annotations

import numpy as np

from samis.metrics.curves import threshold_metrics
from samis.metrics.edges import edge_map
from samis.metrics.gt import GroundTruth
from samis.metrics.overlap import overlap_ratio
from samis.metrics.pfom import pfom_from_edges
from samis.metrics.smeasure import smeasure
from samis.metrics.wfm import weighted_fmeasure

PROTOCOLS = ("sod", "steel")
SOD_COLUMNS = ("MAE", "Sm", "wF", "maxF", "meanF", "adpF", "maxE", "meanE", "adpE", "IoU", "Dice")
STEEL_COLUMNS = ("WF", "SM", "OR", "PFOM", "MAE")
COLUMNS = {"sod": SOD_COLUMNS, "steel": STEEL_COLUMNS}
STEEL_ALIASES = {"WF": "wF", "SM": "Sm"}  # steel column -> the shared value it reports
CURVES = ("precision", "recall", "fmeasure", "emeasure")


def normalize_map(pred: np.ndarray) -> np.ndarray:
    """An 8-bit map as pysodmetrics sees it: ``/ 255`` then stretched to [0, 1] (MATLAB ``mapminmax``)."""
    p = pred / 255
    lo8, hi8 = pred.min(), pred.max()  # on the 8-bit map: the same extremes, found 8x faster
    if hi8 != lo8 and (lo8, hi8) != (0, 255):  # a full-range map is unchanged by the stretch
        lo, hi = np.float64(lo8) / 255, np.float64(hi8) / 255
        p -= lo
        p /= hi - lo
    return p


def score_map(pred: np.ndarray, gt: GroundTruth, protocols=PROTOCOLS):
    """Per-image values (keyed by sod names plus OR/PFOM) and, for sod, the four curves (else None)."""
    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch between prediction {pred.shape} and ground truth {gt.shape}")
    p = normalize_map(pred)
    err = np.abs(p - gt.maskf).ravel()
    values = {"MAE": float(np.mean(err)), "Sm": smeasure(p, gt), "wF": weighted_fmeasure(p, gt, err=err)}
    curves = None
    if "sod" in protocols:
        scalars, curves = threshold_metrics(p, gt)
        values.update(scalars)
    if "steel" in protocols:
        or_gt, gt_edge_flat, gt_far = gt.steel
        values["OR"] = overlap_ratio(pred, or_gt)
        values["PFOM"] = pfom_from_edges(edge_map(pred > 128), gt_edge_flat, gt_far)
    return values, curves


def protocol_row(values: dict, protocol: str) -> dict:
    """The values of one protocol under that protocol's column names."""
    return {c: values[STEEL_ALIASES.get(c, c)] if protocol == "steel" else values[c] for c in COLUMNS[protocol]}
