"""``<output>/index.html``: the whole report in one page that opens from ``file://`` with no server.

Tables (click a header to sort; CIs under each value), figures, the facts of the run (model, weights
digest, commit, times) and a per-image browser per dataset: a row per image with thumbnails of the
image, the ground truth and each chosen method's map, and that image's metrics; sort by any metric,
filter by category and method, worst cases first with one click. Only jinja2 (autoescaped: method
names and stems stay text) and a little plain JavaScript in the page; thumbnails go to ``<output>/html/``.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from samis.experiments.definition import Definition, match_methods
from samis.experiments.layout import Layout
from samis.imageio import atomic_write_bytes
from samis.report.names import display_name
from samis.report.style import lower_is_better

BROWSER_METRICS = {"sod": ("IoU", "Sm", "MAE"), "steel": ("WF", "SM", "MAE"),
                   "anomaly": ("pixel_AUROC", "AUPRO_0.3", "pixel_F1max"), "seg": ("IoU_per_image_mean",)}
MAX_METHODS = 8  # per-image browser columns when no qualitative figure names the methods


@dataclass
class Cell:
    text: str
    value: float | None = None  # sort key; None sorts last
    note: str = ""  # a CI, shown small under the value


@dataclass
class TableView:
    name: str
    caption: str
    header: list
    lower: list  # per column: lower is better (sorting best first)
    rows: list
    links: list
    numeric: list = field(default_factory=list)  # per column: numbers (right-aligned) or names


@dataclass
class Browser:
    ref: str
    methods: list  # (id, printed name)
    metrics: list
    categories: list
    rows: list = field(default_factory=list)
    total: int = 0  # images of the unit; more than the rows when browser_images bounds the browser


def _fmt(x, column: str = "") -> Cell:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return Cell("–")
    if isinstance(x, (bool,)) or str(x) in ("True", "False"):
        return Cell("yes" if str(x) == "True" else "no", 1.0 if str(x) == "True" else 0.0)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return Cell(str(x))
    if column.startswith("p") and 0 < v < 0.001:
        return Cell(f"{v:.1e}", v)
    if column in ("n", "n_images") or (v.is_integer() and abs(v) >= 10):
        return Cell(f"{int(v)}", v)
    return Cell(f"{v:.3f}", v)


def table_view(layout: Layout, spec, names: dict) -> TableView | None:
    """A table of the report from its CSV (every column; a metric's ``_lo``/``_hi`` become its CI note)."""
    csv = layout.tables / f"{spec.name}.csv"
    if not csv.is_file():
        return None
    frame = pd.read_csv(csv)
    bounds = {c for c in frame.columns if c.endswith(("_lo", "_hi")) and c.rsplit("_", 1)[0] in frame.columns}
    cols = [c for c in frame.columns if c not in bounds and c != "statistic"]
    rows = []
    for rec in frame.to_dict("records"):
        row = []
        for c in cols:
            if c in ("method", "against"):
                row.append(Cell(display_name(rec[c], names), None, "" if display_name(rec[c], names) == rec[c] else str(rec[c])))
                continue
            cell = _fmt(rec[c], c)
            if f"{c}_lo" in bounds and pd.notna(rec[f"{c}_lo"]):
                cell.note = f"[{rec[f'{c}_lo']:.3f}, {rec[f'{c}_hi']:.3f}]"
            row.append(cell)
        rows.append(row)
    links = [p.name for p in (layout.tables / f"{spec.name}{s}" for s in (".md", ".tex", ".csv")) if p.is_file()]
    numeric = [any(r[i].value is not None for r in rows) for i in range(len(cols))]
    what = spec.kind.replace('_', ' ') + (f", {spec.protocol} protocol" if spec.protocol else "")  # click tables have none
    return TableView(spec.name, what, cols,
                     [lower_is_better(c) for c in cols], rows, links, numeric)


def _browser_methods(definition: Definition, ref: str, available: list[str]) -> list[str]:
    for fig in definition.figures:
        if fig.kind == "qualitative" and ref in fig.units and fig.methods is not None:
            return match_methods(fig.methods, available)
    return available[:MAX_METHODS]


def browser(layout: Layout, definition: Definition, ref: str, echo=print) -> Browser | None:
    """The per-image browser of one dataset split; writes the thumbnails it shows."""
    from samis.predictions import index_maps
    from samis.report import thumbnails
    from samis.report.inputs import read_per_image

    spec, split = definition.unit(ref)
    protocol = "sod" if "sod" in spec.protocols else spec.protocols[0]
    files = [f for s in ("baselines", "sam") if (f := layout.results_files(spec, split, s, protocol)["per_image"]).is_file()]
    if not files:
        return None
    per_image = read_per_image(files, scored_only=False)  # every image, defect-free ones too
    from samis.report.style import is_reference

    stored = [m for m in dict.fromkeys(per_image["method"]) if not is_reference(m)]  # reference maps are never stored
    methods = _browser_methods(definition, ref, stored)
    metrics = [m for m in BROWSER_METRICS.get(protocol, ()) if m in per_image.columns]
    values = per_image.set_index(["stem", "method"])
    folders = {}
    for source in layout.sources(spec, split):
        for m in source.methods:
            if m in methods and (source.root / m).is_dir():
                folders[m] = index_maps(source.root / m)
    samples = spec.open(split).samples()  # with the entry's options (categories: folders) and subset
    stems = set(per_image["stem"])
    total = len(stems)
    if definition.browser_images and total > definition.browser_images and methods and metrics:
        stems = _spread(values, sorted(stems), methods[0], metrics[0], definition.browser_images)
    out = layout.output
    thumbs = out / "html" / spec.label
    view = Browser(ref, [(m, display_name(m, definition.display_names)) for m in methods], metrics,
                   list(dict.fromkeys(s.category for s in samples if s.stem in stems)))
    view.total = total
    echo(f"html: {ref}: {len(stems)} images x {len(methods)} methods" + (f" ({total} in the unit)" if total > len(stems) else ""))
    for s in samples:
        if s.stem not in stems:
            continue
        row = {"stem": s.stem, "category": s.category,
               "image": thumbnails.image_thumb(s.image_path, thumbs / "image" / f"{s.stem}.jpg").relative_to(out).as_posix(),
               "gt": thumbnails.mask_thumb(s.load_mask(), s.mask_path, thumbs / "gt" / f"{s.stem}.png").relative_to(out).as_posix(),
               "methods": []}
        for m in methods:
            src = folders.get(m, {}).get(s.stem)
            thumb = thumbnails.map_thumb(src, thumbs / m / f"{s.stem}.png").relative_to(out).as_posix() if src else None
            cells = []
            for metric in metrics:
                v = values.at[(s.stem, m), metric] if (s.stem, m) in values.index else float("nan")
                cells.append(_fmt(v, metric))
            row["methods"].append({"thumb": thumb, "cells": cells})
        view.rows.append(row)
    return view


def _spread(values, stems: list, method: str, metric: str, n: int) -> set:
    """``n`` stems spread evenly from worst to best by ``metric`` of ``method`` (worst and best included), so a
    bounded browser still shows the failures, the typical cases and the successes; unscored stems rank last."""
    import numpy as np

    def score(stem):
        v = values.at[(stem, method), metric] if (stem, method) in values.index else float("nan")
        return float("inf") if v != v else (-v if lower_is_better(metric) else v)  # worst first

    ranked = sorted(stems, key=lambda s: (score(s), s))
    return {ranked[i] for i in np.unique(np.round(np.linspace(0, len(ranked) - 1, n)).astype(int))}


def run_facts(layout: Layout, definition: Definition) -> list[tuple[str, str]]:
    """What produced the report: definition, samis version and commit, models, weights, times."""
    from samis import __version__
    from samis.experiments.readme import _manifests, _show
    from samis.experiments.timing import time_per_image
    from samis.runners.store import git_commit

    facts = [("experiment", definition.name), ("definition", _show(definition.path, definition)),
             ("samis", f"{__version__}, commit {git_commit() or 'unknown'}"),
             ("written", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))]
    seen = set()
    for m in _manifests(layout):
        key = (m.get("model"), str(m.get("model_digest"))[:16])
        if key not in seen:
            seen.add(key)
            facts.append(("model", f"{key[0]}, weights digest {key[1]}, maps from commit {m.get('git_commit')}"))
    for spec in definition.datasets:
        facts.append((f"data {spec.label}", f"{spec.name}, splits {', '.join(spec.splits)}, {', '.join(spec.protocols)} protocol(s)"))
        for model in definition.models:
            for method in layout.sam_methods():
                if method.startswith(f"SAM-{model.name}-"):
                    t = time_per_image(layout, spec.label, method, model.name)
                    if t is not None:
                        facts.append((f"time {spec.label}", f"{display_name(method, definition.display_names)}: {t:.2f} s/image"))
    return facts


