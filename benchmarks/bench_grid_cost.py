"""What a finer automatic grid costs the default experiment: seconds per image of its automatic mode
(experiments/default.yaml's configurations: threshold sweep, every policy from one generation) at two
grids, on the same images, in one process, the grids alternating in order.

Embeddings come from samis' cache (run `make reproduce` first, or the first round pays for the
encoder); masks are never taken from it: each run gets an empty mask cache of its own. Multiply the printed per-image times by
the automatic units' images to see what the grid does to `make reproduce` (README, phase by phase).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_grid_cost.py                # 8 against 16
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_grid_cost.py --grids 8 32 --sd900-every 90
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("SAMIS_SHARED", REPO.parent / "shared"))


class Every:
    """Every ``step``-th sample from ``offset``: each round gets images of its own (no warm caches)."""

    def __init__(self, ds, step: int, offset: int):
        self.ds, self.step, self.offset, self.name, self.split = ds, step, offset, ds.name, ds.split

    def samples(self):
        return self.ds.samples()[self.offset::self.step]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grids", type=int, nargs=2, default=(8, 16), metavar=("COARSE", "FINE"))
    ap.add_argument("--sd900-every", type=int, default=36, help="every n-th SD-900 test image per round")
    ap.add_argument("--mt-every", type=int, default=190, help="every n-th MT tile (all tiles) per round")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)

    from samis.datasets import get_dataset
    from samis.experiments.definition import load_definition
    from samis.runners import predict_many
    from samis.paths import cache_dir
    from samis.runners.engine import get_model

    definition = load_definition(REPO / "experiments" / "default.yaml")
    autos = [c for c in definition.modes if c.mode == "automatic"]
    model = definition.models[0]
    sam = get_model(model.name, model.checkpoint, "cpu", model.encoder_backend)
    root = SHARED / "datasets"
    sets = {"SD-900 test": (get_dataset("sd900", root=root, split="test"), args.sd900_every),
            "MT all tiles": (get_dataset("mt", root=root, split="full"), args.mt_every)}
    total = {g: [0.0, 0] for g in args.grids}
    for name, (ds, step) in sets.items():
        for rnd in range(args.rounds):
            for grid in (args.grids if rnd % 2 == 0 else args.grids[::-1]):
                cfgs = [dataclasses.replace(c, points_per_side=grid) for c in autos]
                with tempfile.TemporaryDirectory() as tmp:
                    cache = Path(tmp) / "cache"  # the real embeddings, an empty mask cache
                    cache.mkdir()
                    (cache / "embeddings").symlink_to(cache_dir() / "embeddings", target_is_directory=True)
                    rep = predict_many(Every(ds, step, rnd), model.name, cfgs, Path(tmp) / "maps", model=sam,
                                       progress=False, cache_dir=cache)
                total[grid][0] += rep.seconds
                total[grid][1] += rep.images
                print(f"{name}, round {rnd + 1}, {grid}x{grid}: {rep.images} images, "
                      f"{rep.seconds / max(1, rep.images):.2f} s per image", flush=True)
    (coarse, fine) = args.grids
    per = {g: s / max(1, n) for g, (s, n) in total.items()}
    print(f"mean: {coarse}x{coarse} {per[coarse]:.2f} s per image, {fine}x{fine} {per[fine]:.2f} s per image, "
          f"ratio {per[fine] / per[coarse]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
