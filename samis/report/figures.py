"""The paper's figures besides curves: the qualitative grid of maps and per-category bar charts.

``choose_examples`` picks the images a qualitative figure shows by a stated rule (best, median,
worst per category by one method's metric), so the examples are reproducible and not hand-picked.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from samis.datasets.base import MASK_THRESHOLD
from samis.errors import ConfigError, DataError
from samis.report.categories import OVERALL
from samis.report.inputs import read_per_image
from samis.report.plotstyle import COLUMN_WIDTH_IN, PAGE_WIDTH_IN, PNG_DPI, RC, bar_colors, fit_legend, legend_columns, pyplot, save_figure
from samis.report.stats import CI_METHODS, mean_ci
from samis.report.style import dataset_label, lower_is_better

MAP_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
PAD_GRAY = 235  # padding around an image whose aspect differs from its row's: light, unlike any map's black
WHICH = ("best", "median", "worst")


# --------------------------------------------------------------------------- choosing examples

def _one_set(df: pd.DataFrame, dataset, split, what: str) -> pd.DataFrame:
    if dataset is not None:
        df = df[df["dataset"] == str(dataset)]
    if split is not None:
        df = df[df["split"] == str(split)]
    sets = list(dict.fromkeys(df[["dataset", "split"]].itertuples(index=False, name=None)))
    if len(sets) > 1:
        labels = ", ".join(dataset_label(*s) for s in sets)
        raise ConfigError(f"{what}: the per-image rows cover several datasets ({labels}); pass dataset= (and split=)")
    if df.empty:
        raise DataError(f"{what}: no per-image rows for dataset={dataset!r} split={split!r}")
    return df


def choose_examples(per_image_df, method: str, metric: str, per_category: bool = True, which=WHICH, stems=None,
                    dataset=None, split=None) -> pd.DataFrame:
    """Images to show, by ``method``'s ``metric``: best / median / worst (per category by default).

    Returns a frame ``stem, category, which, value`` in display order (category, then ``which``).
    "best" follows the metric's direction (lowest MAE, highest everything else); "median" is the
    image at the lower middle of the ranking; ties are broken by stem so the choice is stable.
    ``stems`` bypasses the rule and returns those images (``which`` = ``chosen``) with their values.
    """
    bad = [w for w in which if w not in WHICH]
    if bad:
        raise ConfigError(f"which={bad}: use any of {', '.join(WHICH)}")
    df = _one_set(read_per_image(per_image_df), dataset, split, "choose_examples")
    if metric not in df.columns:
        raise DataError(f"choose_examples: the per-image rows have no {metric!r} column")
    rows = df[df["method"] == method]
    if rows.empty:
        raise DataError(f"choose_examples: method {method!r} not in the per-image rows; they have {', '.join(dict.fromkeys(df['method']))}")
    if stems is not None:
        by_stem = rows.set_index("stem")
        missing = [s for s in stems if s not in by_stem.index]
        if missing:
            raise DataError(f"choose_examples: stem(s) {', '.join(missing)} not in {method}'s per-image rows")
        return pd.DataFrame([{"stem": s, "category": by_stem.at[s, "category"], "which": "chosen",
                              "value": float(by_stem.at[s, metric])} for s in stems])
    rows = rows[np.isfinite(rows[metric].astype(float))]
    sign = 1.0 if lower_is_better(metric) else -1.0
    groups = rows.groupby("category", sort=False) if per_category else [("", rows)]
    out = []
    for cat, g in groups:
        ranked = sorted(zip(g[metric].astype(float), g["stem"], g["category"]), key=lambda t: (sign * t[0], t[1]))
        if not ranked:
            continue
        pos = {"best": 0, "median": (len(ranked) - 1) // 2, "worst": len(ranked) - 1}
        used = set()
        for w in which:
            value, stem, category = ranked[pos[w]]
            if stem in used:
                continue  # fewer images than picks: show each once
            used.add(stem)
            out.append({"stem": stem, "category": category, "which": w, "value": value})
    return pd.DataFrame(out, columns=["stem", "category", "which", "value"])


# --------------------------------------------------------------------------- qualitative grid

@dataclass
class Example:
    """One row of the qualitative grid: an image, its ground truth, and each method's map (array or path)."""

    stem: str
    image: object
    gt: object
    maps: dict = field(default_factory=dict)
    category: str = ""
    note: str = ""


