"""``samis table``: results CSV(s) -> a comparison table in Markdown, LaTeX or CSV."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from samis.errors import DataError
from samis.protocols import PROTOCOLS

_SUFFIX_FORMAT = {".md": "md", ".markdown": "md", ".tex": "latex", ".csv": "csv"}


def _split_list(values) -> list[str]:
    """``--metrics WF,SM --metrics MAE`` -> ``[WF, SM, MAE]``."""
    out = []
    for v in values or ():
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def _per_image_inputs(paths) -> list[Path]:
    """Per-image files for ``--by-category``: given directly, or the ``.per_image.csv`` beside a results file."""
    from samis.report.inputs import is_per_image, per_image_sibling

    out = []
    for p in map(Path, paths):
        if p.is_file() and is_per_image(p):
            out.append(p)
            continue
        sibling = per_image_sibling(p)
        if not sibling.is_file():
            raise DataError(
                f"{p}: --by-category needs the per-image file {sibling.name} beside it (written by `samis evaluate --out`); "
                "pass the per-image CSV itself or rerun the evaluation"
            )
        out.append(sibling)
    return out


def _hint_unranked(sources, metrics, rank) -> None:
    """Say on the terminal (never in the table) how to rank a shown column that is not ranked."""
    from samis.report.style import KNOWN_METRICS

    shown = metrics or []
    extra = [m for m in shown if m not in KNOWN_METRICS and m not in rank]
    if extra:
        click.echo(f"note: {', '.join(extra)} shown but not ranked; --rank {extra[0]} ranks it", err=True)


@click.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["md", "latex", "csv"]), default=None,
              help="Output format (default: from --out's suffix .md/.tex/.csv, else md).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here instead of stdout.")
@click.option("--metrics", multiple=True, help="Columns to show, in order: 'WF,SM,MAE' (default: all metric columns).")
@click.option("--caption", default=None, help="Table caption (default: the dataset when there is only one).")
@click.option("--label", default=None, help="LaTeX \\label.")
@click.option("--style", type=click.Choice(list(PROTOCOLS)), default="sod", show_default=True,
              help="A protocol's number style: sod 0.259 (3 decimals); steel .2591 (4 decimals, no leading zero).")
@click.option("--decimals", type=int, default=None, help="Override the style's number of decimals.")
@click.option("--sort", "order", default="grouped", show_default=True,
              help="Row order: grouped (given order, SAM rows last), given, name, or a metric (WF, SD900-test:WF), best first.")
@click.option("--unranked", multiple=True, help="Method(s) to show with a dagger and leave out of the ranking (best_match rows always are).")
@click.option("--rank", multiple=True, help="Extra column(s) to rank too (e.g. time_per_image_s).")
@click.option("--by-category", is_flag=True, help="One column group per defect category, from the per-image CSV(s).")
@click.option("--categories", multiple=True, help="With --by-category: categories to show, in order ('In,Pa,Sc').")
@click.option("--no-overall", is_flag=True, help="With --by-category: leave out the 'All' group.")
@click.option("--latex-env", type=click.Choice(["table", "table*", "none"]), default=None,
              help="LaTeX float around the tabular ('none': bare tabular); overrides --placement.")
@click.option("--placement", type=click.Choice(["auto", "column", "page"]), default="auto", show_default=True,
              help="LaTeX float: column (table), page (table*), auto (the narrowest that fits).")
@click.option("--layout", type=click.Choice(["auto", "wide", "stacked"]), default="auto", show_default=True,
              help="LaTeX layout: datasets as column groups (wide) or as blocks of rows (stacked); auto: wide when it fits.")
@click.option("--display-name", "display_names", multiple=True,
              help="Printed name of a method: 'METHOD=NAME' (METHOD may be a glob: 'SAM-*-box=SAM (box)'); repeatable.")
@click.option("--no-notes", is_flag=True, help="Leave out the legend lines under the table.")
def table(results, fmt, out, metrics, caption, label, style, decimals, order, unranked, rank, by_category,
          categories, no_overall, latex_env, placement, layout, display_names, no_notes):
    """Tabulate RESULTS (CSV files from `samis evaluate --out`): methods x metrics, best bold, second underlined.

    Several files (several datasets, or baselines and SAM runs of one dataset) merge into one table
    with a column group per dataset.
    """
    from samis.report.inputs import is_per_image
    from samis.report.tables import render
    from samis.imageio import atomic_write_bytes
    from samis.report.names import parse_pairs

    if fmt is None:
        fmt = _SUFFIX_FORMAT.get(out.suffix.lower(), "md") if out else "md"
    sources = list(results)
    if not by_category:
        per_image = [p for p in sources if p.is_file() and is_per_image(p)]
        if per_image:
            raise DataError(f"{per_image[0]}: is a per-image file; add --by-category for a per-category table, "
                            "or pass the summary results CSV")
    else:
        from samis.report.categories import per_category

        sources = [per_category(_per_image_inputs(sources), metrics=_split_list(metrics) or None,
                                overall=not no_overall, categories=_split_list(categories) or None)]
    text = render(sources, fmt, metrics=_split_list(metrics) or None, order=order, style=style, decimals=decimals,
                  unranked=_split_list(unranked), rank=_split_list(rank), caption=caption, label=label,
                  latex_env=latex_env or {"auto": "auto", "column": "table", "page": "table*"}[placement],
                  layout=layout, display_names=parse_pairs(display_names), notes=not no_notes)
    _hint_unranked(sources, _split_list(metrics), _split_list(rank))
    if out is None:
        sys.stdout.write(text)
    else:
        atomic_write_bytes(out, text.encode("utf-8"))
        click.echo(f"wrote {out}", err=True)
