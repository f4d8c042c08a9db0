"""The anomaly-detection convention (MVTec AD): pixel AUROC, AUPRO to FPR 0.3, pixel F1-max, image AUROC.

These metrics score maps over defect-free and defective images together, so the empty ground truth of
a defect-free image counts (its pixels are all negatives; its image label is "good"). Maps are the
stored 8-bit maps (0..255), so every pixel statistic is exact from 256-bin histograms: a dataset of
any size costs a few kilobytes, and the ROC from the histograms (scikit-learn with the bin counts as
sample weights) is the ROC of every pixel, ties included.

One small class per metric, PySODMetrics style: ``step(pred, gt)`` per image, ``get_results()`` at the
end; ``merge(other)`` adds another accumulator's images (from a worker process). The classes and the
``anomaly`` protocol (:mod:`samis.protocols.anomaly`) share the functions below: per image, additive
statistics (histograms, summed region overlaps, the image's score); over the split, the metric from
their sums.

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


# --- one image -> additive statistics (the classes below and the anomaly protocol sum these) ----------
def pixel_histograms(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-level counts (int64, 256 bins) of the image's defect pixels and of its defect-free pixels."""
    pred, gt = _check(pred, gt)
    return np.bincount(pred[gt], minlength=LEVELS), np.bincount(pred[~gt], minlength=LEVELS)


def region_overlaps(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, int]:
    """(sum over the image's ground-truth regions of the fraction of the region >= t, t = 0..255; region count).

    Summed over images and divided by the summed count this is PRO(t), the mean over all regions, so
    AUPRO is exact from kilobytes of sums (a region is an 8-connected component)."""
    pred, gt = _check(pred, gt)
    labels, n = ndimage.label(gt, structure=EIGHT_CONNECTED)
    if not n:
        return np.zeros(LEVELS), 0
    inside = labels > 0
    joint = np.bincount((labels[inside] - 1) * LEVELS + pred[inside], minlength=n * LEVELS).reshape(n, LEVELS)
    above = np.cumsum(joint[:, ::-1], axis=1)[:, ::-1]  # pixels of each region >= t
    return (above / joint.sum(axis=1, keepdims=True)).sum(axis=0), n


def image_score(pred: np.ndarray, gt: np.ndarray) -> tuple[int, bool]:
    """(the map's maximum, whether the ground truth has a defect pixel): one image's detection sample."""
    pred, gt = _check(pred, gt)
    return (int(pred.max()) if pred.size else 0), bool(gt.any())


# --- summed statistics -> the metric --------------------------------------------------------------
def _need_both(name: str, pos: np.ndarray, neg: np.ndarray) -> None:
    if not pos.any() or not neg.any():
        raise ValueError(f"{name} needs defect and defect-free pixels; got {pos.sum()} and {neg.sum()}")


def pixel_auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC area of every pixel from the defect and defect-free histograms (ties as scikit-learn counts them)."""
    _need_both("pixel AUROC", pos, neg)
    labels, scores, weights = _scores_and_weights(pos, neg)
    return float(roc_auc_score(labels, scores, sample_weight=weights))


def pixel_f1max(pos: np.ndarray, neg: np.ndarray) -> float:
    """The best F1 of every pixel over all thresholds, from the two histograms."""
    _need_both("pixel F1-max", pos, neg)
    labels, scores, weights = _scores_and_weights(pos, neg)
    precision, recall, _ = precision_recall_curve(labels, scores, sample_weight=weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(f1.max())


def pro_curve(neg: np.ndarray, pro_sum: np.ndarray, n_regions: int) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, PRO) at every threshold from above the maximum (0, 0) down to 0 (1, 1)."""
    if not n_regions or not neg.any():
        raise ValueError("AUPRO needs defect regions and defect-free pixels")
    pro = pro_sum / n_regions
    fpr = np.cumsum(neg[::-1])[::-1] / neg.sum()
    # thresholds descending: t = 255 .. 0, preceded by "nothing predicted"
    return np.concatenate([[0.0], fpr[::-1]]), np.concatenate([[0.0], pro[::-1]])


def aupro(neg: np.ndarray, pro_sum: np.ndarray, n_regions: int, fpr_limit: float = FPR_LIMIT) -> float:
    """The PRO curve's area from FPR 0 to ``fpr_limit``, divided by ``fpr_limit``."""
    fpr, pro = pro_curve(neg, pro_sum, n_regions)
    return integrate_to(fpr, pro, fpr_limit) / fpr_limit


def image_auroc(scores, labels) -> float:
    """ROC area of the images' scores against their labels (defective or not)."""
    labels = [bool(v) for v in labels]
    if all(labels) or not any(labels):
        raise ValueError(f"image AUROC needs defective and defect-free images; got {sum(labels)} of {len(labels)} defective")
    return float(roc_auc_score(labels, scores))


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


# --- the accumulators, PySODMetrics style ---------------------------------------------------------
class PixelHistograms:
    """Per-level counts of defect and defect-free pixels over every image stepped so far."""

    def __init__(self):
        self.pos = np.zeros(LEVELS, dtype=np.int64)
        self.neg = np.zeros(LEVELS, dtype=np.int64)

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        pos, neg = pixel_histograms(pred, gt)
        self.pos += pos
        self.neg += neg

    def merge(self, other: "PixelHistograms") -> None:
        self.pos += other.pos
        self.neg += other.neg


class PixelAUROC(PixelHistograms):
    def get_results(self) -> dict[str, float]:
        return {"pixel_AUROC": pixel_auroc(self.pos, self.neg)}


class PixelF1Max(PixelHistograms):
    def get_results(self) -> dict[str, float]:
        return {"pixel_F1max": pixel_f1max(self.pos, self.neg)}


class AUPRO:
    """Normalized area under the PRO curve up to ``fpr_limit`` (0.3, the MVTec AD convention)."""

    def __init__(self, fpr_limit: float = FPR_LIMIT):
        self.fpr_limit = fpr_limit
        self.neg = np.zeros(LEVELS, dtype=np.int64)
        self.pro_sum = np.zeros(LEVELS)  # sum over regions of the fraction of the region >= t
        self.n_regions = 0

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        self.neg += pixel_histograms(pred, gt)[1]
        pro_sum, n = region_overlaps(pred, gt)
        self.pro_sum += pro_sum
        self.n_regions += n

    def merge(self, other: "AUPRO") -> None:
        self.neg += other.neg
        self.pro_sum += other.pro_sum
        self.n_regions += other.n_regions

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(FPR, PRO) at every threshold from above the maximum (0, 0) down to 0 (1, 1)."""
        return pro_curve(self.neg, self.pro_sum, self.n_regions)

    def get_results(self) -> dict[str, float]:
        return {f"AUPRO_{self.fpr_limit:g}": aupro(self.neg, self.pro_sum, self.n_regions, self.fpr_limit)}


class ImageAUROC:
    """Image-level detection: score = the map's maximum, label = whether the ground truth has a defect."""

    def __init__(self):
        self.scores: list[int] = []
        self.labels: list[bool] = []

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        score, label = image_score(pred, gt)
        self.scores.append(score)
        self.labels.append(label)

    def merge(self, other: "ImageAUROC") -> None:
        self.scores += other.scores
        self.labels += other.labels

    def get_results(self) -> dict[str, float]:
        return {"image_AUROC": image_auroc(self.scores, self.labels)}


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
