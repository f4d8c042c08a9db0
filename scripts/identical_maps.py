"""Are the maps of this working tree byte-identical to those of a base revision?

A refactoring of the runners must not change a single pixel. This script runs the same SAM work
twice, once with the code of a base revision (a temporary ``git worktree``, imported through
``PYTHONPATH``) and once with the working tree, each in its own process with its own embedding and
mask cache, then compares every written map and manifest byte for byte:

- the demo experiment (experiments/demo.yaml) as ``samis demo`` runs it: synthetic data generated
  into a temporary folder, then ``run_sam`` over its modes (box, point, automatic x 3 policies);
- every mode of experiments/default.yaml through ``predict_many`` on a few real images of
  SD-saliency-900 test and MT defective (evenly spaced in the sorted sample list), plus a few
  non-default options (box+point with negatives and jitter, a multimask rule, ``min_area``, the
  stock decoder and stock generator) so that every branch of the mode vocabulary is exercised.

Manifests are compared with their two volatile fields (``created``, ``git_commit``) masked;
everything else in them (configuration, config hash, model digest, versions) must be equal.

    .venv/bin/python scripts/identical_maps.py [--base 10ad98b] [--per-set 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE = "10ad98b"  # main before the seams refactoring
VOLATILE = ("created", "git_commit")
EXTRA_MODES = (  # options the two experiment files leave at their defaults
    {"mode": "box+point", "n_points": 2, "n_negative": 2, "jitter": 0.1, "seed": 3},
    {"mode": "point", "multimask": "largest", "min_area": 10},
    {"mode": "box", "decoder": "stock", "multimask": 1},
    {"mode": "automatic", "points_per_side": 4, "generator": "stock", "policy": "score", "background_frac": 0.4},
)


# ----------------------------------------------------------------------------- driver (either tree)
class _Few:
    """``per_set`` evenly spaced samples of a dataset (the runners need only ``samples``, ``name``, ``split``)."""

    def __init__(self, ds, per_set: int):
        self.name, self.split, self.root = ds.name, ds.split, ds.root
        samples = ds.samples()
        step = max(1, len(samples) // per_set)
        self._samples = samples[::step][:per_set]

    def samples(self):
        return list(self._samples)


def drive(out: Path, data_root: Path, per_set: int) -> None:
    """Write the maps of this process's samis (whichever tree PYTHONPATH names) under ``out``."""
    import samis
    from samis.datasets import get_dataset
    from samis.demo import generate
    from samis.experiments.definition import load_definition
    from samis.experiments.run_sam import run_sam
    from samis.runners.engine import predict_many

    print(f"samis from {Path(samis.__file__).resolve().parent}", flush=True)
    demo_yaml = out / "demo.yaml"
    text = (REPO / "experiments" / "demo.yaml").read_text()
    text = text.replace("../results/demo/data", str(out / "demo-data"))
    text = text.replace("../results/demo/predictions", str(out / "demo"))
    text = text.replace("../results/demo/baselines", str(out / "demo-baselines"))
    text = text.replace("../results/demo", str(out / "demo-output"))
    demo_yaml.write_text(text)
    draft = load_definition(demo_yaml, check_paths=False)
    generate(draft.datasets[0].data_root, per_class=4, seed=draft.seed)
    (out / "demo-baselines" / "FT").mkdir(parents=True, exist_ok=True)
    run_sam(load_definition(demo_yaml), progress=False, echo=lambda *a: None)

    default = load_definition(REPO / "experiments" / "default.yaml")
    model = default.models[0].name
    for name, split in (("sd900", "test"), ("mt", "defective")):
        few = _Few(get_dataset(name, root=data_root, split=split), per_set)
        report = predict_many(few, model, list(default.modes) + list(EXTRA_MODES), out / "default" / f"{name}-{split}",
                              device="cpu", progress=False)
        print(f"{name}/{split}: {report.images} images, {len(report.methods)} methods", flush=True)


# ----------------------------------------------------------------------------- comparison
def _manifest_bytes(path: Path) -> bytes:
    data = json.loads(path.read_text())
    for key in VOLATILE:
        data[key] = "<masked>"
    return json.dumps(data, indent=2, sort_keys=True).encode()


