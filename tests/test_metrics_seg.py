"""Segmentation IoUs against scikit-learn's confusion matrix and a hand-worked example; real BSData polygons."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, jaccard_score

from samis.metrics.seg import SegmentationIoU


def _score(pairs):
    m = SegmentationIoU()
    for pred, gt in pairs:
        m.step(pred, gt)
    return m.get_results()


def test_hand_worked_example():
    # image 1: gt 4 pixels, prediction 6 pixels overlapping 4 -> TP 4, FP 2, FN 0, IoU 4/6
    gt1 = np.zeros((4, 4), bool)
    gt1[0:2, 0:2] = True
    p1 = np.zeros((4, 4), np.uint8)
    p1[0:2, 0:3] = 255
    # image 2: gt 2 pixels, nothing predicted -> TP 0, FP 0, FN 2, IoU 0
    gt2 = np.zeros((4, 4), bool)
    gt2[3, 2:4] = True
    p2 = np.full((4, 4), 127, np.uint8)  # 127 is not > 127: background
    # image 3: both empty -> IoU 1 (per image); adds 16 true negatives
    got = _score([(p1, gt1), (p2, gt2), (np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool))])
    # pooled: TP 4, FP 2, FN 2, TN 48 - 8 = 40
    assert got["IoU_defect_pooled"] == pytest.approx(4 / 8)
    assert got["mIoU_pooled"] == pytest.approx((4 / 8 + 40 / 44) / 2)
    assert got["IoU_per_image_mean"] == pytest.approx((4 / 6 + 0 + 1) / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_sklearn_on_random_maps(seed):
    rng = np.random.default_rng(seed)
    pairs = [(rng.integers(0, 256, (15, 17), dtype=np.uint8), rng.random((15, 17)) < 0.2) for _ in range(5)]
    got = _score(pairs)
    y_true = np.concatenate([g.ravel() for _, g in pairs])
    y_pred = np.concatenate([(p > 127).ravel() for p, _ in pairs])
    assert got["IoU_defect_pooled"] == pytest.approx(jaccard_score(y_true, y_pred), abs=1e-12)
    cm = confusion_matrix(y_true, y_pred)
    per_class = np.diag(cm) / (cm.sum(0) + cm.sum(1) - np.diag(cm))
    assert got["mIoU_pooled"] == pytest.approx(per_class.mean(), abs=1e-12)
    per_image = [jaccard_score(g.ravel(), (p > 127).ravel()) for p, g in pairs]
    assert got["IoU_per_image_mean"] == pytest.approx(np.mean(per_image), abs=1e-12)


def test_merge_and_errors():
    rng = np.random.default_rng(3)
    pairs = [(rng.integers(0, 256, (6, 6), dtype=np.uint8), rng.random((6, 6)) < 0.3) for _ in range(4)]
    workers = [SegmentationIoU() for _ in pairs]  # one image per worker, merged in order
    for worker, (pred, gt) in zip(workers, pairs):
        worker.step(pred, gt)
    for worker in workers[1:]:
        workers[0].merge(worker)
    assert workers[0].get_results() == _score(pairs)
    with pytest.raises(ValueError, match="differ in size"):
        SegmentationIoU().step(np.zeros((2, 2), np.uint8), np.zeros((3, 2), bool))
    with pytest.raises(ValueError, match="no image scored"):
        SegmentationIoU().get_results()


def test_pooled_and_per_image_differ_on_real_bsdata(datasets_root):
    """On BSData's small pits the three numbers tell different stories; the ground truth scores 1 on all."""
    from samis.datasets import get_dataset
    from samis.datasets.subset import Subset

    samples = get_dataset("bsdata", root=datasets_root, split="test", subset=Subset(limit=6)).samples()
    masks = [s.load_mask() for s in samples]
    assert _score([(m, m) for m in masks]) == {"IoU_defect_pooled": 1.0, "mIoU_pooled": 1.0, "IoU_per_image_mean": 1.0}
    # a prediction that finds only the largest image's pits: pooled IoU is that image's share of all pit pixels
    largest = int(np.argmax([m.sum() for m in masks]))
    preds = [m if i == largest else np.zeros_like(m) for i, m in enumerate(masks)]
    got = _score(list(zip(preds, masks)))
    share = masks[largest].sum() / sum(m.sum() for m in masks)
    assert got["IoU_defect_pooled"] == pytest.approx(share)
    assert got["IoU_per_image_mean"] == pytest.approx(1 / len(masks))
    assert got["mIoU_pooled"] > got["IoU_defect_pooled"]
