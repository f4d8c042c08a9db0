"""``samis evaluate``: score stored prediction maps of one or more methods on a dataset split.

Imports only numpy/scipy/OpenCV/pandas (never torch), so it starts in well under a second.
"""

from __future__ import annotations

import warnings

import click

from samis.cli.selection import dataset_options, open_dataset
from samis.protocols import PROTOCOL_SETS, PROTOCOLS


@click.command()
@click.option("--dataset", "dataset_name", required=True, help="Dataset name: sd900, mt, nrsd, bsdata, ksdd, mvtec or folder.")
@click.option("--split", default=None, help="Split of the dataset (default: the dataset's default, e.g. full).")
@click.option("--data-root", type=click.Path(), default=None, help="Folder holding the sets (default: SAMIS_DATA_ROOT).")
@click.option("--predictions", "predictions", default=None, type=click.Path(),
              help="Folder with one sub-folder of maps per method: <Method>/<stem>.png (may be left out "
                   "with --references: reference rows only)")
@click.option("--references", "references", multiple=True,
              help="Reference rows made from the ground truth, e.g. empty,full,gt_box or "
                   "gt_box:jitter=0.1,seed=0 (the boxes a box mode with that jitter and seed prompts with); "
                   "shown as ref-<kind>, never ranked (see docs/evaluation.md).")
@click.option("--protocol", "protocols", multiple=True, type=click.Choice([*PROTOCOLS, *PROTOCOL_SETS]),
              help="Metric convention; repeat or use 'both' (default: both). With several protocols "
                   "the output files get the protocol in their name (FILE.steel.csv, FILE.sod.csv).")
@click.option("--empty-gt", type=click.Choice(["apart", "include"]), default="apart", show_default=True,
              help="Defect-free images (empty ground truth): 'apart' leaves them out of every metric's mean and "
                   "scores them apart (n_free, clean, FPA); 'include' counts them everywhere, as pysodmetrics does.")
@click.option("--prompted", multiple=True, default=("SAM-*-box*", "SAM-*-point*"), show_default=True,
              help="Methods (globs) whose prompts come from the ground truth: n/a on defect-free images.")
@click.option("--method", "methods", multiple=True, help="Only this method folder (repeatable; default: all).")
@click.option("--out", type=click.Path(), default=None,
              help="Write FILE.csv (one row per method), FILE.per_image.csv and, for a protocol with curves "
                   "(sod), FILE.curves.npz.")
@click.option("--jobs", type=int, default=None, help="Worker processes (default: all cores; 1: no pool).")
@click.option("--strict", is_flag=True, help="A method missing maps for the split is an error, not a warning.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@dataset_options
def evaluate(dataset_name, split, data_root, predictions, references, protocols, empty_gt, prompted, methods, out,
             jobs, strict, progress, dataset_option, limit, stems_file):
    """Score every method under --predictions on a dataset split (see docs/evaluation.md).

    Example: samis evaluate --dataset sd900 --split full --predictions baselines/SD-saliency-900
    --protocol steel --out results/sd900_steel.csv
    """
    import pandas as pd

    from samis.evaluation import MissingMapsWarning, evaluate as run_evaluation
    from samis.errors import ConfigError
    from samis.protocols import parse_protocols
    from samis.references import parse_references
    from samis.results_files import written_files

    names = parse_protocols(list(protocols) or ["both"])
    import fnmatch
    from pathlib import Path

    refs = tuple(r for item in references for r in parse_references(item))
    found = [p.name for p in Path(predictions).iterdir() if p.is_dir()] if predictions and Path(predictions).is_dir() else []
    prompted_names = [m for m in found if any(fnmatch.fnmatchcase(m, g) for g in prompted)]
    if predictions is None and not refs:
        raise ConfigError("give --predictions (a folder of method maps) and/or --references (e.g. empty,full,gt_box)")
    ds = open_dataset(dataset_name, data_root, split, dataset_option, limit, stems_file)
    show = warnings.showwarning

    def show_warning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, MissingMapsWarning):  # one plain line, before the long run starts
            click.echo(f"warning: {message}", err=True)
        else:
            show(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.simplefilter("always", MissingMapsWarning)
        warnings.showwarning = show_warning
        result = run_evaluation(ds, predictions, names, methods=list(methods) or None, strict=strict, jobs=jobs,
                                out=out, progress=progress, references=refs, empty_gt=empty_gt,
                                prompted=prompted_names)
    tables = result if isinstance(result, dict) else {names[0]: result}
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        for proto, table in tables.items():
            click.echo(f"{proto} protocol, {ds.name}/{ds.split}:")
            click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if out is not None:
        for proto in names:
            written = written_files(out, proto, len(names) > 1).values()
            click.echo("wrote " + ", ".join(str(p) for p in written), err=True)