def compare(a: Path, b: Path) -> tuple[int, int, list[str]]:
    """(maps compared, manifests compared, differences) between two output trees."""
    def files(root):  # the SAM maps and manifests only (not the generated demo data, caches, timings)
        return {p.relative_to(root) for sub in ("demo", "default") for p in (root / sub).rglob("*")
                if p.is_file() and (p.suffix == ".png" or p.name == "manifest.json")}

    fa, fb = files(a), files(b)
    problems = [f"only in base: {p}" for p in sorted(fa - fb)] + [f"only in working tree: {p}" for p in sorted(fb - fa)]
    maps = manifests = 0
    for rel in sorted(fa & fb):
        if rel.name == "manifest.json":
            manifests += 1
            same = _manifest_bytes(a / rel) == _manifest_bytes(b / rel)
        else:
            maps += 1
            same = (a / rel).read_bytes() == (b / rel).read_bytes()
        if not same:
            problems.append(f"differs: {rel}")
    return maps, manifests, problems


def _run_tree(tree: Path, out: Path, cache: Path, data_root: Path, per_set: int) -> None:
    out.mkdir(parents=True)
    (cache / "weights").parent.mkdir(parents=True, exist_ok=True)
    weights = Path(os.environ.get("SAMIS_CACHE_DIR", Path.home() / ".cache" / "samis")) / "weights"
    (cache / "weights").symlink_to(weights)  # the installed vit_t, read in place; caches stay separate
    env = dict(os.environ, PYTHONPATH=str(tree), SAMIS_CACHE_DIR=str(cache), SAMIS_DATA_ROOT=str(data_root))
    cmd = [sys.executable, str(Path(__file__).resolve()), "drive", "--out", str(out),
           "--data-root", str(data_root), "--per-set", str(per_set)]
    proc = subprocess.run(cmd, env=env, cwd=tree, text=True, capture_output=True)
    sys.stdout.write("".join(f"  [{tree.name}] {line}\n" for line in proc.stdout.splitlines()))
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"the run with {tree} failed (exit {proc.returncode})")
    loaded = proc.stdout.splitlines()[0].removeprefix("samis from ")
    if Path(loaded) != (tree / "samis").resolve():
        raise SystemExit(f"the run meant for {tree} imported samis from {loaded}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd")
    d = sub.add_parser("drive", help="(internal) write the maps with the samis on PYTHONPATH")
    for p in (ap, d):
        p.add_argument("--per-set", type=int, default=4, help="real images per dataset [4]")
        p.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "datasets")
    d.add_argument("--out", type=Path, required=True)
    ap.add_argument("--base", default=BASE, help=f"base git revision [{BASE}]")
    ap.add_argument("--keep", type=Path, default=None, help="write both output trees here and keep them")
    args = ap.parse_args(argv)
    if args.cmd == "drive":
        drive(args.out, args.data_root.resolve(), args.per_set)
        return 0

    with tempfile.TemporaryDirectory(prefix="samis-identical-") as tmp:
        work = args.keep.resolve() if args.keep else Path(tmp)
        base_tree = Path(tmp) / "base-tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(base_tree), args.base], check=True)
        try:
            print(f"base {args.base} in {base_tree}; working tree {REPO}")
            _run_tree(base_tree, work / "out-base", work / "cache-base", args.data_root.resolve(), args.per_set)
            _run_tree(REPO, work / "out-work", work / "cache-work", args.data_root.resolve(), args.per_set)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)], check=False)
        maps, manifests, problems = compare(work / "out-base", work / "out-work")
    for line in problems:
        print(line)
    verdict = "IDENTICAL" if not problems and maps else "DIFFERENT"
    print(f"{verdict}: {maps} maps and {manifests} manifests compared byte for byte "
          f"(manifest fields {', '.join(VOLATILE)} masked), {len(problems)} differences")
    return 0 if verdict == "IDENTICAL" else 1


if __name__ == "__main__":
    raise SystemExit(main())
