"""Markdown and LaTeX (booktabs) text of a ``tables.Table``, ready to paste into a README or a paper."""

from __future__ import annotations

from samis.report.style import arrow, unranked_mark

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}

# Headers a reader understands better than the raw column name.
_HEADER_NAMES = {"time_per_image_s": "s/img", "n_images": "#img"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def header_name(metric: str) -> str:
    """The header a column gets (``time_per_image_s`` reads as ``s/img``)."""
    return _HEADER_NAMES.get(metric, metric)


def _md_escape(text: str) -> str:
    return str(text).replace("|", r"\|")


def _cell_text(col, i: int) -> str:
    """A cell's number, its CI half-width and its significance mark, before bold/underline."""
    text = col.texts[i]
    if col.cis and col.cis[i] is not None:
        text = f"{text} ± {col.cis[i]}"
    return text


def _md_cell(col, i: int) -> str:
    text, mark = _cell_text(col, i), col.marks[i]
    if mark == "best":
        text = f"**{text}**"
    elif mark == "second":
        text = f"<u>{text}</u>"
    sup = col.sups[i] if col.sups else ""
    return text + sup


def markdown(table, notes: bool = True) -> str:
    """A GitHub/pandoc pipe table; the dataset sits in each header cell when there are several."""
    multi = len(table.groups) > 1
    header = ["Method"]
    align = [":--"]
    for g in table.groups:
        for c in g.columns:
            name = f"{header_name(c.metric)}{arrow(c.metric, 'md') if c.ranked else ''}"
            header.append(_md_escape(f"{g.label} {name}" if multi else name))
            align.append("--:")
    lines = []
    if table.caption:
        lines += [f"Table: {table.caption}", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(align) + "|")
    for i, method in enumerate(table.methods):
        name = _md_escape(_name(table, i)) + (unranked_mark(table.methods[i]) if table.unranked[i] else "")
        cells = [_md_cell(c, i) for g in table.groups for c in g.columns]
        lines.append("| " + " | ".join([name] + cells) + " |")
    if notes and table.notes:
        for n in table.notes:  # one paragraph each, so renderers do not run them together
            lines += ["", _md_escape(n)]
    return "\n".join(lines) + "\n"


def _name(table, i: int) -> str:
    return table.names[i] if table.names else table.methods[i]


def _latex_cell(col, i: int) -> str:
    text = col.texts[i]
    text = "--" if text == "–" else latex_escape(text)
    if col.cis and col.cis[i] is not None:
        text = rf"{text}\,$\pm$\,{latex_escape(col.cis[i])}"
    if col.marks[i] == "best":
        text = rf"\textbf{{{text}}}"
    elif col.marks[i] == "second":
        text = rf"\underline{{{text}}}"
    sup = col.sups[i] if col.sups else ""
    return text + (rf"$^{{{latex_escape(sup)}}}$" if sup else "")


def latex_text(note: str) -> str:
    """Escaped LaTeX of a note or cell with the table symbols (†, arrows, ±, en dash, <, Δ) as math."""
    note = latex_escape(note)
    return (note.replace("†", r"$^\dagger$").replace("‡", r"$^\ddagger$").replace("↑", r"$\uparrow$")
            .replace("↓", r"$\downarrow$")
            .replace("±", r"$\pm$").replace("–", "--").replace("−", "$-$").replace("<", "$<$")
            .replace("Δ", r"$\Delta$"))


def _row_name(table, i: int) -> str:
    return latex_escape(_name(table, i)) + (latex_text(unranked_mark(table.methods[i])) if table.unranked[i] else "")


def _head(c) -> str:
    return latex_escape(header_name(c.metric)) + (arrow(c.metric, "latex") if c.ranked else "")


def _plain_cell(col, i: int) -> str:
    return _cell_text(col, i) + (col.sups[i] if col.sups else "")


def wide_width(table) -> float:
    """Estimated width (pt) of the wide layout: one column group per dataset."""
    from samis.report.latex_fit import tabular_width

    columns = [["Method"] + [_name(table, i) + unranked_mark(table.methods[i]) * table.unranked[i] for i in range(len(table.methods))]]
    spans, start = [], 1
    for g in table.groups:
        for c in g.columns:
            columns.append([header_name(c.metric) + "↑"] + [_plain_cell(c, i) for i in range(len(table.methods))])
        if len(table.groups) > 1:
            spans.append((g.label, start, len(g.columns)))
        start += len(g.columns)
    return tabular_width(columns, spans)


def stacked_width(table) -> float:
    """Estimated width (pt) of the stacked layout: a block of rows per dataset, one column per metric."""
    from samis.report.latex_fit import tabular_width

    metrics = list(dict.fromkeys(c.metric for g in table.groups for c in g.columns))
    names = ["Method"] + [_name(table, i) + unranked_mark(table.methods[i]) * table.unranked[i] for i in range(len(table.methods))]
    columns = [names + [g.label for g in table.groups]]
    for m in metrics:
        cells = [header_name(m) + "↑"]
        for g in table.groups:
            cells += [_plain_cell(c, i) for c in g.columns if c.metric == m for i in range(len(table.methods))]
        columns.append(cells)
    return tabular_width(columns)


def _rows(table, layout: str) -> int:
    """Body rows of a layout: the methods once (wide), or per dataset those with a result plus its label row."""
    if layout == "wide" or len(table.groups) == 1:
        return len(table.methods)
    return sum(1 + sum(1 for i in range(len(table.methods)) if any(c.texts[i] != "–" for c in g.columns))
               for g in table.groups)


def choose_layout(table, env: str = "auto", layout: str = "auto") -> tuple[str, str]:
    """(float, layout): the narrowest float (``table`` = a column, ``table*`` = the page) and the layout
    that fits it by the estimate, width and height; ``wide`` is preferred, as a reader compares datasets
    side by side. Nothing fits: the option that overflows least."""
    from samis.report.latex_fit import COLUMN_PT, MAX_ROWS, PAGE_PT

    widths = {"wide": wide_width(table), "stacked": stacked_width(table) if len(table.groups) > 1 else wide_width(table)}
    envs = [env] if env in ("table", "table*", "none") else ["table", "table*"]
    layouts = [layout] if layout != "auto" else ["wide", "stacked"]
    options = []
    for e in envs:
        target = COLUMN_PT if e == "table" else PAGE_PT
        for lay in layouts:
            over = max(0.0, widths[lay] - target) + 10.0 * max(0, _rows(table, lay) - MAX_ROWS)
            options.append((over, e, lay))
    fitting = [o for o in options if o[0] == 0]
    best = fitting[0] if fitting else min(options, key=lambda o: o[0])
    return best[1], best[2]


def latex(table, label: str | None = None, env: str = "table", notes: bool = True, layout: str = "auto") -> str:
    """A booktabs tabular at ``\\footnotesize``, wide (``\\multicolumn`` dataset headers with ``\\cmidrule``)
    or stacked (a block of rows per dataset), in a ``table``/``table*`` float chosen to fit (``env='auto'``)."""
    env, layout = choose_layout(table, env, layout)
    float_env = env in ("table", "table*")
    out = ["% samis table: needs \\usepackage{booktabs}"]
    if float_env:
        out += [rf"\begin{{{env}}}[tbp]", r"\centering"]
        if table.caption:
            out.append(rf"\caption{{{latex_escape(table.caption)}}}")
        if label:
            out.append(rf"\label{{{label}}}")
    body = _stacked_body(table) if layout == "stacked" and len(table.groups) > 1 else _wide_body(table)
    # a float sets its own size; a bare tabular takes the size of the place it is put in
    out += [r"{\footnotesize\setlength{\tabcolsep}{4pt}%", *body, r"\par}"] if float_env else body
    if notes and table.notes:
        body = r"\par ".join(latex_text(n) for n in table.notes)
        if float_env:
            out.append(rf"\smallskip{{\footnotesize {body}\par}}")
        else:
            out += ["% " + n for n in table.notes]
    if float_env:
        out.append(rf"\end{{{env}}}")
    return "\n".join(out) + "\n"


def _wide_body(table) -> list[str]:
    ncols = [len(g.columns) for g in table.groups]
    out = [rf"\begin{{tabular}}{{l{'c' * sum(ncols)}}}", r"\toprule"]
    if len(table.groups) > 1:
        heads, rules, start = [""], [], 2
        for g, n in zip(table.groups, ncols):
            heads.append(rf"\multicolumn{{{n}}}{{c}}{{{latex_escape(g.label)}}}")
            rules.append(rf"\cmidrule(lr){{{start}-{start + n - 1}}}")
            start += n
        out.append(" & ".join(heads) + r" \\")
        out.append(" ".join(rules))
    out.append(" & ".join(["Method"] + [_head(c) for g in table.groups for c in g.columns]) + r" \\")
    out.append(r"\midrule")
    for i in range(len(table.methods)):
        if i in table.blocks:
            out.append(r"\midrule")
        cells = [_latex_cell(c, i) for g in table.groups for c in g.columns]
        out.append(" & ".join([_row_name(table, i)] + cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    return out


def _stacked_body(table) -> list[str]:
    """One block per dataset: its label as a row, then the methods that have a result there."""
    metrics = list(dict.fromkeys(c.metric for g in table.groups for c in g.columns))
    heads = {}
    for g in table.groups:
        for c in g.columns:
            heads.setdefault(c.metric, _head(c))
    out = [rf"\begin{{tabular}}{{l{'c' * len(metrics)}}}", r"\toprule",
           " & ".join(["Method"] + [heads[m] for m in metrics]) + r" \\"]
    for g in table.groups:
        cols = {c.metric: c for c in g.columns}
        out += [r"\midrule", rf"\multicolumn{{{len(metrics) + 1}}}{{l}}{{\textit{{{latex_escape(g.label)}}}}} \\"]
        for i in range(len(table.methods)):
            if all(c.texts[i] == "–" for c in g.columns):
                continue  # not run on this dataset: the block simply lacks the row
            if i in table.blocks:
                out.append(r"\addlinespace[2pt]")
            cells = [_latex_cell(cols[m], i) if m in cols else "--" for m in metrics]
            out.append(" & ".join([_row_name(table, i)] + cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    return out