def find_map(folder, stem: str) -> Path | None:
    """``<folder>/<stem>.<png|jpg|jpeg|bmp>`` (the stored-predictions layout), or None."""
    for suffix in MAP_SUFFIXES:
        p = Path(folder) / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None


def examples_from_samples(samples, stems, method_dirs: dict, notes: dict | None = None) -> list[Example]:
    """Grid rows for ``stems`` from dataset samples (``stem, category, image_path, mask_path``) and map folders.

    ``method_dirs``: ``{column title: folder of <stem>.png maps}``; a method without a map for an
    image gets an empty cell marked "no map" rather than failing the whole figure.
    """
    by_stem = {s.stem: s for s in samples}
    missing = [s for s in stems if s not in by_stem]
    if missing:
        raise DataError(f"example stem(s) {', '.join(missing)} are not in the dataset")
    rows = []
    for stem in stems:
        s = by_stem[stem]
        maps = {title: find_map(folder, stem) for title, folder in method_dirs.items()}
        gt = s.load_mask() if hasattr(s, "load_mask") else s.mask_path  # labelme polygons and mask-less images decode here
        rows.append(Example(stem, s.image_path, gt, maps, getattr(s, "category", ""), (notes or {}).get(stem, "")))
    return rows


def _load(obj, kind: str) -> np.ndarray | None:
    from samis.imageio import read_gray, read_rgb

    if obj is None:
        return None
    if isinstance(obj, (str, Path)):
        if kind == "image":
            arr = read_rgb(obj)
            return arr[..., 0] if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]) else arr
        return read_gray(obj)
    arr = np.asarray(obj)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype != np.uint8:
        hi = 1.0 if arr.size and np.nanmax(arr) <= 1.0 else 255.0
        arr = np.clip(np.round(arr.astype(float) / hi * 255), 0, 255).astype(np.uint8)
    return arr


def _resize(arr: np.ndarray, shape) -> np.ndarray:
    """Bilinear resize to the ground truth's size, as the evaluator does before scoring a map."""
    if arr.shape[:2] == tuple(shape):
        return arr
    from PIL import Image

    return np.asarray(Image.fromarray(arr).resize((shape[1], shape[0]), Image.BILINEAR))


def _as_example(row) -> Example:
    if isinstance(row, Example):
        return row
    if isinstance(row, dict):
        try:
            return Example(**row)
        except TypeError as exc:
            raise ConfigError(f"qualitative_grid row {row.get('stem', '?')!r}: {exc}; keys are stem, image, gt, maps, category, note") from None
    raise ConfigError(f"qualitative_grid rows must be Example or dict, got {type(row).__name__}")


def _pad_to(arr: np.ndarray, aspect: float, fill: int = PAD_GRAY) -> np.ndarray:
    """Pad (never resize) ``arr`` to height/width = ``aspect``, centred: a tall image in a wide cell keeps its shape."""
    h, w = arr.shape[:2]
    if abs(h / w - aspect) < 1e-3:
        return arr
    th, tw = (h, int(round(h / aspect))) if h / w > aspect else (int(round(w * aspect)), w)
    out = np.full((th, tw) + arr.shape[2:], fill, dtype=arr.dtype)
    y, x = (th - h) // 2, (tw - w) // 2
    out[y:y + h, x:x + w] = arr
    return out


