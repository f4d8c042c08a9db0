"""``samis run``: SAM maps for a dataset, every asked mode in one pass, resumable and shardable."""

from __future__ import annotations

import click

from samis.cli.selection import dataset_options, open_dataset, parse_key_values
from samis.errors import ConfigError
from samis.models.registry import ENCODER_BACKENDS
from samis.runners.config import MODES


def _parse_sets(pairs) -> dict:
    return parse_key_values(pairs, "--set", "points_per_side=16")


def _configs(modes, sets: dict) -> list:
    """One config per mode; a comma-separated ``policy`` expands to one automatic method per policy.

    ``--set key=value`` applies to every mode that has the option; ``--set box.jitter=0.1`` to one mode.
    """
    from samis.runners.config import mode_class, normalize

    cfgs = []
    for mode in modes:
        cls = mode_class(mode)
        options = cls.options()
        opts = {}
        for key, value in sets.items():
            scope, _, name = key.rpartition(".")
            if scope and mode_class(scope) is not cls:
                continue
            if name in options:
                opts[name] = value
            elif scope:
                raise ConfigError(f"--set {key}: mode {scope} has no option {name}")
        policies = str(opts.pop("policy", options["policy"])).split(",") if "policy" in options else [None]
        for policy in policies:
            cfg = {"mode": cls.mode, **opts}
            if policy:
                cfg["policy"] = policy.strip()
            cfgs.append(normalize(cfg))
    unknown = [k for k in sets if not any(k.rpartition(".")[2] in c.options() for c in cfgs)]
    if unknown:
        raise ConfigError(f"--set {', '.join(unknown)}: no asked mode has this option")
    return cfgs


@click.command("run")
@click.option("--dataset", "dataset_name", required=True, help="sd900, mt, nrsd, bsdata, ksdd, mvtec or folder")
@click.option("--split", default=None, help="dataset split (sd900: test/train/full; mt: full/defective ...)")
@click.option("--model", "model_name", default="vit_t", show_default=True)
@click.option("--mode", "modes", multiple=True, required=True,
              type=click.Choice(list(MODES)), help="repeatable")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="else SAMIS_DATA_ROOT")
@click.option("--out", "out_root", type=click.Path(file_okay=False), default=None,
              help="maps go to OUT/<method>/<stem>.png [results/predictions/run/<dataset>]")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None)
@click.option("--device", default=None, help="cpu, cuda, cuda:N [CUDA when present]")
@click.option("--encoder-backend", type=click.Choice(ENCODER_BACKENDS), default="auto", show_default=True,
              help="SAM 1 image encoder: auto = ONNX Runtime on the CPU (checked against torch once), torch on CUDA")
@click.option("--shard", default="0/1", show_default=True, help="i/n: the i-th (0-based) of n shares of the images")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="mode option, e.g. points_per_side=16, policy=union,score,best_match, pred_iou_thresh=0.88,0.7, point.n_points=3")
@click.option("--overwrite", is_flag=True, help="recompute maps (deletes maps of another configuration)")
@click.option("--no-progress", is_flag=True)
@dataset_options
def run(dataset_name, split, model_name, modes, data_root, out_root, checkpoint, device, encoder_backend, shard, sets,
        overwrite, no_progress, dataset_option, limit, stems_file):
    """Write SAM maps <out>/<method>/<stem>.png for every image not done yet, one embedding per image."""
    from pathlib import Path

    from samis.runners.engine import parse_shard, predict_many

    parse_shard(shard)
    cfgs = _configs(modes, _parse_sets(sets))
    ds = open_dataset(dataset_name, data_root, split, dataset_option, limit, stems_file)
    out = Path(out_root) if out_root else Path("results") / "predictions" / "run" / ds.name
    report = predict_many(ds, model_name, cfgs, out, checkpoint=checkpoint, device=device, shard=shard,
                          progress=not no_progress, overwrite=overwrite, encoder_backend=encoder_backend)
    rate = report.images / report.seconds if report.seconds else 0.0
    click.echo(f"{report.images} images in {report.seconds:.1f} s ({rate:.2f} images/s); "
               f"encoder passes {report.encoder_passes}, embeddings from cache {report.embedding_hits}, "
               f"automatic generate() calls {report.generated}")
    for r in report.methods.values():
        click.echo(f"{r.method}: written {r.written}, skipped as done {r.skipped}, "
                   f"empty ground truth {r.empty_gt}  -> {r.folder}")
