"""Is a difference between two methods more than chance? Paired tests over the images both scored.

For each pair (a SAM method against a baseline, a reference row or another SAM method) and metric:
the mean per-image difference with its paired 95% bootstrap CI (samis.report.bootstrap), and the
Wilcoxon signed-rank test (scipy.stats.wilcoxon) of the differences. A table makes many tests at
once, so the p-values are Holm-corrected across the table (the family-wise error stays at 5%).
Curve metrics (maxF, maxE) are compared by each image's own value.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from samis.report.bootstrap import LEVEL, N_RESAMPLES, bootstrap_ci, weighted_means
from samis.report.style import is_sam

ALPHA = 0.05
UNIT_KEYS = ("dataset", "split")


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN and is not counted."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    running = 0.0
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def default_pairs(methods: list[str], against=None) -> list[tuple[str, str]]:
    """Each SAM method against every other method (``against``: only those), each pair once; a table
    without SAM methods compares every pair of its methods."""
    sams = [m for m in methods if is_sam(m)] or list(methods)
    others = [m for m in methods if m not in sams] if against is None else [m for m in against if m in methods]
    pairs = [(s, o) for s in sams for o in others if s != o]
    if against is None:
        pairs += list(itertools.combinations(sams, 2))
    seen, out = set(), []
    for a, b in pairs:
        if frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            out.append((a, b))
    return out


def _wilcoxon(d: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    if d.size == 0:
        return np.nan, np.nan
    if not np.any(d != 0):
        return 0.0, 1.0  # identical on every image: no evidence of a difference
    res = stats.wilcoxon(d, zero_method="wilcox")
    return float(res.statistic), float(res.pvalue)


def paired_tests(per_image: pd.DataFrame, metrics, pairs_of=default_pairs, seed: int = 0,
                 n_resamples: int = N_RESAMPLES, level: float = LEVEL) -> pd.DataFrame:
    """One row per (dataset, split, method, against, metric): ``n, mean_diff, diff_lo, diff_hi, statistic,
    p, p_holm, significant``; ``pairs_of(methods)`` gives each unit's pairs (difference = method - against)."""
    rows = []
    for (dataset, split), unit in per_image.groupby(list(UNIT_KEYS), sort=False):
        methods = list(dict.fromkeys(unit["method"]))
        pairs = pairs_of(methods)
        if not pairs:
            continue
        for metric in metrics:
            if metric not in unit.columns:
                continue
            wide = unit.pivot_table(index="stem", columns="method", values=metric, aggfunc="first", dropna=False)
            wide = wide.reindex(list(dict.fromkeys(unit["stem"])))  # dataset order, as the evaluator wrote it
            diffs = np.stack([wide[a].to_numpy(float) - wide[b].to_numpy(float) if a in wide and b in wide
                              else np.full(len(wide), np.nan) for a, b in pairs], axis=1)
            ci = bootstrap_ci(len(wide), lambda w: weighted_means(w, diffs), seed, n_resamples, level)
            for j, (a, b) in enumerate(pairs):
                d = diffs[:, j][np.isfinite(diffs[:, j])]
                stat, p = _wilcoxon(d)
                rows.append({"dataset": dataset, "split": split, "method": a, "against": b, "metric": metric,
                             "n": int(d.size), "mean_diff": float(d.mean()) if d.size else np.nan,
                             "diff_lo": float(ci[0][j]) if ci else np.nan, "diff_hi": float(ci[1][j]) if ci else np.nan,
                             "statistic": stat, "p": p})
    frame = pd.DataFrame(rows, columns=["dataset", "split", "method", "against", "metric", "n", "mean_diff",
                                        "diff_lo", "diff_hi", "statistic", "p"])
    frame["p_holm"] = holm(frame["p"].to_numpy()) if len(frame) else []
    frame["significant"] = frame["p_holm"] < ALPHA
    return frame


def marks_against_best(per_image: pd.DataFrame, metrics, seed: int = 0) -> dict:
    """(method, (dataset, split), metric) -> ``*`` for each SAM cell that differs from the best ranked
    non-SAM method of its column; Holm across every such test of the table."""
    from samis.report.style import is_unranked, lower_is_better

    tests = []
    for metric in [m for m in metrics if m in per_image.columns]:
        means = per_image.groupby(list(UNIT_KEYS) + ["method"], sort=False)[metric].mean()
        for (ds, sp), unit_means in means.groupby(level=[0, 1], sort=False):
            refs = {m: v for (_, _, m), v in unit_means.items() if not is_sam(m) and not is_unranked(m) and np.isfinite(v)}
            if not refs:
                continue
            best = (min if lower_is_better(metric) else max)(refs, key=refs.get)
            part = per_image[(per_image["dataset"] == ds) & (per_image["split"] == sp)]
            found = paired_tests(part, [metric], lambda ms: [(m, best) for m in ms if is_sam(m)], seed=seed)
            tests += [((row.method, (ds, sp), metric), row.p) for row in found.itertuples()]
    adjusted = holm([p for _, p in tests])
    return {key: "*" for (key, _), a in zip(tests, adjusted) if a < ALPHA}


