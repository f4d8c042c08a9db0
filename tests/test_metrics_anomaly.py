"""Anomaly metrics (MVTec AD convention) against slow, direct computations on random maps, and on real
magnetic-tile images (defect-free and defective) with frequency-tuned saliency maps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from skimage.measure import label as skimage_label
from sklearn.metrics import roc_auc_score

from samis.metrics.anomaly import AUPRO, ImageAUROC, PixelAUROC, PixelF1Max, anomaly_scores, integrate_to


def random_set(seed: int, n: int = 6, shape=(20, 24), levels: int = 256):
    """Maps loosely correlated with blobby ground truths; one image defect-free; few levels make ties."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        gt = np.zeros(shape, bool)
        if i > 0:
            for _ in range(rng.integers(1, 4)):
                r, c = rng.integers(0, shape[0] - 4), rng.integers(0, shape[1] - 4)
                gt[r:r + rng.integers(2, 6), c:c + rng.integers(2, 6)] = True
        raw = rng.normal(0, 1, shape) + 1.2 * gt
        q = np.floor((raw - raw.min()) / (np.ptp(raw) + 1e-9) * (levels - 1))
        pairs.append(((q * (255 // (levels - 1))).astype(np.uint8), gt))
    return pairs


def brute_force_aupro(pairs, limit=0.3):
    """Threshold by threshold, region by region, as the definition reads; the curve integrated by hand."""
    regions = [(k, lab == j) for k, (_, gt) in enumerate(pairs) for lab in [skimage_label(gt, connectivity=2)]
               for j in range(1, lab.max() + 1)]
    negatives = sum(int((~gt).sum()) for _, gt in pairs)
    points = [(0.0, 0.0)]
    for t in range(255, -1, -1):
        fp = sum(int(((pred >= t) & ~gt).sum()) for pred, gt in pairs)
        pro = np.mean([(pairs[k][0][region] >= t).mean() for k, region in regions])
        points.append((fp / negatives, pro))
    area = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 >= limit:
            break
        if x1 > limit:  # cut the segment at the limit
            y1 = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
            x1 = limit
        area += (x1 - x0) * (y0 + y1) / 2
    return area / limit


def brute_force_f1max(pairs):
    preds = np.concatenate([p.ravel() for p, _ in pairs])
    gts = np.concatenate([g.ravel() for _, g in pairs])
    best = 0.0
    for t in range(256):
        hit = preds >= t
        tp, fp, fn = (hit & gts).sum(), (hit & ~gts).sum(), (~hit & gts).sum()
        best = max(best, 2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return best


def brute_force_image_auroc(pairs):
    scores = [(int(p.max()), bool(g.any())) for p, g in pairs]
    pos = [s for s, y in scores if y]
    neg = [s for s, y in scores if not y]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def _run(metric, pairs):
    for pred, gt in pairs:
        metric.step(pred, gt)
    return metric.get_results()


@pytest.mark.parametrize("seed,levels", [(0, 256), (1, 256), (2, 8), (3, 3)])
def test_aupro_matches_brute_force(seed, levels):
    pairs = random_set(seed, levels=levels)
    got = _run(AUPRO(), pairs)["AUPRO_0.3"]
    assert got == pytest.approx(brute_force_aupro(pairs), abs=1e-12)
    assert 0.0 < got < 1.0


@pytest.mark.parametrize("seed", [0, 4])
def test_pixel_metrics_match_direct_computations(seed):
    pairs = random_set(seed, n=8) + [random_set(seed + 10, n=2)[0]]  # two defect-free images
    preds = np.concatenate([p.ravel() for p, _ in pairs]).astype(float)
    gts = np.concatenate([g.ravel() for _, g in pairs])
    assert _run(PixelAUROC(), pairs)["pixel_AUROC"] == pytest.approx(roc_auc_score(gts, preds), abs=1e-12)
    u = stats.mannwhitneyu(preds[gts], preds[~gts]).statistic  # AUROC = U / (n_pos n_neg), ties halved
    assert _run(PixelAUROC(), pairs)["pixel_AUROC"] == pytest.approx(u / (gts.sum() * (~gts).sum()), abs=1e-12)
    assert _run(PixelF1Max(), pairs)["pixel_F1max"] == pytest.approx(brute_force_f1max(pairs), abs=1e-12)
    assert _run(ImageAUROC(), pairs)["image_AUROC"] == pytest.approx(brute_force_image_auroc(pairs), abs=1e-12)


def test_merge_equals_one_pass():
    pairs = random_set(5, n=8)
    whole = anomaly_scores(pairs)
    parts = []
    for cls in (PixelAUROC, AUPRO, PixelF1Max, ImageAUROC):
        a, b = cls(), cls()
        for pred, gt in pairs[:3]:
            a.step(pred, gt)
        for pred, gt in pairs[3:]:
            b.step(pred, gt)
        a.merge(b)
        parts.append(a.get_results())
    assert {k: v for d in parts for k, v in d.items()} == whole


def test_perfect_and_inverted_maps():
    pairs = [(gt.astype(np.uint8) * 255, gt) for _, gt in random_set(6)]
    assert anomaly_scores(pairs) == {"pixel_AUROC": 1.0, "AUPRO_0.3": 1.0, "pixel_F1max": 1.0, "image_AUROC": 1.0}
    inverted = [((~gt).astype(np.uint8) * 255, gt) for _, gt in pairs]
    assert _run(AUPRO(), inverted)["AUPRO_0.3"] == 0.0 and _run(PixelAUROC(), inverted)["pixel_AUROC"] == 0.0


def test_integrate_to_cuts_at_the_limit():
    x, y = np.array([0.0, 0.2, 0.5, 1.0]), np.array([0.0, 0.4, 1.0, 1.0])
    # area to 0.3: triangle 0..0.2 (0.04) + trapezoid 0.2..0.3 between 0.4 and 0.6 (0.05)
    assert integrate_to(x, y, 0.3) == pytest.approx(0.09)


def test_bad_inputs_are_clear():
    with pytest.raises(ValueError, match="8-bit maps"):
        PixelAUROC().step(np.zeros((2, 2)), np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="differ in size"):
        AUPRO().step(np.zeros((2, 2), np.uint8), np.zeros((2, 3), bool))
    only_good = ImageAUROC()
    only_good.step(np.zeros((2, 2), np.uint8), np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="defective and defect-free images"):
        only_good.get_results()
    with pytest.raises(ValueError, match="defect regions"):
        _run(AUPRO(), [(np.zeros((2, 2), np.uint8), np.zeros((2, 2), bool))])


def test_real_magnetic_tile_subset_against_direct_computations(datasets_root):
    """FT maps of 24 MT `full` images (stratified: defect-free Free tiles and every defect class)."""
    from samis.baselines.frequency_tuned import frequency_tuned
    from samis.datasets import get_dataset
    from samis.datasets.subset import Subset

    ds = get_dataset("mt", root=datasets_root, split="full", subset=Subset(limit=24))
    pairs = []
    for sample in ds.samples():
        image, gt = sample.load()
        pairs.append((frequency_tuned(image), gt))
    assert sum(not g.any() for _, g in pairs) >= 17  # Free tiles are 952 of 1344
    got = anomaly_scores(pairs)
    preds = np.concatenate([p.ravel() for p, _ in pairs]).astype(float)
    gts = np.concatenate([g.ravel() for _, g in pairs])
    assert got["pixel_AUROC"] == pytest.approx(roc_auc_score(gts, preds), abs=1e-12)
    assert got["AUPRO_0.3"] == pytest.approx(brute_force_aupro(pairs), abs=1e-12)
    assert got["pixel_F1max"] == pytest.approx(brute_force_f1max(pairs), abs=1e-12)
    assert got["image_AUROC"] == pytest.approx(brute_force_image_auroc(pairs), abs=1e-12)
    assert 0.5 < got["pixel_AUROC"] < 1.0  # FT separates defects from tile a little, far from perfectly
