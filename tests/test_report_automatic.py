"""The automatic table and the threshold-sweep figure, from the per-image records the run writes."""

from __future__ import annotations

import pandas as pd
import pytest

from report_study import default_shaped_study
from samis.report.automatic import sweep_frame


def _rec(stem, cat, pairs):
    return {"stem": stem, "category": cat, "component_areas": [10] * len(pairs[0][2]),
            "pairs": [{"pred_iou_thresh": i, "stability_score_thresh": s, "masks": m, "masks_foreground": f, "best_iou": b}
                      for (i, s), (m, f), b in ((p[0], p[1], p[2]) for p in pairs)]}


def test_sweep_statistics_by_hand():
    records = [
        _rec("a", "In", [((0.88, 0.95), (1, 0), [0.0, 0.6]), ((0.5, 0.8), (5, 3), [0.5, 0.9])]),
        _rec("b", "Sc", [((0.88, 0.95), (2, 1), [0.2]), ((0.5, 0.8), (7, 4), [0.49])]),
        _rec("c", "Sc", [((0.88, 0.95), (1, 0), []), ((0.5, 0.8), (3, 1), [])]),  # no defect: counts, no component
    ]
    frame = sweep_frame(records, {"a": "In", "b": "Sc", "c": "Sc", "z": "In"}, "SD900-test")
    assert list(frame["category"]) == ["All", "All", "In", "In", "Sc", "Sc"]
    assert list(frame["main"]) == [True, False, True, False, True, False]
    main_all, low_all = frame.iloc[0], frame.iloc[1]
    assert (main_all.images, main_all.components) == (3, 3)
    assert main_all.masks_per_image == pytest.approx(4 / 3) and main_all.foreground_per_image == pytest.approx(1 / 3)
    assert main_all["recall_at_0.5"] == pytest.approx(1 / 3) and main_all.mean_best_iou == pytest.approx(0.8 / 3)
    assert low_all["recall_at_0.5"] == pytest.approx(2 / 3) and low_all.mean_best_iou == pytest.approx(1.89 / 3)
    sc_low = frame.iloc[5]
    assert (sc_low.pair, sc_low.images, sc_low.components, sc_low["recall_at_0.5"]) == ("0.5/0.8", 2, 1, 0.0)


def test_default_report_has_the_automatic_table_and_sweep_figure(tmp_path):
    from samis.experiments.render import render_figures, render_tables

    d = default_shaped_study(tmp_path)
    assert "automatic" in {t.kind for t in d.tables} and "automatic_sweep" in {f.kind for f in d.figures}
    lines = []
    render_tables(d, echo=lines.append)
    tables = d.output / "tables"
    csv = pd.read_csv(tables / "automatic.csv")
    assert list(dict.fromkeys(csv["unit"])) == ["SD900-test", "MT-full"]
    assert len(csv[(csv["unit"] == "MT-full") & (csv["category"] == "All")]) == 6  # 3 x 2 pairs
    assert csv.groupby(["unit", "category"])["main"].first().all()  # the main pair first in every block
    # the numbers come from the records of the unit's images only
    from samis.runners.automatic_records import read_records

    union = next(c for c in d.modes if c.mode == "automatic" and c.policy == "union").method_name(d.models[0].name)
    recs = [r for r in read_records(d.predictions / "MT-full" / union) if r["stem"].startswith("Crack_")]
    best = [v for r in recs for v in r["pairs"][0]["best_iou"]]
    row = csv[(csv["unit"] == "MT-full") & (csv["category"] == "Crack") & csv["main"]].iloc[0]
    assert row["components"] == len(best) and row["mean_best_iou"] == pytest.approx(sum(best) / len(best), abs=1e-5)
    tex = (tables / "automatic.tex").read_text()
    assert tex.count(r"\end{table}") == 2 and "0.88/0.95$^*$" in tex
    out = render_figures(d, echo=lines.append)
    sweep = [p for p in out if p.name.startswith("automatic-sweep")]
    assert {p.suffix for p in sweep} == {".pdf", ".png"}, lines
    render_tables(d, echo=lines.append)
    assert "tables: automatic: up to date, skipped" in lines
