"""The clicks and annotation-cost tables and the clicks figure, from the CSVs beside the click maps.

These read ``<predictions>/<label>/<sequence>.clicks.csv`` (``mode: clicks``) and
``<method>.annotate.csv`` (``mode: annotate``), not the evaluator's results: the numbers are about the
click sequence (mIoU@k, NoC, NoF; clicks spent), which no stored map holds. A unit (``label/split``)
takes the rows of its split's images. Like every output, each is redrawn only when its inputs changed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from samis.experiments.definition import Definition, FigureSpec, TableSpec, match_methods
from samis.experiments.layout import TABLE_SUFFIX, Layout
from samis.imageio import atomic_write_bytes
from samis.report.names import display_name

SUFFIX = {"clicks": ".clicks.csv", "annotation-cost": ".annotate.csv"}
MODE = {"clicks": "clicks", "annotation-cost": "annotate"}


def sequences(definition: Definition, kind: str, patterns=None) -> list[str]:
    """The click sequences (clicks) or annotate methods of the study, in definition order."""
    names = [cfg.family_name(m.name) for m in definition.models for cfg in definition.modes if cfg.mode == MODE[kind]]
    return match_methods(patterns, list(dict.fromkeys(names)))


def _inputs(layout: Layout, definition: Definition, spec, kind: str):
    """(unit ref, sequence, CSV path) for every CSV there is, and the units without any."""
    found, missing = [], []
    for ref in spec.units:
        label = definition.unit(ref)[0].label
        paths = [(ref, seq, layout.sam_root(label) / f"{seq}{SUFFIX[kind]}") for seq in sequences(definition, kind, spec.methods)]
        paths = [p for p in paths if p[2].is_file()]
        found += paths
        missing += [] if paths else [ref]
    return found, missing


def summary_frame(definition: Definition, found, kind: str) -> pd.DataFrame:
    """One row per (sequence, unit, level, category) with its metrics."""
    from samis.report import clicks

    frames, stems = [], {}
    for ref, seq, path in found:
        spec, split = definition.unit(ref)
        if ref not in stems:
            stems[ref] = [s.stem for s in spec.open(split).samples()]
        rows = clicks.read_clicks(path) if kind == "clicks" else clicks.read_annotations(path)
        part = clicks.clicks_summary(rows, stems[ref]) if kind == "clicks" else clicks.annotation_summary(rows, stems[ref])
        part.insert(0, "split", split)
        part.insert(0, "dataset", spec.label)
        part.insert(0, "method", seq)
        frames.append(part)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def shown_columns(frame: pd.DataFrame, kind: str) -> list[str]:
    """The columns of the printed table (the CSV has every one): mIoU after 1, 3, 5 and the most clicks."""
    if kind == "annotation-cost":
        return list(frame.columns)
    counts = sorted(int(c.split("@")[1]) for c in frame.columns if c.startswith("mIoU@"))
    keep = [k for k in counts if k in (1, 3, 5) or k == counts[-1]]
    head = ["method", "dataset", "split", "level", "category", "n"]
    return head + [f"mIoU@{k}" for k in keep] + ["NoC@85", "NoC@90", "NoF@90"]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table_texts(frame: pd.DataFrame, kind: str, caption: str, label: str, names: dict,
                placement: str = "auto") -> dict[str, str]:
    """Markdown (every level and category, as the CSV), LaTeX (the paper layout) and the CSV."""
    shown = frame[shown_columns(frame, kind)].copy()
    shown["method"] = [display_name(m, names) for m in shown["method"]]
    header = list(shown.columns)
    md = [f"**{caption}**", "", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    md += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    md += ["", MD_NOTES[kind]]
    csv = frame.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    return {"md": "\n".join(md) + "\n", "latex": paper_latex(frame, kind, caption, label, names, placement),
            "csv": csv}


# The paper layout: per defect only (the image level and every k stay in the CSV and Markdown), numbers
# as a paper prints them, one block of rows per dataset under its name, the method named once per block.
PAPER_COLUMNS = {
    "clicks": None,  # mIoU@k of shown_columns, then NoC and NoF
    "annotation-cost": [("defects", "defects", "int"), ("images", "images", "int"),
                        ("clicks/defect", "clicks/defect", "2f"), ("clicks/image", "clicks/image", "1f"),
                        ("no click", "no click (\\%)", "pct"), ("reached", "reached (\\%)", "pct"),
                        ("defect IoU before", "IoU before", "3f"), ("defect IoU after", "IoU after", "3f")],
}
PAPER_NOTES = {
    "clicks": ("Per defect (ground-truth component). mIoU@k: mean IoU after k clicks, click 1 being the start "
               "prompt; NoC: mean clicks to reach 85\\% / 90\\% IoU (the maximum when never); NoF: defects never "
               "reaching 90\\%. Image-level numbers and every k: the CSV beside this table."),
    "annotation-cost": ("Corrective clicks after the box per defect and per image; no click: defects accepted "
                        "as the box gave them; reached: defects reaching the target IoU; IoU per defect before "
                        "and after the threshold and smoothing. Image-level IoU: the CSV beside this table."),
}


def _paper_cell(value, fmt: str) -> str:
    """A cell as a paper prints it (``format_value``): counts, percentages, ``.702``-style IoUs."""
    from samis.report.style import format_value

    if fmt == "pct":
        value = None if value is None else 100 * float(value)
    decimals = {"int": 0, "pct": 0, "3f": 3}.get(fmt) if fmt in ("int", "pct", "3f") else int(fmt[0])
    return format_value(value, decimals, drop_leading_zero=fmt == "3f")


def _paper_columns(frame: pd.DataFrame, kind: str) -> list[tuple[str, str, str]]:
    if kind == "annotation-cost":
        return PAPER_COLUMNS[kind]
    ks = [c for c in shown_columns(frame, kind) if c.startswith("mIoU@")]
    return ([("n", "defects", "int")] + [(c, c, "3f") for c in ks]
            + [("NoC@85", "NoC@85", "2f"), ("NoC@90", "NoC@90", "2f"), ("NoF@90", "NoF@90", "int")])


def paper_latex(frame: pd.DataFrame, kind: str, caption: str, label: str, names: dict, placement: str = "auto") -> str:
    """A booktabs float: per dataset a label row, then per method its categories (All first), per defect."""
    from samis.report.latex_fit import COLUMN_PT, tabular_width
    from samis.report.table_markup import latex_escape, latex_text

    rows = frame[frame["level"] == "component"] if "level" in frame.columns else frame
    columns = _paper_columns(frame, kind)
    methods = list(dict.fromkeys(rows["method"]))
    with_method = len(methods) > 1 or kind == "clicks"
    head = (["Method"] if with_method else []) + ["Category"] + [h for _, h, _ in columns]
    body, texts = [], [[h.replace("\\", "")] for h in head]
    units = list(dict.fromkeys(zip(rows["dataset"], rows["split"])))
    for dataset, split in units:
        title = f"{dataset} ({split})" if with_method else f"{display_name(methods[0], names)}, {dataset} ({split})"
        body += [r"\midrule", rf"\multicolumn{{{len(head)}}}{{l}}{{\textit{{{latex_escape(title)}}}}} \\"]
        for m in methods:
            mine = rows[(rows["dataset"] == dataset) & (rows["split"] == split) & (rows["method"] == m)]
            mine = mine.assign(_order=[(c != "all", str(c)) for c in mine["category"]]).sort_values("_order", kind="stable")
            for j, (_, row) in enumerate(mine.iterrows()):
                category = "All" if row["category"] == "all" else str(row["category"])
                cells = ([display_name(m, names) if j == 0 else ""] if with_method else []) + [category]
                cells += [_paper_cell(row.get(col), fmt) for col, _, fmt in columns]
                for t, c in zip(texts, cells):
                    t.append(c)
                body.append(" & ".join(latex_text(c) for c in cells) + r" \\")
    width = tabular_width(texts)
    env = {"column": "table", "page": "table*"}.get(placement) or ("table" if width <= COLUMN_PT else "table*")
    n_text = len(head) - len(columns)
    out = ["% samis table: needs \\usepackage{booktabs}", rf"\begin{{{env}}}[tbp]", r"\centering",
           rf"\caption{{{latex_text(caption)}}}", rf"\label{{{label}}}",
           r"{\footnotesize\setlength{\tabcolsep}{4pt}%",
           rf"\begin{{tabular}}{{{'l' * n_text}{'r' * len(columns)}}}", r"\toprule",
           " & ".join(h if "\\" in h else latex_text(h) for h in head) + r" \\", *body,
           r"\bottomrule", r"\end{tabular}", r"\par}",
           rf"\smallskip{{\footnotesize {PAPER_NOTES[kind]}\par}}", rf"\end{{{env}}}"]
    return "\n".join(out) + "\n"


MD_NOTES = {
    "clicks": ("mIoU@k: mean IoU after k clicks (click 1 = the start prompt); NoC@85 / NoC@90: mean clicks to reach "
               "85% / 90% IoU (max_clicks when never); NoF@90: failures never reaching 90%. Level component: per "
               "defect; image: the merged masks per image, one click per unfinished defect per round."),
    "annotation-cost": ("Corrective clicks per defect and per image after the box, share of defects accepted without "
                        "a click, share reaching the target IoU, IoU before and after the threshold and smoothing."),
}

CAPTIONS = {
    "clicks": "Corrective clicks: mean IoU after k clicks, clicks to reach 85% / 90% IoU (NoC) and failures (NoF).",
    "annotation-cost": ("Annotation cost of the protocol: box, clicks until 90% IoU (at most max_clicks), threshold, "
                        "opening then closing."),
}


def render_record_table(layout: Layout, definition: Definition, spec: TableSpec, echo) -> list[Path]:
    from samis.experiments.render import _fresh, _stamp, _stamp_path, _state

    found, missing = _inputs(layout, definition, spec, spec.kind)
    if missing:
        echo(f"tables: {spec.name}: no {SUFFIX[spec.kind]} yet for {', '.join(missing)}")
    if not found:
        echo(f"tables: {spec.name}: nothing to tabulate, skipped")
        return []
    outputs = [layout.tables / f"{spec.name}{TABLE_SUFFIX[f]}" for f in spec.formats]
    stamp, state = _stamp_path(layout.tables, spec.name), _state(spec, [p for _, _, p in found])
    state["display_names"] = definition.display_names
    if _fresh(stamp, state):
        echo(f"tables: {spec.name}: up to date, skipped")
        return outputs
    frame = summary_frame(definition, found, spec.kind)
    texts = table_texts(frame, spec.kind, spec.caption or CAPTIONS[spec.kind], spec.label or f"tab:{spec.name}",
                        definition.display_names, spec.placement)
    for fmt, path in zip(spec.formats, outputs):
        atomic_write_bytes(path, texts[fmt].encode())
    _stamp(stamp, state, outputs)
    echo(f"tables: {spec.name}: {', '.join(p.name for p in outputs)}")
    return outputs


def plot_clicks(frame: pd.DataFrame, stem: Path, names: dict) -> list[Path]:
    """Mean IoU per defect against clicks: a line per sequence and unit; one box (a box sequence's click 1) dashed."""
    from samis.report.plotstyle import COLUMN_WIDTH_IN, RC, SAM_COLORS, fit_legend, pyplot, save_figure

    plt = pyplot()
    rows = frame[(frame["level"] == "component") & (frame["category"] == "all")]
    units = list(dict.fromkeys(zip(rows["dataset"], rows["split"])))
    markers = ["o", "s", "^", "D", "v", "P"]
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.6), layout="constrained")
        handles, labels = [], []
        for u, (dataset, split) in enumerate(units):
            color = SAM_COLORS[u % len(SAM_COLORS)]
            mine = rows[(rows["dataset"] == dataset) & (rows["split"] == split)]
            for s, (_, row) in enumerate(mine.iterrows()):
                ks = sorted(int(c.split("@")[1]) for c in row.index if c.startswith("mIoU@") and pd.notna(row[c]))
                (line,) = ax.plot(ks, [row[f"mIoU@{k}"] for k in ks], color=color, marker=markers[s % len(markers)],
                                  markersize=3, linewidth=1.3, linestyle="-" if s == 0 else (0, (4, 1.5)))
                handles.append(line)
                labels.append(f"{display_name(row['method'], names)}, {dataset} ({split})")
                if "-clicks-box" in row["method"]:
                    ref = ax.axhline(row["mIoU@1"], color=color, linewidth=0.8, linestyle=(0, (1, 1.5)))
                    handles.append(ref)
                    labels.append(f"one box, {dataset} ({split})")
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("clicks (1 = the start prompt)")
        ax.set_ylabel("mean IoU per defect")
        ax.grid(True)
        ax.set_ylim(0, 1)
        fit_legend(fig, handles, labels, COLUMN_WIDTH_IN, fontsize=6)
        out = save_figure(fig, stem)
        plt.close(fig)
    return out


def render_clicks_figure(layout: Layout, definition: Definition, spec: FigureSpec, echo) -> list[Path]:
    from samis.experiments.render import _fresh, _stamp, _stamp_path, _state

    found, missing = _inputs(layout, definition, spec, "clicks")
    if missing:
        echo(f"figures: {spec.name}: no .clicks.csv yet for {', '.join(missing)}")
    if not found:
        return []
    stamp, state = _stamp_path(layout.figures, spec.name), _state(spec, [p for _, _, p in found])
    state["display_names"] = definition.display_names
    if _fresh(stamp, state):
        echo(f"figures: {spec.name}: up to date, skipped")
        return [layout.figures / f"{spec.name}.{ext}" for ext in ("pdf", "png")]
    layout.figures.mkdir(parents=True, exist_ok=True)
    outputs = plot_clicks(summary_frame(definition, found, "clicks"), layout.figures / spec.name, definition.display_names)
    _stamp(stamp, state, outputs)
    echo(f"figures: {spec.name}: {', '.join(p.name for p in outputs)}")
    return outputs
