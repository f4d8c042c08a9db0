"""``samis evaluate``: score stored prediction maps of one or more methods on a dataset split.

Imports only numpy/scipy/OpenCV/pandas (never torch), so it starts in well under a second.
"""

from __future__ import annotations

import warnings

import click


@click.command()
@click.option("--dataset", "dataset_name", required=True, help="Dataset name: sd900, mt, nrsd or folder.")
@click.option("--split", default=None, help="Split of the dataset (default: the dataset's default, e.g. full).")
@click.option("--data-root", type=click.Path(), default=None, help="Folder holding the sets (default: SAMIS_DATA_ROOT).")
@click.option("--predictions", "predictions", required=True, type=click.Path(),
              help="Folder with one sub-folder of maps per method: <Method>/<stem>.png")
@click.option("--protocol", "protocols", multiple=True, type=click.Choice(["sod", "steel", "both"]),
              help="Metric convention; repeat or use 'both' (default: both). With several protocols "
                   "the output files get the protocol in their name (FILE.steel.csv, FILE.sod.csv).")
@click.option("--method", "methods", multiple=True, help="Only this method folder (repeatable; default: all).")
@click.option("--out", type=click.Path(), default=None,
              help="Write FILE.csv (one row per method), FILE.per_image.csv and, for sod, FILE.curves.npz.")
@click.option("--jobs", type=int, default=None, help="Worker processes (default: all cores; 1: no pool).")
@click.option("--strict", is_flag=True, help="A method missing maps for the split is an error, not a warning.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def evaluate(dataset_name, split, data_root, predictions, protocols, methods, out, jobs, strict, progress):
    """Score every method under --predictions on a dataset split (see docs/evaluation.md).

    Example: samis evaluate --dataset sd900 --split full --predictions baselines/SD-saliency-900
    --protocol steel --out results/sd900_steel.csv
    """
    import pandas as pd

    from samis.datasets import get_dataset
    from samis.evaluation import MissingMapsWarning, evaluate as run_evaluation, output_paths, parse_protocols

    names = parse_protocols(list(protocols) or ["both"])
    ds = get_dataset(dataset_name, root=data_root, split=split)
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
                                out=out, progress=progress)
    tables = result if isinstance(result, dict) else {names[0]: result}
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        for proto, table in tables.items():
            click.echo(f"{proto} protocol, {ds.name}/{ds.split}:")
            click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if out is not None:
        for proto in names:
            files = output_paths(out, proto, len(names) > 1)
            written = [files["summary"], files["per_image"]] + ([files["curves"], files["image_curves"]] if proto == "sod" else [])
            click.echo("wrote " + ", ".join(str(p) for p in written), err=True)
