"""What the click CSVs say: mIoU after k clicks, NoC and NoF, and the annotation cost.

The interactive-segmentation literature's numbers (RITM, SAM's paper), read from the CSVs that
``mode: clicks`` and ``mode: annotate`` write beside their maps (``samis.runners.clicks``):

- ``mIoU@k``: mean IoU after k clicks (click 1 is the start prompt: the box or the first point);
- ``NoC@85``, ``NoC@90``: mean number of clicks until the IoU first reaches 85% / 90%, counted as
  ``max_clicks`` when it never does;
- ``NoF@90``: how many never reach 90% within ``max_clicks`` (failures).

Each is given per defect (``level`` component: one ground-truth component, scored on its own pixels
and the background's) and per image (``level`` image: the merged masks against the whole ground truth;
there a "click" is one round, in which every defect still below ``stop_iou`` got one click).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

NOC_LEVELS = (0.85, 0.90)
NOF_LEVEL = 0.90
ALL = "all"  # the category of a dataset's summary row


def noc(ious: np.ndarray, level: float) -> np.ndarray:
    """Per row of an (items x max_clicks) IoU array: the first click count reaching ``level``, else max_clicks."""
    ious = np.atleast_2d(np.asarray(ious, dtype=float))
    reached = ious >= level
    return np.where(reached.any(1), reached.argmax(1) + 1, ious.shape[1])


def failures(ious: np.ndarray, level: float = NOF_LEVEL) -> int:
    """How many rows never reach ``level``."""
    return int((~(np.atleast_2d(np.asarray(ious, dtype=float)) >= level).any(1)).sum())


def read_clicks(path: str | Path) -> pd.DataFrame:
    """A ``.clicks.csv`` with typed columns (stems and categories as text)."""
    return pd.read_csv(path, dtype={"stem": str, "category": str}, keep_default_na=False)


def trajectories(frame: pd.DataFrame, level: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(one row per item with stem and category, items x max_clicks IoU) of one level of a clicks frame."""
    part = frame[frame["level"] == level]
    wide = part.pivot_table(index=["stem", "category", "component"], columns="click", values="iou", aggfunc="first")
    wide = wide.reindex(sorted(wide.columns), axis=1)
    return wide.index.to_frame(index=False), wide.to_numpy(dtype=float)


def click_metrics(ious: np.ndarray) -> dict:
    """mIoU@k for every k, NoC@85, NoC@90 and NoF@90 of an (items x max_clicks) IoU array."""
    out = {"n": len(ious)}
    out.update({f"mIoU@{k + 1}": float(ious[:, k].mean()) for k in range(ious.shape[1])})
    for level in NOC_LEVELS:
        out[f"NoC@{round(level * 100)}"] = float(noc(ious, level).mean())
    out[f"NoF@{round(NOF_LEVEL * 100)}"] = failures(ious, NOF_LEVEL)
    return out


def clicks_summary(frame: pd.DataFrame, stems=None) -> pd.DataFrame:
    """Rows (level, category, n, metrics...) for every category and for all images together; ``stems``
    restricts to a split's images."""
    if stems is not None:
        frame = frame[frame["stem"].isin(set(stems))]
    rows = []
    for level in ("component", "image"):
        items, ious = trajectories(frame, level)
        if not len(items):
            continue
        groups = [(ALL, np.ones(len(items), dtype=bool))]
        groups += [(c, (items["category"] == c).to_numpy()) for c in dict.fromkeys(items["category"])]
        for category, keep in groups:
            rows.append({"level": level, "category": category, **click_metrics(ious[keep])})
    return pd.DataFrame(rows)


def read_annotations(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"stem": str, "category": str}, keep_default_na=False)


def annotation_summary(frame: pd.DataFrame, stems=None) -> pd.DataFrame:
    """Per category and for all: corrective clicks per defect and per image, the share of defects
    accepted with no corrective click, the share reaching the target, mean IoU before and after the smoothing."""
    if stems is not None:
        frame = frame[frame["stem"].isin(set(stems))]
    comps, images = frame[frame["level"] == "component"], frame[frame["level"] == "image"]
    rows = []
    for category in [ALL, *dict.fromkeys(comps["category"])]:
        c = comps if category == ALL else comps[comps["category"] == category]
        i = images if category == ALL else images[images["category"] == category]
        if not len(c):
            continue
        clicks = c["corrective_clicks"].astype(int)
        rows.append({
            "category": category, "defects": len(c), "images": len(i),
            "clicks/defect": float(clicks.mean()), "clicks/image": float(i["corrective_clicks"].astype(int).mean()),
            "no click": float((clicks == 0).mean()), "reached": float(c["reached_target"].astype(int).mean()),
            "defect IoU before": float(c["iou_before"].astype(float).mean()),
            "defect IoU after": float(c["iou_after"].astype(float).mean()),
            "image IoU before": float(i["iou_before"].astype(float).mean()),
            "image IoU after": float(i["iou_after"].astype(float).mean()),
        })
    return pd.DataFrame(rows)
