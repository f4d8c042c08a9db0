"""The protocol registry: a protocol is data the evaluator, the report and the definition loader read.

A protocol added as one registry entry (here in the test, as a new module would) is evaluated on real
SD-saliency-900 images and maps, including dataset-level numbers (pixels pooled over the split) that
are not means of per-image values; the expected values are computed independently from the files.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image
from scipy.stats import mannwhitneyu

from samis.datasets import get_dataset
from samis.evaluation import evaluate
from samis.experiments.definition import CURVE_PANELS, BaselineSpec
from samis.protocols import HIGHER, LOWER, PROTOCOLS, Accumulated, Protocol, parse_protocols
from samis.protocols.base import mean_where_defined
from samis.report.style import STYLES, lower_is_better

STEMS = ["In_61", "Pa_170", "Sc_262", "Sc_300"]


def _auroc(fg_hist: np.ndarray, bg_hist: np.ndarray) -> float:
    """P(foreground pixel scores above a background pixel) + half the ties, from 256-bin histograms."""
    below = np.concatenate([[0], np.cumsum(bg_hist)[:-1]])  # background pixels strictly below each level
    return float((np.sum(fg_hist * below) + 0.5 * np.sum(fg_hist * bg_hist)) / (fg_hist.sum() * bg_hist.sum()))


def _pooled_measure(m):
    """Per image: its own IoU (map >= 128) and AUROC; arrays: counts and histograms summed over the split."""
    pred_fg = m.pred >= 128
    inter = np.count_nonzero(pred_fg & m.gt.mask)
    union = np.count_nonzero(pred_fg | m.gt.mask)
    fg_hist = np.bincount(m.pred[m.gt.mask], minlength=256).astype(np.float64)
    bg_hist = np.bincount(m.pred[~m.gt.mask], minlength=256).astype(np.float64)
    values = {"IoU": inter / union, "AUROC": _auroc(fg_hist, bg_hist)}
    return values, {"counts": np.array([inter, union], np.float64), "fg": fg_hist, "bg": bg_hist}


POOLED = Protocol(
    name="pooled",
    description="a dataset-level protocol for the test: IoU and pixel AUROC over all pixels of the split",
    columns=("IoU", "AUROC"),
    directions={"IoU": HIGHER, "AUROC": HIGHER},
    measure=_pooled_measure,
    reducers={"IoU": lambda acc, c: float(acc.sums["counts"][0] / acc.sums["counts"][1]),
              "AUROC": lambda acc, c: _auroc(acc.sums["fg"], acc.sums["bg"])},
)


@pytest.fixture(scope="module")
def four(tmp_path_factory, datasets_root, sd900_baselines):
    """Four real SD-saliency-900 images as a ``folder`` set, and RCRR's maps of them."""
    root = tmp_path_factory.mktemp("four")
    sd = datasets_root / "SD-saliency-900"
    for sub in ("images", "masks", "preds/RCRR"):
        (root / sub).mkdir(parents=True)
    for stem in STEMS:
        shutil.copy(sd / "Source Images" / f"{stem}.bmp", root / "images" / f"{stem}.bmp")
        shutil.copy(sd / "Ground truth" / f"{stem}.png", root / "masks" / f"{stem}.png")
        shutil.copy(sd900_baselines / "RCRR" / f"{stem}.png", root / "preds" / "RCRR" / f"{stem}.png")
    return root


def test_a_registered_protocol_is_evaluated_with_its_dataset_level_reducers(four, monkeypatch, tmp_path):
    monkeypatch.setitem(PROTOCOLS, "pooled", POOLED)
    ds = get_dataset("folder", root=four)
    table = evaluate(ds, four / "preds", "pooled", jobs=1, progress=False, out=tmp_path / "res.csv")

    maps = [np.asarray(Image.open(four / "preds" / "RCRR" / f"{s}.png").convert("L")) for s in STEMS]
    masks = [np.asarray(Image.open(four / "masks" / f"{s}.png").convert("L")) > 128 for s in STEMS]
    inter = sum(int(((p >= 128) & g).sum()) for p, g in zip(maps, masks))
    union = sum(int(((p >= 128) | g).sum()) for p, g in zip(maps, masks))
    fg = np.concatenate([p[g] for p, g in zip(maps, masks)])
    bg = np.concatenate([p[~g] for p, g in zip(maps, masks)])
    expected_auroc = mannwhitneyu(fg, bg).statistic / (fg.size * bg.size)

    row = table.iloc[0]
    assert list(table.columns) == ["method", "dataset", "split", "n_images", "IoU", "AUROC"]
    assert row["IoU"] == pytest.approx(inter / union, abs=1e-12)
    assert row["AUROC"] == pytest.approx(expected_auroc, abs=1e-12)
    per_image_iou = [((p >= 128) & g).sum() / ((p >= 128) | g).sum() for p, g in zip(maps, masks)]
    assert abs(row["IoU"] - np.mean(per_image_iou)) > 1e-3  # pooled, not the mean of the images
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res.csv", "res.per_image.csv"]  # no curves


def test_registry_drives_choices_styles_and_directions():
    assert parse_protocols("both") == ("sod", "steel")
    assert parse_protocols(["steel", "both"]) == ("steel", "sod")
    assert STYLES["steel"] == {"decimals": 4, "drop_leading_zero": True}
    assert STYLES["sod"] == {"decimals": 3, "drop_leading_zero": False}
    for protocol in PROTOCOLS.values():
        for column in protocol.columns:
            assert lower_is_better(column) == (protocol.directions[column] == LOWER)
    from samis.report.curves import PANELS

    assert tuple(PANELS) == CURVE_PANELS  # the definition's curve panels are the report's


def test_a_protocol_without_a_direction_or_with_a_stray_reducer_is_refused():
    with pytest.raises(ValueError, match="no direction"):
        Protocol(name="x", description="", columns=("A", "B"), directions={"A": HIGHER}, measure=lambda m: ({}, {}))
    with pytest.raises(ValueError, match="unknown column"):
        Protocol(name="x", description="", columns=("A",), directions={"A": HIGHER}, measure=lambda m: ({}, {}),
                 reducers={"B": mean_where_defined})


def test_mean_where_defined_leaves_out_undefined_images():
    acc = Accumulated(per_image={"PFOM": np.array([0.5, np.nan, 0.25])}, sums={}, n=3)
    assert mean_where_defined(acc, "PFOM") == 0.375
    nowhere = Accumulated(per_image={"PFOM": np.array([np.nan, np.nan])}, sums={}, n=2)
    assert np.isnan(mean_where_defined(nowhere, "PFOM"))


def test_all_baseline_methods_come_in_natural_order(tmp_path):
    for name in ("M10", "M2", "m1", ".hidden"):
        (tmp_path / name).mkdir()
    assert BaselineSpec(dataset="x", root=tmp_path).method_names() == ["m1", "M2", "M10"]
