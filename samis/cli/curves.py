"""``samis curves``: curves NPZ file(s) of one dataset -> PR and F-measure curves as PDF + PNG."""

from __future__ import annotations

from pathlib import Path

import click


def _split_list(values) -> list[str]:
    out = []
    for v in values or ():
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


@click.command()
@click.argument("npz", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output stem: writes STEM.pdf and STEM.png (or STEM-pr.*, STEM-fm.* with --separate).")
@click.option("--methods", multiple=True, help="Methods to draw, in legend order: 'RCRR,CSEPNet' (default: all).")
@click.option("--title", default=None, help="Figure title (default: the dataset, read from FILE.csv beside FILE.curves.npz).")
@click.option("--separate", is_flag=True, help="One column-width figure per curve kind instead of side by side.")
@click.option("--kinds", default="pr,fm", show_default=True, help="Curves to draw: pr, fm, em (E-measure vs threshold).")
def curves(npz, out, methods, title, separate, kinds):
    """Plot precision-recall and F-measure-vs-threshold curves from NPZ (written by `samis evaluate --out FILE.csv`
    as FILE.curves.npz). Several files of one dataset (baselines, SAM runs) are drawn together."""
    from samis.report.curves import plot_curves

    written = plot_curves(list(npz), out, methods=_split_list(methods) or None, title=title, separate=separate,
                          kinds=tuple(_split_list([kinds])))
    for p in written:
        click.echo(f"wrote {p}", err=True)
