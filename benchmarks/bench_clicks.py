"""Corrective clicks: seconds per click (one batched decoder call for every defect of an image) through
the fast decoder and through ``SamPredictor.predict_torch`` (``decoder: stock``), against one encoder
pass, all measured in this process on the same images.

For every image the encoder runs once without the cache (timed); then the same click sequence
(``--clicks`` clicks from a box or a point, the previous logits fed back as mask input) runs through
both decoders on that embedding, in alternating order (timed), and the two sequences are compared
(the same clicks, IoU after every click within 1e-3). The script prints, per decoder, seconds per
click and per sequence, the ratio of a click to an encoder pass, and the speed-up of the fast decoder,
in wall-clock and in process CPU time (the CPU time is what to quote on a shared machine).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_clicks.py     # every 60th SD-900 test image (6)
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
DECODERS = ("fast", "stock")


class Counting:
    """The backend with its decoder calls counted."""

    def __init__(self, backend):
        self.backend, self.calls = backend, 0

    def decode_low_res(self, *args, **kwargs):
        self.calls += 1
        return self.backend.decode_low_res(*args, **kwargs)


def clocks() -> np.ndarray:
    return np.array([time.perf_counter(), time.process_time()])


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
    backend = get_backend("vit_t")
    predictor = backend.predictor(sam, digest, cache_dir=False)  # every set_image runs the encoder
    cfgs = {d: normalize({"mode": "clicks", "start": args.start, "max_clicks": args.clicks, "decoder": d})
            for d in DECODERS}
    counting = {d: Counting(backend) for d in DECODERS}
    samples = get_dataset("sd900", root=SHARED / "datasets", split="test").samples()[::args.every]
    enc = np.zeros(2)
    dec = {d: np.zeros(2) for d in DECODERS}
    defects, differ = 0, 0
    for i, s in enumerate(samples):
        image, gt = s.load()
        t0 = clocks()
        predictor.set_image(image)
        enc += clocks() - t0
        seqs = {}
        for d in (DECODERS if i % 2 == 0 else DECODERS[::-1]):
            t0 = clocks()
            seqs[d] = click_sequence(counting[d], predictor, gt, cfgs[d], s.stem)
            dec[d] += clocks() - t0
        if seqs["fast"] is None:
            continue
        defects += len(seqs["fast"].comps)
        same = seqs["fast"].prompts == seqs["stock"].prompts and np.abs(seqs["fast"].iou - seqs["stock"].iou).max() < 1e-3
        differ += not same
    n = len(samples)
    print(f"{n} SD-900 test images, {defects} defects, start {args.start}, up to {args.clicks} clicks, "
          f"{counting['fast'].calls} decoder calls per decoder (one per click, every unfinished defect of the "
          f"image in one batch); sequences that differ between the decoders: {differ}")
    for k, clock in enumerate(("wall", "cpu")):
        per_encode = enc[k] / n
        for d in DECODERS:
            per_click = dec[d][k] / counting[d].calls
            print(f"{clock}: {d:5s} {per_click * 1000:6.1f} ms per click, {dec[d][k] / n:.2f} s per {args.clicks}-click "
                  f"sequence; click/encoder pass {per_click / per_encode:.3f} ({per_encode * 1000:.0f} ms per pass)")
        print(f"{clock}: fast decoder {dec['stock'][k] / dec['fast'][k]:.2f}x stock")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
