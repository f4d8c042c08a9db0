"""Corrective clicks: seconds per click (one batched decoder call for every defect of an image) against
one encoder pass, both measured in this process on the same images.

For every image the encoder runs once without the cache (timed), then a box-start click sequence of
``--clicks`` clicks runs on that embedding (timed); the decoder calls are counted, so the script prints
seconds per click, seconds per encoder pass and their ratio, in wall-clock and in process CPU time
(the CPU time is what to quote on a shared machine).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_clicks.py     # every 60th SD-900 test image (6)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("SAMIS_SHARED", REPO.parent / "shared"))


class Counting:
    """The backend with its decoder calls counted."""

    def __init__(self, backend):
        self.backend, self.calls = backend, 0

    def decode_low_res(self, *args, **kwargs):
        self.calls += 1
        return self.backend.decode_low_res(*args, **kwargs)


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--every", type=int, default=60, help="every n-th image of the SD-900 test split")
    ap.add_argument("--clicks", type=int, default=10, help="max_clicks of the sequence")
    ap.add_argument("--start", default="box", choices=("box", "point"))
    args = ap.parse_args(argv)

    from samis.backends import get_backend
    from samis.datasets import get_dataset
    from samis.runners.clicks import click_sequence
    from samis.runners.config import normalize
    from samis.runners.engine import get_model

    sam, digest = get_model("vit_t", device="cpu")
    backend = Counting(get_backend("vit_t"))
    predictor = backend.backend.predictor(sam, digest, cache_dir=False)  # every set_image runs the encoder
    cfg = normalize({"mode": "clicks", "start": args.start, "max_clicks": args.clicks})
    samples = get_dataset("sd900", root=SHARED / "datasets", split="test").samples()[::args.every]
    enc, dec = [0.0, 0.0], [0.0, 0.0]
    defects = 0
    for s in samples:
        image, gt = s.load()
        w0, c0 = clocks()
        predictor.set_image(image)
        w1, c1 = clocks()
        seq = click_sequence(backend, predictor, gt, cfg, s.stem)
        w2, c2 = clocks()
        enc[0] += w1 - w0
        enc[1] += c1 - c0
        dec[0] += w2 - w1
        dec[1] += c2 - c1
        defects += len(seq.comps) if seq is not None else 0
    n, calls = len(samples), backend.calls
    print(f"{n} SD-900 test images, {defects} defects, start {args.start}, up to {args.clicks} clicks: "
          f"{calls} decoder calls (one per click, every unfinished defect of the image in one batch)")
    for i, clock in enumerate(("wall", "cpu")):
        per_click, per_encode = dec[i] / calls, enc[i] / n
        print(f"{clock}: {per_click * 1000:.1f} ms per click, {per_encode * 1000:.0f} ms per encoder pass, "
              f"ratio click/encoder {per_click / per_encode:.3f}; a {args.clicks}-click sequence costs "
              f"{dec[i] / n:.2f} s per image")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
