"""Prompted modes: samis' fast decoder against SamPredictor, side by side on the same cached embeddings.

For every image the embedding is set once (cache), then each prompted configuration is decoded by
both paths; the script prints the time of each, the ratio, and how far the maps are apart (largest
grey-level difference, pixels that differ, pixels whose binary mask differs).

    .venv/bin/python benchmarks/bench_prompted_decoder.py            # every 60th SD-900 test image (6)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("SAMIS_SHARED", REPO.parent / "shared"))
CONFIGS = ({"mode": "box"}, {"mode": "point", "n_points": 1}, {"mode": "point", "n_points": 5},
           {"mode": "box+point", "n_negative": 2}, {"mode": "point", "multimask": "largest"})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--every", type=int, default=60, help="every n-th image of the SD-900 test split")
    args = ap.parse_args(argv)

    from samis.backends import get_backend
    from samis.datasets import get_dataset
    from samis.runners.config import normalize
    from samis.runners.engine import get_model
    from samis.runners.prompted import prompted_map

    sam, digest = get_model("vit_t", device="cpu")
    backend = get_backend("vit_t")
    predictor = backend.predictor(sam, digest)
    samples = get_dataset("sd900", root=SHARED / "datasets", split="test").samples()[::args.every]
    seconds = {"stock": 0.0, "fast": 0.0}
    worst = differ = flips = 0
    for s in samples:
        image, gt = s.load()
        predictor.set_image(image)
        for cfg in CONFIGS:
            maps = {}
            for decoder in ("stock", "fast"):
                c = normalize({**cfg, "decoder": decoder})
                t0 = time.perf_counter()
                maps[decoder], _ = prompted_map(backend, predictor, gt, c, s.stem)
                seconds[decoder] += time.perf_counter() - t0
            diff = np.abs(maps["fast"].astype(int) - maps["stock"].astype(int))
            worst, differ = max(worst, int(diff.max())), differ + int((diff > 0).sum())
            flips += int(((maps["fast"] > 127) != (maps["stock"] > 127)).sum())
    n = len(samples) * len(CONFIGS)
    print(f"{len(samples)} images x {len(CONFIGS)} prompted configurations ({n} decodes per side)")
    print(f"stock SamPredictor {seconds['stock']:.2f} s, fast decoder {seconds['fast']:.2f} s, "
          f"ratio {seconds['stock'] / seconds['fast']:.2f}")
    print(f"maps: largest difference {worst} grey level(s), {differ} pixels differ, {flips} binary-mask pixels differ")
    return 0 if worst <= 1 and flips == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
