"""The metrics of stored saliency/segmentation maps (see docs/evaluation.md).

Which metrics a results file reports, and how its summary is formed, is a protocol's business
(:mod:`samis.protocols`); this package computes the numbers: pysodmetrics' (same numbers, faster:
ground-truth work is shared across methods) and the strip-steel defect papers' OR and PFOM.
"""

from samis.metrics.gt import GroundTruth
from samis.metrics.overlap import OverlapRatio, overlap_ratio
from samis.metrics.pfom import PrattFOM, pfom
from samis.metrics.score import MapMetrics, normalize_map
from samis.metrics.smeasure import smeasure
from samis.metrics.wfm import weighted_fmeasure

__all__ = [
    "GroundTruth", "MapMetrics", "OverlapRatio", "PrattFOM", "normalize_map", "overlap_ratio", "pfom", "smeasure",
    "weighted_fmeasure",
]
