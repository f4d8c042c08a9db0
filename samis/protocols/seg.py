"""The semantic-segmentation protocol: the defect class's IoU pooled over the split, mIoU over
{background, defect}, and the mean of per-image IoU, each under its own name (:mod:`samis.metrics.seg`,
whose class shares these functions). The map is cut at > 127.

Per image, ``measure`` gives the image's TP, FP, FN, TN counts (summed over the split for the two
pooled columns) and its own IoUs (the per-image file; ``IoU_per_image_mean`` is their mean).
"""

from __future__ import annotations

from samis.protocols.base import HIGHER, Protocol

# samis.metrics.seg.COLUMNS; the metrics are imported on first use (this package loads numpy only)
COLUMNS = ("IoU_defect_pooled", "mIoU_pooled", "IoU_per_image_mean")


def measure(m):
    from samis.metrics.seg import confusion, defect_iou, pooled_ious

    counts = confusion(m.pred, m.gt.mask)
    pooled = pooled_ious(counts)  # of this image alone: its defect IoU and its mIoU
    return {**pooled, "IoU_per_image_mean": defect_iou(counts)}, {"counts": counts}


def _pooled(acc, column: str) -> float:
    from samis.metrics.seg import pooled_ious

    return pooled_ious(acc.sums["counts"])[column]


PROTOCOL = Protocol(
    name="seg",
    description="semantic segmentation: defect IoU and mIoU pooled over the split, mean per-image IoU",
    columns=COLUMNS,
    directions={c: HIGHER for c in COLUMNS},
    measure=measure,
    reducers={"IoU_defect_pooled": _pooled, "mIoU_pooled": _pooled},
)
