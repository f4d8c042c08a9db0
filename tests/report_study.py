"""A study shaped like experiments/default.yaml (13 stored baselines, 7 SAM methods, SD-900 test/full and
MT, both protocols, its tables and display names) with generated results files in the evaluator's formats.

Rendering the default report's tables needs only the results files; the numbers here are drawn at
random (a quality per method, noise per image), the shape (methods, units, categories, names) is the
real one, which is what decides whether a table fits a page.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pandas as pd

from samis.experiments import load_definition
from samis.experiments.layout import Layout

REPO = Path(__file__).resolve().parents[1]
CATEGORIES = {"sd900": ["In", "Pa", "Sc"], "mt": ["Blowhole", "Break", "Crack", "Fray", "Uneven"], "bsdata": ["Pitting"]}
STEEL = ("WF", "SM", "OR", "PFOM", "MAE")
SOD_SCALAR = ("MAE", "Sm", "wF", "adpF", "adpE", "IoU", "Dice")
SCALARS = {"steel": STEEL, "seg": ("IoU_defect_pooled", "mIoU_pooled", "IoU_per_image_mean"),
           "anomaly": ("pixel_AUROC", "AUPRO_0.3", "pixel_F1max", "image_AUROC")}


def default_shaped_study(tmp_path: Path, images: dict | None = None, seed: int = 0):
    """The default definition writing into ``tmp_path``, with generated results for every unit and source."""
    d = load_definition(REPO / "experiments" / "default.yaml", check_paths=False)
    d = dataclasses.replace(d, output=tmp_path / "out", predictions=tmp_path / "preds")
    layout = Layout(d)
    images = images or {"test": 36, "full": 60, "defective": 40}
    rng = np.random.default_rng(seed)
    for spec, split in d.units():
        n = images[split]
        cats = CATEGORIES[spec.name]
        stems = [f"{cats[i % len(cats)]}_{i}" for i in range(n)]
        for source in layout.sources(spec, split):
            methods = list(source.methods)
            if not methods:
                continue
            for protocol in spec.protocols:
                files = layout.results_files(spec, split, source.name, protocol)
                _write_unit(files, spec.name, split, stems, methods, protocol, rng)
        _write_automatic_records(d, layout, spec, stems, rng)
    return d


def _write_automatic_records(d, layout, spec, stems, rng):
    """Per-image records of the automatic methods (samis.runners.automatic_records), random but well-formed."""
    from samis.runners.automatic_records import write_record

    for cfg in (c for c in d.modes if c.mode == "automatic"):
        folder = layout.sam_root(spec.label) / cfg.method_name(d.models[0].name)
        for stem in stems:
            n = int(rng.integers(0, 4))
            pairs = [{"pred_iou_thresh": i, "stability_score_thresh": s, "masks": int(rng.integers(0, 5)),
                      "masks_foreground": int(rng.integers(0, 3)), "best_iou": [round(float(v), 6) for v in rng.uniform(0, 1, n)]}
                     for i, s in cfg.pairs]
            write_record(folder, {"stem": stem, "category": stem.split("_")[0], "component_areas": [50] * n, "pairs": pairs})


def _write_unit(files, dataset, split, stems, methods, protocol, rng):
    n = len(stems)
    rows, summary, curves = [], [], {"stems": np.array(stems)}
    for method in methods:
        q = rng.uniform(0.15, 0.9)
        vals = {}
        for m in SCALARS.get(protocol, SOD_SCALAR):
            x = np.clip(q + rng.normal(0, 0.15, n), 0, 1)
            vals[m] = 1 - x if m == "MAE" else x
        if protocol == "sod":
            t = np.linspace(0, 1, 256)
            bump = np.exp(-((t - rng.uniform(0.2, 0.8)) ** 2) / 0.05)
            f = np.clip(q * bump[None, :] * rng.uniform(0.7, 1.1, (n, 1)), 0, 1).astype(np.float32)  # smooth, as real curves
            e = np.clip(f + 0.1, 0, 1).astype(np.float32)
            curves[f"{method}::fmeasure"], curves[f"{method}::emeasure"] = f, e
            vals.update(maxF=f.max(axis=1), meanF=f.mean(axis=1), maxE=e.max(axis=1), meanE=e.mean(axis=1))
        for i, stem in enumerate(stems):
            rows.append({"method": method, "dataset": dataset, "split": split, "stem": stem,
                         "category": stem.split("_")[0], **{k: float(v[i]) for k, v in vals.items()}})
        agg = {k: float(np.mean(v)) for k, v in vals.items()}
        if protocol == "sod":
            fm, em = curves[f"{method}::fmeasure"].mean(axis=0), curves[f"{method}::emeasure"].mean(axis=0)
            agg.update(maxF=float(fm.max()), meanF=float(fm.mean()), maxE=float(em.max()), meanE=float(em.mean()))
        summary.append({"method": method, "dataset": dataset, "split": split, "n_images": n, **agg})
    files["summary"].parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(summary).to_csv(files["summary"], index=False)
    pd.DataFrame(rows).to_csv(files["per_image"], index=False)
    if protocol == "sod":
        buf = io.BytesIO()
        np.savez_compressed(buf, **curves)
        files["image_curves"].write_bytes(buf.getvalue())
