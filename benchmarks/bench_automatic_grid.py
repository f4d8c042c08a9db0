"""How much the automatic-mode numbers move between a coarser point grid and SAM's stock 32 x 32.

The default experiment runs automatic mode with an 8 x 8 grid on a CPU (16x fewer prompts than the
stock 32 x 32). This script measures what that choice costs in results: on a fixed subset of
SD-saliency-900 (test split) and MT (defective) images it runs the automatic mode at each grid
through samis' own runner (same cache as `samis reproduce`, so masks already generated are reused
and new ones serve later runs), scores the maps with samis' evaluator (sod protocol) and prints
the rows per policy side by side, with the time per image of each grid.

    .venv/bin/python benchmarks/bench_automatic_grid.py                 # 9 SD-900 + 3 MT images
    .venv/bin/python benchmarks/bench_automatic_grid.py --grids 8 16 32 --sd900-every 20 --mt-every 40
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("SAMIS_SHARED", REPO.parent / "shared"))
COLUMNS = ("IoU", "Dice", "Sm", "wF", "maxF", "MAE")


class Subset:
    """Every ``every``-th sample of a dataset, under the dataset's name and split."""

    def __init__(self, dataset, every: int):
        self.name, self.split, self.root = dataset.name, dataset.split, dataset.root
        self._samples = dataset.samples()[::every]

    def samples(self):
        return list(self._samples)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grids", type=int, nargs="+", default=[8, 32], help="points per side to compare")
    ap.add_argument("--sd900-every", type=int, default=40, help="every n-th image of the SD-900 test split (360)")
    ap.add_argument("--mt-every", type=int, default=131, help="every n-th defective MT image (392)")
    ap.add_argument("--model", default="vit_t")
    args = ap.parse_args(argv)

    import pandas as pd

    from samis.datasets import get_dataset
    from samis.evaluation import evaluate
    from samis.runners import predict_many
    from samis.runners.config import method_name
    from samis.runners.engine import get_model

    warnings.filterwarnings("ignore")
    data = SHARED / "datasets"
    sets = [Subset(get_dataset("sd900", root=data, split="test"), args.sd900_every),
            Subset(get_dataset("mt", root=data, split="defective"), args.mt_every)]
    model = get_model(args.model, device="cpu")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ds in sets:
            for grid in args.grids:
                cfgs = [{"mode": "automatic", "points_per_side": grid, "policy": p} for p in ("union", "score")]
                out = Path(tmp) / ds.name
                t0 = time.perf_counter()
                rep = predict_many(ds, args.model, cfgs, out, model=model, progress=False)
                seconds = (time.perf_counter() - t0) / max(1, len(ds.samples()))
                names = [method_name(args.model, c) for c in cfgs]
                table = evaluate(ds, out, "sod", methods=names, jobs=1, progress=False)
                for _, r in table.iterrows():
                    rows.append({"dataset": f"{ds.name}/{ds.split}", "images": len(ds.samples()), "grid": grid,
                                 "policy": r["method"].split("-")[3], **{c: r[c] for c in COLUMNS},
                                 "s/img": seconds, "generated": rep.generated})
    frame = pd.DataFrame(rows).sort_values(["dataset", "policy", "grid"])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("\ns/img: time per image of the automatic mode at that grid (0 when its masks were cached already);"
          " generated: images whose masks were generated in this run")
    for (dataset, policy), part in frame.groupby(["dataset", "policy"]):
        part = part.set_index("grid")
        lo, hi = min(args.grids), max(args.grids)
        moves = ", ".join(f"{c} {part.loc[lo, c] - part.loc[hi, c]:+.4f}" for c in COLUMNS)
        print(f"{dataset} {policy}: grid {lo} minus grid {hi}: {moves}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
