"""Per-category means from per-image results, for the breakdown tables (In/Pa/Sc, MT classes, rail craft/real).

The summary results file only says how a method does on a whole set; the study's question is
which defect types SAM fails on, so the per-image file is averaged per (method, category) here,
in the same row layout as a results file, so the same table renderer draws it.
"""

from __future__ import annotations

import pandas as pd

from samis.errors import DataError
from samis.report.inputs import read_per_image
from samis.report.style import ID_COLUMNS

OVERALL = "All"


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric columns that are not identities (method, dataset, split, stem, category) nor counts (``n_*``)."""
    return [c for c in frame.columns if c not in ID_COLUMNS and not str(c).startswith(("_", "n_"))
            and pd.api.types.is_numeric_dtype(frame[c])]


def per_category(per_image, metrics=None, overall: bool = True, categories=None) -> pd.DataFrame:
    """Mean of each metric per (method, dataset, split, category), plus an ``All`` row per method.

    ``per_image``: per-image CSV path(s) or frame(s). ``categories`` fixes the category order (and
    drops the others); by default categories keep their order of first appearance. ``n_images`` is
    the number of images averaged; images whose metric is undefined (NaN, e.g. empty ground truth
    for some metrics) are left out of that metric's mean only.
    """
    df = read_per_image(per_image)
    if "category" not in df.columns or (df["category"] == "").all():
        raise DataError("the per-image file has no categories (empty `category` column); a per-category table needs them")
    cols = list(metrics) if metrics else metric_columns(df)
    unknown = [m for m in cols if m not in df.columns]
    if unknown:
        raise DataError(f"per-image file has no column(s) {', '.join(unknown)}; it has {', '.join(metric_columns(df))}")
    order = list(categories) if categories else list(dict.fromkeys(df["category"]))
    if categories:
        absent = [c for c in categories if c not in set(df["category"])]
        if absent:
            raise DataError(f"category(ies) {', '.join(absent)} not in the per-image file; it has {', '.join(dict.fromkeys(df['category']))}")
    keys = ["method", "dataset", "split"]
    rows = []
    for (method, dataset, split), group in df.groupby(keys, sort=False):
        for cat in order:
            part = group[group["category"] == cat]
            if part.empty:
                continue
            rows.append({"method": method, "dataset": dataset, "split": split, "category": cat,
                         "n_images": len(part), **{m: part[m].mean() for m in cols}})
        if overall:
            part = group[group["category"].isin(order)]
            rows.append({"method": method, "dataset": dataset, "split": split, "category": OVERALL,
                         "n_images": len(part), **{m: part[m].mean() for m in cols}})
    return pd.DataFrame(rows, columns=keys + ["category", "n_images"] + cols)
