"""What a metric, a method and a number look like in a report, in one place.

Tables and figures must agree on which way a metric improves, which rows are SAM, which read the
ground truth (oracles †, reference rows ‡) and so may not be ranked against zero-shot methods, and
how a dataset is named; keeping those
rules here means a table and the figure beside it never disagree. The metrics themselves (their
names, directions and number style) are the protocols' data (:mod:`samis.protocols`).
"""

from __future__ import annotations

import math
import re

from samis.protocols import LOWER, PROTOCOLS, direction, metric_names
from samis.references import PREFIX as REFERENCE_PREFIX

# Every protocol's metrics: ranked in tables without being asked.
KNOWN_METRICS = metric_names()

# Identity columns of the results files: never metrics.
ID_COLUMNS = ("method", "dataset", "split", "category", "stem", "n_images")
# Per-image bookkeeping of the evaluator (does the image count in the means; its map's foreground share):
# numbers, never metrics of a table.
PER_IMAGE_BOOKKEEPING = ("scored", "fg_area")

# Besides the protocols' own directions, lower is better for these columns (exact names,
# case-insensitive) and for any column whose name matches LOWER_BETTER_PATTERN (run times, memory,
# error rates).
_LOWER_BETTER = {"mae", "fpa", "time_per_image_s", "seconds", "latency_ms", "memory_mb", "params_m"}
LOWER_BETTER_PATTERN = re.compile(r"(^|_)(mae|time|seconds|latency|memory|mem|params|error|err)(_|$)", re.I)

DATASET_NAMES = {"sd900": "SD900", "mt": "MT", "nrsd": "NRSD", "folder": "Folder"}

_SAM_TOKEN = re.compile(r"^(sam\d*|mobilesam|hqsam|efficientsam|fastsam|sam2)$", re.I)
_UNRANKED_PATTERN = re.compile(r"oracle|best[ _]match", re.I)  # automatic policies that read the ground truth


def lower_is_better(metric: str) -> bool:
    """A protocol metric's own direction; for other columns, True when error-like (run times, memory)."""
    name = str(metric)
    known = direction(name)
    if known is not None:
        return known == LOWER
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


def is_reference(method: str) -> bool:
    """Reference rows made from the ground truth (``ref-empty``, ``ref-gt_box``; :mod:`samis.references`)."""
    return str(method).startswith(REFERENCE_PREFIX)


def is_unranked(method: str, extra: tuple[str, ...] | list[str] = ()) -> bool:
    """Methods that use the ground truth (``best_match`` or the old ``oracle`` in the name), reference rows and methods the user
    names are shown but never ranked."""
    name = str(method)
    return bool(_UNRANKED_PATTERN.search(name)) or is_reference(name) or name in set(extra)


def unranked_mark(method: str) -> str:
    """The mark after an unranked row's name: ‡ for a reference row, † for the others."""
    return "‡" if is_reference(method) else "†"


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


# Table styles: each protocol's literature prints its numbers its own way (decimals, leading zero).
STYLES = {name: {"decimals": p.decimals, "drop_leading_zero": not p.leading_zero} for name, p in PROTOCOLS.items()}
