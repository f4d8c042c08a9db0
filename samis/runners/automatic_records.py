"""Per-image records of the automatic mode: what each threshold pair kept and how well it covered each defect.

Written by the run beside the maps (``<method>/records/<stem>.json``, one small file per image, written
atomically before the image's map), so the report never regenerates masks, and a crashed or
interrupted run resumed gives the same files byte for byte. ``read_records`` consolidates them,
sorted by stem. A record holds, for each ``(pred_iou_thresh, stability_score_thresh)`` pair (the main
pair first): the masks kept (all, and those not larger than ``background_frac`` of the image) and,
for each 8-connected ground-truth component, the highest IoU any kept mask has with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from samis.imageio import atomic_write_bytes

RECORDS_DIR = "records"
DIGITS = 6  # IoUs are rounded so the files are short and stable


def image_record(stem: str, category: str | None, gt: np.ndarray, pair_masks: list, background_frac: float) -> dict:
    """The record of one image from ``[((iou_thresh, stab_thresh), MaskSet), ...]`` (main pair first)."""
    from samis.runners.automatic import best_matches, foreground

    pairs, areas = [], []
    for (iou_t, stab_t), ms in pair_masks:
        _, best, areas = best_matches(ms, gt)
        pairs.append({"pred_iou_thresh": float(iou_t), "stability_score_thresh": float(stab_t),
                      "masks": int(len(ms.masks)), "masks_foreground": int(len(foreground(ms, background_frac))),
                      "best_iou": [round(float(v), DIGITS) for v in best]})
    return {"stem": stem, "category": category, "component_areas": [int(a) for a in areas], "pairs": pairs}


def record_dir(method_folder: Path) -> Path:
    return Path(method_folder) / RECORDS_DIR


def write_record(method_folder: Path, record: dict) -> None:
    text = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    atomic_write_bytes(record_dir(method_folder) / f"{record['stem']}.json", text.encode())


def recorded_stems(method_folder: Path) -> set[str]:
    folder = record_dir(method_folder)
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.iterdir() if p.suffix == ".json" and not p.name.startswith(".")}


def read_records(method_folder: Path) -> list[dict]:
    """Every record of a method folder, sorted by stem."""
    folder = record_dir(method_folder)
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths if not p.name.startswith(".")]