def _signed(x: float, decimals: int = 3) -> str:
    return "–" if not np.isfinite(x) else f"{x:+.{decimals}f}".replace("0.", ".", 1)


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "–"
    return "<.001" if p < 0.001 else f"{p:.3f}".lstrip("0")


def render_significance(tests: pd.DataFrame, fmt: str, caption: str | None = None, label: str | None = None,
                        style: str = "sod", display_names: dict | None = None, placement: str = "auto") -> str:
    """The paired comparisons as CSV (every number), Markdown or LaTeX (one float per dataset, a block
    of rows per method: the method it is compared with, images, mean difference, 95% CI, Holm p)."""
    from samis.report.names import display_name
    from samis.report.style import dataset_label

    if fmt == "csv":
        return tests.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    metrics = list(dict.fromkeys(tests["metric"]))
    note = ("Difference = method − compared method, mean over the images both scored, with its paired 95% bootstrap CI; "
            "p: Wilcoxon signed-rank, Holm-corrected across the table; * p < .05.")
    parts = []
    for (ds, sp), unit in tests.groupby(list(UNIT_KEYS), sort=False):
        blocks = []
        for method, rows in unit.groupby("method", sort=False):
            lines = []
            for against, r in rows.groupby("against", sort=False):
                cells = [display_name(against, display_names), str(int(r["n"].max()))]
                for m in metrics:
                    x = r[r["metric"] == m]
                    if x.empty:
                        cells += ["–", "–", "–"]
                        continue
                    x = x.iloc[0]
                    cells += [_signed(x.mean_diff), f"[{_signed(x.diff_lo)}, {_signed(x.diff_hi)}]",
                              _p_text(x.p_holm) + ("*" if x.significant else "")]
                lines.append(cells)
            blocks.append((display_name(method, display_names), lines))
        title = f"{caption.rstrip('.')}: {dataset_label(ds, sp)}." if caption else f"Paired comparisons on {dataset_label(ds, sp)}."
        parts.append(_sig_md(title, metrics, blocks, note) if fmt == "md" else _sig_latex(title, label, len(parts), metrics, blocks, note, placement))
    return "\n".join(parts)


def _sig_head(metrics) -> list[str]:
    head = ["against", "n"]
    for m in metrics:
        head += [f"Δ{m}", "95% CI", "p"]
    return head


def _sig_md(title, metrics, blocks, note) -> str:
    out = [f"Table: {title}", "", "| Method | " + " | ".join(_sig_head(metrics)) + " |",
           "|:--|:--|" + "--:|" * (1 + 3 * len(metrics))]
    for name, lines in blocks:
        for j, cells in enumerate(lines):
            out.append("| " + " | ".join([name if j == 0 else ""] + cells) + " |")
    return "\n".join(out + ["", note]) + "\n"


def _sig_latex(title, label, index, metrics, blocks, note, placement) -> str:
    from samis.report.latex_fit import COLUMN_PT, tabular_width
    from samis.report.table_markup import latex_text, latex_escape

    head = _sig_head(metrics)
    columns = [[h] + [c[k] for _, lines in blocks for c in lines] for k, h in enumerate(head)]
    env = placement if placement in ("table", "table*") else ("table" if tabular_width(columns) <= COLUMN_PT else "table*")
    width = len(head)
    out = ["% samis table: needs \\usepackage{booktabs}", rf"\begin{{{env}}}[tbp]", r"\centering",
           rf"\caption{{{latex_escape(title)}}}"]
    if label:
        out.append(rf"\label{{{label}{'' if index == 0 else f'-{index + 1}'}}}")
    out += [r"{\footnotesize\setlength{\tabcolsep}{4pt}%", rf"\begin{{tabular}}{{ll{'c' * (width - 2)}}}", r"\toprule",
            " & ".join(latex_text(h) if not h.startswith("Δ") else rf"$\Delta${latex_escape(h[1:])}" for h in head) + r" \\"]
    for name, lines in blocks:
        out += [r"\midrule", rf"\multicolumn{{{width}}}{{l}}{{\textit{{{latex_escape(name)} vs.}}}} \\"]
        for cells in lines:
            # numbers get a true minus sign (a hyphen in text mode is too short to read as one)
            out.append(" & ".join(latex_text(c.replace("-", "−") if k >= 2 else c) for k, c in enumerate(cells)) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\par}", rf"\smallskip{{\footnotesize {latex_text(note)}\par}}", rf"\end{{{env}}}"]
    return "\n".join(out) + "\n"
