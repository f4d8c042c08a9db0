"""The anomaly-detection convention (MVTec AD): pixel AUROC, AUPRO to FPR 0.3, pixel F1-max, image AUROC.

These metrics score maps over defect-free and defective images together, so the empty ground truth of
a defect-free image counts (its pixels are all negatives; its image label is "good"). Maps are the
stored 8-bit maps (0..255), so every pixel statistic is exact from 256-bin histograms: a dataset of
any size costs a few kilobytes, and the ROC from the histograms (scikit-learn with the bin counts as
sample weights) is the ROC of every pixel, ties included.

One small class per metric, PySODMetrics style: ``step(pred, gt)`` per image, ``get_results()`` at the
end; ``merge(other)`` adds another accumulator's images (from a worker process).

- ``PixelAUROC``: area under the ROC of all pixels of all images.
- ``AUPRO``: per-region overlap (PRO, Bergmann et al., MVTec AD, IJCV 2021) against the false-positive
  rate of all defect-free pixels; a region is an 8-connected component of one image's ground truth; PRO(t)
  is the mean over all regions of the fraction of the region at or above threshold t. The curve is
  integrated (trapezoids) from FPR 0 up to 0.3, linearly interpolated at 0.3, and divided by 0.3.
- ``PixelF1Max``: the best F1 of all pixels over all thresholds.
- ``ImageAUROC``: the image's score is its map's maximum, its label whether its ground truth has a
  defect pixel; area under the ROC of those scores.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from sklearn.metrics import precision_recall_curve, roc_auc_score

LEVELS = 256
FPR_LIMIT = 0.3
EIGHT_CONNECTED = np.ones((3, 3), dtype=int)


def _check(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred), np.asarray(gt, dtype=bool)
    if pred.dtype != np.uint8:
        raise ValueError(f"anomaly metrics take the stored 8-bit maps (uint8), got {pred.dtype}")
    if pred.shape != gt.shape:
        raise ValueError(f"map {pred.shape} and ground truth {gt.shape} differ in size")
    return pred, gt


def _scores_and_weights(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Histograms -> (labels, scores, weights) of one weighted sample per non-empty bin, for scikit-learn."""
    levels = np.arange(LEVELS)
    keep_p, keep_n = pos > 0, neg > 0
    labels = np.concatenate([np.ones(keep_p.sum()), np.zeros(keep_n.sum())])
    scores = np.concatenate([levels[keep_p], levels[keep_n]])
    weights = np.concatenate([pos[keep_p], neg[keep_n]]).astype(np.float64)
    return labels, scores, weights


class PixelHistograms:
    """Per-level counts of defect and defect-free pixels over every image stepped so far."""

    def __init__(self):
        self.pos = np.zeros(LEVELS, dtype=np.int64)
        self.neg = np.zeros(LEVELS, dtype=np.int64)

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        pred, gt = _check(pred, gt)
        self.pos += np.bincount(pred[gt], minlength=LEVELS)
        self.neg += np.bincount(pred[~gt], minlength=LEVELS)

    def merge(self, other: "PixelHistograms") -> None:
        self.pos += other.pos
        self.neg += other.neg

    def _need_both(self, name: str) -> None:
        if not self.pos.any() or not self.neg.any():
            raise ValueError(f"{name} needs defect and defect-free pixels; got {self.pos.sum()} and {self.neg.sum()}")


class PixelAUROC(PixelHistograms):
    def get_results(self) -> dict[str, float]:
        self._need_both("pixel AUROC")
        labels, scores, weights = _scores_and_weights(self.pos, self.neg)
        return {"pixel_AUROC": float(roc_auc_score(labels, scores, sample_weight=weights))}


