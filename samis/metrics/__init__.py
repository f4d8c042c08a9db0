"""Metrics for stored saliency/segmentation maps, two conventions (see docs/evaluation.md).

``sod``: the salient-object-detection convention of pysodmetrics (same numbers, faster: ground-truth
work is shared across methods). ``steel``: the strip-steel defect papers' WF, SM, OR, PFOM, MAE.
"""

from samis.metrics.gt import GroundTruth
from samis.metrics.overlap import OverlapRatio, overlap_ratio
from samis.metrics.pfom import PrattFOM, pfom
from samis.metrics.score import COLUMNS, CURVES, PROTOCOLS, SOD_COLUMNS, STEEL_COLUMNS, score_map
from samis.metrics.smeasure import smeasure
from samis.metrics.wfm import weighted_fmeasure

__all__ = [
    "COLUMNS", "CURVES", "PROTOCOLS", "SOD_COLUMNS", "STEEL_COLUMNS", "GroundTruth", "OverlapRatio",
    "PrattFOM", "overlap_ratio", "pfom", "score_map", "smeasure", "weighted_fmeasure",
]
