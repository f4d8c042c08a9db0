"""What the automatic mode could find, per threshold pair: the ``automatic`` table and the ``automatic_sweep`` figure.

Read from the per-image records the run writes beside the maps (``samis.runners.automatic_records``),
never from regenerated masks. Per dataset unit and category, and per ``(pred_iou_thresh,
stability_score_thresh)`` pair (the main pair, which made the maps, first and marked *):

- ``masks/img``: masks the generator kept per image, and ``fg/img`` those not larger than
  ``background_frac`` of the image (the ones ``union`` and ``score`` use);
- ``recall@.5``: the share of ground-truth components (8-connected defects) whose best-matching kept
  mask has IoU >= 0.5 with it;
- ``mIoU``: the mean over components of that best-match IoU.

Both defect columns are means over components (images without a defect add none); the mask counts
are means over images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RECALL_IOU = 0.5
COLUMNS = ["unit", "category", "pair", "main", "pred_iou_thresh", "stability_score_thresh", "images",
           "masks_per_image", "foreground_per_image", "components", "recall_at_0.5", "mean_best_iou"]
NOTE = ("masks/img: masks kept per image (fg: not larger than background_frac of the image); recall@.5: share "
        "of ground-truth components whose best-matching kept mask has IoU >= 0.5; mIoU: mean best-match IoU over "
        "components (a perfect selector picking one mask per defect). * the main pair, which made the maps.")


def pair_label(iou: float, stab: float) -> str:
    return f"{iou:g}/{stab:g}"


def sweep_frame(records: list[dict], categories: dict[str, str], unit: str) -> pd.DataFrame:
    """One row per (category incl. ``All``, pair) of one unit; ``categories``: stem -> category of the unit's images."""
    records = [r for r in records if r["stem"] in categories]
    rows = []
    cats = sorted(set(categories[r["stem"]] for r in records) - {"All"}, key=str)
    groups = [("All", records)] + [(c, [r for r in records if categories[r["stem"]] == c]) for c in cats]
    for category, recs in groups:
        if not recs:
            continue
        for k, pair in enumerate(recs[0]["pairs"]):
            per = [r["pairs"][k] for r in recs]
            best = np.array([v for p in per for v in p["best_iou"]], dtype=float)
            rows.append({"unit": unit, "category": category, "pair": pair_label(pair["pred_iou_thresh"], pair["stability_score_thresh"]),
                         "main": k == 0, "pred_iou_thresh": pair["pred_iou_thresh"],
                         "stability_score_thresh": pair["stability_score_thresh"], "images": len(per),
                         "masks_per_image": float(np.mean([p["masks"] for p in per])),
                         "foreground_per_image": float(np.mean([p["masks_foreground"] for p in per])),
                         "components": int(best.size),
                         "recall_at_0.5": float((best >= RECALL_IOU).mean()) if best.size else float("nan"),
                         "mean_best_iou": float(best.mean()) if best.size else float("nan")})
    return pd.DataFrame(rows, columns=COLUMNS)


def _num(v: float, digits: int = 3) -> str:
    return "–" if v != v else f"{v:.{digits}f}"


def _cells(row) -> list[str]:
    return [row.pair + ("*" if row.main else ""), _num(row.masks_per_image, 2), _num(row.foreground_per_image, 2),
            _num(row["recall_at_0.5"]), _num(row.mean_best_iou)]


HEADERS = ["pair (IoU/stab)", "masks/img", "fg/img", "recall@.5", "mIoU"]


def render_markdown(frame: pd.DataFrame, caption: str) -> str:
    out = [f"**{caption}**", ""]
    for unit, part in frame.groupby("unit", sort=False):
        out += [f"*{unit}*", "", "| category | " + " | ".join(HEADERS) + " |", "|:--|:--|" + "--:|" * (len(HEADERS) - 1)]
        for category, rows in part.groupby("category", sort=False):
            for i, (_, row) in enumerate(rows.iterrows()):
                first = f"{category} ({row.images} img, {row.components} defects)" if i == 0 else ""
                out.append(f"| {first} | " + " | ".join(_cells(row)) + " |")
        out.append("")
    return "\n".join(out + [NOTE, ""])


