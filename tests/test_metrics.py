"""Metric core: the published steel row, hand-checkable OR/PFOM cases, and pysodmetrics agreement."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from samis.datasets import get_dataset
from samis.evaluation import evaluate
from samis.imageio import read_gray
from samis.metrics import GroundTruth, MapMetrics, OverlapRatio, PrattFOM, overlap_ratio, pfom
from samis.protocols import get_protocol
from samis.metrics.overlap import binarize_gt_for_or

# Song, Song & Yan (MCITF, Optics and Lasers in Engineering 2020), RCRR on all 900 SD-saliency-900 images
RCRR_PUBLISHED = {"WF": 0.2591, "SM": 0.5342, "OR": 0.2526, "PFOM": 0.3267, "MAE": 0.2439}


def test_rcrr_reproduces_published_steel_row(datasets_root, sd900_baselines):
    ds = get_dataset("sd900", root=datasets_root, split="full")
    row = evaluate(ds, sd900_baselines, "steel", methods=["RCRR"], jobs=2, progress=False).iloc[0]
    assert row["n_images"] == 900
    for col, published in RCRR_PUBLISHED.items():
        assert abs(row[col] - published) <= 0.00051, (col, row[col], published)


# --- OR and PFOM on arrays small enough to check by hand -----------------------------------------

def half_plane(h, w, first_col):
    """Foreground from column ``first_col`` on: its edge image is columns first_col-1 and first_col."""
    img = np.zeros((h, w), dtype=np.uint8)
    img[:, first_col:] = 255
    return img


def test_pfom_perfect_map_is_one():
    gt = half_plane(6, 10, 5)
    assert pfom(gt, gt > 128) == 1.0


def test_pfom_edges_one_pixel_apart():
    # GT edges: columns 4, 5; map edges: columns 5, 6. Column 5 matches (1 each), column 4 is 1 away.
    gt = half_plane(6, 10, 5) > 128
    assert pfom(half_plane(6, 10, 6), gt) == pytest.approx((1 + 1 / (1 + 0.1)) / 2, abs=1e-15)


def test_pfom_edges_further_apart_use_chessboard_distance():
    # map edges at columns 7, 8: GT column 4 is 3 away, column 5 is 2 away (straight across)
    gt = half_plane(6, 10, 5) > 128
    expected = (1 / (1 + 0.1 * 9) + 1 / (1 + 0.1 * 4)) / 2
    assert pfom(half_plane(6, 10, 8), gt) == pytest.approx(expected, abs=1e-15)
    # a diagonal offset counts as its larger component: a lone bright pixel at (0, 0) has edge pixels
    # (0, 0), (0, 1), (1, 0); (2, 1) is 1 row and 1 column from (1, 0) -> 1; (4, 4) is 4 from all three
    from samis.metrics.edges import edge_map
    from samis.metrics.pfom import chessboard_distance

    pred = np.zeros((5, 5), dtype=np.uint8)
    pred[0, 0] = 255
    edges = edge_map(pred > 128)
    assert sorted(zip(*np.nonzero(edges))) == [(0, 0), (0, 1), (1, 0)]
    d = chessboard_distance(edges)
    assert d[2, 1] == 1 and d[4, 4] == 4 and d[0, 0] == 0


def test_pfom_without_map_edges_uses_distance_to_far_border():
    # 6 x 10, GT edges at columns 4 and 5: the farthest border is 5 away for every such pixel
    gt = half_plane(6, 10, 5) > 128
    assert pfom(np.zeros((6, 10), np.uint8), gt) == pytest.approx(1 / (1 + 0.1 * 25), abs=1e-15)


def test_pfom_without_any_edge_is_left_out_of_the_mean():
    acc = PrattFOM()
    assert math.isnan(acc.step(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)))
    acc.step(half_plane(6, 10, 6), half_plane(6, 10, 5))
    assert acc.get_results()["PFOM"] == pytest.approx((1 + 1 / 1.1) / 2, abs=1e-15)


def test_or_on_hand_arrays():
    gt = np.zeros((10, 10), np.uint8)
    gt[2:6, 3:8] = 255  # 20 pixels
    assert overlap_ratio(gt, gt > 128) == 1.0
    pred = np.zeros((10, 10), np.uint8)
    pred[2:4, 3:8] = 255  # half of the GT: mean 25.5, threshold 51 keeps exactly these 10 pixels
    assert overlap_ratio(pred, gt > 128) == 0.5
    # the stretch makes a dim map count like a bright one
    assert overlap_ratio((pred > 0).astype(np.uint8) * 7 + 3, gt > 128) == 0.5
    # disjoint: empty intersection -> 0
    far = np.zeros((10, 10), np.uint8)
    far[8:, :] = 255
    assert overlap_ratio(far, gt > 128) == 0.0
    # a constant map stretches to 0 and its threshold 2 * 0 keeps every pixel: OR = |GT| / image size
    assert overlap_ratio(np.full((10, 10), 90, np.uint8), gt > 128) == 0.2
    # a constant ground truth stretches to 0 too, so nothing can overlap it
    assert not binarize_gt_for_or(np.ones((10, 10), bool)).any()
    acc = OverlapRatio()
    acc.step(gt, gt)
    acc.step(pred, gt)
    assert acc.get_results()["OR"] == 0.75


# --- sod protocol: the same numbers as pysodmetrics ----------------------------------------------

def pysod_handlers():
    import py_sod_metrics as M

    return M.FmeasureV2({
        "fm": M.FmeasureHandler(with_dynamic=True, with_adaptive=True, beta=0.3),
        "p": M.PrecisionHandler(with_dynamic=True, with_adaptive=False),
        "r": M.RecallHandler(with_dynamic=True, with_adaptive=False),
        "iou": M.IOUHandler(with_dynamic=False, with_adaptive=False, with_binary=True),
        "dice": M.DICEHandler(with_dynamic=False, with_adaptive=False, with_binary=True),
    })


def test_sod_protocol_matches_pysodmetrics_on_csepnet(tmp_path, datasets_root, sd900_baselines):
    import py_sod_metrics as M

    ds = get_dataset("sd900", root=datasets_root, split="test")
    ours = evaluate(ds, sd900_baselines, "sod", methods=["CSEPNet"], jobs=2, out=tmp_path / "r.csv",
                    progress=False).iloc[0]
    assert ours["n_images"] == 360
    mae, sm, wfm, em, fm = M.MAE(), M.Smeasure(), M.WeightedFmeasure(), M.Emeasure(), pysod_handlers()
    for s in ds.samples():
        pred, gt = read_gray(sd900_baselines / "CSEPNet" / f"{s.stem}.png"), read_gray(s.mask_path)
        for m in (mae, sm, wfm, em, fm):
            m.step(pred, gt)
    f, e = fm.get_results(), em.get_results()["em"]
    ref = {
        "MAE": mae.get_results()["mae"], "Sm": sm.get_results()["sm"], "wF": wfm.get_results()["wfm"],
        "maxF": f["fm"]["dynamic"].max(), "meanF": f["fm"]["dynamic"].mean(), "adpF": f["fm"]["adaptive"],
        "maxE": e["curve"].max(), "meanE": e["curve"].mean(), "adpE": e["adp"],
        "IoU": f["iou"]["binary"], "Dice": f["dice"]["binary"],
    }
    for col, value in ref.items():
        assert abs(ours[col] - value) <= 1e-12, (col, ours[col], value)
    curves = np.load(tmp_path / "r.curves.npz")
    assert list(curves["thresholds"]) == list(range(256))
    # pysodmetrics stores threshold 255 first; the file stores threshold i at index i
    for name, ref_curve in (("precision", f["p"]["dynamic"]), ("recall", f["r"]["dynamic"]),
                            ("fmeasure", f["fm"]["dynamic"]), ("emeasure", e["curve"])):
        np.testing.assert_allclose(curves[f"CSEPNet::{name}"], np.flip(ref_curve), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["empty", "full", "border"])
def test_sod_measure_matches_pysodmetrics_on_edge_case_ground_truths(kind, sd900_baselines):
    """Defect-free images (empty GT, as in Magnetic-tile) and degenerate GTs follow pysodmetrics too."""
    import py_sod_metrics as M

    pred = read_gray(sd900_baselines / "CSEPNet" / "In_61.png")
    gt = np.zeros(pred.shape, np.uint8)
    if kind == "full":
        gt[:] = 255
    elif kind == "border":
        gt[:3, :] = 255
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = {}
        for name, metric, key in (("MAE", M.MAE(), "mae"), ("Sm", M.Smeasure(), "sm"),
                                  ("wF", M.WeightedFmeasure(), "wfm")):
            metric.step(pred, gt)
            ref[name] = metric.get_results()[key]
        em, fm = M.Emeasure(), pysod_handlers()
        em.step(pred, gt)
        fm.step(pred, gt)
    values, curves = get_protocol("sod").measure(MapMetrics(pred, GroundTruth(gt > 128)))
    for name in ("MAE", "Sm", "wF"):
        assert abs(values[name] - ref[name]) <= 1e-12, name
    e, f = em.get_results()["em"], fm.get_results()
    np.testing.assert_allclose(curves["emeasure"], e["curve"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(curves["fmeasure"], f["fm"]["dynamic"], rtol=0, atol=1e-12)
    assert abs(values["adpE"] - e["adp"]) <= 1e-12 and abs(values["adpF"] - f["fm"]["adaptive"]) <= 1e-12
    assert abs(values["IoU"] - f["iou"]["binary"]) <= 1e-12 and abs(values["Dice"] - f["dice"]["binary"]) <= 1e-12
