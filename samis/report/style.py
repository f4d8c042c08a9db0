"""What a metric, a method and a number look like in a report, in one place.

Tables and figures must agree on which way a metric improves, which rows are SAM, which are upper
bounds that may not be ranked against zero-shot methods, and how a dataset is named; keeping those
rules here means a table and the figure beside it never disagree.
"""

from __future__ import annotations

import math
import re

# Canonical column order of the two protocols (docs/ARCHITECTURE.md, "Evaluation outputs").
STEEL_METRICS = ("WF", "SM", "OR", "PFOM", "MAE")
SOD_METRICS = ("MAE", "Sm", "wF", "maxF", "meanF", "adpF", "maxE", "meanE", "adpE", "IoU", "Dice")
KNOWN_METRICS = STEEL_METRICS + tuple(m for m in SOD_METRICS if m not in STEEL_METRICS)

# Identity columns of the results files: never metrics.
ID_COLUMNS = ("method", "dataset", "split", "category", "stem", "n_images")

# Lower is better for these (exact names, case-insensitive), and for any column whose name
# matches LOWER_BETTER_PATTERN (run times, memory, error rates).
_LOWER_BETTER = {"mae", "time_per_image_s", "seconds", "latency_ms", "memory_mb", "params_m"}
LOWER_BETTER_PATTERN = re.compile(r"(^|_)(mae|time|seconds|latency|memory|mem|params|error|err)(_|$)", re.I)

DATASET_NAMES = {"sd900": "SD900", "mt": "MT", "nrsd": "NRSD", "folder": "Folder"}

_SAM_TOKEN = re.compile(r"^(sam\d*|mobilesam|hqsam|efficientsam|fastsam|sam2)$", re.I)
_UNRANKED_PATTERN = re.compile(r"oracle", re.I)


def lower_is_better(metric: str) -> bool:
    """True for error-like columns (MAE, run times); every similarity metric is higher-is-better."""
    name = str(metric)
    return name.lower() in _LOWER_BETTER or bool(LOWER_BETTER_PATTERN.search(name))


def arrow(metric: str, fmt: str) -> str:
    """The direction arrow a reader expects after the metric name."""
    down = lower_is_better(metric)
    if fmt == "latex":
        return r"$\downarrow$" if down else r"$\uparrow$"
    return "↓" if down else "↑"


def is_sam(method: str) -> bool:
    """SAM rows (``SAM-vit_t-box``, ``HQ-SAM``, ``MobileSAM``) are grouped and drawn prominently."""
    tokens = re.split(r"[-_ ./+]", str(method))
    return any(_SAM_TOKEN.match(t) for t in tokens if t)


def is_unranked(method: str, extra: tuple[str, ...] | list[str] = ()) -> bool:
    """Upper bounds (``oracle`` in the name) and methods the user names are shown but never ranked."""
    name = str(method)
    return bool(_UNRANKED_PATTERN.search(name)) or name in set(extra)


def dataset_label(dataset, split=None, category=None) -> str:
    """``SD900-test``, ``MT-full``, ``SD900-test/In``: the name a column group carries."""
    ds = DATASET_NAMES.get(str(dataset).lower(), str(dataset))
    label = ds
    if split is not None and not (isinstance(split, float) and math.isnan(split)) and str(split) != "":
        label = f"{ds}-{split}"
    if category is not None and not (isinstance(category, float) and math.isnan(category)) and str(category) != "":
        label = f"{label}/{category}"
    return label


def format_value(value, decimals: int = 3, drop_leading_zero: bool = False, missing: str = "–") -> str:
    """A number as the paper prints it: ``0.259`` (sod style) or ``.2591`` (steel style).

    Missing values stay visibly missing (``–``), never ``0``, so a method absent on a dataset
    cannot be mistaken for a method that scored zero.
    """
    if value is None:
        return missing
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return missing
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    text = f"{x:.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]  # no "-0.000"
    if drop_leading_zero:
        if text.startswith("0."):
            text = text[1:]
        elif text.startswith("-0."):
            text = "-" + text[2:]
    return text


# Table styles: decimals and leading-zero convention of the two literatures.
STYLES = {
    "sod": {"decimals": 3, "drop_leading_zero": False},
    "steel": {"decimals": 4, "drop_leading_zero": True},
}