def write_html(definition: Definition, echo=print) -> Path:
    """Write ``<output>/index.html`` (and its thumbnails under ``<output>/html/``) from the report's files."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    layout = Layout(definition)
    out = layout.output
    tables = [t for spec in definition.tables if (t := table_view(layout, spec, definition.display_names))]
    figures = sorted(p.relative_to(out).as_posix() for p in layout.figures.glob("*.png")) if layout.figures.is_dir() else []
    refs = [f"{spec.label}/{split}" for spec, split in definition.units()]
    browsers = [b for ref in refs if (b := browser(layout, definition, ref, echo))]
    env = Environment(loader=PackageLoader("samis.report", "templates"), autoescape=select_autoescape(default=True))
    html = env.get_template("report.html.j2").render(
        name=definition.name, description=definition.description, facts=run_facts(layout, definition),
        tables=tables, figures=figures, browsers=browsers, lower={m: lower_is_better(m) for b in browsers for m in b.metrics})
    path = out / "index.html"
    atomic_write_bytes(path, html.encode("utf-8"))
    _prune_thumbnails(out, browsers)
    echo(f"html: {path}")
    return path


def _prune_thumbnails(out, browsers: list) -> None:
    """Delete the thumbnails under ``<output>/html/`` that the page no longer shows (images a smaller or
    moved ``browser_images`` sample left out, units or methods gone), so the folder holds the page."""
    shown = {p for b in browsers for row in b.rows
             for p in (row["image"], row["gt"], *(c["thumb"] for c in row["methods"])) if p}
    root = out / "html"
    if not root.is_dir():
        return
    for f in sorted(root.rglob("*"), reverse=True):  # files before their folders
        if f.is_file() and f.relative_to(out).as_posix() not in shown:
            f.unlink()
        elif f.is_dir() and not any(f.iterdir()):
            f.rmdir()
