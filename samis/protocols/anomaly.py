"""The anomaly-detection protocol (MVTec AD convention): pixel AUROC, AUPRO to FPR 0.3, pixel F1-max,
image AUROC, for maps over defect-free and defective images together.

Every column is a dataset-level number, exact from sums (:mod:`samis.metrics.anomaly`, shared with its
metric classes): per image, ``measure`` gives 256-bin histograms of the map over defect and
defect-free pixels and the summed per-region overlaps with the region count; the evaluator adds them
up over the split. Image AUROC reads the per-image scores (the map's maximum) and labels. The
per-image file holds each image's own pixel AUROC, AUPRO and F1-max (NaN on an image without a defect
or without background) and NaN for image AUROC; a split column is NaN where the split cannot define
it (image AUROC on a split without defect-free images).

Maps made from the ground truth (prompted SAM modes, the automatic mode's best_match policy) are empty
on defect-free images and find the defect by construction: this protocol refuses them
(``uses_ground_truth`` in :class:`Protocol`; see :mod:`samis.protocols.ground_truth`).
"""

from __future__ import annotations

import numpy as np

from samis.protocols.base import HIGHER, Protocol

# samis.metrics.anomaly.ANOMALY_COLUMNS; the metrics are imported on first use (this package loads numpy only)
COLUMNS = PIXEL_AUROC, AUPRO, F1MAX, IMAGE_AUROC = ("pixel_AUROC", "AUPRO_0.3", "pixel_F1max", "image_AUROC")


def _or_nan(metric, *args) -> float:
    """The metric, or NaN where the images cannot define it (no defect, no defect-free pixel or image)."""
    try:
        return metric(*args)
    except ValueError:
        return float("nan")


def measure(m):
    from samis.metrics import anomaly as a

    pos, neg = a.pixel_histograms(m.pred, m.gt.mask)
    pro_sum, n_regions = a.region_overlaps(m.pred, m.gt.mask)
    score, label = a.image_score(m.pred, m.gt.mask)
    values = {PIXEL_AUROC: _or_nan(a.pixel_auroc, pos, neg), AUPRO: _or_nan(a.aupro, neg, pro_sum, n_regions),
              F1MAX: _or_nan(a.pixel_f1max, pos, neg), IMAGE_AUROC: float("nan"),
              "image_score": float(score), "image_label": float(label)}
    arrays = {"pos": pos, "neg": neg, "pro_sum": pro_sum, "n_regions": np.array([n_regions])}
    return values, arrays


def _split_value(acc, column: str) -> float:
    """A split's column from the summed histograms and overlaps, or the images' scores and labels."""
    from samis.metrics import anomaly as a

    s = acc.sums
    if column == IMAGE_AUROC:
        return _or_nan(a.image_auroc, acc.per_image["image_score"], acc.per_image["image_label"])
    if column == AUPRO:
        return _or_nan(a.aupro, s["neg"], s["pro_sum"], int(s["n_regions"][0]))
    return _or_nan(a.pixel_auroc if column == PIXEL_AUROC else a.pixel_f1max, s["pos"], s["neg"])


PROTOCOL = Protocol(
    name="anomaly",
    description="anomaly detection (MVTec AD): pixel AUROC, AUPRO to FPR 0.3, pixel F1-max, image AUROC",
    columns=COLUMNS,
    directions={c: HIGHER for c in COLUMNS},
    measure=measure,
    reducers={c: _split_value for c in COLUMNS},
    uses_ground_truth="its numbers need maps made without the ground truth: a mode whose prompts (or mask "
                      "selection) come from the ground truth finds every defect and nothing on defect-free "
                      "images by construction",
    scores_defect_free=True,  # image AUROC and the false positives on good images are the point
)
