"""Benchmark: samis evaluate (both protocols) against the plain sequential pysodmetrics loop (sod only).

The reference is what a user writes today: for each method, for each image, read map and ground
truth and ``step()`` pysodmetrics' MAE, Smeasure, WeightedFmeasure, Emeasure and FmeasureV2 (F, P, R
curves, adaptive F, binary IoU/Dice). samis scores the same maps with BOTH protocols (sod + steel).
Both run in this one process run, one after the other; the numbers must agree (max |diff| <= 1e-10,
curves included) and the script prints ms/map of each side and the speed-up.

    python benchmarks/bench_evaluate.py                 # all 13 methods, SD-saliency-900 (~11,000 maps)
    python benchmarks/bench_evaluate.py --limit 90      # first 90 images of each method (quick)

CPU time (this process + its workers) is printed beside wall time: on a shared machine wall time
depends on the neighbours, CPU time much less.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAMIS_SHARED", REPO.parent / "shared"))


class Subset:
    """Some samples of a dataset under its name and split (the first ``limit``, or a block of them)."""

    def __init__(self, dataset, limit=0, samples=None):
        self.name, self.split, self.root = dataset.name, dataset.split, dataset.root
        self._samples = samples if samples is not None else (
            dataset.samples()[:limit] if limit else dataset.samples())

    def samples(self):
        return list(self._samples)


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def reference(samples, pred_root, methods):
    """Plain sequential pysodmetrics loop over methods and images; returns summaries and mean curves.

    Files are read as PySODEvalToolkit reads them: ``cv2.imread(..., IMREAD_GRAYSCALE)``, the map
    resized to the ground truth with ``INTER_LINEAR`` when the sizes differ.
    """
    import cv2
    import py_sod_metrics as M

    from samis.predictions import index_method

    results = {}
    for method in methods:
        paths = index_method(pred_root, method, [s.stem for s in samples]).paths
        if len(paths) != len(samples):
            continue
        mae, sm, wfm, em = M.MAE(), M.Smeasure(), M.WeightedFmeasure(), M.Emeasure()
        fmv2 = M.FmeasureV2({
            "fm": M.FmeasureHandler(with_dynamic=True, with_adaptive=True, beta=0.3),
            "p": M.PrecisionHandler(with_dynamic=True, with_adaptive=False),
            "r": M.RecallHandler(with_dynamic=True, with_adaptive=False),
            "iou": M.IOUHandler(with_dynamic=False, with_adaptive=False, with_binary=True),
            "dice": M.DICEHandler(with_dynamic=False, with_adaptive=False, with_binary=True),
        })
        for s in samples:
            gt = cv2.imread(str(s.mask_path), cv2.IMREAD_GRAYSCALE)
            pred = cv2.imread(str(paths[s.stem]), cv2.IMREAD_GRAYSCALE)
            if pred.shape != gt.shape:
                pred = cv2.resize(pred, dsize=gt.shape[::-1], interpolation=cv2.INTER_LINEAR)
            for m in (mae, sm, wfm, em, fmv2):
                m.step(pred, gt)
        f = fmv2.get_results()
        e = em.get_results()["em"]
        results[method] = {
            "MAE": mae.get_results()["mae"], "Sm": sm.get_results()["sm"], "wF": wfm.get_results()["wfm"],
            "maxF": f["fm"]["dynamic"].max(), "meanF": f["fm"]["dynamic"].mean(), "adpF": f["fm"]["adaptive"],
            "maxE": e["curve"].max(), "meanE": e["curve"].mean(), "adpE": e["adp"],
            "IoU": f["iou"]["binary"], "Dice": f["dice"]["binary"],
            "curves": {"precision": f["p"]["dynamic"], "recall": f["r"]["dynamic"],
                       "fmeasure": f["fm"]["dynamic"], "emeasure": e["curve"]},
        }
    return results


def groups(args):
    """(dataset, methods) pairs: each method on the full split, or on the test split if it only covers
    that (CSEPNet, a trained model, has maps for the 360 test images): all 13 stored methods, 11,160 maps."""
    from samis.datasets import get_dataset
    from samis.predictions import index_method, list_methods

    methods = args.methods.split(",") if args.methods else list_methods(args.predictions)
    out = []
    for split in ("full", "test"):
        dataset = Subset(get_dataset("sd900", root=args.data_root, split=split), args.limit)
        stems = [s.stem for s in get_dataset("sd900", root=args.data_root, split=split).samples()]
        covering = [m for m in methods if not index_method(args.predictions, m, stems).missing]
        if covering:
            out.append((dataset, covering))
        methods = [m for m in methods if m not in covering]
    if methods:
        print(f"skipped (maps cover neither split): {', '.join(methods)}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="first N images of each split (0: all)")
    parser.add_argument("--methods", default="", help="comma-separated subset of methods (default: all)")
    parser.add_argument("--jobs", type=int, default=None, help="samis worker processes (default: all cores)")
    parser.add_argument("--block", type=int, default=180,
                        help="images per block; blocks alternate which side runs first (default 180)")
    parser.add_argument("--data-root", default=str(SHARED / "datasets"))
    parser.add_argument("--predictions", default=str(SHARED / "baselines" / "SD-saliency-900"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="This class will be removed")

    from samis.evaluation import evaluate

    plan = groups(args)
    n_maps = sum(len(ds.samples()) * len(methods) for ds, methods in plan)
    print(f"{n_maps} maps: " + "; ".join(f"{ds.split} ({len(ds.samples())} images): {', '.join(m)}"
                                         for ds, m in plan))
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}", flush=True)
    # Neighbours on a shared machine come and go: run both sides block by block, alternating which goes
    # first, so a busy minute hurts both alike instead of whichever side happened to run then.
    blocks = []
    for ds, methods in plan:
        samples = ds.samples()
        for start in range(0, len(samples), args.block):
            blocks.append((Subset(ds, samples=samples[start : start + args.block]), methods))

    wall = {"ref": 0.0, "samis": 0.0}
    cpu = {"ref": 0.0, "samis": 0.0}
    worst = 0.0
    steel_rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (ds, methods) in enumerate(blocks):
            out = Path(tmp) / f"bench{i}.csv"
            order = ("ref", "samis") if i % 2 == 0 else ("samis", "ref")
            for side in order:
                w, c = time.perf_counter(), cpu_seconds()
                if side == "ref":
                    ref = reference(ds.samples(), args.predictions, methods)
                else:
                    tables = evaluate(ds, args.predictions, "both", methods=methods, jobs=args.jobs, out=out,
                                      progress=False)
                wall[side] += time.perf_counter() - w
                cpu[side] += cpu_seconds() - c
            curves = dict(np.load(Path(tmp) / f"bench{i}.sod.curves.npz"))
            sod = tables["sod"].set_index("method")
            for method, values in ref.items():
                for col in ("MAE", "Sm", "wF", "maxF", "meanF", "adpF", "maxE", "meanE", "adpE", "IoU", "Dice"):
                    worst = max(worst, abs(float(values[col]) - float(sod.loc[method, col])))
                for name, ref_curve in values["curves"].items():
                    worst = max(worst, float(np.max(np.abs(np.flip(ref_curve) - curves[f"{method}::{name}"]))))
            steel = tables["steel"]
            for _, row in steel.iterrows():  # block means -> split means, weighted by block size
                acc = steel_rows.setdefault((row["split"], row["method"]), {"n": 0})
                acc["n"] += row["n_images"]
                for col in ("WF", "SM", "OR", "PFOM", "MAE"):
                    acc[col] = acc.get(col, 0.0) + row[col] * row["n_images"]
            print(f"block {i + 1}/{len(blocks)} done, load average {os.getloadavg()[0]:.1f}", flush=True)

    print("steel protocol (mean over the blocks' images; PFOM approximately, as it skips edge-less images):")
    print(f"  {'split':5s} {'method':8s} {'n':>4s} " + " ".join(f"{c:>6s}" for c in ("WF", "SM", "OR", "PFOM", "MAE")))
    for (split, method), acc in steel_rows.items():
        print(f"  {split:5s} {method:8s} {acc['n']:4d} "
              + " ".join(f"{acc[c] / acc['n']:6.4f}" for c in ("WF", "SM", "OR", "PFOM", "MAE")))
    print(f"max |samis - pysodmetrics| (11 sod metrics + 4 curves, every method and block): {worst:.3g}")

    ref_ms, sam_ms = wall["ref"] / n_maps * 1e3, wall["samis"] / n_maps * 1e3
    ref_cpu, sam_cpu = cpu["ref"] / n_maps * 1e3, cpu["samis"] / n_maps * 1e3
    print(f"pysodmetrics loop (sod only):  {ref_ms:6.2f} ms/map wall, {ref_cpu:6.2f} ms/map CPU")
    print(f"samis evaluate (sod + steel):  {sam_ms:6.2f} ms/map wall, {sam_cpu:6.2f} ms/map CPU "
          f"(jobs={args.jobs or os.cpu_count()})")
    print(f"speed-up: {ref_ms / sam_ms:.2f}x wall, {ref_cpu / sam_cpu:.2f}x CPU "
          f"(load average now {os.getloadavg()[0]:.1f})")
    if worst > 1e-10:
        print("FAIL: samis and pysodmetrics disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
