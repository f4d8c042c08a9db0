"""Paper-sized defaults: which metrics a table shows when the definition does not say.

A table with all eleven sod metrics on three datasets does not fit a page; papers of the field
print a handful. The main tables show the set each literature prints (sod: Sm, wF, maxF, maxE, MAE,
IoU; steel: WF, SM, OR, PFOM, MAE; plus ``clean`` and ``FPA`` where a split has defect-free images,
which the evaluator scores apart); a per-category table shows three, a significance table one.
Every metric stays in the results CSVs.
"""

from __future__ import annotations

MAIN_METRICS = {
    "sod": ("Sm", "wF", "maxF", "maxE", "MAE", "IoU"),
    "steel": ("WF", "SM", "OR", "PFOM", "MAE"),
}
CATEGORY_METRICS = {"sod": ("Sm", "IoU", "MAE"), "steel": ("WF", "SM", "MAE")}
SIGNIFICANCE_METRICS = {"sod": ("IoU",), "steel": ("WF",)}


def default_metrics(kind: str, protocol: str) -> tuple[str, ...]:
    """The metrics a ``kind`` table of ``protocol`` shows by default."""
    if kind == "categories":
        return CATEGORY_METRICS[protocol]
    if kind == "significance":
        return SIGNIFICANCE_METRICS[protocol]
    return MAIN_METRICS[protocol]
