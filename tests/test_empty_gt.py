"""Defect-free images (empty ground truth) are scored apart: the metric columns are means over images
with a defect; clean/FPA say how often a map stays black there; prompted rows are n/a (real MT images)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samis.datasets import get_dataset
from samis.datasets.subset import Subset
from samis.evaluation import evaluate
from samis.report.categories import OVERALL, per_category


@pytest.fixture(scope="module")
def mt(datasets_root):
    return get_dataset("mt", split="full", root=datasets_root, subset=Subset(limit=24))


def test_defect_free_images_are_scored_apart(mt, tmp_path):
    masks = {s.stem: s.load_mask() for s in mt.samples()}
    free = [stem for stem, m in masks.items() if not m.any()]
    defect = [stem for stem, m in masks.items() if m.any()]
    assert free and defect
    out = tmp_path / "mt.csv"
    table = evaluate(mt, None, "sod", jobs=1, progress=False, references=["empty", "full", "gt_box"], out=out)
    t = table.set_index("method")
    assert (t["n_images"] == len(defect)).all() and (t["n_free"] == len(free)).all()
    assert (t.at["ref-empty", "clean"], t.at["ref-empty", "FPA"]) == (1.0, 0.0)
    assert (t.at["ref-full", "clean"], t.at["ref-full", "FPA"]) == (0.0, 1.0)
    assert np.isnan(t.at["ref-gt_box", "clean"]) and np.isnan(t.at["ref-gt_box", "FPA"])  # its boxes come from the GT
    # an all-white map's IoU is each defect image's foreground share, averaged over the defect images only
    assert t.at["ref-full", "IoU"] == pytest.approx(np.mean([masks[s].mean() for s in defect]), abs=1e-12)
    assert t.at["ref-empty", "IoU"] == 0
    # the categories table is formed over the same images: its All row is the main table, no Free row
    cats = per_category(out.with_name("mt.per_image.csv"))
    assert "Free" not in set(cats["category"])
    overall = cats[cats["category"] == OVERALL].set_index("method")
    cols = ["MAE", "Sm", "wF", "maxF", "meanF", "maxE", "IoU"]
    pd.testing.assert_frame_equal(overall[cols], t.loc[overall.index, cols], check_exact=False, atol=1e-6, rtol=0)
    assert (overall["n_images"] == len(defect)).all()


def test_include_keeps_the_pysodmetrics_behaviour(mt):
    masks = [s.load_mask() for s in mt.samples()]
    t = evaluate(mt, None, "sod", jobs=1, progress=False, references=["full"], empty_gt="include").set_index("method")
    assert t.at["ref-full", "n_images"] == len(masks) and "n_free" not in t.columns
    assert t.at["ref-full", "IoU"] == pytest.approx(np.mean([m.mean() for m in masks]), abs=1e-12)


def test_tables_say_what_each_mean_is_over(mt, tmp_path):
    from samis.report.tables import render

    evaluate(mt, None, "sod", jobs=1, progress=False, references=["empty", "full"], out=tmp_path / "mt.csv")
    md = render(tmp_path / "mt.csv", metrics=["IoU", "Sm"])
    n_defect = sum(s.load_mask().any() for s in mt.samples())
    assert f"Images each number is a mean over: MT-full {n_defect}." in md
    assert "defect-free images are left out of the means and scored apart" in md


def test_study_main_table_shows_the_defect_free_scores(tmp_path):
    """A study on a set with defect-free images: its main table adds clean/FPA and says what each mean is over."""
    import yaml

    from samis.baselines import write_ft_maps
    from samis.datasets.ksdd_fixture import make_ksdd_fixture

    ksdd_root = tmp_path / "data"
    make_ksdd_fixture(ksdd_root / "KolektorSDD", n_folders=3, seed=1)
    from samis.experiments import load_definition
    from samis.experiments.reproduce import reproduce

    write_ft_maps(get_dataset("ksdd", root=ksdd_root).samples(), tmp_path / "maps")
    data = {"name": "k", "output": "out", "predictions": "preds",
            "datasets": [{"name": "ksdd", "label": "ksdd", "data_root": str(ksdd_root), "protocols": ["sod"]}],
            "models": [{"name": "vit_t", "device": "cpu"}], "modes": [{"mode": "box"}],
            "baselines": {"ksdd": {"root": "maps", "methods": ["FT"]}},
            "tables": [{"kind": "main", "protocol": "sod", "formats": ["md"]}]}
    (tmp_path / "k.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    d = load_definition(tmp_path / "k.yaml")
    for step in ("evaluate", "tables"):
        reproduce(d, only=step, progress=False, echo=lambda *a: None, jobs=1)
    md = next((tmp_path / "out" / "tables").glob("*.md")).read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Method"))
    assert "clean" in header and "FPA" in header
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    assert "ref-gt_box‡" in rows and rows["ref-empty‡"].rstrip(" |").endswith("0.000")  # all black: no false positive
    assert "defect-free images are left out of the means and scored apart" in md
