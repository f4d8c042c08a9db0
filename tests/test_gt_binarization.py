"""Ground truth is binarized as pysodmetrics binarizes it (> 128), everywhere a map is scored or a
prompt is made: checked on MT masks whose anti-aliased edges hold pixels of exactly 128."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from samis.datasets import get_dataset
from samis.metrics.gt import GroundTruth
from samis.metrics.score import MapMetrics
from samis.protocols import get_protocol


def _grey_edged(datasets_root, n=3):
    """MT samples whose mask file has pixels of value 128 (foreground at > 127, background at > 128)."""
    out = []
    for sample in get_dataset("mt", split="defective", root=datasets_root).samples():
        raw = np.asarray(Image.open(sample.mask_path).convert("L"))
        if (raw == 128).any():
            out.append((sample, raw))
            if len(out) == n:
                break
    assert out, "MT has masks with grey (128) edge pixels"
    return out


def test_grey_edged_mt_masks_score_as_pysodmetrics_scores_them(datasets_root):
    import py_sod_metrics as psm

    for sample, raw in _grey_edged(datasets_root):
        mask = sample.load_mask()
        assert np.array_equal(mask, raw > 128) and not np.array_equal(mask, raw > 127)
        # a soft map that is wrong near the edges, where the grey pixels are
        pred = (ndimage.gaussian_filter(ndimage.shift(raw.astype(float), (2, -3)), 2)).clip(0, 255).astype(np.uint8)
        ours, _ = get_protocol("sod").measure(MapMetrics(pred, GroundTruth(mask)))
        sm, wf, mae, em, fm = psm.Smeasure(), psm.WeightedFmeasure(), psm.MAE(), psm.Emeasure(), psm.Fmeasure()
        for metric in (sm, wf, mae, em, fm):
            metric.step(pred, raw)  # the raw 8-bit mask: pysodmetrics binarizes it itself
        assert ours["Sm"] == pytest.approx(sm.get_results()["sm"], abs=1e-12)
        assert ours["wF"] == pytest.approx(wf.get_results()["wfm"], abs=1e-12)
        assert ours["MAE"] == pytest.approx(mae.get_results()["mae"], abs=1e-12)
        assert ours["maxE"] == pytest.approx(em.get_results()["em"]["curve"].max(), abs=1e-12)
        assert ours["maxF"] == pytest.approx(fm.get_results()["fm"]["curve"].max(), abs=1e-12)


def test_prompts_come_from_the_same_mask(datasets_root):
    from samis.runners.config import BoxConfig
    from samis.runners.prompted import prompts_for

    sample, raw = _grey_edged(datasets_root, n=1)[0]
    boxes = prompts_for(BoxConfig())(sample.load_mask(), sample.stem).boxes
    labels, _ = ndimage.label(raw > 128, structure=np.ones((3, 3)))
    expected = [[c.start, r.start, c.stop - 1, r.stop - 1] for r, c in ndimage.find_objects(labels)]
    assert np.array_equal(boxes, np.array(expected, dtype=float))
