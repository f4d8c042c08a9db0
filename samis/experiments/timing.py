"""Run times of a study's SAM methods: written per shard by the SAM step, read by the tables.

    <output>/timing/<label>/<method>.<i>-of-<n>.json       a group's decoder-side seconds and images
    <output>/timing/<label>/<model>-encoder[-<autocast>].<i>-of-<n>.json one encoder pass over the images, timed alone

A method's time per image is its group's time plus the encoder's, so it does not depend on which
group happened to fill the embedding cache.
"""

from __future__ import annotations

import json
from pathlib import Path

from samis.experiments.layout import Layout
from samis.imageio import atomic_write_bytes


def write_timing(folder: Path, name: str, record: dict) -> None:
    atomic_write_bytes(folder / f"{name}.json", (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())


def time_per_image(layout: Layout, label: str, method: str, model: str) -> float | None:
    """Seconds per image of ``method``: its group's decoder-side time plus the encoder's, over all shards."""
    folder = layout.timing_dir(label)
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob(f"{method}.*.json"))] if folder.is_dir() else []
    if not runs:
        return None
    encoder = runs[0].get("encoder_timing", f"{model}-encoder")  # the pass at the method's precision
    enc = [json.loads(p.read_text()) for p in sorted(folder.glob(f"{encoder}.*.json"))]
    images = sum(r["images"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    encoder = sum(e["seconds_per_image"] * e["images"] for e in enc) / max(1, sum(e["images"] for e in enc)) if enc else 0.0
    return seconds / images + encoder