def qualitative_grid(rows, columns, out_stem, column_titles: dict | None = None, width_in: float = PAGE_WIDTH_IN,
                     max_cell_in: float = 1.15, contour: bool = False, image_title: str = "Image",
                     gt_title: str = "GT", colors: dict | None = None) -> list[Path]:
    """The qualitative figure: one row per example (labelled stem + category), columns image, GT, then ``columns``.

    rows: ``Example``s or dicts (``stem, image, gt, maps={column: array|path}, category, note``).
    columns: method keys of ``maps``, in display order; ``column_titles`` renames them.
    Every map is resized to its ground truth (bilinear) and drawn on the 0..255 gray scale, so a
    faint map looks faint. ``contour=True`` outlines the ground truth on each map. The figure is
    laid out at a fixed size (no cropping), so the PNG is exactly ``round(width * 300)`` pixels wide.
    A row is as tall as its image's aspect asks, up to 2:1; a taller (or wider) image is padded with
    light gray inside its cells, never squashed. ``colors``: method -> colour of a bar under its title,
    the colour the method has in the experiment's curves and bar charts.
    """
    rows = [_as_example(r) for r in rows]
    if not rows:
        raise ConfigError("qualitative_grid: no example rows")
    columns = list(columns)
    titles = [image_title, gt_title] + [(column_titles or {}).get(c, c) for c in columns]
    ncol = len(titles)
    label_w, gap, pad = 0.30, 0.03, 0.03
    cell_w = min(max_cell_in, (width_in - label_w - pad - gap * (ncol - 1)) / ncol)
    width_in = label_w + pad + cell_w * ncol + gap * (ncol - 1)
    chars = max(6, int(cell_w * 13.5))
    wrapped = [textwrap.fill(t, chars, break_on_hyphens=True) for t in titles]
    title_h = 0.06 + 0.125 * max(t.count("\n") + 1 for t in wrapped)

    loaded = []
    for ex in rows:
        gt = _load(ex.gt, "gt")
        if gt is None:
            raise DataError(f"qualitative_grid: example {ex.stem!r} has no ground truth")
        image = _load(ex.image, "image")
        if image is None:
            raise DataError(f"qualitative_grid: example {ex.stem!r} has no image")
        image = _resize(image, gt.shape[:2])
        maps = []
        for c in columns:
            m = _load(ex.maps.get(c), "map")
            maps.append(None if m is None else _resize(m if m.ndim == 2 else m.mean(axis=2).astype(np.uint8), gt.shape[:2]))
        loaded.append((ex, image, gt > MASK_THRESHOLD, maps))
    heights = [cell_w * min(2.0, max(0.25, g.shape[0] / g.shape[1])) for _, _, g, _ in loaded]
    height_in = title_h + sum(heights) + gap * (len(rows) - 1) + pad
    W, H = round(width_in * PNG_DPI) / PNG_DPI, round(height_in * PNG_DPI) / PNG_DPI

    plt = pyplot()
    with plt.rc_context(RC):
        fig = plt.figure(figsize=(W, H))
        y = H - title_h
        for r, ((ex, image, gt, maps), h) in enumerate(zip(loaded, heights)):
            y -= h
            aspect = h / cell_w
            gt_pad = _pad_to(gt, aspect, fill=False)
            cells = [_pad_to(a, aspect) if a is not None else None for a in [image, gt.astype(np.uint8) * 255] + maps]
            for c, arr in enumerate(cells):
                x = label_w + c * (cell_w + gap)
                ax = fig.add_axes((x / W, y / H, cell_w / W, h / H))
                ax.set_xticks([])
                ax.set_yticks([])
                for s in ax.spines.values():
                    s.set_visible(True)
                    s.set_linewidth(0.3)
                if arr is None:
                    ax.set_facecolor("#f2f2f2")
                    ax.text(0.5, 0.5, "no map", ha="center", va="center", fontsize=6, color="#555555", transform=ax.transAxes)
                else:
                    kw = {} if arr.ndim == 3 else {"cmap": "gray", "vmin": 0, "vmax": 255}
                    ax.imshow(arr, interpolation="nearest", aspect="auto", **kw)
                    if contour and c >= 2 and gt.any():
                        ax.contour(gt_pad.astype(float), levels=[0.5], colors=["#00e5ff"], linewidths=0.6)
                if r == 0:
                    ax.set_title(wrapped[c], fontsize=7.5, pad=3 if colors else 2, linespacing=1.0)
                    if colors and c >= 2 and columns[c - 2] in colors:  # the method's colour in the other figures
                        ax.plot([0.1, 0.9], [1.02, 1.02], color=colors[columns[c - 2]], linewidth=2.0,
                                transform=ax.transAxes, clip_on=False, solid_capstyle="butt")
                if c == 0:
                    label = ex.stem if not ex.category or ex.stem.startswith(ex.category) else f"{ex.stem} ({ex.category})"
                    if ex.note:
                        label += f"\n{ex.note}"
                    ax.set_ylabel(label, fontsize=7, labelpad=2, linespacing=1.0)
            y -= gap
        paths = save_figure(fig, out_stem, tight=False)
        plt.close(fig)
    return paths


# --------------------------------------------------------------------------- per-category bars

