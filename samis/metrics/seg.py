"""The semantic-segmentation convention: defect IoU pooled over a dataset, mIoU, and mean per-image IoU.

Segmentation papers (BSData: ZNet 46.45 %, Mask R-CNN 31.6 %) report "IoU" or "mIoU" without always
saying which of these it is, and the three differ a lot on small defects, so each has its own name:

- ``IoU_defect_pooled``: TP, FP and FN of the defect class summed over every pixel of every image,
  then TP / (TP + FP + FN) — the dataset-level IoU of semantic-segmentation toolkits.
- ``mIoU_pooled``: the mean of the pooled IoU of the two classes, background and defect
  (background IoU = TN / (TN + FN + FP)); dominated by the large, easy background.
- ``IoU_per_image_mean``: each image's defect IoU, then the mean over images; an image whose ground
  truth and prediction are both empty counts as 1 (nothing to find, nothing found).

A map is cut at > 127 (the stored 8-bit maps; SAM's are 0/255), the ground truth is boolean.
One small class, PySODMetrics style: ``step(pred, gt)`` per image, ``get_results()``, ``merge(other)``;
it and the ``seg`` protocol (:mod:`samis.protocols.seg`) share the functions below.
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 127
SEG_COLUMNS = ("IoU_defect_pooled", "mIoU_pooled", "IoU_per_image_mean")


def confusion(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """One image's defect-class counts ``[TP, FP, FN, TN]`` (int64): additive over images."""
    pred, gt = np.asarray(pred), np.asarray(gt, dtype=bool)
    if pred.shape != gt.shape:
        raise ValueError(f"map {pred.shape} and ground truth {gt.shape} differ in size")
    hit = pred > THRESHOLD if pred.dtype != bool else pred
    tp = np.count_nonzero(hit & gt)
    fp = np.count_nonzero(hit & ~gt)
    fn = np.count_nonzero(~hit & gt)
    return np.array([tp, fp, fn, gt.size - tp - fp - fn], dtype=np.int64)


def defect_iou(counts) -> float:
    """TP / (TP + FP + FN) of ``[TP, FP, FN, TN]``; 1 when nothing is there and nothing is predicted."""
    tp, fp, fn, _ = (int(c) for c in counts)
    return tp / (tp + fp + fn) if tp + fp + fn else 1.0


def pooled_ious(counts) -> dict[str, float]:
    """``IoU_defect_pooled`` and ``mIoU_pooled`` of counts summed over a split."""
    tp, fp, fn, tn = (int(c) for c in counts)
    defect = defect_iou(counts)
    background = tn / (tn + fp + fn) if tn + fp + fn else 1.0
    return {"IoU_defect_pooled": defect, "mIoU_pooled": (defect + background) / 2}


class SegmentationIoU:
    def __init__(self):
        self.counts = np.zeros(4, dtype=np.int64)  # TP, FP, FN, TN over every image stepped
        self.per_image: list[float] = []

    def step(self, pred: np.ndarray, gt: np.ndarray) -> float:
        """Add one image; returns its defect IoU."""
        counts = confusion(pred, gt)
        self.counts += counts
        self.per_image.append(defect_iou(counts))
        return self.per_image[-1]

    def merge(self, other: "SegmentationIoU") -> None:
        self.counts += other.counts
        self.per_image += other.per_image

    def get_results(self) -> dict[str, float]:
        if not self.per_image:
            raise ValueError("no image scored")
        return {**pooled_ious(self.counts), "IoU_per_image_mean": float(np.mean(self.per_image))}
