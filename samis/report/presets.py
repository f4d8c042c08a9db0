"""Paper-sized defaults: which metrics a table shows when the definition does not say.

A table with all eleven sod metrics on three datasets does not fit a page; papers of the field
print a handful. The main tables show the set each literature prints (sod: Sm, wF, maxF, maxE, MAE,
IoU; steel: WF, SM, OR, PFOM, MAE; plus ``clean`` and ``FPA`` where a split has defect-free images,
which the evaluator scores apart); a per-category table shows three, a mask-choice table two (IoU,
Dice), a significance table one.
Every metric stays in the results CSVs.
"""

from __future__ import annotations

MAIN_METRICS = {
    "sod": ("Sm", "wF", "maxF", "maxE", "MAE", "IoU"),
    "steel": ("WF", "SM", "OR", "PFOM", "MAE"),
}
# anomaly and seg: their per-image columns are each image's own value (a category's mean of those,
# not the pooled number), so per-category and significance tables show the per-image-meaningful ones
CATEGORY_METRICS = {"sod": ("Sm", "IoU", "MAE"), "steel": ("WF", "SM", "MAE"),
                    "anomaly": ("pixel_AUROC", "AUPRO_0.3"), "seg": ("IoU_per_image_mean",)}
# mask-choice tables: overlap with the ground truth, the quantity the rule changes (docs/report.md)
MASK_CHOICE_METRICS = {"sod": ("IoU", "Dice"), "steel": ("OR", "WF"), "seg": ("IoU_per_image_mean",)}
SIGNIFICANCE_METRICS = {"sod": ("IoU",), "steel": ("WF",), "anomaly": ("pixel_AUROC", "AUPRO_0.3"),
                        "seg": ("IoU_per_image_mean",)}


def default_metrics(kind: str, protocol: str) -> tuple[str, ...]:
    """The metrics a ``kind`` table of ``protocol`` shows by default (a protocol not listed: all its columns)."""
    from samis.protocols import get_protocol

    presets = {"categories": CATEGORY_METRICS, "significance": SIGNIFICANCE_METRICS,
               "mask_choice": MASK_CHOICE_METRICS}.get(kind, MAIN_METRICS)
    return presets.get(protocol, get_protocol(protocol).columns)
