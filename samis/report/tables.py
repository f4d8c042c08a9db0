"""Comparison tables (rows = methods, columns = metrics per dataset) with best and second marked.

The table is built once as a small model (``Table``): row order, column groups, which cells are
best and second; the Markdown and LaTeX writers only dress it. Ranking uses the values as they are
printed, so two methods that print the same number are marked alike, and never ranks a missing cell
or a method that reads the ground truth (``best_match``) or a reference row (``ref-``) against zero-shot methods.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pandas as pd

from samis.errors import ConfigError
from samis.report.categories import metric_columns
from samis.report.inputs import read_results
from samis.report.style import (KNOWN_METRICS, STYLES, dataset_label, format_value, is_reference, is_sam, is_unranked,
                                lower_is_better)
from samis.report.table_markup import header_name
from samis.sorting import natural_key

FORMATS = ("md", "latex", "csv")
ORDERS = ("grouped", "given", "name")


@dataclass
class Column:
    """One metric of one column group; ``marks`` holds ``best``/``second``/``""`` per row."""

    metric: str
    ranked: bool
    lower_better: bool
    values: list
    texts: list
    marks: list
    cis: list = field(default_factory=list)  # (low, high) texts per row, or None, when CIs are shown
    sups: list = field(default_factory=list)  # superscript mark per row (significance), "" for none


@dataclass
class Group:
    """The columns of one dataset (+ split, + category for breakdown tables)."""

    label: str
    key: tuple
    columns: list
    n_images: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)  # n_<column> / n_free -> {method: images}, where the results give them


@dataclass
class Table:
    methods: list
    unranked: list
    sam: list
    groups: list
    notes: list
    caption: str | None
    blocks: list  # index of the first row of each block after the first (for separators)
    names: list = field(default_factory=list)  # printed method names (display_names), row order


def _rank_marks(texts, values, rankable, lower_better):
    """``best``/``second`` for the top two distinct printed values among rankable cells.

    "Second" needs at least three ranked rows: with two, the second is simply the worst.
    """
    marks = [""] * len(values)
    cand = [(float(t) if _is_number(t) else v, i) for i, (t, v) in enumerate(zip(texts, values))
            if rankable[i] and not math.isnan(v)]
    if not cand:
        return marks
    distinct = sorted({c for c, _ in cand}, reverse=not lower_better)
    labels = ("best", "second") if len(cand) >= 3 else ("best",)
    for label, target in zip(labels, distinct[:2]):
        for c, i in cand:
            if c == target:
                marks[i] = label
    return marks


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def build_table(results, metrics=None, order: str = "grouped", style: str = "sod", decimals: int | None = None,
                unranked=(), rank=(), caption: str | None = None, display_names: dict | None = None,
                cis=None, sups: dict | None = None, sup_note: str | None = None) -> Table:
    """The table model. ``results``: results CSV path(s) or frame(s), see ``render`` for the options."""
    df = read_results(results)
    if style not in STYLES:
        raise ConfigError(f"unknown table style {style!r}; use one of {', '.join(STYLES)}")
    fmt_opts = dict(STYLES[style])
    if decimals is not None:
        if not 0 <= int(decimals) <= 8:
            raise ConfigError(f"--decimals {decimals}: use 0 to 8")
        fmt_opts["decimals"] = int(decimals)

    available = metric_columns(df)
    if metrics:
        metrics = [m.strip() for m in metrics if m and m.strip()]
        unknown = [m for m in metrics if m not in df.columns]
        if unknown:
            raise ConfigError(f"metric(s) {', '.join(unknown)} not in the results; they have {', '.join(available)}")
        bad = [m for m in metrics if m not in available]
        if bad:
            raise ConfigError(f"column(s) {', '.join(bad)} are not numeric and cannot be tabulated as metrics")
    else:
        metrics = available
    if not metrics:
        raise ConfigError("the results have no metric columns to tabulate")
    rank_set = set(rank)
    ranked_metric = {m: (m in KNOWN_METRICS) or (m in rank_set) for m in metrics}
    not_found = [r for r in rank_set if r not in metrics]
    if not_found:
        raise ConfigError(f"--rank {', '.join(not_found)}: not among the tabulated columns ({', '.join(metrics)})")

    has_cat = "category" in df.columns
    key_cols = ["dataset", "split"] + (["category"] if has_cat else [])
    methods = list(dict.fromkeys(df["method"]))
    unr = {m: is_unranked(m, tuple(unranked)) for m in methods}
    unknown_unranked = [u for u in unranked if u not in methods]
    if unknown_unranked:
        raise ConfigError(f"--unranked {', '.join(unknown_unranked)}: no such method; methods are {', '.join(methods)}")
    sam = {m: is_sam(m) for m in methods}

    # Column groups in order of first appearance.
    group_keys = list(dict.fromkeys(df[key_cols].itertuples(index=False, name=None)))
    indexed = df.set_index(["method"] + key_cols)

    # Row order.
    blocks = []
    if order == "grouped":
        base = [m for m in methods if not sam[m]]
        sams = [m for m in methods if sam[m]]
        methods = base + sams
        if base and sams:
            blocks = [len(base)]
    elif order == "given":
        pass
    elif order == "name":
        methods = sorted(methods, key=natural_key)
    else:
        methods = _sort_by_metric(methods, order, group_keys, indexed, key_cols)

    ci_index = _ci_index(cis, key_cols)
    sups = sups or {}
    # A breakdown of one dataset names its groups by category alone; the dataset goes in the caption.
    one_set = has_cat and len({k[:2] for k in group_keys}) == 1
    groups = []
    for key in group_keys:
        label = key[2] if one_set else dataset_label(*key)
        cols = []
        for metric in metrics:
            values = []
            for m in methods:
                idx = (m,) + tuple(key)
                v = indexed.at[idx, metric] if idx in indexed.index else float("nan")
                values.append(float(v) if pd.notna(v) else float("nan"))
            if all(math.isnan(v) for v in values):
                continue  # this dataset's protocol lacks the metric (steel vs sod)
            texts = [format_value(v, **fmt_opts) for v in values]
            lb = lower_is_better(metric)
            rankable = [not unr[m] for m in methods]
            marks = _rank_marks(texts, values, rankable, lb) if ranked_metric[metric] else [""] * len(methods)
            ci_texts = [_ci_texts(ci_index, (m,) + tuple(key), metric, fmt_opts) for m in methods] if ci_index is not None else []
            col_sups = [sups.get((m, tuple(key), metric), "") for m in methods]
            cols.append(Column(metric, ranked_metric[metric], lb, values, texts, marks, ci_texts, col_sups))
        if not cols:
            continue
        n_img = {}
        if "n_images" in indexed.columns:
            for m in methods:
                idx = (m,) + tuple(key)
                if idx in indexed.index and pd.notna(indexed.at[idx, "n_images"]):
                    n_img[m] = int(indexed.at[idx, "n_images"])
        counts = {}
        for count in (c for c in indexed.columns if str(c).startswith("n_") and c != "n_images"):
            found = {m: int(indexed.at[(m,) + tuple(key), count]) for m in methods
                     if (m,) + tuple(key) in indexed.index and pd.notna(indexed.at[(m,) + tuple(key), count])}
            if found:
                counts[count] = found
        groups.append(Group(label, key, cols, n_img, counts))

    unranked_flags = [unr[m] for m in methods]
    notes = _notes(methods, unranked_flags, groups, metrics, ranked_metric)
    if ci_index is not None:
        notes.append("± : half-width of the 95% bootstrap confidence interval over images.")
    if sup_note and any(s for g in groups for c in g.columns for s in c.sups):
        notes.append(sup_note)
    if caption is None and (len(groups) == 1 or one_set):
        caption = dataset_label(*groups[0].key[:2]) + (" per category" if one_set else "")
    from samis.report.names import display_name

    names = [display_name(m, display_names) for m in methods]
    return Table(methods, unranked_flags, [sam[m] for m in methods], groups, notes, caption, blocks, names)


def _ci_index(cis, key_cols):
    """CIs (a frame with ``<metric>_lo``/``<metric>_hi`` columns, see samis.report.bootstrap) by row key."""
    if cis is None:
        return None
    frame = cis if isinstance(cis, pd.DataFrame) else pd.concat(list(cis), ignore_index=True)
    keys = [c for c in ["method"] + key_cols if c in frame.columns]
    if keys != ["method"] + key_cols:
        return None
    return frame.drop_duplicates(keys).set_index(keys)


def _ci_texts(index, idx, metric, fmt_opts):
    """The CI of one cell as printed: its half-width (``.021``), or None when unknown."""
    lo_col, hi_col = f"{metric}_lo", f"{metric}_hi"
    if idx not in index.index or lo_col not in index.columns:
        return None
    lo, hi = index.at[idx, lo_col], index.at[idx, hi_col]
    if pd.isna(lo) or pd.isna(hi):
        return None
    return format_value((float(hi) - float(lo)) / 2, **fmt_opts)


def _sort_by_metric(methods, spec, group_keys, indexed, key_cols):
    """Best first by ``METRIC`` (first dataset that has it) or ``GROUP:METRIC`` (e.g. ``SD900-test:WF``)."""
    group_label, _, metric = spec.rpartition(":")
    keys = [k for k in group_keys if not group_label or group_label in (dataset_label(*k), str(k[-1]))]
    if metric not in indexed.columns or not keys:
        labels = ", ".join(dataset_label(*k) for k in group_keys)
        raise ConfigError(
            f"--sort {spec!r}: use one of {', '.join(ORDERS)}, a metric column, or GROUP:METRIC with GROUP in {labels}"
        )
    key = next((k for k in keys if any(((m,) + tuple(k)) in indexed.index and pd.notna(indexed.at[(m,) + tuple(k), metric]) for m in methods)), keys[0])
    sign = 1.0 if lower_is_better(metric) else -1.0

    def sort_key(m):
        idx = (m,) + tuple(key)
        v = indexed.at[idx, metric] if idx in indexed.index else float("nan")
        return (1, 0.0) if pd.isna(v) else (0, sign * float(v))

    return sorted(methods, key=sort_key)


def reference_note(methods) -> str:
    """The footnote of reference rows: what each one is, and that none is ranked."""
    from samis.references import describe

    parts = [f"{m}: {describe(m)}" for m in methods]
    return ("‡ Reference, not ranked: a map made from the ground truth alone, no model ("
            + "; ".join(parts) + ").")


def _notes(methods, unranked_flags, groups, metrics, ranked_metric):
    notes = []
    if any(col.ranked for g in groups for col in g.columns):
        notes.append("Best per column in bold, second underlined; ↑ higher is better, ↓ lower is better.")
    refs = [m for m, u in zip(methods, unranked_flags) if u and is_reference(m)]
    flagged = [m for m, u in zip(methods, unranked_flags) if u and not is_reference(m)]
    if refs:
        notes.append(reference_note(refs))
    if flagged:
        if any(re.search("best[ _]match", m, re.I) for m in flagged):
            notes.append("† Not ranked: best match reads the ground truth: for each defect (ground-truth component) "
                         "it keeps the generated mask with the highest IoU with it, i.e. what a perfect selector picking "
                         "one mask per defect would give; not a zero-shot result.")
        if any(re.search("oracle", m, re.I) for m in flagged):
            note = ("† Not ranked: an oracle reads the ground truth to pick its output, so it is not a zero-shot result "
                    "(nor an upper bound).")
            if any(re.search("mmoracle", m, re.I) for m in flagged):
                note += (" The mask-choice oracle keeps, per defect, whichever of SAM's four masks (the one-mask output "
                         "and the three multimask outputs) has the highest IoU with that defect's ground truth.")
            notes.append(note)
        if not any(re.search("best[ _]match|oracle", m, re.I) for m in flagged):
            notes.append("† Not ranked against the other methods.")
    shown = {c.metric for g in groups for c in g.columns}
    unranked_cols = [m for m in metrics if not ranked_metric[m] and m in shown]
    if unranked_cols:
        notes.append(f"Not ranked: {', '.join(header_name(m) for m in unranked_cols)}.")
    if any(math.isnan(v) for g in groups for c in g.columns for v in c.values):
        notes.append("– : no result for that method on that dataset.")
    sizes = [f"{g.label} {_common(g.n_images)}" for g in groups if g.n_images]
    if sizes:
        notes.append("Images each number is a mean over: " + ", ".join(sizes) + ".")
    for g in groups:
        free = g.counts.get("n_free")
        if free:
            notes.append(f"{g.label}: {_common(free)} defect-free images are left out of the means and scored apart "
                         "(clean: share whose map cut at 0.5 is all background; FPA: mean false-positive area; "
                         "n/a for modes whose prompts come from the ground truth).")
        for col in g.columns:
            fewer = g.counts.get(f"n_{col.metric}", {})
            odd = [f"{m} {n}" for m, n in fewer.items() if n != g.n_images.get(m)]
            if odd:
                notes.append(f"{g.label}: {header_name(col.metric)} is a mean over the images where it is defined "
                             f"({', '.join(odd)}).")
    for g in groups:
        counts = set(g.n_images.values())
        if len(counts) > 1:
            common = _common(g.n_images)
            odd = [f"{m} {n}" for m, n in g.n_images.items() if n != common]
            notes.append(f"{g.label}: methods evaluated on different image counts ({', '.join(odd)}; others {common}).")
    return notes


def _common(counts: dict) -> int:
    """The most frequent image count of a column group."""
    values = list(counts.values())
    return max(set(values), key=values.count)


def _to_csv(table: Table, results, metrics, cis=None) -> str:
    """The merged results as tidy rows (one per method x dataset), table order, full precision,
    with each metric's 95% CI (``<metric>_lo``, ``<metric>_hi``) after it when CIs are given."""
    df = read_results(results)
    cols_used = [c.metric for g in table.groups for c in g.columns]
    keep = [c for c in ["method", "dataset", "split", "category", "n_images"] if c in df.columns]
    keep += [m for m in dict.fromkeys(cols_used)]
    rank = {m: i for i, m in enumerate(table.methods)}
    gorder = {g.key: i for i, g in enumerate(table.groups)}
    key_cols = ["dataset", "split"] + (["category"] if "category" in df.columns else [])
    df = df.assign(_r=df["method"].map(rank), _g=[gorder.get(k, len(gorder)) for k in df[key_cols].itertuples(index=False, name=None)])
    df = df.sort_values(["_r", "_g"], kind="stable")
    if cis is not None:
        ci_frame = cis if isinstance(cis, pd.DataFrame) else pd.concat(list(cis), ignore_index=True)
        on = [c for c in ["method"] + key_cols if c in ci_frame.columns]
        bounds = [c for c in ci_frame.columns if c.endswith(("_lo", "_hi")) and c.rsplit("_", 1)[0] in keep]
        df = df.merge(ci_frame[on + bounds].drop_duplicates(on), on=on, how="left")
        keep = [k for c in keep for k in ([c, f"{c}_lo", f"{c}_hi"] if f"{c}_lo" in bounds else [c])]
    return df[keep].to_csv(index=False, lineterminator="\n")


