"""How every samis figure looks and is saved: print-size fonts, line styles per method, PDF + 300 dpi PNG.

Figures go into two-column papers, so sizes are in inches at the printed width (3.5 in for a
column, 7.1 in for the page) and fonts are set for that size, not scaled down from a screen plot.
SAM rows are the subject of the study, so they are drawn solid and thicker; baselines are thinner
and dashed, each with its own colour and dash pattern so up to ~20 methods stay apart in print and
in grayscale.
"""

from __future__ import annotations

import io
from pathlib import Path

from samis.report.style import is_sam

COLUMN_WIDTH_IN = 3.5
PAGE_WIDTH_IN = 7.1
PNG_DPI = 300

RC = {
    "font.size": 8,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "figure.titlesize": 9,
    "axes.linewidth": 0.7,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "lines.solid_capstyle": "round",
    "pdf.fonttype": 42,  # TrueType text: editable and searchable in the PDF
    "ps.fonttype": 42,
    "savefig.dpi": PNG_DPI,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

# Strong colours for SAM variants (solid, thick) and a separate set for baselines (thin, dashed).
SAM_COLORS = ["#d62728", "#1f1f1f", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]
BASELINE_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                   "#17becf", "#393b79", "#637939", "#843c39", "#7b4173"]
BASELINE_DASHES = [(0, (4, 1.5)), (0, (1, 1)), (0, (5, 1.5, 1, 1.5)), (0, (2.5, 1, 1, 1, 1, 1))]
SAM_DASHES = ["-", (0, (6, 1.2)), (0, (6, 1.2, 1.2, 1.2))]


def method_styles(methods) -> dict[str, dict]:
    """``{method: {color, linestyle, linewidth, zorder}}``, stable for a given list order.

    Baselines never share a colour with a SAM method of the same figure; their colour and dash cycle
    with different periods (the colours left, and 4), so many baselines stay distinguishable; SAM
    variants get solid lines while there are at most 8 of them.
    """
    styles = {}
    n_sam = sum(1 for m in methods if is_sam(m))
    taken = set(SAM_COLORS[:n_sam])
    # baselines never take a colour a SAM method of this figure has (bars have no dashes to tell them apart)
    base_colors = [c for c in BASELINE_COLORS if c not in taken] or BASELINE_COLORS
    sam_i = base_i = 0
    for m in methods:
        if is_sam(m):
            styles[m] = {"color": SAM_COLORS[sam_i % len(SAM_COLORS)],
                         "linestyle": SAM_DASHES[(sam_i // len(SAM_COLORS)) % len(SAM_DASHES)],
                         "linewidth": 1.9, "zorder": 3}
            sam_i += 1
        else:
            styles[m] = {"color": base_colors[base_i % len(base_colors)],
                         "linestyle": BASELINE_DASHES[base_i % len(BASELINE_DASHES)],
                         "linewidth": 1.0, "zorder": 2}
            base_i += 1
    return styles


def bar_colors(methods) -> dict[str, str]:
    """Fill colours for bar charts, the same family rule as the curves (SAM strong, baselines distinct)."""
    st = method_styles(methods)
    return {m: s["color"] for m, s in st.items()}


def out_stem(path) -> Path:
    """``figs/pr`` from ``figs/pr``, ``figs/pr.pdf`` or ``figs/pr.png``."""
    p = Path(path)
    if p.suffix.lower() in (".pdf", ".png", ".svg"):
        p = p.with_suffix("")
    return p


def save_figure(fig, stem, tight: bool = True) -> list[Path]:
    """Write ``stem.pdf`` (vector) and ``stem.png`` (300 dpi), each atomically; returns both paths.

    ``tight=False`` keeps the figure's own size (for layouts placed by hand, whose pixel size is fixed).
    """
    from samis.imageio import atomic_write_bytes

    stem = out_stem(stem)
    paths = []
    for ext in ("pdf", "png"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=PNG_DPI, bbox_inches="tight" if tight else None, pad_inches=0.03,
                    metadata={"Creator": "samis"} if ext == "pdf" else None)
        path = stem.with_name(stem.name + "." + ext)
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed), with the paper rc applied."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def fit_legend(fig, handles, labels, width_in: float, **kw):
    """A figure legend below the axes with as many columns as fit ``width_in``, rows balanced.

    Measured, not guessed: long SAM method names and short baseline names share one legend.
    """
    renderer = fig.canvas.get_renderer()
    ncol = min(len(labels), 8) or 1
    while True:
        leg = fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False, **kw)
        width = leg.get_window_extent(renderer).width / fig.dpi
        if width <= width_in * 0.98 or ncol == 1:
            break
        leg.remove()
        ncol -= 1
    rows = -(-len(labels) // ncol)
    balanced = -(-len(labels) // rows)
    if balanced != ncol:
        leg.remove()
        leg = fig.legend(handles, labels, loc="outside lower center", ncol=balanced, frameon=False, **kw)
    return leg


def legend_columns(labels, width_in: float) -> int:
    """An estimate of the legend columns (for sizing the figure before drawing; ``fit_legend`` measures)."""
    labels = [str(x) for x in labels]
    if not labels:
        return 1
    entry_in = 0.45 + 0.045 * max(len(x) for x in labels)  # handle + gap + longest label
    per_row = max(1, min(len(labels), int(width_in / entry_in)))
    rows = -(-len(labels) // per_row)
    return max(1, -(-len(labels) // rows))

