"""Per-category curve metrics mean what the main table's mean: maxF/meanF/maxE/meanE of the category's
mean curves, so the categories table's 'All' row equals the main table (real SD-900 maps)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from samis.datasets import get_dataset
from samis.datasets.subset import Subset
from samis.evaluation import evaluate
from samis.report.categories import OVERALL, per_category

METHODS = ["MCITF", "CSEPNet"]


@pytest.fixture(scope="module")
def scored(datasets_root, sd900_baselines, tmp_path_factory):
    out = tmp_path_factory.mktemp("cat") / "sd900.csv"
    ds = get_dataset("sd900", split="test", root=datasets_root, subset=Subset(limit=45))
    summary = evaluate(ds, sd900_baselines, "sod", methods=METHODS, jobs=1, progress=False, out=out,
                       references=["gt_box"])
    return ds, summary, out


def test_all_row_equals_the_main_table_for_every_metric(scored):
    _, summary, out = scored
    cats = per_category(out.with_name("sd900.per_image.csv"))
    overall = cats[cats["category"] == OVERALL].set_index("method")
    main = summary.set_index("method")
    cols = [c for c in main.columns if c not in ("dataset", "split", "n_images")]
    assert {"maxF", "meanF", "maxE", "meanE"} <= set(cols)
    pd.testing.assert_frame_equal(overall.loc[main.index, cols], main[cols], check_exact=False, atol=1e-6, rtol=0)
    per_image = pd.read_csv(out.with_name("sd900.per_image.csv"))
    mcitf = per_image[per_image["method"] == "MCITF"]
    assert abs(mcitf["maxF"].mean() - main.at["MCITF", "maxF"]) > 0.01  # the other definition is really another number


def test_category_maxf_is_the_max_of_its_mean_curve(scored, sd900_baselines):
    import py_sod_metrics as psm

    from samis.predictions import index_method

    ds, _, out = scored
    paths = index_method(sd900_baselines, "MCITF", [s.stem for s in ds.samples()]).paths
    cats = per_category(out.with_name("sd900.per_image.csv")).set_index(["method", "category"])
    for cat in ("In", "Sc"):
        fm, em = psm.Fmeasure(), psm.Emeasure()
        for s in (s for s in ds.samples() if s.category == cat):
            raw = np.asarray(Image.open(s.mask_path).convert("L"))
            pred = np.asarray(Image.open(paths[s.stem]).convert("L"))
            fm.step(pred, raw)
            em.step(pred, raw)
        f_curve, e_curve = fm.get_results()["fm"]["curve"], em.get_results()["em"]["curve"]
        row = cats.loc[("MCITF", cat)]
        assert row["maxF"] == pytest.approx(f_curve.max(), abs=1e-6)
        assert row["meanF"] == pytest.approx(f_curve.mean(), abs=1e-6)
        assert row["maxE"] == pytest.approx(e_curve.max(), abs=1e-6)


def test_without_curves_the_curve_metrics_are_missing_not_redefined(scored):
    _, _, out = scored
    frame = pd.read_csv(out.with_name("sd900.per_image.csv"))
    cats = per_category(frame, image_curves={})
    assert cats["maxF"].isna().all() and cats["Sm"].notna().all()