def render(results, fmt: str = "md", metrics=None, order: str = "grouped", style: str = "sod", decimals: int | None = None,
           unranked=(), rank=(), caption: str | None = None, label: str | None = None, latex_env: str = "table",
           notes: bool = True, display_names: dict | None = None, layout: str = "auto", cis=None, show_ci: bool = False,
           sups: dict | None = None, sup_note: str | None = None) -> str:
    """The comparison table as Markdown, LaTeX (booktabs) or CSV text.

    results: results CSV path(s) or DataFrame(s) (``method, dataset, split, n_images, <metrics>``);
        rows with a ``category`` column (see ``categories.per_category``) become one column group per category.
    metrics: columns to show, in that order (default: every numeric column, in file order).
    order: ``grouped`` (given order, SAM rows after the baselines), ``given``, ``name``, or a metric to
        sort by, best first (``WF`` or ``SD900-test:WF``).
    style: ``sod`` (0.259, 3 decimals) or ``steel`` (.2591, 4 decimals); ``decimals`` overrides.
    unranked: method names shown with a dagger and kept out of the ranking (names containing
        ``best_match`` always are). rank: extra columns (e.g. ``time_per_image_s``) to rank too.
    latex_env: ``table`` (one column), ``table*`` (the page), ``auto`` (the narrowest that fits) or
        ``none`` (bare tabular). layout: ``wide`` (a column group per dataset), ``stacked`` (a block of
        rows per dataset, metrics as columns) or ``auto`` (wide when it fits the float, else stacked).
    display_names: method id or glob -> printed name. cis: CI frame (samis.report.bootstrap); its
        ``<metric>_lo/_hi`` columns go into the CSV, and with ``show_ci`` into the cells (``0.702 ± 0.021``).
    sups: (method, group key, metric) -> superscript mark (significance), explained by ``sup_note``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown table format {fmt!r}; use one of {', '.join(FORMATS)}")
    table = build_table(results, metrics=metrics, order=order, style=style, decimals=decimals,
                        unranked=unranked, rank=rank, caption=caption, display_names=display_names,
                        cis=cis if show_ci else None, sups=sups, sup_note=sup_note)
    if fmt == "csv":
        return _to_csv(table, results, metrics, cis)
    from samis.report import table_markup

    if fmt == "md":
        return table_markup.markdown(table, notes=notes)
    return table_markup.latex(table, label=label, env=latex_env, notes=notes, layout=layout)