class PixelF1Max(PixelHistograms):
    def get_results(self) -> dict[str, float]:
        self._need_both("pixel F1-max")
        labels, scores, weights = _scores_and_weights(self.pos, self.neg)
        precision, recall, _ = precision_recall_curve(labels, scores, sample_weight=weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        return {"pixel_F1max": float(f1.max())}


class AUPRO:
    """Normalized area under the PRO curve up to ``fpr_limit`` (0.3, the MVTec AD convention)."""

    def __init__(self, fpr_limit: float = FPR_LIMIT):
        self.fpr_limit = fpr_limit
        self.neg = np.zeros(LEVELS, dtype=np.int64)
        self.regions: list[np.ndarray] = []  # one 256-bin histogram per ground-truth region

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        pred, gt = _check(pred, gt)
        self.neg += np.bincount(pred[~gt], minlength=LEVELS)
        labels, n = ndimage.label(gt, structure=EIGHT_CONNECTED)
        if n:
            inside = labels > 0
            joint = np.bincount((labels[inside] - 1) * LEVELS + pred[inside], minlength=n * LEVELS)
            self.regions.extend(joint.reshape(n, LEVELS))

    def merge(self, other: "AUPRO") -> None:
        self.neg += other.neg
        self.regions.extend(other.regions)

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(FPR, PRO) at every threshold from above the maximum (0, 0) down to 0 (1, 1)."""
        if not self.regions or not self.neg.any():
            raise ValueError("AUPRO needs defect regions and defect-free pixels")
        regions = np.stack(self.regions)
        above_region = np.cumsum(regions[:, ::-1], axis=1)[:, ::-1]  # pixels of each region >= t, t = 0..255
        pro = (above_region / regions.sum(axis=1, keepdims=True)).mean(axis=0)
        fpr = np.cumsum(self.neg[::-1])[::-1] / self.neg.sum()
        # thresholds descending: t = 255 .. 0, preceded by "nothing predicted"
        return np.concatenate([[0.0], fpr[::-1]]), np.concatenate([[0.0], pro[::-1]])

    def get_results(self) -> dict[str, float]:
        fpr, pro = self.curve()
        return {f"AUPRO_{self.fpr_limit:g}": integrate_to(fpr, pro, self.fpr_limit) / self.fpr_limit}


def integrate_to(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoidal area under y(x) for x in [0, limit]; x non-decreasing, y interpolated at ``limit``."""
    keep = x <= limit
    xs, ys = list(x[keep]), list(y[keep])
    beyond = np.nonzero(~keep)[0]
    if len(beyond) and xs and xs[-1] < limit:
        j = beyond[0]
        x0, x1, y0, y1 = x[j - 1], x[j], y[j - 1], y[j]
        xs.append(limit)
        ys.append(y0 + (y1 - y0) * (limit - x0) / (x1 - x0))
    xs, ys = np.asarray(xs), np.asarray(ys)
    return float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2))


class ImageAUROC:
    """Image-level detection: score = the map's maximum, label = whether the ground truth has a defect."""

    def __init__(self):
        self.scores: list[int] = []
        self.labels: list[bool] = []

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        pred, gt = _check(pred, gt)
        self.scores.append(int(pred.max()) if pred.size else 0)
        self.labels.append(bool(gt.any()))

    def merge(self, other: "ImageAUROC") -> None:
        self.scores += other.scores
        self.labels += other.labels

    def get_results(self) -> dict[str, float]:
        if all(self.labels) or not any(self.labels):
            raise ValueError(f"image AUROC needs defective and defect-free images; got {sum(self.labels)} of {len(self.labels)} defective")
        return {"image_AUROC": float(roc_auc_score(self.labels, self.scores))}


ANOMALY_METRICS = (PixelAUROC, AUPRO, PixelF1Max, ImageAUROC)
ANOMALY_COLUMNS = ("pixel_AUROC", "AUPRO_0.3", "pixel_F1max", "image_AUROC")


def anomaly_scores(pairs) -> dict[str, float]:
    """All four metrics over ``(pred, gt)`` pairs (8-bit map, boolean ground truth), in ``ANOMALY_COLUMNS`` order."""
    metrics = [cls() for cls in ANOMALY_METRICS]
    for pred, gt in pairs:
        for m in metrics:
            m.step(pred, gt)
    out: dict[str, float] = {}
    for m in metrics:
        out.update(m.get_results())
    return {k: out[k] for k in ANOMALY_COLUMNS}