def _category_stats(df: pd.DataFrame, metric: str, methods, cats, overall: bool, ci: str, level: float, seed: int):
    """(groups, {(group, method): (mean, low, high)}, {group: images}) of one dataset's per-image rows."""
    groups = cats + ([OVERALL] if overall and len(cats) > 1 else [])
    stats, counts = {}, {}
    for g in groups:
        part = df if g == OVERALL else df[df["category"] == g]
        part = part[part["category"].isin(cats)]
        counts[g] = int(part.groupby("method").size().max()) if not part.empty else 0
        for m in methods:
            vals = part.loc[part["method"] == m, metric].astype(float).to_numpy()
            stats[(g, m)] = mean_ci(vals, level=level, method=ci, seed=seed)
    return groups, stats, counts


def _draw_bars(ax, groups, methods, stats, counts, colors, names, ci: str, hatches=None) -> list[float]:
    """Grouped bars on ``ax``: one group per category (x), one bar per method, CI error bars; the
    upper CI ends (for the y range). An ``All`` group is set apart by a dotted line."""
    from matplotlib import patheffects

    bw = 0.8 / len(methods)
    x = np.arange(len(groups))
    highs = []
    for i, m in enumerate(methods):
        means = np.array([stats[(g, m)][0] for g in groups])
        lo = np.array([stats[(g, m)][1] for g in groups])
        hi = np.array([stats[(g, m)][2] for g in groups])
        highs += [v for v in hi if np.isfinite(v)]
        err = np.vstack([means - lo, hi - means])
        ax.bar(x - 0.4 + bw * (i + 0.5), np.nan_to_num(means), bw * 0.92, color=colors[m], label=(names or {}).get(m, m),
               edgecolor="white", linewidth=0.3, zorder=2, hatch=(hatches or {}).get(m))
        if ci != "none":
            eb = ax.errorbar(x - 0.4 + bw * (i + 0.5), means, yerr=np.nan_to_num(err), fmt="none", ecolor="#222222",
                             elinewidth=0.6, capsize=1.2, capthick=0.6, zorder=3)
            for artist in eb.lines[1] + eb.lines[2]:  # a white halo keeps the bar visible on dark fills
                artist.set_path_effects([patheffects.withStroke(linewidth=1.8, foreground="white")])
    ax.set_xticks(x, [f"{g}\n(n={counts[g]})" for g in groups])
    if groups[-1] == OVERALL:
        ax.axvline(len(groups) - 1.5, color="#999999", linewidth=0.5, linestyle=(0, (2, 2)))
    ax.grid(True, axis="y", zorder=0)
    ax.set_axisbelow(True)
    return highs


def _y_range(ax, metric: str, highs) -> None:
    direction = "↓ lower is better" if lower_is_better(metric) else "↑ higher is better"
    ax.set_ylabel(f"{metric} ({direction})")
    top = max(highs) if highs else 1.0
    ax.set_ylim(0, min(1.0, top * 1.08) if top <= 1.0 else top * 1.08)


_CI_TEXT = {"bootstrap": "{:.0%} bootstrap CI", "t": "{:.0%} t CI", "none": "no CI"}