def render_latex(frame: pd.DataFrame, caption: str, label: str) -> str:
    """One column-wide ``table`` per unit: a block of pair rows per category, the category named once."""
    from samis.report.table_markup import latex_escape

    tables = []
    units = list(dict.fromkeys(frame["unit"]))
    for i, unit in enumerate(units):
        part = frame[frame["unit"] == unit]
        lines = [r"\begin{table}[t]", r"\centering", r"\footnotesize", r"\setlength{\tabcolsep}{3.5pt}",
                 rf"\caption{{{latex_escape(caption.rstrip('.'))}: {latex_escape(unit)}.}}",
                 rf"\label{{{label if len(units) == 1 else f'{label}-{i + 1}'}}}",
                 r"\begin{tabular}{llrrrr}", r"\toprule",
                 "Category & IoU/stab & masks/img & fg/img & rec@.5 & mIoU \\\\", r"\midrule"]
        for j, (category, rows) in enumerate(part.groupby("category", sort=False)):
            if j:
                lines.append(r"\midrule")
            for k, (_, row) in enumerate(rows.iterrows()):
                name = f"{latex_escape(category)} ({row.components})" if k == 0 else ""
                cells = [c.replace("–", "--").replace("*", r"$^*$") for c in _cells(row)]
                lines.append(f"{name} & " + " & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}",
                  r"\par\smallskip\parbox{\linewidth}{\scriptsize (n): defects. masks/img: masks kept per image; fg: "
                  r"not background-sized. rec@.5: share of defects whose best-matching kept mask has IoU $\ge$ 0.5; "
                  r"mIoU: mean best-match IoU (a perfect selector picking one mask per defect). $^*$ main pair (the maps).}",
                  r"\end{table}", ""]
        tables.append("\n".join(lines))
    return "\n".join(tables)


def plot_sweep(frame: pd.DataFrame, stem, title: str | None = None) -> list:
    """Recall@0.5 and mean best-match IoU against the threshold pairs, one line per unit (``All`` rows)."""
    from samis.report.plotstyle import COLUMN_WIDTH_IN, RC, SAM_COLORS, fit_legend, pyplot, save_figure

    plt = pyplot()
    data = frame[frame["category"] == "All"]
    pairs = list(dict.fromkeys(data["pair"]))
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH_IN, 2.3), layout="constrained", sharex=True)
        handles, labels = [], []
        for n, (unit, part) in enumerate(data.groupby("unit", sort=False)):
            x = [pairs.index(p) for p in part["pair"]]
            for ax, col in zip(axes, ("recall_at_0.5", "mean_best_iou")):
                (line,) = ax.plot(x, part[col], marker="o", markersize=3, linewidth=1.2, color=SAM_COLORS[n % len(SAM_COLORS)])
            handles.append(line)
            labels.append(unit)
        for ax, name in zip(axes, ("defect recall@0.5", "mean best-match IoU")):
            ax.set_title(name)
            ax.set_xlabel("pred. IoU / stability (* main)", fontsize=6.5)
            ax.set_xticks(range(len(pairs)), [p + ("*" if i == 0 else "") for i, p in enumerate(pairs)],
                         rotation=60, ha="right")
            ax.set_ylim(0, max(0.05, float(np.nanmax(data[["recall_at_0.5", "mean_best_iou"]].to_numpy(dtype=float)) * 1.1)
                              if len(data) else 1.0))
            ax.grid(True, axis="y")
        if title:
            fig.suptitle(title)
        fit_legend(fig, handles, labels, COLUMN_WIDTH_IN)
        paths = save_figure(fig, stem)
        plt.close(fig)
    return paths
