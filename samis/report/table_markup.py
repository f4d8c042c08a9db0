"""Markdown and LaTeX (booktabs) text of a ``tables.Table``, ready to paste into a README or a paper."""

from __future__ import annotations

from samis.report.style import arrow

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


def _md_cell(text: str, mark: str) -> str:
    if mark == "best":
        return f"**{text}**"
    if mark == "second":
        return f"<u>{text}</u>"
    return text


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
        name = _md_escape(method) + ("†" if table.unranked[i] else "")
        cells = [_md_cell(c.texts[i], c.marks[i]) for g in table.groups for c in g.columns]
        lines.append("| " + " | ".join([name] + cells) + " |")
    if notes and table.notes:
        for n in table.notes:  # one paragraph each, so renderers do not run them together
            lines += ["", _md_escape(n)]
    return "\n".join(lines) + "\n"


def _latex_cell(text: str, mark: str) -> str:
    text = "--" if text == "–" else latex_escape(text)
    if mark == "best":
        return rf"\textbf{{{text}}}"
    if mark == "second":
        return rf"\underline{{{text}}}"
    return text


def _latex_note(note: str) -> str:
    note = latex_escape(note)
    return (note.replace("†", r"$^\dagger$").replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$")
            .replace("–", "--"))


def latex(table, label: str | None = None, env: str = "table", notes: bool = True) -> str:
    """A booktabs tabular: ``\\multicolumn`` dataset headers with ``\\cmidrule`` when several datasets."""
    ncols = [len(g.columns) for g in table.groups]
    spec = "l" + "".join("c" * n for n in ncols)
    out = ["% samis table: needs \\usepackage{booktabs}"]
    float_env = env in ("table", "table*")
    if float_env:
        out += [rf"\begin{{{env}}}[t]", r"\centering"]
        if table.caption:
            out.append(rf"\caption{{{latex_escape(table.caption)}}}")
        if label:
            out.append(rf"\label{{{label}}}")
    out += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    if len(table.groups) > 1:
        heads, rules, start = [""], [], 2
        for g, n in zip(table.groups, ncols):
            heads.append(rf"\multicolumn{{{n}}}{{c}}{{{latex_escape(g.label)}}}")
            rules.append(rf"\cmidrule(lr){{{start}-{start + n - 1}}}")
            start += n
        out.append(" & ".join(heads) + r" \\")
        out.append(" ".join(rules))
    metric_heads = ["Method"] + [
        latex_escape(header_name(c.metric)) + (arrow(c.metric, "latex") if c.ranked else "")
        for g in table.groups for c in g.columns
    ]
    out.append(" & ".join(metric_heads) + r" \\")
    out.append(r"\midrule")
    for i, method in enumerate(table.methods):
        if i in table.blocks:
            out.append(r"\midrule")
        name = latex_escape(method) + (r"$^\dagger$" if table.unranked[i] else "")
        cells = [_latex_cell(c.texts[i], c.marks[i]) for g in table.groups for c in g.columns]
        out.append(" & ".join([name] + cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if notes and table.notes:
        body = r" \\ ".join(_latex_note(n) for n in table.notes)
        if float_env:
            out.append(rf"\par\smallskip{{\footnotesize {body}\par}}")
        else:
            out += ["% " + n for n in table.notes]
    if float_env:
        out.append(rf"\end{{{env}}}")
    return "\n".join(out) + "\n"
