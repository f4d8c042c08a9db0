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
One small class, PySODMetrics style: ``step(pred, gt)`` per image, ``get_results()``, ``merge(other)``.
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 127
SEG_COLUMNS = ("IoU_defect_pooled", "mIoU_pooled", "IoU_per_image_mean")


class SegmentationIoU:
    def __init__(self):
        self.tp = self.fp = self.fn = self.tn = 0
        self.per_image: list[float] = []

    def step(self, pred: np.ndarray, gt: np.ndarray) -> float:
        """Add one image; returns its defect IoU."""
        pred, gt = np.asarray(pred), np.asarray(gt, dtype=bool)
        if pred.shape != gt.shape:
            raise ValueError(f"map {pred.shape} and ground truth {gt.shape} differ in size")
        hit = pred > THRESHOLD if pred.dtype != bool else pred
        tp = int(np.count_nonzero(hit & gt))
        fp = int(np.count_nonzero(hit & ~gt))
        fn = int(np.count_nonzero(~hit & gt))
        self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn
        self.tn += gt.size - tp - fp - fn
        iou = tp / (tp + fp + fn) if tp + fp + fn else 1.0
        self.per_image.append(iou)
        return iou

    def merge(self, other: "SegmentationIoU") -> None:
        self.tp, self.fp, self.fn, self.tn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        self.per_image += other.per_image

    def get_results(self) -> dict[str, float]:
        if not self.per_image:
            raise ValueError("no image scored")
        errors = self.fp + self.fn
        defect = self.tp / (self.tp + errors) if self.tp + errors else 1.0
        background = self.tn / (self.tn + errors) if self.tn + errors else 1.0
        return {
            "IoU_defect_pooled": defect,
            "mIoU_pooled": (defect + background) / 2,
            "IoU_per_image_mean": float(np.mean(self.per_image)),
        }
