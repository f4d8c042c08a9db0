"""Per-category scores from per-image results, for the breakdown tables (In/Pa/Sc, MT classes, rail craft/real).

The summary results file only says how a method does on a whole set; the study's question is
which defect types SAM fails on, so the per-image file is averaged per (method, category) here,
in the same row layout as a results file, so the same table renderer draws it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from samis.errors import DataError
from samis.report.inputs import read_per_image
from samis.report.style import ID_COLUMNS, PER_IMAGE_BOOKKEEPING

OVERALL = "All"


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric columns that are not identities (method, dataset, split, stem, category) nor counts (``n_*``)."""
    return [c for c in frame.columns if c not in ID_COLUMNS + PER_IMAGE_BOOKKEEPING and not str(c).startswith(("_", "n_"))
            and pd.api.types.is_numeric_dtype(frame[c])]


def image_curves_beside(per_image_paths) -> dict:
    """The per-image curves written beside per-image files (``X.image_curves.npz`` next to
    ``X.per_image.csv``), keyed ``(method, dataset, split)``; files that have none are skipped."""
    from samis.report.bootstrap import read_image_curves

    out: dict = {}
    for path in map(Path, per_image_paths):
        curves = path.with_name(path.name.replace(".per_image.csv", ".image_curves.npz"))
        if curves == path or not curves.is_file():
            continue
        head = pd.read_csv(path, usecols=["dataset", "split"], nrows=1, dtype=str, keep_default_na=False)
        if head.empty:
            continue
        dataset, split = head.iloc[0]
        out.update({(m, dataset, split): c for m, c in read_image_curves(curves).items()})
    return out


def _curve_values(curves: dict | None, stems, metrics) -> dict:
    """maxF/meanF/maxE/meanE of the images ``stems`` from their mean curve, as the main table forms them
    (the best single threshold for the group); NaN when the per-image curves are not at hand."""
    from samis.report.bootstrap import CURVE_METRICS

    out = {}
    for metric in metrics:
        name, how = CURVE_METRICS[metric]
        if not curves or name not in curves:
            out[metric] = float("nan")
            continue
        row = {stem: i for i, stem in enumerate(curves["stems"])}
        mean_curve = curves[name][[row[str(s)] for s in stems]].mean(axis=0)
        out[metric] = float(mean_curve.max() if how == "max" else mean_curve.mean())
    return out


def per_category(per_image, metrics=None, overall: bool = True, categories=None, image_curves=None) -> pd.DataFrame:
    """Each metric per (method, dataset, split, category), plus an ``All`` row per method.

    ``per_image``: per-image CSV path(s) or frame(s). ``categories`` fixes the category order (and
    drops the others); by default categories keep their order of first appearance. ``n_images`` is
    the number of images averaged; images whose metric is undefined (NaN, e.g. empty ground truth
    for some metrics) are left out of that metric's mean only.

    A metric is formed as the main table forms it, so the ``All`` row equals the main table: most
    are means of per-image values; the curve metrics (maxF, meanF, maxE, meanE) come from the
    category's mean F and E curves, read from ``image_curves`` (``(method, dataset, split)`` ->
    :func:`samis.report.bootstrap.read_image_curves` entry; found beside per-image files given as
    paths). Without those curves they are NaN, never the mean of per-image maxima (another quantity).
    """
    from samis.report.bootstrap import CURVE_METRICS

    if image_curves is None:
        paths = [per_image] if isinstance(per_image, (str, Path)) else list(per_image) if isinstance(per_image, (list, tuple)) else []
        image_curves = image_curves_beside([p for p in paths if isinstance(p, (str, Path))])
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
    curve_cols = [m for m in cols if m in CURVE_METRICS]
    rows = []
    for (method, dataset, split), group in df.groupby(keys, sort=False):
        curves = image_curves.get((method, dataset, split))
        parts = [(cat, group[group["category"] == cat]) for cat in order]
        if overall:
            parts.append((OVERALL, group[group["category"].isin(order)]))
        for cat, part in parts:
            if part.empty:
                continue
            values = {m: part[m].mean() for m in cols}
            values.update(_curve_values(curves, part["stem"], curve_cols))
            rows.append({"method": method, "dataset": dataset, "split": split, "category": cat,
                         "n_images": len(part), **values})
    return pd.DataFrame(rows, columns=keys + ["category", "n_images"] + cols)
