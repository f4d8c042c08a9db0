"""Reference rows (samis.references): empty, full and gt_box maps made from the ground truth and scored
by the evaluator, checked against an independent computation (scipy boxes + pysodmetrics)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from samis.datasets import get_dataset
from samis.errors import ConfigError
from samis.evaluation import evaluate
from samis.references import Reference, parse_references


def _independent_gt_box(gt: np.ndarray) -> np.ndarray:
    labels, _ = ndimage.label(gt, structure=np.ones((3, 3)))
    out = np.zeros(gt.shape, np.uint8)
    for rows, cols in ndimage.find_objects(labels):
        out[rows, cols] = 255
    return out


def test_gt_box_on_sd900_test_matches_pysodmetrics(datasets_root):
    """The issue's number: on the SD-900 test split the tight boxes score IoU .619 and Sm .762."""
    import py_sod_metrics as psm

    ds = get_dataset("sd900", split="test", root=datasets_root)
    table = evaluate(ds, None, "sod", jobs=1, progress=False, references=["empty", "full", "gt_box"])
    row = table.set_index("method").loc["ref-gt_box"]

    sm, mae = psm.Smeasure(), psm.MAE()
    ious = []
    for sample in ds.samples():
        raw = np.asarray(Image.open(sample.mask_path).convert("L"))
        gt = raw > 128  # pysodmetrics' own binarization
        pred = _independent_gt_box(gt)
        sm.step(pred, raw)
        mae.step(pred, raw)
        box = pred > 127
        ious.append((box & gt).sum() / (box | gt).sum())
    assert len(ious) == 360 == row["n_images"]
    expected_sm, expected_iou = sm.get_results()["sm"], float(np.mean(ious))
    assert round(expected_iou, 3) == 0.619 and round(expected_sm, 3) == 0.762
    assert row["IoU"] == pytest.approx(expected_iou, abs=1e-9)
    assert row["Sm"] == pytest.approx(expected_sm, abs=1e-9)
    assert row["MAE"] == pytest.approx(mae.get_results()["mae"], abs=1e-9)
    # an all-black map: MAE is the mean foreground share; an all-white one has IoU = that share
    empty, full = table.set_index("method").loc["ref-empty"], table.set_index("method").loc["ref-full"]
    assert empty["IoU"] == 0 and full["MAE"] == pytest.approx(1 - empty["MAE"])


def test_jittered_gt_box_uses_the_box_modes_prompts(datasets_root):
    from samis.runners.config import BoxConfig
    from samis.runners.prompted import prompts_for

    cfg = BoxConfig(jitter=0.2, seed=3)
    ref = Reference("gt_box", jitter=0.2, seed=3)
    for sample in list(get_dataset("sd900", split="test", root=datasets_root).samples())[:5]:
        gt = sample.load_mask()
        boxes = np.rint(prompts_for(cfg)(gt, sample.stem).boxes).astype(int)
        expected = np.zeros(gt.shape, np.uint8)
        for x0, y0, x1, y1 in boxes:
            expected[y0 : y1 + 1, x0 : x1 + 1] = 255
        assert np.array_equal(ref.render(gt, sample.stem), expected)
        assert not np.array_equal(expected, _independent_gt_box(gt))  # the jitter did move the boxes


def test_reference_names_and_bad_specs():
    refs = parse_references("empty,full,gt_box:jitter=0.1,seed=2")
    assert [r.name for r in refs] == ["ref-empty", "ref-full", "ref-gt_box-jit0.1-seed2"]
    assert parse_references([{"gt_box": {"jitter": 0.1, "seed": 2}}])[0] == refs[2]
    for bad in ("nothing", "full:jitter=0.1", "gt_box:jitter=-1", "gt_box:size=3"):
        with pytest.raises(ConfigError):
            parse_references(bad)


def test_tables_mark_references_and_never_rank_them(datasets_root, sd900_baselines, tmp_path):
    """A reference row that beats every method is marked ‡, explained in a footnote, and not bold."""
    from samis.datasets.subset import Subset
    from samis.report.tables import render

    ds = get_dataset("sd900", split="test", root=datasets_root, subset=Subset(limit=12))
    evaluate(ds, sd900_baselines, "sod", methods=["CSEPNet"], jobs=1, progress=False,
             references=["empty", "gt_box"], out=tmp_path / "r.csv")
    md = render(tmp_path / "r.csv", metrics=["IoU", "MAE"])
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    assert "ref-gt_box‡" in rows and "ref-empty‡" in rows
    assert "**" not in rows["ref-gt_box‡"] and "**" in rows["CSEPNet"]  # the only ranked method is best
    assert "‡ Reference, not ranked" in md and "the tight box of every ground-truth component" in md
    latex = render(tmp_path / "r.csv", fmt="latex", metrics=["IoU"])
    assert r"ref-gt\_box$^\ddagger$" in latex
