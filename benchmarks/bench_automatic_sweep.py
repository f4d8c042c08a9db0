"""The one-pass threshold sweep against the main-pair-only pass, in one process, and the cache's size.

For each image (embedding computed once beforehand, so both sides time the decoder side only):
- main pair only: the fast generator's ``generate`` at (0.88, 0.95), what the default experiment did before;
- sweep: ``candidates`` at the sweep's lowest thresholds (0.5, 0.8) plus ``final_masks`` for every pair of
  pred_iou_thresh [0.88, 0.7, 0.5] x stability_score_thresh [0.95, 0.8].
Prints seconds per image (wall and this process's CPU) and the candidate cache's bytes per image.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_automatic_sweep.py --data-root ../shared/datasets
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from samis.imageio import read_rgb  # noqa: E402

IOU = (0.88, 0.7, 0.5)
STAB = (0.95, 0.8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--points-per-side", type=int, default=16)  # the default experiment's grid
    ap.add_argument("--sd900", nargs="*", default=["In_1", "Pa_181", "Sc_5", "In_100"])
    ap.add_argument("--mt", nargs="*", default=["MT_Blowhole/Imgs/exp1_num_108719", "MT_Crack/Imgs/exp1_num_249594",
                                                "MT_Free/Imgs/exp0_num_743"])
    args = ap.parse_args()

    from samis.models import load_sam
    from samis.runners.automatic import candidates, final_masks
    from samis.runners.embedding_cache import CachedSamPredictor
    from samis.runners.fast_amg import FastSamAutomaticMaskGenerator

    sam, digest = load_sam("vit_t")
    predictor = CachedSamPredictor(sam, digest, cache_dir=False)
    kw = dict(points_per_side=args.points_per_side)
    main_gen = FastSamAutomaticMaskGenerator(predictor, pred_iou_thresh=IOU[0], stability_score_thresh=STAB[0], **kw)
    sweep_gen = FastSamAutomaticMaskGenerator(predictor, pred_iou_thresh=min(IOU), stability_score_thresh=min(STAB), **kw)
    images = [("SD-900", read_rgb(args.data_root / "SD-saliency-900" / "Source Images" / f"{s}.bmp")) for s in args.sd900]
    images += [("MT", read_rgb(args.data_root / "Magnetic-tile-defect" / f"{s}.jpg")) for s in args.mt]
    rows = []
    for dataset, image in images:
        predictor.set_image(image)  # embedding held in memory: both sides reuse it
        predictor.set_image(image)
        t0, c0 = time.perf_counter(), time.process_time()
        main_gen.generate(image)
        t1, c1 = time.perf_counter(), time.process_time()
        cands = candidates(sweep_gen, image)
        for i in IOU:
            for s in STAB:
                final_masks(cands, i, s, 0.7)
        t2, c2 = time.perf_counter(), time.process_time()
        rows.append((dataset, t1 - t0, c1 - c0, t2 - t1, c2 - c1, len(cands), len(cands.to_bytes()), image.shape[:2]))
        print(f"{dataset} {image.shape[0]}x{image.shape[1]}: main pair {t1 - t0:.2f} s (cpu {c1 - c0:.2f}), "
              f"sweep of {len(IOU) * len(STAB)} pairs {t2 - t1:.2f} s (cpu {c2 - c1:.2f}); "
              f"{len(cands)} candidates, cache {len(cands.to_bytes()) / 1024:.1f} KiB", flush=True)
    for dataset in dict.fromkeys(r[0] for r in rows):
        part = [r for r in rows if r[0] == dataset]
        n = len(part)
        print(f"{dataset} ({n} images, {args.points_per_side}x{args.points_per_side}): main pair "
              f"{sum(r[1] for r in part) / n:.2f} s/img (cpu {sum(r[2] for r in part) / n:.2f}), sweep "
              f"{sum(r[3] for r in part) / n:.2f} s/img (cpu {sum(r[4] for r in part) / n:.2f}), ratio (cpu) "
              f"{sum(r[4] for r in part) / max(sum(r[2] for r in part), 1e-9):.2f}; cache "
              f"{sum(r[6] for r in part) / n / 1024:.1f} KiB/img ({sum(r[5] for r in part) / n:.0f} candidates/img)")


if __name__ == "__main__":
    main()
