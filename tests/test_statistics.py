"""Bootstrap confidence intervals and paired significance tests, against slow, obvious computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samis.report.bootstrap import confidence_intervals, resample_counts
from samis.report.significance import holm, paired_tests


def _slow_percentile_ci(stat_of_rows, n, seed, n_resamples=2000, level=0.95):
    """Resample image rows one resample at a time (the draws scipy.stats.bootstrap makes with this seed)."""
    idx = np.random.default_rng(seed).integers(0, n, (n_resamples, n))
    values = np.array([stat_of_rows(row) for row in idx])
    a = (1 - level) / 2
    return np.percentile(values, 100 * a, axis=0), np.percentile(values, 100 * (1 - a), axis=0)


def _per_image(n=11, seed=0):
    rng = np.random.default_rng(seed)
    stems = [f"Sc_{i}" for i in range(n)]
    rows = []
    curves = {"stems": stems}
    for method, q in (("A", 0.7), ("B", 0.4)):
        iou = np.clip(q + rng.normal(0, 0.1, n), 0, 1)
        mae = rng.uniform(0, 0.3, n)
        mae[3] = np.nan  # undefined on one image: left out of that mean only
        t = np.linspace(0, 1, 256)
        f = np.clip(q * np.exp(-((t - 0.5) ** 2) / 0.05)[None, :] * rng.uniform(0.6, 1.2, (n, 1)), 0, 1)
        curves[method] = {"stems": stems, "fmeasure": f, "emeasure": np.sqrt(f)}
        for i, s in enumerate(stems):
            rows.append({"method": method, "dataset": "sd900", "split": "test", "stem": s, "category": "Sc",
                         "IoU": iou[i], "MAE": mae[i], "maxF": f[i].max()})
    return pd.DataFrame(rows), curves


def test_bootstrap_ci_matches_a_slow_reference():
    per_image, curves = _per_image()
    ci = confidence_intervals(per_image, ["IoU", "MAE", "maxF", "meanE"], image_curves=curves, seed=7)
    for method in ("A", "B"):
        part = per_image[per_image.method == method]
        iou, mae = part["IoU"].to_numpy(), part["MAE"].to_numpy()
        f, e = curves[method]["fmeasure"], curves[method]["emeasure"]
        lo, hi = _slow_percentile_ci(lambda r: [iou[r].mean(), np.nanmean(mae[r]), f[r].mean(axis=0).max(), e[r].mean(axis=0).mean()],
                                     len(part), seed=7)
        row = ci[ci.method == method].iloc[0]
        got_lo = [row["IoU_lo"], row["MAE_lo"], row["maxF_lo"], row["meanE_lo"]]
        got_hi = [row["IoU_hi"], row["MAE_hi"], row["maxF_hi"], row["meanE_hi"]]
        np.testing.assert_allclose(got_lo, lo, rtol=1e-10)
        np.testing.assert_allclose(got_hi, hi, rtol=1e-10)
        assert lo[0] < iou.mean() < hi[0]


def test_resample_counts_are_draw_counts():
    idx = np.array([[0, 0, 2], [1, 2, 2]])
    np.testing.assert_array_equal(resample_counts(idx, 3), [[2, 0, 1], [0, 1, 2]])


def test_holm_against_a_hand_computed_example():
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> monotone .06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    got = holm([0.2, np.nan, 0.6])  # NaN is not a test: m = 2
    assert got[0] == pytest.approx(0.4) and np.isnan(got[1]) and got[2] == pytest.approx(0.6)
    assert holm([0.9, 0.8])[0] == 1.0  # capped at 1


def test_paired_tests_difference_ci_and_decision():
    per_image, _ = _per_image(n=25)
    same = per_image[per_image.method == "A"].assign(method="A-copy")
    sam = per_image.assign(method=per_image["method"].map({"A": "SAM-box", "B": "FT"}))
    frame = pd.concat([sam, same.assign(method="SAM-copy")], ignore_index=True)
    tests = paired_tests(frame, ["IoU"], lambda ms: [("SAM-box", "FT"), ("SAM-copy", "SAM-box")], seed=3)
    box_ft = tests[(tests.method == "SAM-box") & (tests.against == "FT")].iloc[0]
    a = sam[sam.method == "SAM-box"]["IoU"].to_numpy()
    b = sam[sam.method == "FT"]["IoU"].to_numpy()
    assert box_ft.mean_diff == pytest.approx((a - b).mean())
    lo, hi = _slow_percentile_ci(lambda r: (a - b)[r].mean(), len(a), seed=3)
    assert (box_ft.diff_lo, box_ft.diff_hi) == (pytest.approx(lo), pytest.approx(hi))
    assert box_ft.significant and box_ft.p_holm <= 2 * box_ft.p  # two tests in the family
    copy = tests[tests.method == "SAM-copy"].iloc[0]
    assert copy.mean_diff == 0 and copy.p == 1.0 and not copy.significant


def test_significance_table_text():
    from samis.report.significance import render_significance

    per_image, _ = _per_image(n=25)
    frame = per_image.assign(method=per_image["method"].map({"A": "SAM-box", "B": "FT"}))
    tests = paired_tests(frame, ["IoU"], lambda ms: [("FT", "SAM-box")], seed=3)  # FT is worse: negative
    tex = render_significance(tests, "latex", caption="Paired.", label="tab:p", display_names={"SAM-*": "SAM (box)"})
    assert r"\textit{FT vs.}" in tex and "SAM (box) & 25 & $-$." in tex and "<.001*" not in tex and "$<$.001*" in tex
    md = render_significance(tests, "md")
    assert "| FT | SAM-box | 25 | -." in md