def category_bars(per_image_df, metric: str, out_stem, methods=None, categories=None, ci: str = "bootstrap",
                  level: float = 0.95, seed: int = 0, overall: bool = True, dataset=None, split=None,
                  title: str | None = None, colors: dict | None = None, names: dict | None = None) -> list[Path]:
    """Grouped bars: mean ``metric`` per category (x) for each method (bar), with CI error bars.

    ci: ``bootstrap`` (2000 resamples, fixed ``seed``), ``t`` (Student t), or ``none``. ``overall``
    adds an ``All`` group. Images whose metric is undefined (NaN) are left out of that mean.
    ``colors``: method -> fill (an experiment's palette); ``names``: method -> legend label.
    """
    if ci not in CI_METHODS:
        raise ConfigError(f"ci={ci!r}: use one of {', '.join(CI_METHODS)}")
    df = _one_set(read_per_image(per_image_df), dataset, split, "category_bars")
    if metric not in df.columns:
        raise DataError(f"category_bars: the per-image rows have no {metric!r} column")
    present = list(dict.fromkeys(df["method"]))
    methods = list(methods) if methods else present
    unknown = [m for m in methods if m not in present]
    if unknown:
        raise ConfigError(f"category_bars: method(s) {', '.join(unknown)} not in the per-image rows; they have {', '.join(present)}")
    cats = list(categories) if categories else [c for c in dict.fromkeys(df["category"]) if c != ""]
    if not cats:
        raise DataError("category_bars: the per-image rows have no categories")
    groups, stats, counts = _category_stats(df, metric, methods, cats, overall, ci, level, seed)

    colors = {**bar_colors(methods), **(colors or {})}
    plt = pyplot()
    n_bars = len(groups) * len(methods)
    width_in = COLUMN_WIDTH_IN if n_bars <= 14 else PAGE_WIDTH_IN
    ncol = legend_columns(methods, width_in)
    legend_rows = -(-len(methods) // ncol)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(width_in, 2.4 + 0.16 * legend_rows), layout="constrained")
        highs = _draw_bars(ax, groups, methods, stats, counts, colors, names, ci)
        _y_range(ax, metric, highs)
        sets = df[["dataset", "split"]].drop_duplicates().iloc[0]
        ci_text = _CI_TEXT[ci].format(level)
        ax.set_title(title or f"{dataset_label(sets['dataset'], sets['split'])}: mean {metric} per category ({ci_text})")
        handles, labels = ax.get_legend_handles_labels()
        fit_legend(fig, handles, labels, width_in, handlelength=1.2, columnspacing=1.0)
        paths = save_figure(fig, out_stem)
        plt.close(fig)
    return paths


def mask_choice_bars(per_image_df, metric: str, out_stem, methods=None, ci: str = "bootstrap", level: float = 0.95,
                     seed: int = 0, colors: dict | None = None, names: dict | None = None) -> list[Path]:
    """Which of SAM's masks a prompt keeps, side by side: one panel per dataset (and split), mean
    ``metric`` per category and ``All`` (x), one bar per method (a ``multimask`` rule, a point count).

    ``colors``: method -> fill (the experiment's palette, so a method looks as in every figure); a bar
    whose colour an earlier bar of the figure already has is hatched. Methods that read the ground truth
    (``oracle``) are marked † in the legend, as tables mark them.
    """
    from samis.report.style import is_unranked

    if ci not in CI_METHODS:
        raise ConfigError(f"ci={ci!r}: use one of {', '.join(CI_METHODS)}")
    df = read_per_image(per_image_df)
    if metric not in df.columns:
        raise DataError(f"mask_choice_bars: the per-image rows have no {metric!r} column")
    present = list(dict.fromkeys(df["method"]))
    methods = [m for m in (methods or present) if m in present]
    if not methods:
        raise DataError("mask_choice_bars: none of the methods has per-image rows")
    colors = {**bar_colors(methods), **(colors or {})}
    seen, hatches = set(), {}
    for m in methods:
        hatches[m] = "////" if colors[m] in seen else None
        seen.add(colors[m])
    labels = {m: (names or {}).get(m, m) + ("†" if is_unranked(m) else "") for m in methods}
    sets = list(dict.fromkeys(df[["dataset", "split"]].itertuples(index=False, name=None)))
    plt = pyplot()
    legend_rows = -(-len(methods) // legend_columns(labels.values(), PAGE_WIDTH_IN))
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(sets), 1, figsize=(PAGE_WIDTH_IN, 2.1 * len(sets) + 0.3 + 0.16 * legend_rows),
                                 layout="constrained", squeeze=False)
        for ax, (dataset, split) in zip(axes[:, 0], sets):
            part = df[(df["dataset"] == dataset) & (df["split"] == split)]
            cats = [c for c in dict.fromkeys(part["category"]) if c != ""] or [""]
            shown = [m for m in methods if m in set(part["method"])]
            groups, stats, counts = _category_stats(part, metric, shown, cats, True, ci, level, seed)
            highs = _draw_bars(ax, groups, shown, stats, counts, colors, labels, ci, hatches)
            _y_range(ax, metric, highs)
            ax.set_title(f"{dataset_label(dataset, split)}: mean {metric} per category ({_CI_TEXT[ci].format(level)})")
        handles = {}
        for ax in axes[:, 0]:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(lab, h)
        fit_legend(fig, list(handles.values()), list(handles), PAGE_WIDTH_IN, handlelength=1.6, columnspacing=1.0)
        paths = save_figure(fig, out_stem)
        plt.close(fig)
    return paths


__all__ = ["Example", "choose_examples", "examples_from_samples", "find_map", "qualitative_grid", "category_bars",
           "mask_choice_bars"]
